"""The ``anthropic`` and ``gemini`` kinds over real HTTP against their simulated APIs, priced
from ``genai-prices`` (0.2.3, pinned in the dev extra) where their catalogs state nothing."""

from __future__ import annotations

import logging
from decimal import Decimal

import httpx
import pytest

from router import Router
from router.testing.simulator.gemini import THINKING_TOKENS
from tests.wire.conftest import config, provider_conf

pytestmark = pytest.mark.wire

D = Decimal
HELLO = [{"role": "user", "content": "hello there"}]  # 3 prompt tokens; "You said: hello there"


@pytest.fixture
def router(sim):
    with Router.from_config(config(sim, "anthropic", "gemini")) as r:
        yield r


def cards(router):
    return {c.ref: c for c in router.models()}


def test_the_anthropic_catalog_is_read_with_its_headers(sim, router):
    found = cards(router)
    sonnet = found["anthropic:claude-sonnet-4-6"]
    assert (sonnet.protocol, sonnet.context_length, sonnet.max_output_tokens) == (
        "anthropic",
        1_000_000,
        64_000,
    )
    assert (sonnet.supports_tools, sonnet.supports_vision, sonnet.name) == (
        True,
        True,
        "Claude Sonnet 4.6",
    )
    assert sonnet.price_source == "genai-prices"
    assert sonnet.pricing is not None
    assert (sonnet.pricing.prompt, sonnet.pricing.cache_write_1h) == (D("0.000003"), D("0.000006"))
    mythos = found["anthropic:claude-mythos-5"]
    assert (mythos.pricing, mythos.price_source) == (None, None)  # no price list knows it
    (fetch,) = [r for r in sim.requests("anthropic") if r.method == "GET"]
    assert fetch.path.endswith("/v1/models?limit=1000")
    assert fetch.headers["x-api-key"] == sim.api_key("anthropic")
    assert fetch.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in fetch.headers


def test_model_info_prices_what_no_list_does(sim):
    conf = config(sim)
    conf["providers"] = [
        provider_conf(
            sim,
            "anthropic",
            model_info={"claude-mythos-5": {"prompt_per_mtok": 20, "completion_per_mtok": 100}},
        )
    ]
    with Router.from_config(conf) as r:
        mythos = cards(r)["anthropic:claude-mythos-5"]
        answer = r.complete(model="anthropic:claude-mythos-5", messages=HELLO)
    assert mythos.price_source == "model_info"
    # 3 x $0.00002 + 4 x $0.0001
    assert answer.route.cost == D("0.00046")


def test_a_second_page_is_warned_about(sim, caplog):
    entry = sim.catalog("anthropic")["data"][1]
    many = [{**entry, "id": f"claude-{i}"} for i in range(1001)]
    sim.set_catalog("anthropic", {"data": many, "has_more": False})
    with (
        Router.from_config(config(sim, "anthropic")) as r,
        caplog.at_level(logging.WARNING, logger="router.providers.anthropic"),
    ):
        assert len(r.models()) == 1000
    assert any("more than one page" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_are_billed_at_the_published_prices(sim, router, stream):
    if stream:
        chunks = list(router.stream(model="anthropic:claude-sonnet-4-6", messages=HELLO))
        usage, route = chunks[-1].usage, chunks[-1].route
    else:
        answer = router.complete(model="anthropic:claude-sonnet-4-6", messages=HELLO)
        usage, route = answer.usage, answer.route
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 4)
    # 3 x $0.000003 + 4 x $0.000015
    assert route.cost == D("0.000069")
    sent = [r for r in sim.requests("anthropic") if r.method == "POST"][-1]
    assert sent.path.endswith("/v1/messages")
    assert sent.json()["model"] == "claude-sonnet-4-6"


SYSTEM = {"role": "system", "content": "You are a meticulous research agent. " * 330}


def test_anthropic_one_hour_cache_writes(sim):
    conf = config(sim, policy=[{"cheapest": {"prefix_cache": True}}])
    conf["providers"] = [
        provider_conf(
            sim, "anthropic", auto_cache_control=True, cache={"mode": "explicit", "lifetime": 3600}
        )
    ]
    messages = [SYSTEM, {"role": "user", "content": "q 0"}]
    with Router.from_config(conf) as r:
        answer = r.complete(model="anthropic:claude-sonnet-4-6", messages=messages)
    sent = [x for x in sim.requests("anthropic") if x.method == "POST"][-1].json()
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    written = answer.usage.prompt_tokens_details.cache_write_tokens
    assert written == answer.usage.prompt_tokens
    # every prompt token written at genai-prices' 1-hour rate ($6/1M) + 4 x $0.000015
    assert answer.route.cost == written * D("0.000006") + 4 * D("0.000015")


def test_the_gemini_catalog_drops_the_models_prefix(sim, router):
    found = cards(router)
    assert {r for r in found if r.startswith("gemini:")} == {
        "gemini:gemini-2.5-pro",
        "gemini:gemini-2.5-flash",
        "gemini:gemini-experimental-0",
        "gemini:text-embedding-004",
    }
    pro = found["gemini:gemini-2.5-pro"]
    assert (pro.protocol, pro.price_source) == ("gemini", "genai-prices")
    assert pro.pricing is not None
    assert [(t.above_prompt_tokens, t.prompt, t.completion) for t in pro.pricing.tiers] == [
        (200_000, D("0.0000025"), D("0.000015"))
    ]
    assert found["gemini:gemini-experimental-0"].pricing is None
    assert found["gemini:text-embedding-004"].kind == "generation"
    (fetch,) = [r for r in sim.requests("gemini") if r.method == "GET"]
    assert fetch.headers["authorization"] == f"Bearer {sim.api_key('gemini')}"


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_thinking_counted_only_in_the_total_is_billed(sim, router, stream):
    params = {"model": "gemini:gemini-2.5-flash", "messages": HELLO, "reasoning_effort": "low"}
    if stream:
        chunks = list(router.stream(**params))
        usage, route = chunks[-1].usage, chunks[-1].route
    else:
        answer = router.complete(**params)
        usage, route = answer.usage, answer.route
    assert THINKING_TOKENS == 64
    assert usage.completion_tokens == 4 + 64
    assert usage.completion_tokens_details.reasoning_tokens == 64
    # genai-prices: $0.30 / $2.50 per 1M; 3 x $0.0000003 + 68 x $0.0000025 (before: 4 x)
    assert route.cost == D("0.0001709")
    sent = [r for r in sim.requests("gemini") if r.method == "POST"][-1]
    assert sent.path.endswith("/v1beta/openai/chat/completions")
    assert sent.json()["model"] == "gemini-2.5-flash"


def test_gemini_without_thinking(router):
    answer = router.complete(model="gemini:gemini-2.5-flash", messages=HELLO)
    assert (answer.usage.completion_tokens, answer.usage.completion_tokens_details) == (4, None)
    assert answer.route.cost == 3 * D("0.0000003") + 4 * D("0.0000025")


def test_gemini_long_prompts_cost_the_tier(router):
    long = [{"role": "user", "content": "x" * 800_004}]  # 200,001 tokens
    answer = router.complete(model="gemini:gemini-2.5-pro", messages=long)
    assert answer.usage.prompt_tokens == 200_001
    # above 200,000: 200,001 x $0.0000025 + 3 x $0.000015
    assert answer.route.cost == D("0.5000475")


# -- the simulated APIs themselves ---------------------------------------------------------


@pytest.fixture
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def anthropic_get(sim, client, query: str, **headers: str) -> httpx.Response:
    base = {"x-api-key": sim.api_key("anthropic"), "anthropic-version": "2023-06-01"}
    return client.get(sim.base_url("anthropic") + "/v1/models" + query, headers={**base, **headers})


def test_simulated_anthropic_pages_its_model_list(sim, client):
    first = anthropic_get(sim, client, "?limit=2").json()
    assert [m["id"] for m in first["data"]] == ["claude-mythos-5", "claude-sonnet-4-6"]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (
        True,
        "claude-mythos-5",
        "claude-sonnet-4-6",
    )
    rest = anthropic_get(sim, client, "?limit=2&after_id=claude-sonnet-4-6").json()
    assert [m["id"] for m in rest["data"]] == ["claude-haiku-4-5"]
    assert rest["has_more"] is False
    assert len(anthropic_get(sim, client, "").json()["data"]) == 3  # default 20


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?limit=many"])
def test_simulated_anthropic_refuses_a_bad_limit(sim, client, query):
    response = anthropic_get(sim, client, query)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_simulated_anthropic_wants_its_version_header_and_its_key_header(sim, client):
    url = sim.base_url("anthropic") + "/v1/models"
    key = sim.api_key("anthropic")
    assert client.get(url, headers={"x-api-key": key}).status_code == 400
    bearer = {"Authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}
    response = client.get(url, headers=bearer)
    assert response.status_code == 401
    assert response.json()["type"] == "error"


def test_simulated_gemini_takes_ids_without_the_prefix_and_counts_thinking_in_the_total(
    sim, client
):
    url = sim.base_url("gemini") + "/chat/completions"
    headers = {"Authorization": f"Bearer {sim.api_key('gemini')}"}
    body = {"model": "gemini-2.5-flash", "messages": HELLO}
    plain = client.post(url, json=body, headers=headers).json()["usage"]
    assert (plain["prompt_tokens"], plain["completion_tokens"], plain["total_tokens"]) == (3, 4, 7)
    thinking = client.post(url, json={**body, "reasoning_effort": "high"}, headers=headers).json()[
        "usage"
    ]
    assert (thinking["completion_tokens"], thinking["total_tokens"]) == (4, 7 + THINKING_TOKENS)
    assert "completion_tokens_details" not in thinking
    missing = client.post(url, json={**body, "model": "gemini-9"}, headers=headers)
    assert missing.status_code == 404
