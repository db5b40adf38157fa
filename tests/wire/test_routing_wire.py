"""Routing over real HTTP: every provider's transport, exact cost, the retry matrix, streams."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import time
from decimal import Decimal

import pytest

from router import Router
from router.errors import (
    AllProvidersFailed,
    ContextTooLong,
    NoRouteError,
    Rejected,
    StreamInterrupted,
)
from router.testing.simulator import Reply, prompt_tokens_of
from tests.wire.conftest import HELLO, TOOLS, config, provider_conf

pytestmark = pytest.mark.wire


# One OpenAI-family deployment per provider (PipeLLM: native openai route, and the
# converter route for its gemini family).
OPENAI_FAMILY = [
    "pinstripes:ps/deepseek-v4-flash",
    "routstr:deepseek/deepseek-v4-flash",
    "openrouter:deepseek/deepseek-v4-flash",
    "openai:Qwen/Qwen3-8B",
    "pipellm:gpt-5-mini",
    "pipellm:gemini-3-flash",
]
ANTHROPIC_FAMILY = ["pipellm:claude-sonnet-4-6"]
MAJESTIX = ["inference-api:gpt-5-mini"]
EVERY_FAMILY = OPENAI_FAMILY + ANTHROPIC_FAMILY + MAJESTIX


def make_router(sim, *kinds, waits=None, **top):
    conf = config(sim, *kinds, **top)
    for block in conf["providers"]:
        if block["kind"] == "openai":
            block["model_info"] = {"*": {"prompt_per_mtok": "0.02", "completion_per_mtok": "0.08"}}
    router = Router.from_config(conf, sleep=(waits.append if waits is not None else None))
    for name in router.providers:  # fetch catalogs now, so scripted faults hit chat routes
        router.catalog(name)
    return router


@pytest.fixture
def router(sim):
    with make_router(sim) as r:
        yield r


def card_of(router, ref):
    provider, _, model_id = ref.partition(":")
    return next(c for c in router.catalog(provider).models if c.id == model_id)


def expected_cost(card, prompt, completion, cached=0, written=0):
    rates = card.pricing.rates_for(prompt)
    read = rates.cache_read if rates.cache_read is not None else rates.prompt
    write = rates.cache_write if rates.cache_write is not None else rates.prompt
    return (
        (prompt - cached - written) * rates.prompt
        + cached * read
        + written * write
        + completion * rates.completion
    )


# -- each provider's transport, plain and streamed, with exact cost -------------------


@pytest.mark.parametrize("ref", OPENAI_FAMILY + ANTHROPIC_FAMILY)
def test_complete_through_each_transport_with_exact_cost(sim, router, ref):
    reply = router.complete(model=ref, messages=HELLO)
    provider = ref.partition(":")[0]
    assert reply.provider == provider
    assert reply.choices[0].message.content == "You said: hello there router"
    assert reply.choices[0].finish_reason == "stop"
    (sent,) = [r for r in sim.requests(provider) if r.method == "POST"]
    prompt = prompt_tokens_of(sent.json())
    assert reply.usage.prompt_tokens == prompt
    assert reply.usage.completion_tokens == 5
    card = card_of(router, ref)
    assert reply.route.cost == expected_cost(card, prompt, 5)
    assert reply.usage.cost == float(reply.route.cost)
    dumped = reply.model_dump()
    assert dumped["provider"] == provider
    assert dumped["usage"]["cost"] == reply.usage.cost
    assert dumped["object"] == "chat.completion"


@pytest.mark.parametrize("ref", OPENAI_FAMILY + ANTHROPIC_FAMILY)
def test_stream_through_each_transport_ends_with_usage_and_cost(sim, router, ref):
    chunks = list(router.stream(model=ref, messages=HELLO))
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    assert text == "You said: hello there router"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == 5
    provider = ref.partition(":")[0]
    (sent,) = [r for r in sim.requests(provider) if r.method == "POST"]
    body = sent.json()
    if provider != "pipellm" or not ref.endswith("claude-sonnet-4-6"):
        assert body["stream_options"] == {"include_usage": True}
    assert last.route.cost == expected_cost(card_of(router, ref), prompt_tokens_of(body), 5)
    assert all(chunk.provider == provider for chunk in chunks)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)


def test_majestix_stream_ends_with_the_billed_cost(sim, router):
    chunks = list(router.stream(model="inference-api:gpt-5-mini", messages=HELLO))
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    assert text == "You said: hello there router"
    last = chunks[-1]
    (sent,) = [r for r in sim.requests("inference-api") if r.method == "POST"]
    raw = next(m for m in sim.catalog("inference-api")["models"] if m["id"] == "gpt-5-mini")
    prompt = prompt_tokens_of(sent.json())
    credits = round((prompt * raw["cost_per_1k_input"] + 5 * raw["cost_per_1k_output"]) / 1000, 6)
    assert last.route.cost == Decimal(str(credits)) * Decimal("0.001")
    assert last.usage.cost == float(last.route.cost)


def test_pipellm_routes_by_protocol_family(sim, router):
    router.complete(model="pipellm:gpt-5-mini", messages=HELLO)
    router.complete(model="pipellm:claude-sonnet-4-6", messages=HELLO)
    router.complete(model="pipellm:gemini-3-flash", messages=HELLO)
    posts = [r for r in sim.requests("pipellm") if r.method == "POST"]
    assert [r.path for r in posts] == [
        "/pipellm/v1/chat/completions",
        "/pipellm/v1/messages",
        "/pipellm/openai/v1/chat/completions",
    ]
    anthropic = posts[1]
    assert anthropic.headers["x-api-key"] == sim.api_key("pipellm")
    assert anthropic.headers["anthropic-version"] == "2023-06-01"
    assert anthropic.json()["max_tokens"] > 0  # required by Anthropic, filled in


def test_majestix_cost_is_credits_times_usd_per_credit(sim, router):
    reply = router.complete(model="inference-api:gpt-5-mini", messages=HELLO)
    assert reply.choices[0].message.content == "You said: hello there router"
    (sent,) = [r for r in sim.requests("inference-api") if r.method == "POST"]
    assert sent.path == "/inference-api/chat"
    # the simulator bills credits = (prompt x in + completion x out) / 1000, 6 decimals
    raw = next(m for m in sim.catalog("inference-api")["models"] if m["id"] == "gpt-5-mini")
    prompt = prompt_tokens_of(sent.json())
    credits = round((prompt * raw["cost_per_1k_input"] + 5 * raw["cost_per_1k_output"]) / 1000, 6)
    assert reply.route.cost == Decimal(str(credits)) * Decimal("0.001")
    assert reply.route.usage_estimated is True


@pytest.mark.parametrize(
    "ref",
    [
        "pinstripes:ps/deepseek-v4-flash",  # usage.cached_tokens at the top level
        "openrouter:anthropic/claude-sonnet-4.6",
        "routstr:deepseek/deepseek-v4-flash",  # no cache rate in its catalog: prompt rate
        "pipellm:gpt-5-mini",
        "pipellm:gemini-3-flash",
        "openai:Qwen/Qwen3-8B",  # prices from model_info, no cache rate
    ],
)
def test_cached_tokens_are_billed_at_the_cache_rate(sim, router, ref):
    sim.set_cached_tokens(ref.partition(":")[0], 4)
    reply = router.complete(model=ref, messages=HELLO)
    prompt = reply.usage.prompt_tokens
    assert reply.usage.prompt_tokens_details.cached_tokens == 4
    assert reply.route.cost == expected_cost(card_of(router, ref), prompt, 5, cached=4)


def test_anthropic_cache_reads_and_writes_are_normalized_and_billed(sim, router):
    sim.set_cached_tokens("pipellm", 3)
    sim.set_cache_write_tokens("pipellm", 2)
    reply = router.complete(model="pipellm:claude-sonnet-4-6", messages=HELLO)
    (sent,) = [r for r in sim.requests("pipellm") if r.method == "POST"]
    prompt = prompt_tokens_of(sent.json())
    assert reply.usage.prompt_tokens == prompt  # input_tokens + cache read + cache write
    assert reply.usage.prompt_tokens_details.cached_tokens == 3
    card = card_of(router, "pipellm:claude-sonnet-4-6")
    assert reply.route.cost == expected_cost(card, prompt, 5, cached=3, written=2)


@pytest.mark.parametrize("ref", ["pinstripes:ps/deepseek-v4-flash", *ANTHROPIC_FAMILY, *MAJESTIX])
def test_tool_call_round_trip_through_each_family(router, ref):
    first = router.complete(model=ref, messages=HELLO, tools=TOOLS)
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "lookup"
    assert first.choices[0].finish_reason == "tool_calls"
    followup = [
        *HELLO,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
    ]
    second = router.complete(model=ref, messages=followup, tools=TOOLS)
    assert second.choices[0].message.content == "Tool said: 42"


def test_streamed_tool_call(router):
    chunks = list(router.stream(model="pipellm:claude-sonnet-4-6", messages=HELLO, tools=TOOLS))
    calls = [tc for ch in chunks for c in ch.choices for tc in (c.delta.tool_calls or [])]
    assert calls[0]["function"]["name"] == "lookup"
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert json.loads(arguments) == {"query": "hello there router"}


# -- model names ------------------------------------------------------------------------


def test_group_and_auto_pick_the_cheapest(sim):
    group = {"flash": ["routstr:deepseek/deepseek-v4-flash", "pinstripes:ps/deepseek-v4-flash"]}
    with make_router(sim, "pinstripes", "routstr", models=group) as r:
        assert r.complete(model="flash", messages=HELLO).provider == "pinstripes"
        auto = r.explain(model="auto", messages=HELLO)
    costs = [c.cost for c in auto.candidates if not c.unsure]
    assert costs == sorted(costs)


def test_unknown_model_name_is_a_no_route_error(router):
    with pytest.raises(NoRouteError, match="not a deployment ref"):
        router.complete(model="gpt-9", messages=HELLO)


def test_no_route_names_every_exclusion(router):
    with pytest.raises(NoRouteError) as info:
        router.complete(model="routstr:gpt-4", messages=HELLO, max_tokens=9000)
    assert "[context_fit] context 8192" in info.value.excluded["routstr:gpt-4"]


# -- the retry matrix -------------------------------------------------------------------

GROUP = {"g": ["pinstripes:ps/deepseek-v4-flash", "routstr:deepseek/deepseek-v4-flash"]}


@pytest.mark.parametrize(
    ("reply", "falls_over"),
    [
        (Reply(429), True),
        (Reply(500), True),
        (Reply(502), True),
        (Reply(503), True),
        (Reply(504), True),
        (Reply(529), True),
        (Reply(401), True),
        (Reply(402), True),
        (Reply(403), True),
        (Reply(404), True),
        (Reply(422), True),
        (Reply(200, body=b"<html>maintenance</html>"), True),
        (Reply(200, body=b"{not json"), True),
        (Reply(200, cut_after=1), True),
        (Reply(200, body=b""), True),
        (
            Reply(
                429,
                json={
                    "type": "error",
                    "error": {
                        "type": "rate_limit_error",
                        "message": "enforced_spend_limit_reached: this organization's spend limit",
                    },
                },
            ),
            True,
        ),
        (
            Reply(
                400,
                json={
                    "error": {"message": "temperature too high", "type": "invalid_request_error"}
                },
            ),
            False,
        ),
    ],
)
def test_retry_matrix(sim, reply, falls_over):
    waits = []
    with make_router(sim, "pinstripes", "routstr", waits=waits, models=GROUP) as r:
        sim.script("pinstripes", [reply])
        if falls_over:
            answer = r.complete(model="g", messages=HELLO)
            assert answer.provider == "routstr"
            (attempt,) = answer.route.attempts
            assert attempt.ref == "pinstripes:ps/deepseek-v4-flash"
            assert all(w == 0 for w in waits)  # moving on to another deployment does not wait
        else:
            with pytest.raises(Rejected) as info:
                r.complete(model="g", messages=HELLO)
            assert info.value.status == 400
            assert "temperature too high" in str(info.value)
            assert [x for x in sim.requests("routstr") if x.method == "POST"] == []


def test_a_spend_limit_429_is_never_retried_at_that_provider(sim):
    waits = []
    group = {"g": ["pinstripes:ps/deepseek-v4-flash", "pinstripes:ps/gpt-oss-120b"]}
    spend = Reply(
        429, json={"error": {"type": "rate_limit_error", "message": "enforced_spend_limit_reached"}}
    )
    with make_router(sim, "pinstripes", waits=waits, models=group) as r:
        sim.script("pinstripes", [spend])
        with pytest.raises(AllProvidersFailed) as info:
            r.complete(model="g", messages=HELLO)
    assert [a.status for a in info.value.attempts] == [429]  # the other pinstripes model not tried
    assert waits == []
    assert r.cooldowns.cooling("pinstripes:ps/deepseek-v4-flash") is None


def test_routstr_invalid_model_falls_over(sim):
    group = {"g": ["routstr:deepseek/deepseek-v4-flash", "pinstripes:ps/deepseek-v4-flash"]}
    with make_router(sim, "pinstripes", "routstr", models=group) as r:
        sim.script(
            "routstr",
            [Reply(400, json={"error": {"message": "Invalid model", "code": "invalid_model"}})],
        )
        assert r.complete(model="g", messages=HELLO).provider == "pinstripes"


def test_auth_failure_skips_every_deployment_of_that_provider(sim):
    group = {
        "g": [
            "pinstripes:ps/deepseek-v4-flash",
            "pinstripes:ps/gpt-oss-120b",
            "routstr:deepseek/deepseek-v4-flash",
        ]
    }
    with make_router(sim, "pinstripes", "routstr", models=group) as r:
        sim.script("pinstripes", [Reply(401)])
        answer = r.complete(model="g", messages=HELLO)
    assert answer.provider == "routstr"
    assert len(answer.route.attempts) == 1


def test_context_too_long_falls_over_to_a_longer_context(sim):
    group = {
        "g": [
            "pinstripes:ps/qwen3.6-35b-a3b",
            "routstr:qwen/qwen3.6-35b-a3b",
            "pinstripes:ps/deepseek-v4-flash",
        ]
    }
    too_long = Reply(
        400,
        json={
            "error": {
                "message": "maximum context length exceeded",
                "code": "context_length_exceeded",
            }
        },
    )
    with make_router(sim, "pinstripes", "routstr", models=group, policy=["capabilities"]) as r:
        sim.script("pinstripes", [too_long])
        answer = r.complete(model="g", messages=HELLO)
    # routstr's qwen has the same 262,144 context: skipped; the 1M-context model serves
    assert answer.route.chosen == "pinstripes:ps/deepseek-v4-flash"
    assert answer.route.attempts[0].kind == ContextTooLong.__name__


@pytest.mark.parametrize(
    ("headers", "at_least"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "http-date in 3 s"}, 1.5),
    ],
)
def test_retry_after_is_honoured_on_the_last_deployment(sim, headers, at_least):
    if headers.get("Retry-After") == "http-date in 3 s":
        headers = {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)}
    waits = []
    with make_router(sim, "pinstripes", waits=waits) as r:
        sim.script("pinstripes", [Reply(429, headers=headers)])
        answer = r.complete(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)
    assert answer.provider == "pinstripes"
    (wait,) = waits
    assert at_least <= wait <= 30


def test_backoff_without_retry_after_grows_and_is_capped(sim):
    waits = []
    conf_fallback = {
        "attempts": 4,
        "backoff_seconds": 1,
        "max_wait_seconds": 2.5,
        "cooldown_after": 10,
    }
    with make_router(sim, "pinstripes", waits=waits, fallback=conf_fallback) as r:
        sim.script("pinstripes", [Reply(500), Reply(500), Reply(500)])
        answer = r.complete(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)
    assert answer.provider == "pinstripes"
    assert len(waits) == 3
    assert 1 <= waits[0] <= 2
    assert 2 <= waits[1] <= 2.5
    assert waits[2] == 2.5


def test_all_providers_failed_lists_every_attempt(sim):
    with make_router(sim, "pinstripes", "routstr", models=GROUP, fallback={"attempts": 2}) as r:
        sim.script("pinstripes", [Reply(503)])
        sim.script("routstr", [Reply(429)])
        with pytest.raises(AllProvidersFailed) as info:
            r.complete(model="g", messages=HELLO)
    attempts = info.value.attempts
    assert [(a.ref, a.status) for a in attempts] == [
        ("pinstripes:ps/deepseek-v4-flash", 503),
        ("routstr:deepseek/deepseek-v4-flash", 429),
    ]
    assert "pinstripes:ps/deepseek-v4-flash: HTTP 503" in str(info.value)


def test_connection_refused_falls_over():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    conf = {
        "providers": [
            {"name": "dead", "kind": "openai", "base_url": f"http://127.0.0.1:{dead}/v1"},
        ]
    }
    with Router.from_config(conf) as r, pytest.raises(NoRouteError, match="catalog unavailable"):
        r.complete(model="dead:m", messages=HELLO)


def test_timeout_falls_over(sim):
    conf = config(sim, "pinstripes", "routstr", models=GROUP)
    conf["providers"][0] = provider_conf(sim, "pinstripes", timeout=0.3)
    with Router.from_config(conf) as r:
        r.catalog("pinstripes")
        sim.script("pinstripes", [Reply(200, delay=1.0)])
        answer = r.complete(model="g", messages=HELLO)
    assert answer.provider == "routstr"
    assert answer.route.attempts[0].kind == "Timeout"


def test_cooldown_after_repeated_failures_and_4xx_do_not_count(sim, clock):
    conf = config(
        sim,
        "pinstripes",
        "routstr",
        models=GROUP,
        fallback={"cooldown_after": 2, "cooldown_seconds": 30},
    )
    with Router.from_config(conf, timer=clock) as r:
        r.models()
        sim.script("pinstripes", [Reply(404), Reply(404), Reply(404)])
        for _ in range(3):
            r.complete(model="g", messages=HELLO)
        assert r.cooldowns.cooling("pinstripes:ps/deepseek-v4-flash") is None
        sim.script("pinstripes", [Reply(503), Reply(503)])
        r.complete(model="g", messages=HELLO)
        r.complete(model="g", messages=HELLO)
        route = r.explain(model="g", messages=HELLO)
        assert [(e.ref, e.policy) for e in route.excluded] == [
            ("pinstripes:ps/deepseek-v4-flash", "cooldown")
        ]
        clock.advance(31)
        assert r.explain(model="g", messages=HELLO).excluded == []


# -- streams: fallback before the first chunk, a typed break after --------------------


@pytest.mark.parametrize(
    "reply", [Reply(503), Reply(200, cut_after=0), Reply(429, headers={"Retry-After": "1"})]
)
def test_stream_falls_over_before_the_first_chunk(sim, reply):
    with make_router(sim, "pinstripes", "routstr", models=GROUP) as r:
        sim.script("pinstripes", [reply])
        chunks = list(r.stream(model="g", messages=HELLO))
    assert chunks[-1].route.chosen == "routstr:deepseek/deepseek-v4-flash"
    assert {c.provider for c in chunks} == {"routstr"}


@pytest.mark.parametrize("reply", [Reply(200, cut_after=3), Reply(200, error_event="boom")])
def test_stream_break_after_the_first_chunk_is_typed_and_not_replayed(sim, reply):
    received: list[str] = []

    def consume(stream):
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)

    with make_router(sim, "pinstripes", "routstr", models=GROUP) as r:
        sim.script("pinstripes", [reply])
        with pytest.raises(StreamInterrupted) as info:
            consume(r.stream(model="g", messages=HELLO))
    assert info.value.chunks >= 1
    assert info.value.received == "".join(received)
    assert info.value.ref == "pinstripes:ps/deepseek-v4-flash"
    assert [x for x in sim.requests("routstr") if x.method == "POST"] == []


# -- async twins ------------------------------------------------------------------------


def test_async_complete_and_stream_with_fallback(sim):
    async def main():
        async with make_router(sim, "pinstripes", "routstr", models=GROUP) as r:
            sim.script("pinstripes", [Reply(503), Reply(503)])
            answer = await r.acomplete(model="g", messages=HELLO)
            chunks = [c async for c in r.astream(model="g", messages=HELLO)]
            many = await asyncio.gather(
                *(r.acomplete(model="g", messages=HELLO) for _ in range(10))
            )
            return answer, chunks, many

    answer, chunks, many = asyncio.run(main())
    assert answer.provider == "routstr"
    assert chunks[-1].route.chosen == "routstr:deepseek/deepseek-v4-flash"
    assert chunks[-1].usage.cost is not None
    assert {m.provider for m in many} == {"pinstripes"}


def test_async_stream_break_is_typed(sim):
    async def main():
        async with make_router(sim, "pinstripes") as r:
            sim.script("pinstripes", [Reply(200, cut_after=2)])
            return [
                c async for c in r.astream(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)
            ]

    with pytest.raises(StreamInterrupted):
        asyncio.run(main())


def test_explain_matches_what_complete_does(sim, router):
    route = router.explain(model="auto", messages=HELLO)
    answer = router.complete(model="auto", messages=HELLO)
    assert answer.route.chosen == route.candidates[0].ref
    assert [c.ref for c in answer.route.candidates] == [c.ref for c in route.candidates]


# -- deadlines ----------------------------------------------------------------------------


def test_a_request_deadline_spans_every_attempt(sim):
    from router.errors import DeadlineExceeded

    fallback = {"deadline_seconds": 0.6, "attempts": 10}
    with make_router(sim, "pinstripes", "routstr", models=GROUP, fallback=fallback) as r:
        sim.script("pinstripes", [Reply(200, delay=2.0)])
        sim.script("routstr", [Reply(200, delay=2.0)])
        with pytest.raises(DeadlineExceeded) as info:
            r.complete(model="g", messages=HELLO)
    # neither 2-second answer was waited for: each attempt's read timeout was capped at
    # the time left before the deadline
    assert {a.kind for a in info.value.attempts} == {"Timeout"}
    assert info.value.attempts[0].ref == "pinstripes:ps/deepseek-v4-flash"
    assert "deadline of 0.6 s" in str(info.value)
    assert isinstance(info.value, AllProvidersFailed)


def test_async_deadline_too(sim):
    from router.errors import DeadlineExceeded

    async def main():
        async with make_router(sim, "pinstripes", fallback={"deadline_seconds": 0.5}) as r:
            sim.script("pinstripes", [Reply(200, delay=2.0), Reply(200, delay=2.0)])
            await r.acomplete(model="pinstripes:ps/deepseek-v4-flash", messages=HELLO)

    with pytest.raises(DeadlineExceeded):
        asyncio.run(main())
