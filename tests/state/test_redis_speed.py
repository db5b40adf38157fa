"""Measured speeds shared through Redis: what one router measures, the fleet knows."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from router import Router
from router.state.latency import MemoryLatency, Speed
from router.state.redis import SCHEMA, RedisState
from router.state.settings import StateSettings
from router.state.shared_latency import SAMPLES, SharedLatency
from router.state.store import MemoryState
from router.testing.redis_server import RedisServer
from router.testing.simulator import Reply
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

# "You said: " + 10 words: 12 completion tokens
WORDS = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]
FLASH = "openrouter:deepseek/deepseek-v4-flash"
ROUTSTR = "routstr:deepseek/deepseek-v4-flash"


def make(sim, server: RedisServer) -> Router:
    block = {"backend": "redis", "url": server.url, "key_prefix": "s:"}
    conf = config(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]}, state=block)
    router = Router.from_config(conf, sleep=lambda _s: None)
    router.models()
    return router


def same(a: Speed, b: Speed) -> None:
    assert a.samples == b.samples
    for name in ("ttft", "tokens_per_second", "latency", "error_rate"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-9), name
    for name in ("ttft_p50", "ttft_p90", "latency_p50", "latency_p90"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-9), name


def test_router_b_sees_the_speed_router_a_measured(sim, redis_server):
    sim.set_latency("openrouter", ttft=0.2, tokens_per_second=120)  # 12 tokens: 0.1 s
    a, b = make(sim, redis_server), make(sim, redis_server)
    try:
        assert isinstance(b.latency, SharedLatency)
        assert b.latency.speed(FLASH) is None
        for _ in range(3):
            assert list(a.stream(model=FLASH, messages=WORDS))
        a.complete(model=FLASH, messages=WORDS)
        assert a.state.sync()
        assert b.state.sync()
        measured, seen = a.latency.speed(FLASH), b.latency.speed(FLASH)
        assert measured is not None
        assert seen is not None
        assert seen.samples == 4
        same(seen, measured)
        assert seen.ttft is not None
        assert 0.2 <= seen.ttft < 0.35
        assert seen.ttft_p90 is not None
        assert abs(seen.ttft_p90 - seen.ttft) / seen.ttft < 0.2
        assert seen.latency is not None
        assert 0.3 <= seen.latency < 0.5
        assert seen.tokens_per_second is not None
        assert 60 < seen.tokens_per_second < 150
        assert seen.error_rate == 0.0
        assert list(b.latency.speeds()) == [FLASH]
        with redis_server.client() as admin:
            assert admin.hget(f"s:{SCHEMA}:tally:{SAMPLES}", FLASH) == b"4000000000000"
            ttft = admin.hgetall(f"s:{SCHEMA}:tally:speed:ttft:{FLASH}")
            assert sum(int(v) for v in ttft.values()) == 3 * 10**12  # 3 streamed answers
        # B's own answers add to the same statistics; a restarted router attaches to them
        assert list(b.stream(model=FLASH, messages=WORDS))
        assert b.state.sync()
        assert a.state.sync()
        after_a = a.latency.speed(FLASH)
        assert after_a is not None
        assert after_a.samples == 5
        fresh = make(sim, redis_server)
        try:
            again = fresh.latency.speed(FLASH)
            assert again is not None
            same(again, after_a)
        finally:
            fresh.close()
    finally:
        a.close()
        b.close()


def test_a_failure_seen_by_a_counts_in_bs_error_rate(sim, redis_server):
    a, b = make(sim, redis_server), make(sim, redis_server)
    try:
        sim.script("openrouter", [Reply(500)])
        assert a.complete(model="flash", messages=WORDS).provider == "routstr"
        assert a.state.sync()
        assert b.state.sync()
        speeds = b.latency.speeds()
        assert (speeds[FLASH].samples, speeds[FLASH].error_rate) == (0, 0.2)  # alpha 0.2
        assert speeds[ROUTSTR].samples == 1
        assert speeds[ROUTSTR].error_rate == 0.0
    finally:
        a.close()
        b.close()


def feed(latency, rng: random.Random, n: int, *, complete_every: int = 3) -> None:
    for i in range(n):
        ttft = rng.lognormvariate(-1.5, 0.5)
        seconds = ttft + rng.uniform(0.05, 2.0)
        streamed = i % complete_every != 0
        latency.observe(
            "p:m",
            seconds=seconds,
            ttft=ttft if streamed else None,
            output_tokens=rng.randint(1, 500),
        )
        if i % 17 == 0:
            latency.failed("p:m")


def test_shared_speeds_compute_what_memory_latency_does_in_memory():
    memory, shared_rng = MemoryLatency(), random.Random(3)
    state = MemoryState()
    shared, memory_rng = SharedLatency(state.tallies, state.means), random.Random(3)
    for n in (150, 1, 349):  # past the window: the sketches fade
        feed(memory, memory_rng, n)
        feed(shared, shared_rng, n)
        same(shared.speeds()["p:m"], memory.speeds()["p:m"])  # read between: none stale
    assert sum(state.tallies.table("speed:latency:p:m").values(), Decimal(0)) <= 200


def test_shared_speeds_compute_what_memory_latency_does_on_redis(redis_server):
    settings = StateSettings(backend="redis", url=redis_server.url, key_prefix="parity:")
    state = RedisState(settings)
    try:
        shared, memory = SharedLatency(state.tallies, state.means), MemoryLatency()
        # Streamed answers only: a complete answer's throughput is measured against the
        # TTFT mean this router's copy holds then, which a batch published meanwhile can
        # set back to the fleet's value of a moment before (not what memory holds).
        feed(shared, random.Random(5), 450, complete_every=10**9)
        feed(memory, random.Random(5), 450, complete_every=10**9)
        assert state.sync()
        same(shared.speeds()["p:m"], memory.speeds()["p:m"])
    finally:
        state.close()
