"""Issue 16 over real HTTP: tiered prices, one-hour cache writes, the cost a provider
states, and reasoning tokens outside the completion count, against the simulator."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import pytest

from router import Router
from router.testing.simulator import Reply
from tests.wire.conftest import config, provider_conf

pytestmark = pytest.mark.wire

D = Decimal
GEMINI = "openrouter:google/gemini-2.5-pro"


def prompt_of(tokens: int) -> list[dict[str, str]]:
    """One user message the simulator counts as ``tokens`` prompt tokens (4 chars each)."""
    return [{"role": "user", "content": "x" * (4 * tokens)}]


@pytest.fixture
def openrouter(sim):
    with Router.from_config(config(sim, "openrouter")) as r:
        yield r


@pytest.mark.parametrize(
    ("tokens", "catalog"),
    [
        # 100,000 x $0.00000125 + 3 x $0.00001 (the answer "You said: xxx..." is 3 words)
        (100_000, "0.12503"),
        (199_999, "0.25002875"),  # 199,999 x $0.00000125 + 3 x $0.00001
        # from 200,000 prompt tokens the override: x $0.0000025, out x $0.000015
        (200_000, "0.500045"),
        (300_000, "0.750045"),
    ],
)
def test_a_tiered_model_is_billed_and_stated_at_its_tier(openrouter, tokens, catalog):
    answer = openrouter.complete(model=GEMINI, messages=prompt_of(tokens))
    assert answer.usage.prompt_tokens == tokens
    assert answer.usage.completion_tokens == 3
    route = answer.route
    assert route.catalog_cost == D(catalog)
    # OpenRouter's usage.cost agrees to the digit: it is the cost
    assert route.cost_stated is True
    assert route.cost == D(catalog)
    assert answer.usage.cost == float(D(catalog))


def test_explain_ranks_a_long_prompt_at_its_tier(openrouter):
    # the router's estimate: ceil(chars / 4) + 4 tokens of framing per message
    short = openrouter.explain(model=GEMINI, messages=prompt_of(100_000), max_tokens=100)
    long = openrouter.explain(model=GEMINI, messages=prompt_of(300_000), max_tokens=100)
    assert short.candidates[0].prompt_tokens == 100_004
    assert short.candidates[0].cost == 100_004 * D("0.00000125") + 100 * D("0.00001")
    assert long.candidates[0].prompt_tokens == 300_004
    assert long.candidates[0].cost == 300_004 * D("0.0000025") + 100 * D("0.000015")


def test_max_price_judges_a_long_prompt_at_its_tier(sim):
    policy = [{"max_price": {"prompt_per_mtok": 2}}]
    with Router.from_config(config(sim, "openrouter", policy=policy)) as r:
        assert r.explain(model=GEMINI, messages=prompt_of(100_000)).candidates
        decision = r.explain(model=GEMINI, messages=prompt_of(300_000))
    assert decision.candidates == []
    (why,) = [e.reason for e in decision.excluded if e.ref == GEMINI]
    assert "2.5" in why


def test_a_stated_cost_streamed_is_the_cost(openrouter):
    chunks = list(openrouter.stream(model=GEMINI, messages=prompt_of(300_000)))
    last = chunks[-1]
    assert last.usage is not None
    assert last.route.cost_stated is True
    assert last.route.cost == last.route.catalog_cost == D("0.750045")


def completion_with_cost(cost: object, **usage: object) -> dict[str, object]:
    return {
        "id": "gen-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "google/gemini-2.5-pro",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 10, "cost": cost, **usage},
    }


def test_a_divergent_stated_cost_wins_and_both_figures_are_logged(sim, openrouter, caplog):
    openrouter.models()
    sim.script("openrouter", [Reply(200, json=completion_with_cost(0.0015))])
    with caplog.at_level(logging.WARNING, logger="router.cost"):
        answer = openrouter.complete(model=GEMINI, messages=prompt_of(10))
    # the catalog: 1,000 x $0.00000125 + 10 x $0.00001 = $0.00135; stated $0.0015 (+11.1%)
    assert answer.route.catalog_cost == D("0.00135")
    assert answer.route.cost == D("0.0015")
    assert answer.usage.cost == 0.0015
    (warning,) = [r.getMessage() for r in caplog.records]
    assert GEMINI in warning
    assert "$0.0015" in warning
    assert "$0.00135" in warning
    assert "+11.1%" in warning
    assert "stated by the provider; catalog prices: $0.00135" in str(answer.route)


@pytest.mark.parametrize(
    ("stated", "logged"),
    [
        (0.0013635, False),  # $0.00135 x 1.01: exactly 1% over
        (0.0013365, False),  # exactly 1% under
        (0.0013636, True),
        (0.0013364, True),
    ],
)
def test_a_stated_cost_is_logged_only_beyond_one_percent(sim, openrouter, caplog, stated, logged):
    openrouter.models()
    sim.script("openrouter", [Reply(200, json=completion_with_cost(stated))])
    with caplog.at_level(logging.WARNING, logger="router.cost"):
        answer = openrouter.complete(model=GEMINI, messages=prompt_of(10))
    assert answer.route.cost == D(str(stated))
    assert bool(caplog.records) is logged


def test_a_stated_cost_of_a_free_model_is_logged(sim, openrouter, caplog):
    free = sim.catalog("openrouter")
    gemini = next(e for e in free["data"] if e["id"] == "google/gemini-2.5-pro")
    gemini["pricing"] = {"prompt": "0", "completion": "0"}
    sim.set_catalog("openrouter", free)
    openrouter.models()
    sim.script("openrouter", [Reply(200, json=completion_with_cost(0.0001))])
    with caplog.at_level(logging.WARNING, logger="router.cost"):
        answer = openrouter.complete(model=GEMINI, messages=prompt_of(10))
    assert (answer.route.cost, answer.route.catalog_cost) == (D("0.0001"), D(0))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "from zero" in warning


def test_a_byok_stated_cost_adds_the_upstream_charge(sim, openrouter):
    openrouter.models()
    body = completion_with_cost(
        0.0000675, is_byok=True, cost_details={"upstream_inference_cost": 0.00135}
    )
    sim.script("openrouter", [Reply(200, json=body)])
    answer = openrouter.complete(model=GEMINI, messages=prompt_of(10))
    assert answer.route.cost == D("0.0014175")  # OpenRouter's 5% fee + the upstream's charge


def test_a_provider_that_states_no_cost_is_billed_from_the_catalog(sim):
    conf = config(sim, "pinstripes")
    with Router.from_config(conf) as r:
        r.models()
        body = completion_with_cost(99)  # pinstripes states no cost: a stray field is ignored
        body["model"] = "ps/deepseek-v4-flash"
        sim.script("pinstripes", [Reply(200, json=body)])
        answer = r.complete(model="pinstripes:ps/deepseek-v4-flash", messages=prompt_of(10))
    assert answer.route.cost_stated is False
    # 1,000 x $0.000000087 + 10 x $0.000000173
    assert answer.route.cost == answer.route.catalog_cost == D("0.00008873")


# -- one-hour cache writes -----------------------------------------------------------------

SYSTEM = {"role": "system", "content": "You are a meticulous research agent. " * 330}


def one_hour_router(sim, lifetime: float):
    conf = config(sim, "pipellm", policy=[{"cheapest": {"prefix_cache": True}}])
    conf["providers"][0] = provider_conf(
        sim,
        "pipellm",
        auto_cache_control=True,
        cache={"mode": "explicit", "lifetime": lifetime},
    )
    return Router.from_config(conf)


def test_a_one_hour_cache_is_asked_for_explained_and_billed_at_its_rate(sim):
    messages = [SYSTEM, {"role": "user", "content": "q 0"}]
    with one_hour_router(sim, 3600) as r:
        decision = r.explain(model="pipellm:claude-sonnet-4-6", messages=messages)
        answer = r.complete(model="pipellm:claude-sonnet-4-6", messages=messages)
    (estimate,) = decision.candidates
    assert estimate.write_ttl == "1h"
    assert estimate.write_rate == D("0.000006")  # PipeLLM's cache.write_1h
    assert estimate.write_tokens > 2000
    assert "at $6/1M (1h cache)" in str(decision)
    sent = [x for x in sim.requests("pipellm") if x.method == "POST"][-1].json()
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    usage = answer.usage
    written = usage.prompt_tokens_details.cache_write_tokens
    assert written is not None
    assert written == usage.prompt_tokens  # the whole prompt, all at the one-hour TTL
    # prompt x $0.000006 (1-hour writes) + completion x $0.000015
    expected = written * D("0.000006") + usage.completion_tokens * D("0.000015")
    assert answer.route.cost == expected
    assert answer.route.cost == written * D("0.000006") + 4 * D("0.000015")  # "You said: q 0"


def test_a_five_minute_cache_is_billed_at_the_write_rate(sim):
    messages = [SYSTEM, {"role": "user", "content": "q 0"}]
    with one_hour_router(sim, 300) as r:
        decision = r.explain(model="pipellm:claude-sonnet-4-6", messages=messages)
        answer = r.complete(model="pipellm:claude-sonnet-4-6", messages=messages)
    assert decision.candidates[0].write_ttl == "5m"
    assert decision.candidates[0].write_rate == D("0.00000375")
    sent = [x for x in sim.requests("pipellm") if x.method == "POST"][-1].json()
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    written = answer.usage.prompt_tokens_details.cache_write_tokens
    assert answer.route.cost == written * D("0.00000375") + 4 * D("0.000015")


# -- reasoning outside completion_tokens ---------------------------------------------------


def test_reasoning_reported_outside_completion_is_billed(sim):
    conf = config(sim, "openai")
    conf["providers"][0]["model_info"] = {
        "Qwen/Qwen3-8B": {"prompt_per_mtok": "0.1", "completion_per_mtok": "0.5"}
    }
    body = completion_with_cost(None, total_tokens=1070)
    body["model"] = "Qwen/Qwen3-8B"
    body["usage"] = {
        "prompt_tokens": 1000,
        "completion_tokens": 10,
        "total_tokens": 1070,
        "completion_tokens_details": {"reasoning_tokens": 60},
    }
    with Router.from_config(conf) as r:
        r.models()
        sim.script("openai", [Reply(200, json=body)])
        answer = r.complete(model="openai:Qwen/Qwen3-8B", messages=prompt_of(10))
    assert answer.usage.completion_tokens == 70
    assert answer.usage.completion_tokens_details.reasoning_tokens == 60
    # 1,000 x $0.0000001 + 70 x $0.0000005 (before: 10 x $0.0000005)
    assert answer.route.cost == D("0.000135")
