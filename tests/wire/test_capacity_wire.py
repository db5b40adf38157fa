"""Capacity a second away is waited for, not refused: cooling candidates, half-open probes,
catalog retries within the deadline, and a transient "no route" as a 503 with Retry-After."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from router import Router
from router.errors import AllProvidersFailed, NoRouteError
from router.serving.server import create_app
from router.state.cooldowns import RECHECK_SECONDS, MemoryCooldowns
from router.testing.simulator import Reply
from tests.wire.conftest import HELLO, config
from tests.wire.test_server import serving

pytestmark = pytest.mark.wire

PS = "pinstripes:ps/deepseek-v4-flash"
RS = "routstr:deepseek/deepseek-v4-flash"
GROUP = {"g": [PS, RS]}


def clocked(sim, clock, waits, *, fallback=None, **top):
    """A router whose cooldowns run on ``clock`` and whose waits move it (and are recorded)."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    conf = config(sim, "pinstripes", "routstr", models=GROUP, fallback=fallback or {}, **top)
    router = Router.from_config(conf, timer=clock, sleep=sleep)
    router.models()
    return router


def posts(sim, provider):
    return [r for r in sim.requests(provider) if r.method == "POST"]


# -- waiting for capacity ----------------------------------------------------------------


def test_every_candidate_cooling_waits_for_the_first_back_and_says_so(sim, clock):
    waits: list[float] = []
    with clocked(sim, clock, waits) as r:
        r.cooldowns.hold(PS, 1.5)
        r.cooldowns.hold(RS, 0.75)
        reply = r.complete(model="g", messages=HELLO)
    assert waits == [0.75]
    assert reply.provider == "routstr"
    assert reply.route.waited == 0.75
    assert reply.route.to_dict()["waited"] == 0.75
    assert "waited 0.75 s for capacity to come back" in str(reply.route)
    assert [e.ref for e in reply.route.excluded] == [PS]  # still cooling when routed again


def test_a_stream_waits_too(sim, clock):
    waits: list[float] = []
    with clocked(sim, clock, waits) as r:
        r.cooldowns.hold(PS, 0.5)
        r.cooldowns.hold(RS, 0.5)
        chunks = list(r.stream(model="g", messages=HELLO))
    assert waits == [0.5]
    assert chunks[-1].route.chosen == PS
    assert chunks[-1].route.waited == 0.5


def test_no_wait_beyond_max_wait_seconds_a_transient_no_route_instead(sim, clock):
    waits: list[float] = []
    with clocked(sim, clock, waits, fallback={"max_wait_seconds": 2}) as r:
        r.cooldowns.hold(PS, 5)
        r.cooldowns.hold(RS, 3)
        with pytest.raises(NoRouteError) as info:
            r.complete(model="g", messages=HELLO)
    assert waits == []
    assert info.value.retry_after == 3
    assert info.value.excluded == {
        PS: "[cooldown] cooling down, 5 s left",
        RS: "[cooldown] cooling down, 3 s left",
    }


def test_no_wait_beyond_the_deadline(sim, clock):
    waits: list[float] = []
    fallback = {"deadline_seconds": 1, "max_wait_seconds": 30}
    with clocked(sim, clock, waits, fallback=fallback) as r:
        r.cooldowns.hold(PS, 2)
        r.cooldowns.hold(RS, 2)
        with pytest.raises(NoRouteError) as info:
            r.complete(model="g", messages=HELLO)
    assert waits == []
    assert info.value.retry_after == 2


def test_a_candidate_left_out_for_good_is_not_waited_for(sim, clock):
    waits: list[float] = []
    policy = [{"max_price": {"prompt_per_mtok": 0}}]
    with clocked(sim, clock, waits, policy=policy) as r, pytest.raises(NoRouteError) as info:
        r.complete(model="g", messages=HELLO)
    assert waits == []
    assert info.value.retry_after is None


def test_a_request_left_with_nothing_after_a_drop_waits_for_a_cooling_one(sim, clock):
    waits: list[float] = []
    with clocked(sim, clock, waits) as r:
        r.cooldowns.hold(RS, 0.5)
        sim.script("pinstripes", [Reply(401)])  # drops every pinstripes deployment
        reply = r.complete(model="g", messages=HELLO)
    assert waits == [0.0, 0.5]  # moving on waits nothing; then for routstr to come back
    assert reply.route.chosen == RS
    assert [(a.ref, a.status) for a in reply.route.attempts] == [(PS, 401)]


def test_async_waits_without_blocking_the_loop(sim):
    conf = config(sim, "pinstripes", "routstr", models=GROUP)

    async def main() -> tuple[object, int, float]:
        async with Router.from_config(conf) as r:
            await r.amodels()
            r.cooldowns.hold(PS, 0.4)
            r.cooldowns.hold(RS, 0.4)
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            began = time.monotonic()
            reply = await r.acomplete(model="g", messages=HELLO)
            took = time.monotonic() - began
            ticker.cancel()
            return reply, ticks, took

    reply, ticks, took = asyncio.run(main())
    assert reply.provider == "pinstripes"
    assert 0.39 <= reply.route.waited <= 0.41
    assert took >= 0.39
    assert ticks >= 10  # the loop ran other tasks while the request waited


# -- half-open: one probe, the rest follow its outcome -------------------------------------


def test_the_breaker_gives_one_probe_and_grows_a_failing_cooldown(clock):
    cooldowns = MemoryCooldowns(after=2, seconds=10, max_seconds=30, timer=clock)
    cooldowns.failed("p:m")
    assert cooldowns.probe("p:m")  # closed: one failure is not enough
    cooldowns.failed("p:m")
    assert cooldowns.cooling("p:m") == 10
    assert not cooldowns.probe("p:m")
    clock.advance(10)
    assert cooldowns.cooling("p:m") is None  # half-open, no probe out
    assert cooldowns.probe("p:m")  # this caller is the probe
    assert cooldowns.cooling("p:m") == RECHECK_SECONDS
    assert not cooldowns.probe("p:m")  # everyone else waits for its outcome
    cooldowns.failed("p:m")  # the probe failed: twice as long
    assert cooldowns.cooling("p:m") == 20
    clock.advance(20)
    assert cooldowns.probe("p:m")
    cooldowns.failed("p:m")
    assert cooldowns.cooling("p:m") == 30  # 40, capped
    clock.advance(30)
    assert cooldowns.probe("p:m")
    clock.advance(10)  # a probe that never reported: another request may probe
    assert cooldowns.probe("p:m")
    cooldowns.succeeded("p:m")  # closed: everyone, and the next cooldown starts from 10
    assert cooldowns.probe("p:m")
    assert cooldowns.probe("p:m")
    cooldowns.failed("p:m")
    cooldowns.failed("p:m")
    assert cooldowns.cooling("p:m") == 10


def _herd(sim, probe_reply, *, fallback, cooldown=0.01):
    """Eight requests at once for a deployment back from a cooldown of ``cooldown`` seconds
    (a 500 cooled it); the probe's reply is ``probe_reply``. Returns each request's outcome."""
    fallback = {"attempts": 1, "cooldown_after": 1, "cooldown_seconds": cooldown, **fallback}
    conf = config(sim, "pinstripes", models={"g": [PS]}, fallback=fallback)

    async def main() -> list[object]:
        async with Router.from_config(conf) as r:
            await r.amodels()
            sim.script("pinstripes", [Reply(500)])
            with pytest.raises(AllProvidersFailed):
                await r.acomplete(model="g", messages=HELLO)
            sim.reset()
            await asyncio.sleep(cooldown + 0.05)  # back: half-open
            sim.script("pinstripes", [probe_reply])
            return await asyncio.gather(
                *(r.acomplete(model="g", messages=HELLO) for _ in range(8)),
                return_exceptions=True,
            )

    return asyncio.run(main())


def test_a_deployment_coming_back_gets_one_probe_and_the_rest_follow_its_success(sim):
    got = _herd(sim, Reply(200, delay=0.3), fallback={"max_wait_seconds": 2})
    assert all(not isinstance(g, Exception) for g in got)
    waited = sorted(g.route.waited for g in got)  # type: ignore[attr-defined]
    assert waited[0] == 0  # the probe
    assert all(w > 0 for w in waited[1:])  # the others waited for its outcome
    assert len(posts(sim, "pinstripes")) == 8


def test_a_failed_probe_cools_it_again_for_longer_and_nobody_else_is_sent(sim):
    fallback = {"max_wait_seconds": 0.5}
    got = _herd(sim, Reply(500, delay=0.2), fallback=fallback, cooldown=0.3)
    assert len(posts(sim, "pinstripes")) == 1  # the probe only
    errors = [type(g).__name__ for g in got]
    assert sorted(errors) == ["AllProvidersFailed"] + ["NoRouteError"] * 7
    refused = [g for g in got if isinstance(g, NoRouteError)]
    # cooled again for twice the last cooldown, beyond what they may still wait
    assert all(0.45 < g.retry_after <= 0.6 for g in refused)


# -- catalogs: retried within the deadline ---------------------------------------------


def test_a_catalog_429_is_fetched_again_after_its_retry_after(sim):
    waits: list[float] = []
    conf = config(sim, "pinstripes", fallback={"backoff_seconds": 0.5})
    with Router.from_config(conf, sleep=waits.append) as r:
        sim.script("pinstripes", [Reply(429, headers={"Retry-After": "1"})])
        reply = r.complete(model=PS, messages=HELLO)
    assert waits == [1.0]
    assert reply.route.waited == 1.0
    assert [x.method for x in sim.requests("pinstripes")] == ["GET", "GET", "POST"]


def test_a_catalog_401_is_not_fetched_again(sim):
    waits: list[float] = []
    with Router.from_config(config(sim, "pinstripes"), sleep=waits.append) as r:
        sim.script("pinstripes", [Reply(401)])
        with pytest.raises(NoRouteError) as info:
            r.complete(model=PS, messages=HELLO)
    assert waits == []
    assert info.value.retry_after is None
    assert len(sim.requests("pinstripes")) == 1


def test_callers_waiting_on_a_failed_catalog_fetch_share_its_failure(sim):
    async def main() -> list[object]:
        async with Router.from_config(config(sim, "pinstripes")) as r:
            sim.script("pinstripes", [Reply(401, delay=0.2)])
            return await asyncio.gather(
                *(r.acomplete(model=PS, messages=HELLO) for _ in range(8)),
                return_exceptions=True,
            )

    got = asyncio.run(main())
    assert [x.method for x in sim.requests("pinstripes")] == ["GET"]  # not one each
    assert all(isinstance(g, NoRouteError) and g.retry_after is None for g in got)


def test_sync_catalog_fetches_stay_within_the_deadline(sim):
    kinds = ("pinstripes", "routstr", "openrouter")
    conf = config(sim, *kinds, fallback={"deadline_seconds": 1, "attempts": 1})
    with Router.from_config(conf) as r:
        for kind in kinds:
            sim.script(kind, [Reply(200, delay=1.5)])
        began = time.monotonic()
        with pytest.raises(NoRouteError) as info:
            r.complete(model="auto", messages=HELLO)
        took = time.monotonic() - began
    assert took < 1.4  # one after another, they would take 4.5 s
    assert info.value.retry_after is not None  # timed-out catalogs pass: a 503


# -- over HTTP: a 503 with Retry-After, never a 404 -------------------------------------


def _cooling_router(sim):
    conf = config(sim, "pinstripes", "routstr", models=GROUP, fallback={"max_wait_seconds": 1})
    router = Router.from_config(conf)
    router.models()
    router.cooldowns.hold(PS, 30)
    router.cooldowns.hold(RS, 20)
    return router


def _assert_503(resp: httpx.Response) -> None:
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "20"
    assert 19_000 < int(resp.headers["retry-after-ms"]) <= 20_000
    error = resp.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "no_capacity")
    assert f"{RS}: [cooldown] cooling down" in error["message"]


BODY = {"model": "g", "messages": HELLO}


@pytest.mark.parametrize("stream", [False, True])
def test_the_transport_answers_503_with_retry_after(sim, stream):
    with (
        _cooling_router(sim) as r,
        httpx.Client(transport=r.transport(), base_url="http://router/v1") as client,
    ):
        _assert_503(client.post("/chat/completions", json={**BODY, "stream": stream}))


def test_the_async_transport_answers_503_with_retry_after(sim):
    async def main() -> httpx.Response:
        async with (
            _cooling_router(sim) as r,
            httpx.AsyncClient(transport=r.async_transport(), base_url="http://router/v1") as c,
        ):
            return await c.post("/chat/completions", json=BODY)

    _assert_503(asyncio.run(main()))


def test_the_server_answers_503_with_retry_after(sim):
    with _cooling_router(sim) as r, serving(create_app(r)) as url:
        _assert_503(httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=10))


def test_no_route_for_good_is_still_a_404(sim):
    with (
        Router.from_config(config(sim, "pinstripes", "routstr", models=GROUP)) as r,
        httpx.Client(transport=r.transport(), base_url="http://router/v1") as client,
    ):
        resp = client.post("/chat/completions", json={"model": "nope", "messages": HELLO})
    assert resp.status_code == 404
    assert "retry-after" not in resp.headers
