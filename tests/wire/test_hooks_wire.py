"""Observation hooks over real HTTP: every path fires them, a raising hook breaks nothing."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest

from router import (
    AllProvidersFailed,
    NoRouteError,
    Router,
    StreamInterrupted,
    hookimpl,
)
from router.serving.server import create_app
from router.testing.simulator import Reply
from tests.conftest import Recorder
from tests.wire.conftest import FLASH, HELLO, config
from tests.wire.test_server import serving

pytestmark = pytest.mark.wire


class Broken:
    """Raises in both hooks."""

    @hookimpl
    def router_on_attempt(self, event):
        raise RuntimeError("attempt hook bug")

    @hookimpl
    def router_on_result(self, event):
        raise RuntimeError("result hook bug")


@pytest.fixture
def seen():
    return Recorder()


@pytest.fixture
def router_(sim, seen):
    conf = config(sim, "pinstripes", "routstr")
    with Router.from_config(conf, plugins=[seen], sleep=lambda _: None) as r:
        yield r


def _one_ok(seen, *, stream: bool, client=None):
    (attempt,) = seen.attempts
    (result,) = seen.results
    assert attempt.ok
    assert attempt.status == 200
    assert attempt.ref == FLASH
    assert attempt.stream is stream
    assert result.ok
    assert result.stream is stream
    assert result.attempts == (attempt,)
    assert result.request_id == attempt.request_id
    assert result.route.chosen == FLASH
    assert isinstance(result.cost, Decimal)
    assert result.cost > 0
    assert result.prompt_tokens > 0
    assert result.completion_tokens > 0
    assert result.client == client
    if stream:
        assert attempt.ttft is not None
        assert result.ttft is not None
        assert result.ttft <= result.latency
    else:
        assert attempt.ttft is None
        assert result.ttft is None
    return result


def test_sync_complete(router_, seen):
    reply = router_.complete(model=FLASH, messages=HELLO, user="u1", metadata={"team": "a"})
    result = _one_ok(seen, stream=False)
    assert result.cost == reply.route.cost
    assert (result.user, result.metadata) == ("u1", {"team": "a"})


async def test_async_complete(router_, seen):
    reply = await router_.acomplete(model=FLASH, messages=HELLO)
    assert _one_ok(seen, stream=False).cost == reply.route.cost


def test_sync_stream(router_, seen):
    chunks = list(router_.stream(model=FLASH, messages=HELLO))
    assert _one_ok(seen, stream=True).cost == chunks[-1].route.cost


async def test_async_stream(router_, seen):
    chunks = [c async for c in router_.astream(model=FLASH, messages=HELLO)]
    assert _one_ok(seen, stream=True).cost == chunks[-1].route.cost


@pytest.mark.parametrize("stream", [False, True])
def test_sync_transport(router_, seen, stream):
    with httpx.Client(transport=router_.transport(), base_url="http://router/v1") as client:
        body = {"model": FLASH, "messages": HELLO, "stream": stream, "user": "u2"}
        response = client.post("/chat/completions", json=body)
        assert response.status_code == 200
        response.read()
    assert _one_ok(seen, stream=stream).user == "u2"


@pytest.mark.parametrize("stream", [False, True])
async def test_async_transport(router_, seen, stream):
    transport = router_.async_transport()
    async with httpx.AsyncClient(transport=transport, base_url="http://router/v1") as client:
        body = {"model": FLASH, "messages": HELLO, "stream": stream}
        response = await client.post("/chat/completions", json=body)
        assert response.status_code == 200
        await response.aread()
    _one_ok(seen, stream=stream)


@pytest.mark.parametrize("stream", [False, True])
def test_server_names_the_client_key(router_, seen, stream):
    keys = [{"key": "ck-team-a-0123456789", "name": "team-a"}, "ck-plain-0123456789"]
    from router.config import ServerSettings

    settings = ServerSettings.model_validate({"api_keys": keys})
    with serving(create_app(router_, api_keys=settings.api_keys)) as url:
        body = {"model": FLASH, "messages": HELLO, "stream": stream}
        for key, name in (("ck-team-a-0123456789", "team-a"), ("ck-plain-0123456789", None)):
            response = httpx.post(
                f"{url}/v1/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {key}", "x-router-client": "spoofed"},
                timeout=10,
            )
            assert response.status_code == 200
            expected = name or "api_keys[1]"
            result = _one_ok(seen, stream=stream, client=expected)
            assert "ck-" not in json.dumps(str(result))  # the key itself is never recorded
            seen.attempts.clear()
            seen.results.clear()


def test_a_failover_is_two_attempts_and_one_result(router_, seen, sim):
    first = router_.explain(model="auto", messages=HELLO).candidates[0].ref
    sim.script(first.partition(":")[0], [Reply(503)])
    router_.complete(model="auto", messages=HELLO)
    failed, answered = seen.attempts
    assert (failed.ref, failed.status, failed.error_kind) == (first, 503, "Unavailable")
    assert answered.ok
    assert answered.number == 2
    (result,) = seen.results
    assert result.attempts == (failed, answered)
    assert result.ok


def test_every_attempt_failing_is_a_result_with_the_error(router_, seen, sim):
    router_.catalog("pinstripes")  # fetched before the outage
    sim.set_down("pinstripes", True)
    with pytest.raises(AllProvidersFailed) as info:
        router_.complete(model=FLASH, messages=HELLO)
    (result,) = seen.results
    assert result.error is info.value
    assert not result.ok
    assert result.cost is None
    assert result.provider is None
    assert [a.status for a in result.attempts] == [503] * len(result.attempts)
    assert len(result.attempts) == len(seen.attempts) == 4


def test_no_route_is_a_result_without_attempts(router_, seen):
    with pytest.raises(NoRouteError):
        router_.complete(model="pinstripes:no/such-model", messages=HELLO)
    (result,) = seen.results
    assert isinstance(result.error, NoRouteError)
    assert result.attempts == ()
    assert seen.attempts == []


def test_a_stream_left_after_its_first_chunk_is_an_incomplete_result(router_, seen):
    chunks = router_.stream(model=FLASH, messages=[{"role": "user", "content": "one two three"}])
    next(chunks)
    chunks.close()
    (result,) = seen.results
    assert result.error is None
    assert not result.complete
    assert result.usage_estimated  # estimated from the text received
    assert result.cost is not None
    assert result.cost > 0


def test_a_stream_cut_mid_way_is_a_result_with_the_interruption(router_, seen, sim):
    router_.catalog("pinstripes")
    sim.script("pinstripes", [Reply(200, cut_after=3)])
    with pytest.raises(StreamInterrupted) as info:
        list(router_.stream(model=FLASH, messages=[{"role": "user", "content": "a b c d e f"}]))
    (result,) = seen.results
    assert result.error is info.value
    assert not result.complete
    assert seen.attempts[0].ok  # the attempt answered: the break came after its first chunk


def test_a_raising_hook_breaks_nothing_and_is_logged_once(sim, caplog):
    seen = Recorder()
    conf = config(sim, "pinstripes")
    with Router.from_config(conf, plugins=[Broken(), seen]) as r:
        with caplog.at_level(logging.ERROR, logger="router.hooks"):
            for _ in range(3):
                assert r.complete(model=FLASH, messages=HELLO).provider == "pinstripes"
            assert len(list(r.stream(model=FLASH, messages=HELLO))) > 1
        assert len(seen.results) == 4  # the other plugin still sees every event
        assert len(seen.attempts) == 4
        (name,) = r.observers.failures
        assert r.observers.failures[name] == 8
    logged = [rec for rec in caplog.records if rec.name == "router.hooks"]
    assert len(logged) == 1
    assert "raised in router_on_attempt" in logged[0].getMessage()
    assert logged[0].exc_info is not None
