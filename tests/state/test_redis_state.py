"""Shared state on a real redis-server: routers over one Redis decide as one; faults."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import httpx
import pytest

from router import Router
from router.errors import ConfigError, StateUnavailable
from router.state.redis import SCHEMA, RedisState
from router.state.settings import StateSettings
from router.testing.redis_server import RedisServer
from router.testing.simulator import Reply
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

SYSTEM = {"role": "system", "content": "You are a meticulous research agent. " * 330}
PIN = "pinstripes:ps/deepseek-v4-flash"
OPEN = "openrouter:deepseek/deepseek-v4-flash"
GROUP = {"flash": [PIN, OPEN]}
CHEAPEST = [{"cheapest": {"expected_output_tokens": 50, "prefix_cache": True}}]


def conf(sim, server: RedisServer, **state):
    block = {"backend": "redis", "url": server.url, "key_prefix": "t:", **state}
    return config(sim, "pinstripes", "openrouter", models=GROUP, policy=CHEAPEST, state=block)


def make(sim, server, clock, **state) -> Router:
    router = Router.from_config(conf(sim, server, **state), timer=clock)
    router.models()
    return router


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "router.state"]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- configuration -----------------------------------------------------------------------


def test_the_state_block_defaults_to_memory(sim):
    with Router.from_config(config(sim, "pinstripes")) as router:
        assert router.state.backend == "memory"


def test_redis_needs_a_url_and_a_redis_scheme(sim):
    with pytest.raises(ConfigError, match=r"^state: backend 'redis' needs a url"):
        Router.from_config(config(sim, "pinstripes", state={"backend": "redis"}))
    secret = "http://user:hunter2secret@cache:6379"
    with pytest.raises(ConfigError) as caught:
        Router.from_config(config(sim, "pinstripes", state={"backend": "redis", "url": secret}))
    assert caught.value.key_path == "state.url"
    assert "hunter2secret" not in str(caught.value)
    bad = {"backend": "redis", "url": "redis://:hunter2secret@cache:notaport/0"}
    with pytest.raises(ConfigError, match=r"^state.url: not a valid Redis URL") as caught:
        Router.from_config(config(sim, "pinstripes", state=bad))
    assert "hunter2secret" not in str(caught.value)
    assert caught.value.__cause__ is None
    with pytest.raises(ConfigError, match=r"^state.on_unavailable"):
        Router.from_config(config(sim, "pinstripes", state={"on_unavailable": "maybe"}))


def test_the_url_is_a_secret_everywhere(sim, redis_binary, clock, caplog):
    with RedisServer(redis_binary, password="s3cr3t-pa55word") as server:
        caplog.set_level(logging.INFO)
        router = make(sim, server, clock)
        try:
            assert router.state.available
            text = repr(router.state) + repr(router.state.settings) + str(router.state.settings)
            assert "s3cr3t-pa55word" not in text
            assert "**********" in repr(router.state.settings)
            router.complete(model="flash", messages=[SYSTEM, {"role": "user", "content": "hi"}])
            assert router.state.sync()
        finally:
            router.close()
        wrong = server.url.replace("s3cr3t-pa55word", "wrong-pa55word")
        state = RedisState(StateSettings(backend="redis", url=wrong), wait_first=2)
        try:
            assert not state.available
        finally:
            state.close()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "unavailable" in logged
    assert "pa55word" not in logged


# -- two routers, one Redis --------------------------------------------------------------


def test_two_routers_share_the_prefix_memory(sim, redis_server, clock):
    a, b = make(sim, redis_server, clock), make(sim, redis_server, clock)
    try:
        sim.script("pinstripes", [Reply(503)])  # the first turn lands on OpenRouter
        first = a.complete(model="flash", messages=[SYSTEM, {"role": "user", "content": "q0"}])
        assert first.provider == "openrouter"
        assert a.state.sync()
        assert b.state.sync()
        history = [
            SYSTEM,
            {"role": "user", "content": "q0"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "q1"},
        ]
        decision = b.explain(model="flash", messages=history)
        assert decision.candidates[0].ref == OPEN  # warm at OpenRouter, learned from A
        assert decision.candidates[0].cached_tokens > 2000
        second = b.complete(model="flash", messages=history)
        assert second.provider == "openrouter"
        assert second.usage.prompt_tokens_details.cached_tokens > 2000
        # calibration and hit rates are the fleet's: the same in both routers (B learned:
        # B's writes are sent first, then A waits until it has every event sent before)
        assert b.state.sync()
        assert a.state.sync()
        for ref in (OPEN, PIN):
            assert a.prefixes.calibration(ref) == b.prefixes.calibration(ref)
            assert a.prefixes.hit_rate(ref) == b.prefixes.hit_rate(ref)
        assert a.prefixes.calibration(OPEN) != 1.0
    finally:
        a.close()
        b.close()


def test_a_cooldown_propagates_and_the_next_request_skips_it(sim, redis_server, clock):
    a, b = make(sim, redis_server, clock), make(sim, redis_server, clock)
    try:
        sim.script("pinstripes", [Reply(429, headers={"Retry-After": "30"})])
        answer = a.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        assert answer.provider == "openrouter"
        assert a.state.sync()
        assert b.state.sync()
        left = b.cooldowns.cooling(PIN)
        assert left is not None
        assert 25 < left <= 30
        answer = b.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        assert answer.provider == "openrouter"
        assert answer.route.attempts == []  # PIN was never tried
        assert any(e.ref == PIN and e.policy == "cooldown" for e in answer.route.excluded)
    finally:
        a.close()
        b.close()


def test_failures_are_counted_across_the_fleet(sim, redis_server, clock):
    # cooldown_after 3: one failure at each of three routers cools the deployment for all
    routers = [make(sim, redis_server, clock) for _ in range(3)]
    try:
        for router in routers[:2]:
            router.cooldowns.failed(PIN)
        for router in routers[:2]:
            assert router.state.sync()
            assert router.cooldowns.cooling(PIN) is None  # two failures: not yet
        routers[2].cooldowns.failed(PIN)  # only one here, but the fleet's third
        for router in routers:
            assert router.state.sync()
        assert all(r.cooldowns.cooling(PIN) for r in routers)
    finally:
        for router in routers:
            router.close()


def test_a_fresh_router_attaches_to_what_redis_holds(sim, redis_server, clock):
    a = make(sim, redis_server, clock)
    sim.script("pinstripes", [Reply(503)])
    first = a.complete(model="flash", messages=[SYSTEM, {"role": "user", "content": "q0"}])
    a.cooldowns.hold(PIN, 60)
    a.state.tallies.add("spend", "alice", Decimal("0.000123456789"))
    a.state.means.observe("ttft_ms", OPEN, 800.0, alpha=0.5)
    assert a.state.sync()
    learned = (a.prefixes.calibration(OPEN), a.prefixes.hit_rate(OPEN))
    a.close()

    fresh = make(sim, redis_server, clock)  # a restart: nothing in process, Redis warm
    try:
        assert fresh.cooldowns.cooling(PIN) is not None
        assert (fresh.prefixes.calibration(OPEN), fresh.prefixes.hit_rate(OPEN)) == learned
        assert fresh.state.tallies.value("spend", "alice") == Decimal("0.000123456789")
        assert fresh.state.means.mean("ttft_ms", OPEN) == 800.0
        history = [
            SYSTEM,
            {"role": "user", "content": "q0"},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "q1"},
        ]
        warm = fresh.explain(model="flash", messages=history).candidates[0]
        assert warm.ref == OPEN
        assert warm.cached_tokens > 2000
    finally:
        fresh.close()


def test_keys_are_versioned_bounded_and_expire_with_the_cache(sim, redis_server, clock):
    router = make(sim, redis_server, clock, prefixes_per_deployment=100)
    try:
        for i in range(8):  # 8 distinct prompts of ~50 blocks each: over the bound
            text = f"conversation {i} " + "lorem ipsum dolor " * 1500
            router.complete(model=PIN, messages=[{"role": "user", "content": text}])
        assert router.state.sync()
    finally:
        router.close()
    with redis_server.client() as admin:
        keys = sorted(k.decode() for k in admin.keys("*"))
        assert keys
        assert all(k.startswith(f"t:{SCHEMA}:") for k in keys)
        members = admin.zcard(f"t:{SCHEMA}:pfx:{PIN}")
        assert 0 < members <= 100
        ttl = admin.pttl(f"t:{SCHEMA}:pfx:{PIN}")
        assert 0 < ttl <= 300_000  # pinstripes' cache lifetime: 5 minutes


def test_tallies_are_exact_and_shared(sim, redis_server, clock):
    a, b = make(sim, redis_server, clock), make(sim, redis_server, clock)
    try:
        for _ in range(10):
            a.state.tallies.add("spend", "bob", Decimal("0.1"))
            b.state.tallies.add("spend", "bob", Decimal("0.2"))
        assert a.state.sync()
        assert b.state.sync()
        assert a.state.sync()
        assert a.state.tallies.value("spend", "bob") == Decimal("3.0")
        assert b.state.tallies.table("spend") == {"bob": Decimal("3.0")}
        with redis_server.client() as admin:
            assert admin.hget(f"t:{SCHEMA}:tally:spend", "bob") == b"3000000000000"
    finally:
        a.close()
        b.close()


# -- faults ---------------------------------------------------------------------------------


def test_redis_down_at_start_routes_locally_then_catches_up(sim, redis_binary, clock, caplog):
    server = RedisServer(redis_binary)  # not started
    router = make(sim, server, clock)
    try:
        assert not router.state.available
        started = time.monotonic()
        for _ in range(3):
            router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        router.state.tallies.add("spend", "carol", Decimal("1.5"))
        assert time.monotonic() - started < 2
        assert len([m for m in warnings_of(caplog) if "unavailable" in m]) == 1
        server.start()
        assert wait_for(lambda: router.state.available)
        assert router.state.sync()
        with server.client() as admin:
            assert admin.hget(f"t:{SCHEMA}:tally:spend", "carol") == b"1500000000000"
            assert admin.exists(f"t:{SCHEMA}:mean:calibration")
        assert any("is back" in m for m in warnings_of(caplog))
    finally:
        router.close()
        server.stop()


def test_fail_mode_raises_a_typed_error_while_redis_is_away(sim, redis_binary, clock):
    server = RedisServer(redis_binary)
    router = make(sim, server, clock, on_unavailable="fail")
    try:
        with pytest.raises(StateUnavailable, match="on_unavailable: fail"):
            router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        response = httpx.Client(transport=router.transport()).post(
            "http://router/v1/chat/completions",
            json={"model": "flash", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "state_unavailable"
        assert "retry-after" in response.headers
        server.start()
        assert wait_for(lambda: router.state.available)
        router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        server.kill()
        assert wait_for(lambda: not router.state.available)
        with pytest.raises(StateUnavailable):
            router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
    finally:
        router.close()
        server.stop()


def test_killed_mid_run_keeps_routing_and_resyncs(sim, redis_server, clock, caplog):
    a, b = make(sim, redis_server, clock), make(sim, redis_server, clock)
    try:
        a.complete(model="flash", messages=[{"role": "user", "content": "before"}])
        redis_server.kill()
        started = time.monotonic()
        for i in range(5):
            answer = a.complete(model="flash", messages=[{"role": "user", "content": f"{i}"}])
            assert answer.provider
        assert time.monotonic() - started < 3
        assert wait_for(lambda: not a.state.available)
        a.cooldowns.hold(PIN, 60)  # learned during the outage: queued
        assert a.cooldowns.cooling(PIN) is not None  # and used locally at once
        redis_server.start()  # an empty Redis (no persistence), same address
        assert wait_for(lambda: a.state.available and b.state.available)
        assert a.state.sync()
        assert b.state.sync()
        assert b.cooldowns.cooling(PIN) is not None  # A's queued hold reached B
        outage = [m for m in warnings_of(caplog) if "unavailable" in m]
        assert len(outage) == 2  # one per router for the one outage
    finally:
        a.close()
        b.close()


def test_a_dropped_connection_loses_and_double_counts_nothing(sim, redis_server, clock):
    router = make(sim, redis_server, clock)
    try:
        for _ in range(10):
            router.state.tallies.add("spend", "dave", Decimal("0.01"))
        assert router.state.sync()
        with redis_server.client() as admin:
            admin.client_kill_filter(_type="normal", skipme=True)
        for _ in range(10):
            router.state.tallies.add("spend", "dave", Decimal("0.01"))
        assert wait_for(lambda: router.state.sync(1.0))
        with redis_server.client() as admin:
            assert admin.hget(f"t:{SCHEMA}:tally:spend", "dave") == b"200000000000"
        assert router.state.tallies.value("spend", "dave") == Decimal("0.2")
    finally:
        router.close()


def test_a_slow_redis_never_slows_a_request(sim, redis_server, clock, caplog):
    router = make(sim, redis_server, clock, timeout_seconds=0.2)
    try:
        with redis_server.client() as admin:
            admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        started = time.monotonic()
        latencies = []
        while time.monotonic() - started < 1.2:
            t0 = time.monotonic()
            router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
            latencies.append(time.monotonic() - t0)
        # Redis answers nothing for 1.5 s: a request that waited on it would take that long.
        # (The bound leaves room for a loaded machine; the median is a few ms.)
        assert max(latencies) < 1.0
        assert sorted(latencies)[len(latencies) // 2] < 0.1
        assert wait_for(lambda: router.state.available)
        assert router.state.sync()
        assert any("unavailable" in m for m in warnings_of(caplog))
    finally:
        router.close()


def test_a_redis_answering_errors_is_an_outage_too(sim, redis_server, clock, caplog):
    router = make(sim, redis_server, clock)
    try:
        with redis_server.client() as admin:
            admin.config_set("maxmemory", "1")  # every write: OOM command not allowed
        router.state.tallies.add("spend", "erin", Decimal("2"))
        router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
        assert wait_for(lambda: not router.state.available)
        assert any("maxmemory" in m for m in warnings_of(caplog))
        with redis_server.client() as admin:
            admin.config_set("maxmemory", "0")
        assert wait_for(lambda: router.state.available)
        assert router.state.sync()
        with redis_server.client() as admin:
            assert admin.hget(f"t:{SCHEMA}:tally:spend", "erin") == b"2000000000000"
    finally:
        router.close()


def test_close_returns_every_connection(sim, redis_server, clock):
    assert redis_server.router_clients() == 0
    routers = [make(sim, redis_server, clock) for _ in range(3)]
    for router in routers:
        router.complete(model="flash", messages=[{"role": "user", "content": "hi"}])
    assert redis_server.router_clients() > 0
    for router in routers:
        router.close()
    assert wait_for(lambda: redis_server.router_clients() == 0, 3)


def test_shared_learning_computes_what_the_memory_backend_does(redis_server, clock):
    from router.state.prefix import MemoryPrefixes

    settings = StateSettings(backend="redis", url=redis_server.url, key_prefix="parity:")
    state = RedisState(settings, timer=clock)
    memory = MemoryPrefixes(timer=clock)
    try:
        for estimated, reported in ((6, 12), (2000, 2500), (500, 400), (40_000, 39_000)):
            state.prefixes.calibrate("p:m", estimated, reported)
            memory.calibrate("p:m", estimated, reported)
        for predicted, reported in ((3000, 3000), (3000, 0), (2048, 1024)):
            state.prefixes.observe("p:m", predicted, reported)
            memory.observe("p:m", predicted, reported)
        assert state.sync()
        assert state.prefixes.calibration("p:m") == pytest.approx(memory.calibration("p:m"))
        assert state.prefixes.hit_rate("p:m") == pytest.approx(memory.hit_rate("p:m"))
        assert state.prefixes.calibration("p:m") != 1.0
    finally:
        state.close()


def test_a_failed_probe_reopens_longer_for_the_whole_fleet(sim, redis_server, clock):
    fallback = {"cooldown_after": 1, "cooldown_seconds": 10, "cooldown_max_seconds": 100}
    routers = []
    for _ in range(2):
        c = conf(sim, redis_server)
        c["fallback"] = fallback
        routers.append(Router.from_config(c, timer=clock))
    a, b = routers
    try:
        a.cooldowns.failed(PIN)  # the breaker opens for 10 s, at A and, shared, at B
        assert b.state.sync()
        assert b.cooldowns.cooling(PIN) == pytest.approx(10)
        clock.advance(11)  # half-open: one probe per process
        assert a.cooldowns.probe(PIN)
        assert not a.cooldowns.probe(PIN)
        a.cooldowns.failed(PIN)  # the probe failed: open again, twice as long
        assert b.state.sync()
        assert a.cooldowns.cooling(PIN) == pytest.approx(20)
        assert b.cooldowns.cooling(PIN) == pytest.approx(20)
    finally:
        a.close()
        b.close()
