"""The OpenAI SDK and LangChain, unchanged, over the router's httpx transport."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import openai
import pytest

from router import Router
from router.serving.transport import AsyncRouterTransport, RouterTransport
from router.testing.simulator import API_KEYS, Reply
from tests.wire.conftest import FLASH, GROUPS, HELLO, TOOLS, config

pytestmark = pytest.mark.wire


def make_router(sim, *kinds, waits=None, **top):
    """A router over the simulated ``kinds`` (pinstripes and routstr by default), catalogs
    fetched, the flash group configured; backoff waits recorded instead of slept."""
    top.setdefault("models", GROUPS)
    conf = config(sim, *(kinds or ("pinstripes", "routstr")), **top)
    router = Router.from_config(conf, sleep=(waits if waits is not None else []).append)
    router.models()  # fetch catalogs now, so scripted faults hit chat routes
    return router


@pytest.fixture
def router(sim):
    with make_router(sim) as r:
        yield r


def sdk(router, **options):
    return openai.OpenAI(
        base_url="http://router/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.Client(transport=RouterTransport(router)),
        **options,
    )


@pytest.fixture
def client(router):
    with sdk(router) as c:
        yield c


def posts(sim, provider):
    return [r for r in sim.requests(provider) if r.method == "POST"]


# -- chat ------------------------------------------------------------------------------


def test_plain_chat_carries_provider_and_cost(client):
    reply = client.chat.completions.create(model="flash", messages=HELLO)
    assert reply.choices[0].message.content == "You said: hello there router"
    assert reply.model_extra["provider"] == "pinstripes"
    assert reply.usage.model_extra["cost"] > 0
    dumped = reply.model_dump()
    assert dumped["provider"] == "pinstripes"
    assert dumped["usage"]["cost"] == reply.usage.model_extra["cost"]


def test_raw_response_headers_name_the_deployment_and_exact_cost(client):
    raw = client.chat.completions.with_raw_response.create(model="flash", messages=HELLO)
    reply = raw.parse()
    assert raw.headers["x-router-provider"] == "pinstripes"
    assert raw.headers["x-router-model"] == FLASH
    cost = Decimal(raw.headers["x-router-cost"])
    assert cost > 0
    assert "e" not in raw.headers["x-router-cost"].lower()
    assert float(cost) == reply.usage.model_extra["cost"]


@pytest.mark.parametrize("stream_options", [None, {"include_usage": True}])
def test_stream_ends_with_usage_and_cost(sim, client, stream_options):
    extra = {} if stream_options is None else {"stream_options": stream_options}
    stream = client.chat.completions.create(model="flash", messages=HELLO, stream=True, **extra)
    chunks = list(stream)
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    assert text == "You said: hello there router"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == 5
    assert last.usage.model_extra["cost"] > 0
    assert {chunk.model_extra["provider"] for chunk in chunks} == {"pinstripes"}
    (sent,) = posts(sim, "pinstripes")
    assert sent.json()["stream_options"] == {"include_usage": True}  # asked once, by the router


def test_stream_is_server_sent_events_read_lazily(router, monkeypatch):
    produced = []
    stream = router.stream

    def spy(**request):
        for chunk in stream(**request):
            produced.append(chunk)
            yield chunk

    monkeypatch.setattr(router, "stream", spy)
    body = {"model": FLASH, "messages": HELLO, "stream": True}
    with (
        httpx.Client(transport=RouterTransport(router)) as http,
        http.stream("POST", "http://anyhost/some/prefix/chat/completions", json=body) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["x-router-provider"] == "pinstripes"
        assert len(produced) == 1  # only the first chunk, pulled to route before answering
        lines = resp.iter_lines()
        first = next(line for line in lines if line)
        assert json.loads(first.removeprefix("data: "))["object"] == "chat.completion.chunk"
        assert len(produced) <= 2
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"
    usage = json.loads(rest[-2].removeprefix("data: "))["usage"]
    assert usage["cost"] > 0
    assert len(produced) == len(rest)  # every chunk, then [DONE]


def test_stream_broken_after_its_first_chunk_raises_in_the_sdk(sim, router, client):
    sim.script("pinstripes", [Reply(200, cut_after=3)])
    received = []

    def consume(stream):
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)

    stream = client.chat.completions.create(model=FLASH, messages=HELLO, stream=True)
    with pytest.raises(openai.APIError, match="broke after") as info:
        consume(stream)
    assert "".join(received).startswith("You")
    assert info.value.body["code"] == "stream_interrupted"
    assert posts(sim, "routstr") == []  # not replayed elsewhere


def test_a_stream_closed_early_frees_the_router(sim, client):
    with client.chat.completions.create(model="flash", messages=HELLO, stream=True) as stream:
        first = next(iter(stream))
    assert first.choices[0].delta.content
    again = client.chat.completions.create(model="flash", messages=HELLO)
    assert again.choices[0].message.content == "You said: hello there router"


def test_broken_stream_ends_with_an_error_event_and_no_done(sim, router):
    sim.script("pinstripes", [Reply(200, cut_after=3)])
    body = {"model": FLASH, "messages": HELLO, "stream": True}
    with httpx.Client(transport=RouterTransport(router)) as http:
        events = http.post("http://router/v1/chat/completions", json=body).text.split("\n\n")
    events = [e for e in events if e]
    assert "data: [DONE]" not in events
    error = json.loads(events[-1].removeprefix("data: "))["error"]
    assert error["type"] == "upstream_error"
    assert set(error) == {"message", "type", "param", "code"}


def test_tool_call_then_tool_result(client):
    first = client.chat.completions.create(model="flash", messages=HELLO, tools=TOOLS)
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "hello there router"}
    assert first.choices[0].finish_reason == "tool_calls"
    followup = [
        *HELLO,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
    ]
    second = client.chat.completions.create(model="flash", messages=followup, tools=TOOLS)
    assert second.choices[0].message.content == "Tool said: 42"


# -- models ----------------------------------------------------------------------------


def test_models_list_has_refs_groups_and_auto(router, client):
    models = {m.id: m for m in client.models.list()}
    refs = {card.ref for card in router.models() if card.kind == "chat"}
    assert refs <= set(models)
    assert set(models) == refs | {"flash", "auto"}
    assert models[FLASH].owned_by == "pinstripes"
    assert models["flash"].owned_by == "router"
    assert models["auto"].object == "model"


def test_models_retrieve(client):
    assert client.models.retrieve(FLASH).owned_by == "pinstripes"  # '/' in the id
    assert client.models.retrieve("auto").owned_by == "router"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope:nothing")


# -- errors ----------------------------------------------------------------------------


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError, match="no route for model") as info:
        client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert info.value.code == "model_not_found"


def test_unknown_model_in_a_stream_is_not_found_before_any_chunk(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-9", messages=HELLO, stream=True)


def test_rejected_by_the_only_deployment_is_a_bad_request(sim, router, client):
    sim.script(
        "pinstripes",
        [Reply(400, json={"error": {"message": "temperature too high", "type": "x"}})],
    )
    with pytest.raises(openai.BadRequestError, match="temperature too high"):
        client.chat.completions.create(model=FLASH, messages=HELLO)


def test_invalid_request_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model=FLASH, messages=[])


def test_context_too_long_is_a_bad_request_with_its_code(sim, router, client):
    too_long = {"error": {"message": "maximum context length exceeded", "code": "x"}}
    sim.script("pinstripes", [Reply(400, json=too_long)])
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=FLASH, messages=HELLO)
    assert info.value.code == "context_length_exceeded"


def test_every_candidate_rate_limited_is_a_rate_limit_error(sim, router, client):
    sim.script("pinstripes", [Reply(429, headers={"Retry-After": "3"})] * 4)
    sim.script("routstr", [Reply(429, headers={"Retry-After": "3"})] * 4)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="flash", messages=HELLO)
    assert info.value.response.headers["retry-after"] == "3"
    assert "pinstripes:ps/deepseek-v4-flash: HTTP 429" in info.value.message


def test_payment_required_everywhere_keeps_its_status(sim, client):
    sim.script("pinstripes", [Reply(402)])
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=FLASH, messages=HELLO)
    assert info.value.status_code == 402


def test_failures_everywhere_are_a_server_error_listing_the_attempts(sim, router, client):
    sim.set_down("pinstripes", True)
    sim.script("routstr", [Reply(500)] * 4)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="flash", messages=HELLO)
    assert info.value.status_code == 502
    assert info.value.body["type"] == "upstream_error"
    assert "pinstripes:ps/deepseek-v4-flash: HTTP 503" in info.value.message
    assert "routstr:deepseek/deepseek-v4-flash: HTTP 500" in info.value.message


def test_no_secret_in_error_bodies(sim, router):
    key = API_KEYS["pinstripes"]
    sim.script("pinstripes", [Reply(401, json={"error": {"message": key, "code": key}})])
    with httpx.Client(transport=RouterTransport(router)) as http:
        resp = http.post(
            "http://router/v1/chat/completions",
            json={"model": FLASH, "messages": HELLO},
            headers={"authorization": "Bearer sk-caller-secret"},
        )
    assert resp.status_code == 401
    assert key not in resp.text
    assert "sk-caller-secret" not in resp.text


@pytest.mark.parametrize(
    ("method", "path", "content", "status", "message"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400, "not valid JSON"),
        ("POST", "/v1/chat/completions", b"[1, 2]", 400, "JSON object"),
        ("POST", "/v1/chat/completions", b'{"model": "auto"}', 400, "messages"),
        ("GET", "/v1/embeddings", b"", 404, "Invalid URL (GET /v1/embeddings)"),
        ("POST", "/v1/models", b"{}", 404, "Invalid URL"),
    ],
)
def test_malformed_and_unknown_requests(router, method, path, content, status, message):
    with httpx.Client(transport=RouterTransport(router)) as http:
        resp = http.request(method, f"http://router{path}", content=content)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert message in error["message"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None


# -- async -----------------------------------------------------------------------------


def async_sdk(router):
    return openai.AsyncOpenAI(
        base_url="http://router/v1",
        api_key="x",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=AsyncRouterTransport(router)),
    )


async def test_async_concurrent_requests_and_a_stream(sim):
    async with make_router(sim) as router, async_sdk(router) as client:
        replies = await asyncio.gather(
            *(
                client.chat.completions.with_raw_response.create(
                    model="flash", messages=[{"role": "user", "content": f"question {i}"}]
                )
                for i in range(20)
            )
        )
        stream = await client.chat.completions.create(model="flash", messages=HELLO, stream=True)
        chunks = [chunk async for chunk in stream]
        models = [m.id async for m in client.models.list()]
    answers = [raw.parse() for raw in replies]
    assert sorted(a.choices[0].message.content for a in answers) == sorted(
        f"You said: question {i}" for i in range(20)
    )
    for raw, answer in zip(replies, answers, strict=True):
        assert raw.headers["x-router-provider"] == answer.model_extra["provider"]
        assert raw.headers["x-router-model"] in GROUPS["flash"]
        assert float(Decimal(raw.headers["x-router-cost"])) == answer.usage.model_extra["cost"]
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    assert text == "You said: hello there router"
    assert chunks[-1].usage.model_extra["cost"] > 0
    assert {"flash", "auto", FLASH} <= set(models)


async def test_async_errors_and_a_broken_stream(sim):
    async with make_router(sim) as router, async_sdk(router) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="gpt-9", messages=HELLO)
        sim.script("pinstripes", [Reply(200, cut_after=3)])
        stream = await client.chat.completions.create(model=FLASH, messages=HELLO, stream=True)
        with pytest.raises(openai.APIError, match="broke after"):
            await drain(stream)


async def drain(stream):
    async for _ in stream:
        pass


# -- LangChain -------------------------------------------------------------------------


def test_langchain_chat_openai_invokes_and_calls_tools(router):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="flash",
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.Client(transport=RouterTransport(router)),
        max_retries=0,
    )
    answer = llm.invoke("hello there router")
    assert answer.content == "You said: hello there router"
    assert answer.usage_metadata["output_tokens"] == 5

    def lookup(query: str) -> str:
        """Look something up."""
        return "42"

    message = llm.bind_tools([lookup]).invoke("hello there router")
    (call,) = message.tool_calls
    assert call["name"] == "lookup"
    assert call["args"] == {"query": "hello there router"}
