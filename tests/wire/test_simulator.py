"""The provider simulator, exercised over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from router.testing.simulator import (
    API_KEYS,
    CATALOGS,
    PROVIDERS,
    ROUTSTR_LIVE_CATALOG,
    Recorded,
    Reply,
    Simulator,
    count_tokens,
    prompt_tokens_of,
)

pytestmark = pytest.mark.wire

# Where each provider's catalog lives relative to base_url(provider), and how it wants
# its key (pipellm also takes Bearer, tested separately).
CATALOG_SUFFIX = {
    "pinstripes": "/models",
    "pipellm": "/v1/models",
    "inference-api": "/models",
    "routstr": "/models",
    "openrouter": "/models",
    "openai": "/models",
    "anthropic": "/v1/models?limit=1000",
    "gemini": "/models",
}


def auth(provider: str, key: str) -> dict[str, str]:
    if provider in ("pipellm", "inference-api"):
        return {"X-Api-Key": key}
    if provider == "anthropic":
        return {"X-Api-Key": key, "anthropic-version": "2023-06-01"}
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(sim: Simulator) -> None:
    sim.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def get_catalog(
    sim: Simulator, client: httpx.Client, provider: str, key: str | None = None
) -> httpx.Response:
    url = sim.base_url(provider) + CATALOG_SUFFIX[provider]
    return client.get(url, headers=auth(provider, key or sim.api_key(provider)))


# -- catalogs and auth ---------------------------------------------------------------


def test_base_urls(sim: Simulator) -> None:
    root = f"http://127.0.0.1:{sim.port}"
    assert sim.base_url("pinstripes") == root + "/pinstripes/v1"
    assert sim.base_url("pipellm") == root + "/pipellm"
    assert sim.base_url("inference-api") == root + "/inference-api"
    assert sim.base_url("routstr") == root + "/routstr/v1"
    assert sim.base_url("openrouter") == root + "/openrouter/api/v1"
    assert sim.base_url("openai") == root + "/openai/v1"
    with pytest.raises(ValueError, match="unknown simulated provider"):
        sim.base_url("nope")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_catalog_served_with_right_key(sim: Simulator, client: httpx.Client, provider: str) -> None:
    assert sim.api_key(provider) == API_KEYS[provider]
    response = get_catalog(sim, client, provider)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == CATALOGS[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_key_is_401_in_provider_style(
    sim: Simulator, client: httpx.Client, provider: str
) -> None:
    response = get_catalog(sim, client, provider, key="sk-wrong")
    assert response.status_code == 401
    body = response.json()
    if provider == "inference-api":
        assert isinstance(body["detail"], str)
    elif provider == "openrouter":
        assert body["error"]["code"] == 401
        assert body["error"]["message"]
    else:
        assert body["error"]["type"] == "authentication_error"
        assert body["error"]["message"]


def test_missing_auth_is_401(sim: Simulator, client: httpx.Client) -> None:
    response = client.get(sim.base_url("pinstripes") + "/models")
    assert response.status_code == 401


def test_pipellm_takes_bearer_too(sim: Simulator, client: httpx.Client) -> None:
    key = sim.api_key("pipellm")
    response = client.get(
        sim.base_url("pipellm") + "/v1/models", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200


def test_inference_api_wants_x_api_key_not_bearer(sim: Simulator, client: httpx.Client) -> None:
    key = sim.api_key("inference-api")
    response = client.get(
        sim.base_url("inference-api") + "/models", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401
    assert "detail" in response.json()


def test_routstr_takes_cashu_or_sk_tokens_only(sim: Simulator, client: httpx.Client) -> None:
    assert sim.api_key("routstr").startswith("cashuA")
    sim.set_api_key("routstr", "sk-routstr-balance-key")
    assert get_catalog(sim, client, "routstr").status_code == 200
    sim.set_api_key("routstr", "not-a-token")
    assert get_catalog(sim, client, "routstr").status_code == 401


def test_unknown_path_and_method(sim: Simulator, client: httpx.Client) -> None:
    headers = auth("pinstripes", sim.api_key("pinstripes"))
    response = client.get(sim.base_url("pinstripes") + "/nothing-here", headers=headers)
    assert response.status_code == 404
    assert "error" in response.json()
    response = client.post(sim.base_url("pinstripes") + "/models", headers=headers, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    response = client.get(f"http://127.0.0.1:{sim.port}/no-such-provider/v1/models")
    assert response.status_code == 404


# -- the default catalogs' numbers -------------------------------------------------------

# 000_*.txt's reference table, $ per 1M tokens: input, output.
PINSTRIPES_TABLE = {
    "ps/deepseek-v4-flash": ("0.087", "0.173"),
    "ps/deepseek-v4-pro": ("0.390", "0.780"),
    "ps/llama-4-maverick": ("0.130", "0.530"),
    "ps/llama-4-scout": ("0.071", "0.265"),
    "ps/qwen3.6-35b-a3b": ("0.120", "0.850"),
    "ps/qwen3.5-35b-a3b": ("0.120", "0.850"),
    "ps/kimi-k2": ("0.510", "2.000"),
    "ps/step-3.7-flash": ("0.175", "1.000"),
    "ps/glm-4.5-air": ("0.110", "0.750"),
    "ps/gpt-oss-120b": ("0.033", "0.153"),
    "ps/qwen3-coder-30b-a3b": ("0.061", "0.235"),
}


def test_pinstripes_prices_are_the_seed_table_per_token() -> None:
    catalog = CATALOGS["pinstripes"]
    assert isinstance(catalog, dict)
    entries = {e["id"]: e for e in catalog["data"]}
    assert set(entries) == set(PINSTRIPES_TABLE)
    million = Decimal(1_000_000)
    for model_id, (prompt, completion) in PINSTRIPES_TABLE.items():
        pricing = entries[model_id]["pricing"]
        assert Decimal(pricing["prompt"]) * million == Decimal(prompt)
        assert Decimal(pricing["completion"]) * million == Decimal(completion)
        assert Decimal(pricing["cached_tokens"]) * million == Decimal("0.05")
    assert entries["ps/deepseek-v4-flash"]["pricing"]["prompt"] == "0.000000087"
    assert entries["ps/llama-4-scout"]["context_length"] == 10_000_000
    assert entries["ps/qwen3.6-35b-a3b"]["max_output_tokens"] == 32768


def test_pipellm_sorted_with_total() -> None:
    catalog = CATALOGS["pipellm"]
    assert isinstance(catalog, dict)
    ids = [e["id"] for e in catalog["data"]]
    assert ids == sorted(ids)
    assert catalog["total"] == len(ids)
    gpt5 = next(e for e in catalog["data"] if e["id"] == "gpt-5")
    assert gpt5["pricing"]["tiers"]["over_200k"]["text"]["prompt"] == "0.0000055"
    assert {e["type_target"] for e in catalog["data"]} == {"openai", "anthropic", "gemini"}


def test_inference_api_credits_include_the_margin_once() -> None:
    catalog = CATALOGS["inference-api"]
    assert isinstance(catalog, dict)
    sonnet = next(e for e in catalog["models"] if e["id"] == "claude-sonnet-4.6")
    assert (sonnet["cost_per_1k_input"], sonnet["cost_per_1k_output"]) == (4.2, 21.0)
    # credits/1k * $0.001/credit / 1000 tokens / 1.4 margin = upstream USD per token
    usd = Decimal(str(sonnet["cost_per_1k_input"])) * Decimal("0.001") / 1000 / Decimal("1.4")
    assert usd == Decimal("0.000003")
    assert any(e["supports_tools"] is False for e in catalog["models"])


def test_routstr_live_catalog_is_per_token_with_sats(sim: Simulator, client: httpx.Client) -> None:
    sim.set_catalog("routstr", ROUTSTR_LIVE_CATALOG)
    data = get_catalog(sim, client, "routstr").json()["data"]
    assert data == ROUTSTR_LIVE_CATALOG["data"]
    flash = next(e for e in data if e["id"] == "deepseek/deepseek-v4-flash")
    assert flash["pricing"]["prompt"] == pytest.approx(1e-7)
    assert flash["sats_pricing"]["prompt"] == pytest.approx(1e-7 / 0.001)
    assert any("image" in e["architecture"]["input_modalities"] for e in data)


# -- scripted faults ---------------------------------------------------------------------


def test_scripted_429_with_retry_after_then_normal(sim: Simulator, client: httpx.Client) -> None:
    sim.script("pinstripes", [Reply(429, headers={"Retry-After": "1"})])
    first = get_catalog(sim, client, "pinstripes")
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    assert first.json()["error"]["type"] == "rate_limit_error"
    second = get_catalog(sim, client, "pinstripes")
    assert second.status_code == 200
    assert second.json() == CATALOGS["pinstripes"]


def test_scripted_error_bodies_follow_the_provider(sim: Simulator, client: httpx.Client) -> None:
    sim.script("inference-api", [Reply(500)])
    response = get_catalog(sim, client, "inference-api")
    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    sim.script("pipellm", [Reply(529)])
    response = get_catalog(sim, client, "pipellm")
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


def test_scripted_raw_bodies(sim: Simulator, client: httpx.Client) -> None:
    sim.script("openrouter", [Reply(502, body=b"<html>oops</html>"), Reply(body="{not json")])
    html = get_catalog(sim, client, "openrouter")
    assert html.status_code == 502
    assert html.content == b"<html>oops</html>"
    assert html.headers["content-type"].startswith("text/html")
    broken = get_catalog(sim, client, "openrouter")
    assert broken.status_code == 200
    assert broken.content == b"{not json"
    assert get_catalog(sim, client, "openrouter").json() == CATALOGS["openrouter"]


def test_scripted_json_reply(sim: Simulator, client: httpx.Client) -> None:
    sim.script("routstr", [Reply(402, json={"error": {"message": "balance", "type": "x"}})])
    response = get_catalog(sim, client, "routstr")
    assert response.status_code == 402
    assert response.json() == {"error": {"message": "balance", "type": "x"}}


def test_delay_then_normal_catalog(sim: Simulator, client: httpx.Client) -> None:
    sim.script("openai", [Reply(200, delay=0.2)])
    response = get_catalog(sim, client, "openai")
    assert response.status_code == 200
    assert response.json() == CATALOGS["openai"]


def test_script_applies_whatever_the_auth(sim: Simulator, client: httpx.Client) -> None:
    sim.script("pinstripes", [Reply(500)])
    assert get_catalog(sim, client, "pinstripes", key="sk-wrong").status_code == 500
    assert get_catalog(sim, client, "pinstripes", key="sk-wrong").status_code == 401


def test_down_is_503_after_the_script(sim: Simulator, client: httpx.Client) -> None:
    sim.set_down("pinstripes", True)
    sim.script("pinstripes", [Reply(429)])
    assert get_catalog(sim, client, "pinstripes").status_code == 429
    assert get_catalog(sim, client, "pinstripes").status_code == 503
    assert get_catalog(sim, client, "openai").status_code == 200  # others unaffected
    sim.set_down("pinstripes", False)
    assert get_catalog(sim, client, "pinstripes").status_code == 200


def test_set_catalog_is_a_copy(sim: Simulator, client: httpx.Client) -> None:
    payload: dict[str, object] = {"object": "list", "data": []}
    sim.set_catalog("pinstripes", payload)
    payload["data"] = ["mutated"]
    assert get_catalog(sim, client, "pinstripes").json() == {"object": "list", "data": []}
    with pytest.raises(TypeError):
        sim.set_catalog("pinstripes", {"bad": object()})


# -- records and reset -------------------------------------------------------------------


def test_requests_are_recorded_with_lowercased_headers(
    sim: Simulator, client: httpx.Client
) -> None:
    get_catalog(sim, client, "pipellm", key="wrong")
    client.post(
        sim.base_url("pipellm") + "/v1/models?x=1",
        headers={"X-Api-Key": sim.api_key("pipellm"), "X-Trace": "abc"},
        content=b'{"a":1}',
    )
    recorded = sim.requests("pipellm")
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/pipellm/v1/models"),
        ("POST", "/pipellm/v1/models?x=1"),
    ]
    assert recorded[0].headers["x-api-key"] == "wrong"
    assert recorded[1].headers["x-trace"] == "abc"
    assert all(name == name.lower() for r in recorded for name in r.headers)
    assert recorded[1].body == b'{"a":1}'
    assert sim.requests("pinstripes") == []


def test_reset_restores_everything(sim: Simulator, client: httpx.Client) -> None:
    sim.set_catalog("openai", {"object": "list", "data": []})
    sim.set_api_key("openai", "sk-other")
    sim.set_down("pinstripes", True)
    sim.script("routstr", [Reply(500)])
    get_catalog(sim, client, "openai")
    sim.reset()
    assert sim.requests("openai") == []
    assert sim.api_key("openai") == API_KEYS["openai"]
    for provider in ("openai", "pinstripes", "routstr"):
        response = get_catalog(sim, client, provider)
        assert response.status_code == 200
        assert response.json() == CATALOGS[provider]


# -- lifecycle ---------------------------------------------------------------------------


def test_lifecycle() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.port
    sim.stop()  # not started: a no-op
    assert sim.start() is sim
    url = sim.base_url("openai") + "/models"
    with httpx.Client() as c:
        response = c.get(url, headers=auth("openai", sim.api_key("openai")))
        assert response.status_code == 200
    sim.stop()
    sim.stop()
    with httpx.Client() as c, pytest.raises(httpx.TransportError):
        c.get(url)


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="not both"):
        Reply(json={}, body=b"x")
    with pytest.raises(ValueError, match="status"):
        Reply(42)
    with pytest.raises(ValueError, match="delay"):
        Reply(delay=-1)
    with pytest.raises(ValueError, match="cut_after"):
        Reply(cut_after=-1)
    with pytest.raises(ValueError, match="error_event"):
        Reply(500, error_event="boom")
    with pytest.raises(ValueError, match="error_event"):
        Reply(json={}, error_event="boom")


# -- chat: the deterministic model ------------------------------------------------------

SEARCH_SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}}
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {"name": "search", "description": "Search.", "parameters": SEARCH_SCHEMA},
    },
    {"type": "function", "function": {"name": "other", "parameters": SEARCH_SCHEMA}},
]
ANTHROPIC_TOOLS = [
    {"name": "search", "description": "Search.", "input_schema": SEARCH_SCHEMA},
    {"name": "other", "input_schema": SEARCH_SCHEMA},
]
HELLO = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there simulator"},
]
ANSWER = "You said: hello there simulator"
ARGUMENTS = {"query": "hello there simulator"}
TOOL_CALL_TOKENS = count_tokens(json.dumps(ARGUMENTS))


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 1), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 401, 101)]
)
def test_count_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_prompt_tokens_of_each_body_style() -> None:
    tools = count_tokens(json.dumps(OPENAI_TOOLS))
    openai = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},  # 9 chars: 3
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "abcdefgh"},  # 2
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},  # 0
                    {"type": "text", "text": "x"},  # 1
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": []},  # 0
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},  # 1
        ],
        "tools": OPENAI_TOOLS,
    }
    assert prompt_tokens_of(openai) == 3 + 2 + 1 + 1 + tools
    assert prompt_tokens_of({**openai, "tools": []}) == 7
    anthropic = {
        "model": "m",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "Be brief."}],  # 3
        "messages": [
            {"role": "user", "content": "hello"},  # 2
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "sunny today"},  # 3
                    {
                        "type": "tool_result",
                        "tool_use_id": "u",
                        "content": [{"type": "text", "text": "windy"}],  # 2
                    },
                ],
            },
        ],
        "tools": ANTHROPIC_TOOLS,
    }
    tools = count_tokens(json.dumps(ANTHROPIC_TOOLS))
    assert prompt_tokens_of(anthropic) == 3 + 2 + 3 + 2 + tools
    assert prompt_tokens_of({**anthropic, "system": "Be brief."}) == 10 + tools


# -- chat: helpers -----------------------------------------------------------------------

# OpenAI Chat Completions routes: provider, path below base_url(provider), a served model.
OPENAI_ROUTES = {
    "pinstripes": ("pinstripes", "/chat/completions", "ps/deepseek-v4-flash"),
    "routstr": ("routstr", "/chat/completions", "deepseek/deepseek-v4-flash"),
    "openrouter": ("openrouter", "/chat/completions", "deepseek/deepseek-v4-flash"),
    "openai": ("openai", "/chat/completions", "Qwen/Qwen3-8B"),
    "pipellm": ("pipellm", "/v1/chat/completions", "gpt-5-mini"),
    "pipellm-converter": ("pipellm", "/openai/v1/chat/completions", "gemini-3-flash"),
}
MESSAGES = ("pipellm", "/v1/messages", "claude-sonnet-4-6")
MAJESTIX_CHAT = ("inference-api", "/chat", "gpt-5-mini")
MAJESTIX_CODE = ("inference-api", "/code", "claude-sonnet-4.6")
Route = tuple[str, str, str]


def route_id(value: object) -> str | None:
    """Test ids: a route reads as its provider and path (e.g. ``pipellm/v1/messages``)."""
    return value[0] + value[1] if isinstance(value, tuple) and len(value) == 3 else None


def chat_headers(sim: Simulator, route: Route, key: str | None = None) -> dict[str, str]:
    provider, path, _ = route
    headers = auth(provider, key or sim.api_key(provider))
    if path == "/v1/messages":
        headers["anthropic-version"] = "2023-06-01"
    return headers


def post(
    sim: Simulator,
    client: httpx.Client,
    route: Route,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    provider, path, _ = route
    headers = chat_headers(sim, route, key)
    return client.post(sim.base_url(provider) + path, json=body, headers=headers)


def stream(
    sim: Simulator,
    client: httpx.Client,
    route: Route,
    body: dict[str, Any],
    into: list[tuple[str, Any]] | None = None,
) -> list[tuple[str, Any]]:
    """The ``(event name, data)`` pairs of a streamed answer, data parsed unless [DONE]."""
    received = [] if into is None else into
    provider, path, _ = route
    url = sim.base_url(provider) + path
    with connect_sse(client, "POST", url, json=body, headers=chat_headers(sim, route)) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for event in source.iter_sse():
            data = event.data if event.data == "[DONE]" else json.loads(event.data)
            received.append((event.event, data))
    return received


def openai_body(route: Route, **fields: Any) -> dict[str, Any]:
    return {"model": route[2], "messages": HELLO, "temperature": 0.7, **fields}


def expected_openai_usage(provider: str, prompt: int, completion: int, cached: int) -> Any:
    if provider == "pinstripes":  # seed 001: cached_tokens top-level
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cached_tokens": cached,
            "total_tokens": prompt + completion,
        }
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if provider == "openrouter":  # states what it billed; deepseek-v4-flash's catalog rates
        cost = (
            (prompt - cached) * Decimal("0.00000009")
            + cached * Decimal("0.000000018")
            + completion * Decimal("0.00000018")
        )
        usage["cost"] = float(cost)
    return usage


def openai_stream_text(events: list[tuple[str, Any]]) -> str:
    return "".join(
        c["delta"].get("content") or "" for _, d in events if d != "[DONE]" for c in d["choices"]
    )


# -- chat: OpenAI Chat Completions -------------------------------------------------------


@pytest.mark.parametrize("cached", [0, 4, 10_000])
@pytest.mark.parametrize("name", OPENAI_ROUTES)
def test_openai_chat_answer_and_usage(
    sim: Simulator, client: httpx.Client, name: str, cached: int
) -> None:
    route = OPENAI_ROUTES[name]
    sim.set_cached_tokens(route[0], cached)
    body = openai_body(route)
    response = post(sim, client, route, body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"id", "object", "created", "model", "choices", "usage"}
    assert answer["id"].startswith("chatcmpl-")
    assert (answer["object"], answer["model"]) == ("chat.completion", route[2])
    assert answer["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
    ]
    prompt = prompt_tokens_of(body)
    assert prompt == 3 + 6  # "Be brief." + "hello there simulator"
    assert answer["usage"] == expected_openai_usage(route[0], prompt, 5, min(cached, prompt))


@pytest.mark.parametrize("include_usage", [True, False, None])
@pytest.mark.parametrize("name", OPENAI_ROUTES)
def test_openai_stream(
    sim: Simulator, client: httpx.Client, name: str, include_usage: bool | None
) -> None:
    route = OPENAI_ROUTES[name]
    sim.set_cached_tokens(route[0], 2)
    body = openai_body(route, stream=True)
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    events = stream(sim, client, route, body)
    assert {event for event, _ in events} == {"message"}  # data-only events
    *chunks, done = [data for _, data in events]
    assert done == "[DONE]"
    assert len({(c["id"], c["object"], c["created"], c["model"]) for c in chunks}) == 1
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "You"}
    pieces = [" said:", " hello", " there", " simulator"]
    assert [c["choices"][0]["delta"] for c in chunks[1:5]] == [{"content": p} for p in pieces]
    assert chunks[5]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert openai_stream_text(events) == ANSWER
    if include_usage:
        assert chunks[6]["choices"] == []
        assert chunks[6]["usage"] == expected_openai_usage(route[0], 9, 5, 2)
        assert len(chunks) == 7
    else:
        assert len(chunks) == 6
        assert all("usage" not in c for c in chunks)


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_openai_max_tokens_cuts_the_answer(
    sim: Simulator, client: httpx.Client, field: str
) -> None:
    route = OPENAI_ROUTES["openai"]
    answer = post(sim, client, route, openai_body(route, **{field: 2})).json()
    assert answer["choices"][0]["message"]["content"] == "You said:"
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 2


@pytest.mark.parametrize("name", OPENAI_ROUTES)
def test_openai_tool_call_then_tool_result(sim: Simulator, client: httpx.Client, name: str) -> None:
    route = OPENAI_ROUTES[name]
    body = openai_body(route, tools=OPENAI_TOOLS)
    answer = post(sim, client, route, body).json()
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "search"  # the first tool
    assert json.loads(call["function"]["arguments"]) == ARGUMENTS
    usage = answer["usage"]
    assert (
        usage["prompt_tokens"]
        == prompt_tokens_of(body)
        == 9 + count_tokens(json.dumps(OPENAI_TOOLS))
    )
    assert usage["completion_tokens"] == TOOL_CALL_TOKENS

    follow_up = openai_body(
        route,
        tools=OPENAI_TOOLS,
        messages=[
            *HELLO,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "3 results found"},
        ],
    )
    answer = post(sim, client, route, follow_up).json()
    assert answer["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Tool said: 3 results found",
    }
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["prompt_tokens"] == prompt_tokens_of(follow_up)
    assert answer["usage"]["completion_tokens"] == 5


@pytest.mark.parametrize("name", ["pinstripes", "pipellm-converter"])
def test_openai_streamed_tool_call(sim: Simulator, client: httpx.Client, name: str) -> None:
    route = OPENAI_ROUTES[name]
    body = openai_body(route, tools=OPENAI_TOOLS, stream=True)
    body["stream_options"] = {"include_usage": True}
    *chunks, done = [data for _, data in stream(sim, client, route, body)]
    assert done == "[DONE]"
    (first,) = chunks[0]["choices"][0]["delta"]["tool_calls"]
    assert first["id"].startswith("call_")
    assert (first["index"], first["type"]) == (0, "function")
    assert first["function"] == {"name": "search", "arguments": ""}
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-2]]
    assert len(fragments) > 1
    assert all(
        f == {"index": 0, "function": {"arguments": f["function"]["arguments"]}} for f in fragments
    )
    assert json.loads("".join(f["function"]["arguments"] for f in fragments)) == ARGUMENTS
    assert chunks[-2]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]
    assert chunks[-1]["usage"]["completion_tokens"] == TOOL_CALL_TOKENS


# -- chat: request errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "error"),
    [
        (
            OPENAI_ROUTES["pinstripes"],
            422,
            {
                "error": {
                    "message": "Model 'x' not found",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            },
        ),
        (
            OPENAI_ROUTES["routstr"],
            400,
            {
                "error": {
                    "message": "Invalid model: x",
                    "type": "invalid_request_error",
                    "code": "invalid_model",
                }
            },
        ),
        (
            OPENAI_ROUTES["openrouter"],
            400,
            {"error": {"message": "x is not a valid model ID", "code": 400}},
        ),
        *[
            (
                OPENAI_ROUTES[name],
                404,
                {
                    "error": {
                        "message": "The model `x` does not exist",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
            )
            for name in ("openai", "pipellm", "pipellm-converter")
        ],
        (
            MESSAGES,
            404,
            {"type": "error", "error": {"type": "not_found_error", "message": "model: x"}},
        ),
        (MAJESTIX_CHAT, 400, {"detail": "Unknown model: x"}),
        (MAJESTIX_CODE, 400, {"detail": "Unknown model: x"}),
    ],
    ids=route_id,
)
def test_unknown_model_in_provider_style(
    sim: Simulator, client: httpx.Client, route: Route, status: int, error: object
) -> None:
    body = {"model": "x", "messages": HELLO[1:], "max_tokens": 10, "stream": True}
    response = post(sim, client, route, body)
    assert response.status_code == status
    assert response.json() == error


def test_the_model_must_be_in_the_current_catalog(sim: Simulator, client: httpx.Client) -> None:
    route = OPENAI_ROUTES["pinstripes"]
    assert post(sim, client, route, openai_body(route)).status_code == 200
    sim.set_catalog("pinstripes", {"object": "list", "data": []})
    assert post(sim, client, route, openai_body(route)).status_code == 422


@pytest.mark.parametrize(
    ("path", "model", "message"),
    [
        (
            "/v1/chat/completions",
            "claude-sonnet-4-6",
            "model claude-sonnet-4-6 is served under the anthropic protocol; use /v1/messages",
        ),
        (
            "/v1/chat/completions",
            "gemini-3-flash",
            "model gemini-3-flash is served under the gemini protocol; "
            "use /openai/v1/chat/completions",
        ),
        (
            "/openai/v1/chat/completions",
            "claude-sonnet-4-6",
            "model claude-sonnet-4-6 is served under the anthropic protocol; use /v1/messages",
        ),
        (
            "/v1/chat/completions",
            "sora-2",
            "model sora-2 is a generation model; it does not serve chat",
        ),
    ],
)
def test_pipellm_serves_a_family_only_on_its_route(
    sim: Simulator, client: httpx.Client, path: str, model: str, message: str
) -> None:
    route = ("pipellm", path, model)
    response = post(sim, client, route, openai_body(route))
    assert response.status_code == 400
    assert response.json() == {"error": {"message": message, "type": "invalid_request_error"}}


def test_pipellm_messages_refuses_another_family(sim: Simulator, client: httpx.Client) -> None:
    route = ("pipellm", "/v1/messages", "gpt-5")
    response = post(sim, client, route, anthropic_body(route))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "message": "model gpt-5 is served under the openai protocol; use /v1/chat/completions",
    }


def test_openrouter_tools_need_an_endpoint_with_tools(sim: Simulator, client: httpx.Client) -> None:
    route = ("openrouter", "/chat/completions", "google/gemma-3-27b-it")
    assert post(sim, client, route, openai_body(route)).status_code == 200
    response = post(sim, client, route, openai_body(route, tools=OPENAI_TOOLS))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


@pytest.mark.parametrize(
    "route", [*OPENAI_ROUTES.values(), MESSAGES, MAJESTIX_CHAT, MAJESTIX_CODE], ids=route_id
)
def test_chat_routes_need_the_key(sim: Simulator, client: httpx.Client, route: Route) -> None:
    assert post(sim, client, route, anthropic_body(route)).status_code == 200
    assert post(sim, client, route, anthropic_body(route), key="sk-wrong").status_code == 401


@pytest.mark.parametrize(
    ("route", "body", "status"),
    [
        (OPENAI_ROUTES["pinstripes"], {"model": "ps/kimi-k2"}, 400),
        (OPENAI_ROUTES["pinstripes"], {"model": "ps/kimi-k2", "messages": []}, 400),
        (OPENAI_ROUTES["openrouter"], {"messages": HELLO}, 400),
        (MAJESTIX_CHAT, {"messages": HELLO}, 422),
    ],
    ids=route_id,
)
def test_malformed_chat_requests(
    sim: Simulator, client: httpx.Client, route: Route, body: dict[str, Any], status: int
) -> None:
    assert post(sim, client, route, body).status_code == status


# -- chat: Anthropic Messages (PipeLLM /v1/messages) ---------------------------------------


def anthropic_body(route: Route, **fields: Any) -> dict[str, Any]:
    return {
        "model": route[2],
        "system": "Be brief.",
        "messages": HELLO[1:],
        "max_tokens": 64,
        **fields,
    }


@pytest.mark.parametrize(
    ("read", "write", "usage"),
    [
        (0, 0, (9, 0, 0)),
        (4, 3, (2, 4, 3)),  # input_tokens = 9 - 4 - 3
        (6, 10_000, (0, 6, 3)),  # writes capped at what the reads leave
        (10_000, 10_000, (0, 9, 0)),
    ],
)
def test_anthropic_message_usage_excludes_the_cache(
    sim: Simulator, client: httpx.Client, read: int, write: int, usage: tuple[int, int, int]
) -> None:
    sim.set_cached_tokens("pipellm", read)
    sim.set_cache_write_tokens("pipellm", write)
    body = anthropic_body(MESSAGES)
    assert prompt_tokens_of(body) == 9
    response = post(sim, client, MESSAGES, body)
    assert response.status_code == 200
    message = response.json()
    assert message["id"].startswith("msg_")
    assert {k: message[k] for k in ("type", "role", "model", "stop_reason", "stop_sequence")} == {
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    assert message["content"] == [{"type": "text", "text": ANSWER}]
    input_tokens, cache_read, cache_write = usage
    assert message["usage"] == {
        "input_tokens": input_tokens,
        "output_tokens": 5,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
    }


def test_anthropic_max_tokens_stop_reason(sim: Simulator, client: httpx.Client) -> None:
    message = post(sim, client, MESSAGES, anthropic_body(MESSAGES, max_tokens=3)).json()
    assert message["content"] == [{"type": "text", "text": "You said: hello"}]
    assert (message["stop_reason"], message["usage"]["output_tokens"]) == ("max_tokens", 3)


@pytest.mark.parametrize(
    ("drop", "headers", "status", "error"),
    [
        ("max_tokens", {}, 400, ("invalid_request_error", "max_tokens: Field required")),
        (None, {"anthropic-version": None}, 400, ("invalid_request_error", None)),
        (None, {"anthropic-version": "2020-01-01"}, 400, ("invalid_request_error", None)),
        (None, {"x-api-key": None}, 401, ("authentication_error", None)),  # Bearer only
    ],
    ids=["no-max-tokens", "no-version", "bad-version", "bearer-only"],
)
def test_anthropic_request_checks(
    sim: Simulator,
    client: httpx.Client,
    drop: str | None,
    headers: dict[str, str | None],
    status: int,
    error: tuple[str, str | None],
) -> None:
    body = anthropic_body(MESSAGES)
    body.pop(drop or "", None)
    sent = {
        "x-api-key": sim.api_key("pipellm"),
        "anthropic-version": "2023-06-01",
        "authorization": f"Bearer {sim.api_key('pipellm')}",
    }
    sent = {k: v for k, v in {**sent, **headers}.items() if v is not None}
    response = client.post(sim.base_url("pipellm") + "/v1/messages", json=body, headers=sent)
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error[0]
    if error[1] is not None:
        assert payload == {"type": "error", "error": {"type": error[0], "message": error[1]}}


def test_anthropic_stream(sim: Simulator, client: httpx.Client) -> None:
    sim.set_cached_tokens("pipellm", 4)
    events = stream(sim, client, MESSAGES, anthropic_body(MESSAGES, stream=True))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_")
    assert (start["content"], start["stop_reason"]) == ([], None)
    assert start["usage"] == {
        "input_tokens": 5,
        "output_tokens": 1,
        "cache_read_input_tokens": 4,
        "cache_creation_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    }
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    deltas = [data["delta"] for _, data in events[3:8]]
    assert all(d["type"] == "text_delta" for d in deltas)
    assert [d["text"] for d in deltas] == ["You", " said:", " hello", " there", " simulator"]
    assert events[9][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }


def test_anthropic_tool_use_then_tool_result(sim: Simulator, client: httpx.Client) -> None:
    body = anthropic_body(MESSAGES, tools=ANTHROPIC_TOOLS)
    message = post(sim, client, MESSAGES, body).json()
    assert message["stop_reason"] == "tool_use"
    (block,) = message["content"]
    assert block["id"].startswith("toolu_")
    assert block == {"type": "tool_use", "id": block["id"], "name": "search", "input": ARGUMENTS}
    assert message["usage"]["input_tokens"] == prompt_tokens_of(body)
    assert message["usage"]["output_tokens"] == TOOL_CALL_TOKENS

    result = {"type": "tool_result", "tool_use_id": block["id"], "content": "3 results found"}
    follow_up = anthropic_body(
        MESSAGES,
        tools=ANTHROPIC_TOOLS,
        messages=[
            *HELLO[1:],
            {"role": "assistant", "content": [block]},
            {"role": "user", "content": [result]},
        ],
    )
    message = post(sim, client, MESSAGES, follow_up).json()
    assert message["content"] == [{"type": "text", "text": "Tool said: 3 results found"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"]["input_tokens"] == prompt_tokens_of(follow_up)


def test_anthropic_streamed_tool_use(sim: Simulator, client: httpx.Client) -> None:
    body = anthropic_body(MESSAGES, tools=ANTHROPIC_TOOLS, stream=True)
    events = [data for _, data in stream(sim, client, MESSAGES, body)]
    block = events[1]["content_block"]
    assert block == {"type": "tool_use", "id": block["id"], "name": "search", "input": {}}
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert len(deltas) > 1
    assert all(d["type"] == "input_json_delta" for d in deltas)
    assert json.loads("".join(d["partial_json"] for d in deltas)) == ARGUMENTS
    (delta,) = [e for e in events if e["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {"output_tokens": TOOL_CALL_TOKENS}


# -- chat: Majestix (inference-api /chat and /code) ----------------------------------------


def majestix_entry(model: str) -> dict[str, Any]:
    catalog = CATALOGS["inference-api"]
    assert isinstance(catalog, dict)
    entry: dict[str, Any] = next(e for e in catalog["models"] if e["id"] == model)
    return entry


def expected_credits(model: str, prompt: int, completion: int) -> float:
    entry = majestix_entry(model)
    rates = Decimal(str(entry["cost_per_1k_input"])), Decimal(str(entry["cost_per_1k_output"]))
    credits = (prompt * rates[0] + completion * rates[1]) / 1000
    return float(credits.quantize(Decimal("0.000001")))


def no_token_counts(events: list[Any]) -> bool:
    return not any("token" in json.dumps(e) or "usage" in e for e in events)


@pytest.mark.parametrize("with_tools", [False, True])  # /chat has no tools field: ignored
def test_majestix_chat_events_and_credits(
    sim: Simulator, client: httpx.Client, with_tools: bool
) -> None:
    sim.set_cached_tokens("inference-api", 5)  # no effect: Majestix reports no tokens
    body: dict[str, Any] = {
        "model": "gpt-5-mini",
        "messages": HELLO,
        "stream": True,
        "temperature": 0.7,
        "max_tokens": 100,
    }
    if with_tools:
        body["tools"] = ANTHROPIC_TOOLS
    events = stream(sim, client, MAJESTIX_CHAT, body)
    assert {name for name, _ in events} == {"message"}  # no event: lines
    *chunks, done = [data for _, data in events]
    assert [c["type"] for c in chunks] == ["chunk"] * 5
    assert "".join(c["content"] for c in chunks) == ANSWER
    assert done["session_id"].startswith("sess_")
    # 9 prompt tokens x 0.35 + 5 completion tokens x 2.8 credits per 1k
    credits = expected_credits("gpt-5-mini", 9, 5)
    assert credits == pytest.approx((9 * 0.35 + 5 * 2.8) / 1000)
    assert done == {
        "type": "done",
        "model": "gpt-5-mini",
        "session_id": done["session_id"],
        "credits_used": credits,
    }
    assert no_token_counts([*chunks, done])


def test_majestix_credits_round_to_six_decimals(sim: Simulator, client: httpx.Client) -> None:
    body = {"model": "claude-sonnet-4.6", "messages": [{"role": "user", "content": "hi"}]}
    done = stream(sim, client, MAJESTIX_CHAT, body)[-1][1]
    assert done["credits_used"] == round((1 * 4.2 + 3 * 21.0) / 1000, 6) == 0.0672


def test_majestix_code_tool_use_then_tool_result(sim: Simulator, client: httpx.Client) -> None:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4.6",
        "system": "Be brief.",
        "messages": HELLO[1:],
        "tools": ANTHROPIC_TOOLS,
        "temperature": 0,
        "max_tokens": 100,
        "stream": True,
    }
    (_, tool_use), (_, done) = stream(sim, client, MAJESTIX_CODE, body)
    assert tool_use["id"].startswith("toolu_")
    assert tool_use == {
        "type": "tool_use",
        "id": tool_use["id"],
        "name": "search",
        "input": ARGUMENTS,
    }
    prompt = prompt_tokens_of(body)
    assert prompt == 9 + count_tokens(json.dumps(ANTHROPIC_TOOLS))
    assert done["credits_used"] == expected_credits("claude-sonnet-4.6", prompt, TOOL_CALL_TOKENS)

    call = {"type": "tool_use", "id": tool_use["id"], "name": "search", "input": ARGUMENTS}
    result = {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "3 results found"}
    body["messages"] = [
        *HELLO[1:],
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
    ]
    *chunks, (_, done) = stream(sim, client, MAJESTIX_CODE, body)
    assert "".join(data["content"] for _, data in chunks) == "Tool said: 3 results found"
    assert done["credits_used"] == expected_credits("claude-sonnet-4.6", prompt_tokens_of(body), 5)


def test_majestix_refusals(sim: Simulator, client: httpx.Client) -> None:
    body = {"model": "llama-4-maverick", "messages": HELLO[1:], "tools": ANTHROPIC_TOOLS}
    response = post(sim, client, ("inference-api", "/code", ""), body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Model llama-4-maverick does not support tools"}
    assert stream(sim, client, MAJESTIX_CHAT, body)[-1][1]["type"] == "done"  # /chat: fine
    sim.script("inference-api", [Reply(403, json={"detail": "Insufficient credits"})])
    response = post(sim, client, MAJESTIX_CHAT, body)
    assert (response.status_code, response.json()) == (403, {"detail": "Insufficient credits"})


# -- chat: faults ------------------------------------------------------------------------

# One streamed request per wire format: route and body.
STREAMS = {
    "openai": (OPENAI_ROUTES["routstr"], openai_body(OPENAI_ROUTES["routstr"], stream=True)),
    "anthropic": (MESSAGES, anthropic_body(MESSAGES, stream=True)),
    "majestix": (MAJESTIX_CHAT, {"model": "gpt-5-mini", "messages": HELLO, "stream": True}),
}


@pytest.mark.parametrize("cut_after", [0, 2])
@pytest.mark.parametrize("family", STREAMS)
def test_cut_after_breaks_the_stream(
    sim: Simulator, client: httpx.Client, family: str, cut_after: int
) -> None:
    route, body = STREAMS[family]
    whole = stream(sim, client, route, body)
    sim.script(route[0], [Reply(200, cut_after=cut_after)])
    received: list[tuple[str, Any]] = []
    with pytest.raises(httpx.RemoteProtocolError):
        stream(sim, client, route, body, into=received)
    assert [name for name, _ in received] == [name for name, _ in whole[:cut_after]]
    assert len(stream(sim, client, route, body)) == len(whole)  # the next one is whole


@pytest.mark.parametrize("route", [OPENAI_ROUTES["pinstripes"], MESSAGES], ids=route_id)
def test_cut_after_truncates_a_plain_body(
    sim: Simulator, client: httpx.Client, route: Route
) -> None:
    sim.script(route[0], [Reply(200, cut_after=1)])
    with pytest.raises(httpx.RemoteProtocolError):
        post(sim, client, route, anthropic_body(route))
    assert post(sim, client, route, anthropic_body(route)).status_code == 200


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("openai", [("message", {"error": {"message": "boom"}})]),
        (
            "anthropic",
            [
                (
                    "error",
                    {"type": "error", "error": {"type": "overloaded_error", "message": "boom"}},
                )
            ],
        ),
        ("majestix", [("message", {"type": "error", "message": "boom"})]),
    ],
)
def test_error_event_after_one_content_event(
    sim: Simulator, client: httpx.Client, family: str, expected: list[tuple[str, Any]]
) -> None:
    route, body = STREAMS[family]
    whole = stream(sim, client, route, body)
    sim.script(route[0], [Reply(200, error_event="boom")])
    events = stream(sim, client, route, body)  # ends cleanly, no [DONE]
    preamble = 3 if family == "anthropic" else 0  # message_start, content_block_start, ping
    assert [name for name, _ in events[:-1]] == [name for name, _ in whole[: preamble + 1]]
    assert events[-1] == expected[0]


def test_error_event_in_a_plain_answer(sim: Simulator, client: httpx.Client) -> None:
    route = OPENAI_ROUTES["openrouter"]
    sim.script("openrouter", [Reply(200, error_event="boom")])
    response = post(sim, client, route, openai_body(route))
    assert (response.status_code, response.json()) == (200, {"error": {"message": "boom"}})


@pytest.mark.parametrize(
    ("reply", "status", "error_type"),
    [(Reply(529), 529, "overloaded_error"), (Reply(500), 500, "api_error")],
)
def test_scripted_errors_on_the_anthropic_route(
    sim: Simulator, client: httpx.Client, reply: Reply, status: int, error_type: str
) -> None:
    sim.script("pipellm", [reply])
    response = post(sim, client, MESSAGES, anthropic_body(MESSAGES))
    assert response.status_code == status
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == error_type


def test_scripted_429_and_delay_on_a_chat_route(sim: Simulator, client: httpx.Client) -> None:
    route = OPENAI_ROUTES["pinstripes"]
    sim.script("pinstripes", [Reply(429, headers={"Retry-After": "2"}), Reply(200, delay=0.2)])
    response = post(sim, client, route, openai_body(route))
    assert (response.status_code, response.headers["retry-after"]) == (429, "2")
    assert response.json()["error"]["type"] == "rate_limit_error"
    started = time.monotonic()
    response = post(sim, client, route, openai_body(route))
    assert time.monotonic() - started >= 0.2
    assert response.json()["choices"][0]["message"]["content"] == ANSWER


# -- chat: settings and records ------------------------------------------------------------


def test_cache_token_settings(sim: Simulator, client: httpx.Client) -> None:
    with pytest.raises(ValueError, match="pipellm"):
        sim.set_cache_write_tokens("pinstripes", 1)
    with pytest.raises(ValueError, match="int >= 0"):
        sim.set_cached_tokens("pinstripes", -1)
    with pytest.raises(ValueError, match="unknown simulated provider"):
        sim.set_cached_tokens("nope", 1)
    route = OPENAI_ROUTES["pinstripes"]
    sim.set_cached_tokens("pinstripes", 4)
    assert post(sim, client, route, openai_body(route)).json()["usage"]["cached_tokens"] == 4
    sim.reset()
    assert post(sim, client, route, openai_body(route)).json()["usage"]["cached_tokens"] == 0


def test_recorded_json(sim: Simulator, client: httpx.Client) -> None:
    route = OPENAI_ROUTES["openai"]
    body = openai_body(route, stream=True, stream_options={"include_usage": True})
    stream(sim, client, route, body)
    get_catalog(sim, client, "openai")
    chat, catalog = sim.requests("openai")
    assert chat.json() == body
    assert catalog.json() is None  # no body
    assert Recorded("POST", "/x", {}, b"{not json").json() is None


# -- chat: prefix caching ------------------------------------------------------------------


def filler(tokens: int, word: str = "context") -> str:
    """A text of exactly ``tokens`` simulator tokens (4 characters each)."""
    return (f"{word} line, " * tokens)[: 4 * tokens]


def rounded(tokens: int, min_tokens: int = 1024, step: int = 128) -> int:
    """The automatic caching rule: 0 below the minimum, else the minimum plus whole steps."""
    return 0 if tokens < min_tokens else min_tokens + (tokens - min_tokens) // step * step


LONG_SYSTEM = {"role": "system", "content": filler(3000)}  # ~3,000 tokens


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def cached_of(provider: str, usage: dict[str, Any]) -> int:
    if provider == "pinstripes":
        value = usage["cached_tokens"]
    else:
        value = usage["prompt_tokens_details"]["cached_tokens"]
    assert isinstance(value, int)
    return value


def ask(
    sim: Simulator, client: httpx.Client, route: Route, messages: list[Any], **fields: Any
) -> dict[str, Any]:
    """The usage of one OpenAI-format answer to ``messages`` on ``route``."""
    response = post(sim, client, route, openai_body(route, messages=messages, **fields))
    assert response.status_code == 200, response.text
    usage: dict[str, Any] = response.json()["usage"]
    return usage


# Automatic-caching routes whose served catalog lists a cache-read rate for the model.
CACHING_ROUTES = {
    "pinstripes": OPENAI_ROUTES["pinstripes"],  # pricing.cached_tokens
    "openrouter": OPENAI_ROUTES["openrouter"],  # pricing.input_cache_read
    "pipellm": OPENAI_ROUTES["pipellm"],  # pricing.cache.read
    "pipellm-converter": OPENAI_ROUTES["pipellm-converter"],
    "routstr-live": OPENAI_ROUTES["routstr"],  # the live catalog: input_cache_read
}
PINSTRIPES = OPENAI_ROUTES["pinstripes"]


def test_prompt_tokens_of_is_the_sum_of_its_elements() -> None:
    tools = [{**ANTHROPIC_TOOLS[0], "cache_control": {"type": "ephemeral"}}]
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    messages = [user("hello"), {"role": "assistant", "content": "hi there"}, user("again")]
    body = {"model": "m", "tools": tools, "system": system, "messages": messages}
    pieces = [{"tools": tools}, {"system": system}, *({"messages": [m]} for m in messages)]
    assert prompt_tokens_of(body) == sum(prompt_tokens_of(p) for p in pieces)
    assert prompt_tokens_of({"messages": [LONG_SYSTEM]}) == 3000


@pytest.mark.parametrize("name", CACHING_ROUTES)
def test_automatic_cache_serves_a_shared_long_system_prompt(
    sim: Simulator, client: httpx.Client, name: str
) -> None:
    route = CACHING_ROUTES[name]
    provider = route[0]
    if name == "routstr-live":
        sim.set_catalog("routstr", ROUTSTR_LIVE_CATALOG)
    first = [LONG_SYSTEM, user("first question")]
    usage = ask(sim, client, route, first)
    assert usage == expected_openai_usage(provider, prompt_tokens_of({"messages": first}), 4, 0)
    second = [LONG_SYSTEM, user("second question")]
    usage = ask(sim, client, route, second)
    shared = prompt_tokens_of({"messages": [LONG_SYSTEM]})
    assert rounded(shared) == 2944  # 1024 + 15 x 128
    assert usage == expected_openai_usage(
        provider, prompt_tokens_of({"messages": second}), 4, rounded(shared)
    )
    # the next turn shares the whole previous prompt
    third = [*second, {"role": "assistant", "content": "noted " * 300}, user("third question")]
    shared = prompt_tokens_of({"messages": second})
    assert cached_of(provider, ask(sim, client, route, third)) == rounded(shared)
    turn = [*third, {"role": "assistant", "content": "fine"}, user("fourth")]
    shared = prompt_tokens_of({"messages": third})
    assert rounded(shared) > rounded(prompt_tokens_of({"messages": second}))
    assert cached_of(provider, ask(sim, client, route, turn)) == rounded(shared)


@pytest.mark.parametrize(
    ("system_tokens", "rule", "cached"),
    [
        (1023, {}, 0),  # below min_tokens
        (1024, {}, 1024),
        (1151, {}, 1024),  # 127 over: not a whole step
        (1152, {}, 1152),
        (3000, {}, 2944),
        (155, {"min_tokens": 100, "step": 10}, 150),
        (99, {"min_tokens": 100, "step": 10}, 0),
        (1500, {"min_tokens": 0, "step": 1}, 1500),
    ],
)
def test_automatic_cache_rounds_by_the_rule(
    sim: Simulator,
    client: httpx.Client,
    system_tokens: int,
    rule: dict[str, int],
    cached: int,
) -> None:
    if rule:  # else the default rule: 1,024 tokens, 128-token steps
        sim.set_cache_rule("pinstripes", min_tokens=rule["min_tokens"], step=rule["step"])
    system = {"role": "system", "content": filler(system_tokens)}
    assert cached_of("pinstripes", ask(sim, client, PINSTRIPES, [system, user("q1")])) == 0
    usage = ask(sim, client, PINSTRIPES, [system, user("q2")])
    assert usage["cached_tokens"] == cached == rounded(system_tokens, **rule)
    assert usage["prompt_tokens"] == system_tokens + 1


def test_short_prompts_are_never_cached(sim: Simulator, client: httpx.Client) -> None:
    for name, route in OPENAI_ROUTES.items():
        for _ in range(2):
            assert cached_of(route[0], ask(sim, client, route, HELLO)) == 0, name
    assert all(sim.cache_size(p) == 0 for p in PROVIDERS)  # below min_tokens: not stored


def test_cache_expires_after_its_lifetime(sim: Simulator, client: httpx.Client) -> None:
    expected = rounded(3000)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("a")])["cached_tokens"] == 0
    sim.advance(301)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("b")])["cached_tokens"] == 0
    sim.advance(300)  # exactly the lifetime since the last use: still cached
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("c")])["cached_tokens"] == expected
    sim.set_cache_rule("pinstripes", lifetime=60)
    sim.advance(61)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("d")])["cached_tokens"] == 0


def test_using_a_cached_prefix_refreshes_it(sim: Simulator, client: httpx.Client) -> None:
    start = sim.now()
    expected = rounded(3000)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("a")])["cached_tokens"] == 0
    sim.advance(200)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("b")])["cached_tokens"] == expected
    sim.advance(200)  # 400 s after it was written, 200 s after its last use
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("c")])["cached_tokens"] == expected
    sim.advance(301)
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("d")])["cached_tokens"] == 0
    assert sim.now() == start + 701


def test_cache_is_per_provider_and_model(sim: Simulator, client: httpx.Client) -> None:
    messages = [LONG_SYSTEM, user("same question")]
    expected = rounded(prompt_tokens_of({"messages": messages}))
    kimi = ("pinstripes", "/chat/completions", "ps/kimi-k2")
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == 0
    assert ask(sim, client, kimi, messages)["cached_tokens"] == 0  # another model: cold
    openrouter = OPENAI_ROUTES["openrouter"]  # the same model id elsewhere: cold
    assert cached_of("openrouter", ask(sim, client, openrouter, messages)) == 0
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == expected
    assert ask(sim, client, kimi, messages)["cached_tokens"] == expected


@pytest.mark.parametrize(
    ("route", "catalog"),
    [
        (OPENAI_ROUTES["openai"], None),  # vLLM: no pricing at all
        (("openrouter", "/chat/completions", "google/gemma-3-27b-it"), None),
        (OPENAI_ROUTES["routstr"], None),  # the seed catalog lists no cache rate
        (("routstr", "/chat/completions", "qwen/qwen3.6-35b-a3b"), ROUTSTR_LIVE_CATALOG),  # 0
        (PINSTRIPES, "no-cached-rate"),
    ],
    ids=["openai", "openrouter-gemma", "routstr-seed", "routstr-live-zero", "pinstripes-edited"],
)
def test_models_without_a_cache_rate_never_cache(
    sim: Simulator, client: httpx.Client, route: Route, catalog: object
) -> None:
    provider = route[0]
    if catalog == "no-cached-rate":  # the catalog served now decides
        edited = sim.catalog("pinstripes")
        assert isinstance(edited, dict)
        for entry in edited["data"]:
            del entry["pricing"]["cached_tokens"]
        sim.set_catalog("pinstripes", edited)
    elif catalog is not None:
        sim.set_catalog(provider, catalog)
    messages = [LONG_SYSTEM, user("same question")]
    for _ in range(3):
        assert cached_of(provider, ask(sim, client, route, messages)) == 0
    assert sim.cache_size(provider) == 0


def test_openai_server_caches_only_when_configured(sim: Simulator, client: httpx.Client) -> None:
    route = OPENAI_ROUTES["openai"]
    messages = [LONG_SYSTEM, user("same question")]
    ask(sim, client, route, messages)
    assert cached_of("openai", ask(sim, client, route, messages)) == 0
    sim.set_cache_rule("openai", all_models=True)  # vllm serve --enable-prefix-caching
    ask(sim, client, route, messages)
    expected = rounded(prompt_tokens_of({"messages": messages}))
    assert cached_of("openai", ask(sim, client, route, messages)) == expected


def test_disabled_cache_never_reports_hits(sim: Simulator, client: httpx.Client) -> None:
    sim.set_cache_rule("pinstripes", enabled=False)
    for question in ("a", "b", "c"):
        assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user(question)])["cached_tokens"] == 0
    assert sim.cache_size("pinstripes") == 0
    sim.set_cache_rule("pinstripes")  # enabled again, with nothing remembered
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("d")])["cached_tokens"] == 0
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("e")])["cached_tokens"] == 2944


def test_cache_size_counts_live_prefixes(sim: Simulator, client: httpx.Client) -> None:
    assert sim.cache_size("pinstripes") == 0
    ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("a")])  # 2 prefixes >= 1,024 tokens
    assert sim.cache_size("pinstripes") == 2
    ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("b")])  # the system prefix is shared
    assert sim.cache_size("pinstripes") == 3
    ask(sim, client, ("pinstripes", "/chat/completions", "ps/kimi-k2"), [LONG_SYSTEM])
    assert sim.cache_size("pinstripes") == 4
    assert sim.cache_size("openrouter") == 0
    sim.advance(301)
    assert sim.cache_size("pinstripes") == 0  # expired prefixes are dropped
    ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("c")])
    assert sim.cache_size("pinstripes") == 2
    sim.reset()
    assert sim.cache_size("pinstripes") == 0
    assert ask(sim, client, PINSTRIPES, [LONG_SYSTEM, user("c")])["cached_tokens"] == 0


@pytest.mark.parametrize(
    "reply",
    [Reply(200, error_event="boom"), Reply(500), Reply(429), Reply(200, cut_after=0)],
    ids=["error-event", "500", "429", "cut"],
)
def test_a_failed_request_leaves_the_cache_alone(
    sim: Simulator, client: httpx.Client, reply: Reply
) -> None:
    messages = [LONG_SYSTEM, user("a")]
    sim.script("pinstripes", [reply])
    with contextlib.suppress(httpx.RemoteProtocolError):
        post(sim, client, PINSTRIPES, openai_body(PINSTRIPES, messages=messages))
    assert sim.cache_size("pinstripes") == 0
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == 0
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == rounded(3001)


@pytest.mark.parametrize("name", ["pinstripes", "pipellm-converter"])
def test_streamed_usage_carries_the_cached_tokens(
    sim: Simulator, client: httpx.Client, name: str
) -> None:
    route = OPENAI_ROUTES[name]
    options = {"stream": True, "stream_options": {"include_usage": True}}
    first = openai_body(route, messages=[LONG_SYSTEM, user("a")], **options)
    usage = stream(sim, client, route, first)[-2][1]["usage"]
    assert cached_of(route[0], usage) == 0
    second = openai_body(route, messages=[LONG_SYSTEM, user("b")], **options)
    usage = stream(sim, client, route, second)[-2][1]["usage"]
    assert usage == expected_openai_usage(route[0], prompt_tokens_of(second), 3, rounded(3000))


def test_set_cached_tokens_overrides_the_prefix_cache(sim: Simulator, client: httpx.Client) -> None:
    messages = [LONG_SYSTEM, user("same")]
    ask(sim, client, PINSTRIPES, messages)
    size = sim.cache_size("pinstripes")
    sim.set_cached_tokens("pinstripes", 7)
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == 7
    sim.set_cached_tokens("pinstripes", 0)
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == 0
    assert sim.cache_size("pinstripes") == size  # neither read nor written meanwhile
    sim.reset()  # the override is gone, and so is the cache
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == 0
    assert ask(sim, client, PINSTRIPES, messages)["cached_tokens"] == rounded(3001)


# Explicit caching: PipeLLM's Anthropic route, cache_control breakpoints.

EPHEMERAL = {"type": "ephemeral"}
LONG_TEXT = filler(3000)


def anthropic_usage(body: dict[str, Any], client: httpx.Client, sim: Simulator) -> Any:
    response = post(sim, client, MESSAGES, body)
    assert response.status_code == 200, response.text
    return response.json()["usage"]


def cache_usage(prompt: int, read: int, written: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt - read - written,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        "cache_creation": {"ephemeral_5m_input_tokens": written, "ephemeral_1h_input_tokens": 0},
    }


def without_output(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in usage.items() if k != "output_tokens"}


def test_explicit_cache_needs_a_breakpoint(sim: Simulator, client: httpx.Client) -> None:
    for question in ("a", "b", "b"):
        body = anthropic_body(MESSAGES, system=LONG_TEXT, messages=[user(question)])
        usage = without_output(anthropic_usage(body, client, sim))
        assert usage == cache_usage(prompt_tokens_of(body), 0, 0)
    assert sim.cache_size("pipellm") == 0


def test_explicit_cache_writes_then_reads_a_breakpoint(
    sim: Simulator, client: httpx.Client
) -> None:
    system = [{"type": "text", "text": LONG_TEXT, "cache_control": EPHEMERAL}]
    first = anthropic_body(MESSAGES, system=system, messages=[user("first question")])
    prompt = prompt_tokens_of(first)
    written = prompt_tokens_of({"system": system})
    assert written == 3000
    usage = anthropic_usage(first, client, sim)
    assert without_output(usage) == cache_usage(prompt, 0, written)
    assert (
        usage["input_tokens"]
        == prompt - written
        == prompt_tokens_of({"messages": [user("first question")]})
    )
    second = anthropic_body(MESSAGES, system=system, messages=[user("second question")])
    usage = without_output(anthropic_usage(second, client, sim))
    assert usage == cache_usage(prompt_tokens_of(second), written, 0)
    assert sim.cache_size("pipellm") == 1  # only the breakpoint prefix is held
    sim.advance(301)
    usage = without_output(anthropic_usage(second, client, sim))
    assert usage == cache_usage(prompt_tokens_of(second), 0, written)  # expired: rewritten


def test_explicit_cache_follows_a_moving_breakpoint(sim: Simulator, client: httpx.Client) -> None:
    """Each turn marks its last user message; the previous turn's prefix is read even
    though its breakpoint moved (cache_control is not part of a prefix's identity)."""
    system = [{"type": "text", "text": LONG_TEXT, "cache_control": EPHEMERAL}]

    def marked(text: str) -> dict[str, Any]:
        return {
            "role": "user",
            "content": [{"type": "text", "text": text, "cache_control": EPHEMERAL}],
        }

    def plain(text: str) -> dict[str, Any]:
        return {"role": "user", "content": [{"type": "text", "text": text}]}

    reply = {"role": "assistant", "content": filler(200, "answer")}
    turn1 = [marked("one")]
    turn2 = [plain("one"), reply, marked("two")]
    turn3 = [plain("one"), reply, plain("two"), reply, marked("three")]
    answers = []
    for messages in (turn1, turn2, turn3):
        body = anthropic_body(MESSAGES, system=system, messages=messages)
        answers.append((body, without_output(anthropic_usage(body, client, sim))))
    (b1, u1), (b2, u2), (b3, u3) = answers
    p1, p2, p3 = (prompt_tokens_of(b) for b in (b1, b2, b3))
    assert u1 == cache_usage(p1, 0, p1)  # the last element is the last breakpoint
    assert u2 == cache_usage(p2, p1, p2 - p1)  # reads all of turn 1, writes the rest
    assert u3 == cache_usage(p3, p2, p3 - p2)


def test_explicit_cache_read_refreshes_the_prefix_it_used(
    sim: Simulator, client: httpx.Client
) -> None:
    system = [{"type": "text", "text": LONG_TEXT, "cache_control": EPHEMERAL}]

    def question(text: str, *, mark: bool) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "text", "text": text}
        if mark:
            block["cache_control"] = EPHEMERAL
        return {"role": "user", "content": [block]}

    def read(messages: list[Any]) -> Any:
        body = anthropic_body(MESSAGES, system=system, messages=messages)
        return anthropic_usage(body, client, sim)["cache_read_input_tokens"]

    long_question = filler(100, "question")
    asked = prompt_tokens_of({"system": system, "messages": [question(long_question, mark=False)]})
    reply = {"role": "assistant", "content": "ok"}
    read([question(long_question, mark=True)])  # t=0: writes [system] and [system, question]
    sim.advance(200)  # t=200: reads [system, question], no breakpoint of this request
    assert read([question(long_question, mark=False), reply, question("a", mark=True)]) == asked
    sim.advance(200)  # t=400: 400 s after it was written, 200 s after it was used
    assert read([question(long_question, mark=False), reply, question("b", mark=True)]) == asked


def test_explicit_cache_on_tools_and_below_the_minimum(
    sim: Simulator, client: httpx.Client
) -> None:
    long_tool = {"name": "lookup", "description": filler(2000), "input_schema": SEARCH_SCHEMA}
    tools = [ANTHROPIC_TOOLS[1], {**long_tool, "cache_control": EPHEMERAL}]
    body = anthropic_body(MESSAGES, tools=tools, messages=[user("hi")])
    tool_tokens = prompt_tokens_of({"tools": tools})
    assert tool_tokens > 2000
    first = without_output(anthropic_usage(body, client, sim))
    assert first == cache_usage(prompt_tokens_of(body), 0, tool_tokens)
    body["messages"] = [user("hello again")]
    second = without_output(anthropic_usage(body, client, sim))
    assert second == cache_usage(prompt_tokens_of(body), tool_tokens, 0)
    # a breakpoint prefix shorter than min_tokens is neither written nor read
    short = [{"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL}]
    for _ in range(2):
        body = anthropic_body(MESSAGES, system=short)
        usage = without_output(anthropic_usage(body, client, sim))
        assert usage == cache_usage(prompt_tokens_of(body), 0, 0)


def test_explicit_cache_streams_its_usage(sim: Simulator, client: httpx.Client) -> None:
    system = [{"type": "text", "text": LONG_TEXT, "cache_control": EPHEMERAL}]
    for read, written in ((0, 3000), (3000, 0)):
        body = anthropic_body(MESSAGES, system=system, stream=True)
        start = stream(sim, client, MESSAGES, body)[0][1]["message"]["usage"]
        assert without_output(start) == cache_usage(prompt_tokens_of(body), read, written)


def test_cache_write_override_wins_on_the_anthropic_route(
    sim: Simulator, client: httpx.Client
) -> None:
    system = [{"type": "text", "text": LONG_TEXT, "cache_control": EPHEMERAL}]
    body = anthropic_body(MESSAGES, system=system)
    sim.set_cache_write_tokens("pipellm", 5)
    for _ in range(2):
        usage = without_output(anthropic_usage(body, client, sim))
        assert usage == cache_usage(prompt_tokens_of(body), 0, 5)
    assert sim.cache_size("pipellm") == 0


def test_majestix_never_caches(sim: Simulator, client: httpx.Client) -> None:
    body = {"model": "claude-sonnet-4.6", "system": LONG_TEXT, "messages": HELLO[1:]}
    for _ in range(2):
        events = [data for _, data in stream(sim, client, MAJESTIX_CODE, body)]
        assert no_token_counts(events)
    assert sim.cache_size("inference-api") == 0


def test_cache_rule_and_clock_arguments(sim: Simulator) -> None:
    for bad in ({"min_tokens": -1}, {"step": 0}, {"lifetime": 0}, {"lifetime": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            sim.set_cache_rule("pinstripes", **bad)
    with pytest.raises(ValueError, match="unknown simulated provider"):
        sim.set_cache_rule("nope")
    with pytest.raises(ValueError, match="unknown simulated provider"):
        sim.cache_size("nope")
    with pytest.raises(ValueError, match="seconds"):
        sim.advance(-1)
    before = sim.now()
    sim.advance(2.5)
    assert sim.now() == before + 2.5
    sim.reset()
    assert sim.now() == before + 2.5  # reset empties the caches, the clock goes on


def test_the_old_module_still_exports_the_simulator() -> None:
    # router.simulator is a shim over router.testing.simulator: the same objects.
    import router.simulator as old
    import router.testing.simulator as new

    assert old.__all__ == new.__all__
    assert all(getattr(old, name) is getattr(new, name) for name in new.__all__)
    assert old.Simulator is Simulator


# -- the sandbox helpers: what points a router at a running simulator -----------------------


def test_environ_and_config_yaml_make_a_router_that_routes_to_the_simulator(sim, monkeypatch):
    from router import Router

    env = sim.environ("pinstripes", "routstr")
    assert env == {
        "PINSTRIPES_BASE_URL": sim.base_url("pinstripes"),
        "PINSTRIPES_API_KEY": sim.api_key("pinstripes"),
        "ROUTSTR_BASE_URL": sim.base_url("routstr"),
        "ROUTSTR_CASHU_TOKEN": sim.api_key("routstr"),
    }
    text = sim.config_yaml("pinstripes", "routstr")
    assert sim.api_key("pinstripes") not in text  # the file holds variable names, not keys
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with Router.from_yaml(text, entry_points=False) as router:
        assert list(router.providers) == ["pinstripes", "routstr"]
        assert router.groups["deepseek-v4-flash"] == (
            "pinstripes:ps/deepseek-v4-flash",
            "routstr:deepseek/deepseek-v4-flash",
        )
        reply = router.complete(
            model="deepseek-v4-flash", messages=[{"role": "user", "content": "Hi"}]
        )
    assert reply.provider == "pinstripes"
    assert len(sim.requests("pinstripes")) == 2  # the catalog, then the chat


def test_config_yaml_defaults_to_the_five_remote_providers_and_environ_to_all_six(sim):
    assert [line for line in sim.config_yaml().splitlines() if "kind:" in line] == [
        "    kind: pinstripes",
        "    kind: pipellm",
        "    kind: inference-api",
        "    kind: routstr",
        "    kind: openrouter",
    ]
    assert list(sim.environ())[-2:] == ["LOCAL_BASE_URL", "LOCAL_API_KEY"]
    with pytest.raises(ValueError, match="unknown simulated provider 'acme'"):
        sim.config_yaml("acme")


def test_config_writes_the_urls_and_keys_in(sim):
    conf = sim.config("openrouter", policy=["cheapest"])
    assert conf == {
        "providers": [
            {
                "name": "openrouter",
                "kind": "openrouter",
                "base_url": sim.base_url("openrouter"),
                "api_key": sim.api_key("openrouter"),
            }
        ],
        "policy": ["cheapest"],
    }


def test_a_simulator_binds_the_port_it_is_given():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Simulator(port=port) as fixed:
        assert fixed.port == port
        assert fixed.base_url("pinstripes") == f"http://127.0.0.1:{port}/pinstripes/v1"
    with pytest.raises(ValueError, match="port must be an int in 0-65535"):
        Simulator(port=70000)
