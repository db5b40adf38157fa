"""Issue 16: every rate a provider states. OpenRouter's long-prompt overrides as tiers,
one-hour cache writes, reasoning tokens outside the completion count, and the cost a
provider states it billed. Every rate and conversion is checked to the exact Decimal."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import Router
from router.catalog import ModelCard, Pricing
from router.completion import TokenCounts
from router.planning.cost import catalog_cost, expected_cost, usage_cost, write_rate
from router.state.prefix import CacheRule
from router.wire import anthropic_messages, openai_chat

D = Decimal

# Gemini 2.5 Pro as OpenRouter lists it: $1.25 / $10 per 1M, cache reads $0.31; from
# 200,000 prompt tokens $2.50 / $15, cache reads $0.625 (one override).
GEMINI_PRO = {
    "id": "google/gemini-2.5-pro",
    "name": "Google: Gemini 2.5 Pro",
    "context_length": 1048576,
    "pricing": {
        "prompt": "0.00000125",
        "completion": "0.00001",
        "input_cache_read": "0.00000031",
        "input_cache_write": "0.000001625",
        "overrides": [
            {
                "min_prompt_tokens": 200000,
                "prompt": "0.0000025",
                "completion": "0.000015",
                "input_cache_read": "0.000000625",
            }
        ],
    },
}


def read(entry: dict[str, Any]) -> tuple[list[ModelCard], list[Any]]:
    router = Router.from_config(
        {"providers": [{"name": "or", "kind": "openrouter", "api_key": "k"}]}
    )
    models, skipped = router.providers["or"].parse_catalog({"data": [entry]})
    return models, skipped


def card(entry: dict[str, Any]) -> ModelCard:
    (model,), skipped = read(entry)
    assert skipped == []
    return model


def pricing(entry: dict[str, Any]) -> Pricing:
    found = card(entry).pricing
    assert found is not None
    return found


def with_overrides(*overrides: Any) -> dict[str, Any]:
    return {**GEMINI_PRO, "pricing": {**GEMINI_PRO["pricing"], "overrides": list(overrides)}}


# -- 1. OpenRouter's pricing.overrides as tiers ------------------------------------------


def test_an_override_is_a_tier_from_its_min_prompt_tokens_inclusive():
    (tier,) = pricing(GEMINI_PRO).tiers
    assert tier.name == "min_prompt_tokens>=200000"
    assert tier.above_prompt_tokens == 199_999  # prompt >= 200,000 is prompt > 199,999
    assert (tier.prompt, tier.completion, tier.cache_read) == (
        D("0.0000025"),
        D("0.000015"),
        D("0.000000625"),
    )
    assert tier.cache_write is None  # not restated: the base rate applies


@pytest.mark.parametrize(
    ("prompt", "rates"),
    [
        # OpenRouter: the override applies when the prompt meets or exceeds the minimum
        (199_999, ("0.00000125", "0.00001", "0.00000031", "0.000001625")),
        (200_000, ("0.0000025", "0.000015", "0.000000625", "0.000001625")),
        (200_001, ("0.0000025", "0.000015", "0.000000625", "0.000001625")),
    ],
)
def test_each_side_of_the_boundary(prompt, rates):
    found = pricing(GEMINI_PRO).rates_for(prompt)
    assert (found.prompt, found.completion, found.cache_read, found.cache_write) == tuple(
        D(r) for r in rates
    )


@pytest.mark.parametrize(
    ("prompt", "cost"),
    [
        # 199,999 x $0.00000125 + 1,000 x $0.00001
        (199_999, "0.25999875"),
        # 200,000 x $0.0000025 + 1,000 x $0.000015
        (200_000, "0.515"),
        # 100k: 100,000 x $0.00000125 + 1,000 x $0.00001 = 0.125 + 0.01
        (100_000, "0.135"),
        # 300k: 300,000 x $0.0000025 + 1,000 x $0.000015 = 0.75 + 0.015
        (300_000, "0.765"),
    ],
)
def test_billed_and_estimated_at_the_tier_the_prompt_falls_in(prompt, cost):
    rates = pricing(GEMINI_PRO)
    assert catalog_cost(rates, TokenCounts(prompt=prompt, completion=1000)) == D(cost)
    assert expected_cost(rates, prompt, 1000) == D(cost)


def test_later_overrides_win_per_price_key_and_absent_keys_inherit():
    found = pricing(
        with_overrides(
            {"min_prompt_tokens": 128000, "prompt": "0.000002"},
            {"min_prompt_tokens": 200000, "completion": "0.00002"},
            {"min_prompt_tokens": 100000, "prompt": "0.0000015"},
        )
    )
    assert [t.above_prompt_tokens for t in found.tiers] == [99_999, 127_999, 199_999]

    def at(prompt: int) -> tuple[Decimal, Decimal]:
        rates = found.rates_for(prompt)
        return rates.prompt, rates.completion

    assert at(99_999) == (D("0.00000125"), D("0.00001"))
    assert at(100_000) == (D("0.0000015"), D("0.00001"))
    # from 128k the first and third both apply: the later one (third) wins the prompt rate
    assert at(128_000) == (D("0.0000015"), D("0.00001"))
    assert at(200_000) == (D("0.0000015"), D("0.00002"))


def test_an_override_of_unbilled_prices_only_makes_no_tier():
    assert pricing(with_overrides({"min_prompt_tokens": 1000, "image": "0.01"})).tiers == ()


def test_an_override_without_a_condition_applies_from_zero():
    found = pricing(with_overrides({"prompt": "0.000002"}))
    assert found.rates_for(0).prompt == D("0.000002")
    assert found.rates_for(1).prompt == D("0.000002")


def test_an_unknown_condition_is_warned_once_and_never_under_prices(caplog):
    peak = {
        "utc_start": "09:00",
        "utc_end": "17:00",
        "prompt": "0.000003",
        "completion": "0.000005",
    }
    entry = with_overrides(GEMINI_PRO["pricing"]["overrides"][0], peak)
    router = Router.from_config(
        {"providers": [{"name": "or", "kind": "openrouter", "api_key": "k"}]}
    )
    provider = router.providers["or"]
    with caplog.at_level(logging.WARNING, logger="router.providers.openrouter"):
        (model,), skipped = provider.parse_catalog({"data": [entry]})
        provider.parse_catalog({"data": [entry]})  # a refresh: no second warning
    assert skipped == []
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "'google/gemini-2.5-pro'" in warnings[0]
    assert "pricing.overrides.1" in warnings[0]
    assert "utc_end, utc_start" in warnings[0]
    assert model.pricing is not None
    # Below 200k the window may apply: $3 prompt (higher than $1.25), completion stays the
    # higher $10 (the window's $5 is lower).
    short = model.pricing.rates_for(1000)
    assert (short.prompt, short.completion) == (D("0.000003"), D("0.00001"))
    # From 200k: the tier's $2.50 / $15, and the window's $3 prompt if it applies.
    long = model.pricing.rates_for(250_000)
    assert (long.prompt, long.completion) == (D("0.000003"), D("0.000015"))


def test_an_unknown_condition_that_only_lowers_prices_changes_nothing():
    off_peak = {"utc_start": "00:00", "utc_end": "06:00", "prompt": "0.0000005"}
    found = pricing(with_overrides(off_peak))
    assert found.rates_for(1000).prompt == D("0.00000125")
    assert found.rates_for(500_000).prompt == D("0.00000125")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ("cheap", "pricing.overrides"),
        (["cheap"], "pricing.overrides.0"),
        ([{"min_prompt_tokens": 200000, "prompt": "free"}], "pricing.overrides.0.prompt"),
        ([{"min_prompt_tokens": -1, "prompt": "0.1"}], "pricing.overrides.0.min_prompt_tokens"),
        ([{"min_prompt_tokens": "200k", "prompt": "0.1"}], "pricing.overrides.0.min_prompt_tokens"),
    ],
)
def test_an_unreadable_override_skips_the_model(overrides, field):
    entry = {**GEMINI_PRO, "pricing": {**GEMINI_PRO["pricing"], "overrides": overrides}}
    models, skipped = read(entry)
    assert models == []
    assert [s.field for s in skipped] == [field]


# -- 2. one-hour cache writes -------------------------------------------------------------

SONNET_OR = {
    "id": "anthropic/claude-sonnet-4.6",
    "pricing": {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
        "input_cache_write_1h": "0.000006",
    },
}


def test_openrouter_one_hour_write_rate():
    found = pricing(SONNET_OR)
    assert (found.cache_write, found.cache_write_1h) == (D("0.00000375"), D("0.000006"))


def test_openrouter_one_hour_write_rate_in_an_override():
    entry = {
        **SONNET_OR,
        "pricing": {
            **SONNET_OR["pricing"],
            "overrides": [{"min_prompt_tokens": 200000, "input_cache_write_1h": "0.000012"}],
        },
    }
    found = pricing(entry)
    assert found.rates_for(199_999).cache_write_1h == D("0.000006")
    assert found.rates_for(200_000).cache_write_1h == D("0.000012")


SONNET = Pricing(
    prompt=D("0.000003"),
    completion=D("0.000015"),
    cache_read=D("0.0000003"),
    cache_write=D("0.00000375"),
    cache_write_1h=D("0.000006"),
)


def test_one_hour_writes_cost_the_one_hour_rate():
    counts = TokenCounts(
        prompt=10_000, completion=100, cache_read=2_000, cache_write=5_000, cache_write_1h=3_000
    )
    # 3,000 uncached x $0.000003 + 2,000 read x $0.0000003 + 2,000 5-min writes x
    # $0.00000375 + 3,000 1-hour writes x $0.000006 + 100 x $0.000015
    assert catalog_cost(SONNET, counts) == D("0.009") + D("0.0006") + D("0.0075") + D("0.018") + D(
        "0.0015"
    )
    assert catalog_cost(SONNET, counts) == D("0.0366")


def test_one_hour_writes_without_a_one_hour_rate_cost_the_write_rate():
    five_min_only = SONNET.model_copy(update={"cache_write_1h": None})
    counts = TokenCounts(prompt=1_000, completion=0, cache_write=1_000, cache_write_1h=1_000)
    assert catalog_cost(five_min_only, counts) == D("0.00375")
    no_write_rates = five_min_only.model_copy(update={"cache_write": None})
    assert catalog_cost(no_write_rates, counts) == D("0.003")


def test_one_hour_writes_are_capped_by_the_writes():
    counts = TokenCounts(prompt=1_000, completion=0, cache_write=400, cache_write_1h=900)
    # 600 x 0.000003 + 400 x 0.000006 (the 1-hour part cannot exceed the writes)
    assert catalog_cost(SONNET, counts) == D("0.0018") + D("0.0024")


def test_the_breakpoint_write_rate_follows_the_cache_lifetime():
    assert write_rate(SONNET, CacheRule(mode="explicit")) == D("0.00000375")
    assert write_rate(SONNET, CacheRule(mode="explicit", lifetime=300)) == D("0.00000375")
    assert write_rate(SONNET, CacheRule(mode="explicit", lifetime=3600)) == D("0.000006")
    no_1h = SONNET.model_copy(update={"cache_write_1h": None})
    assert write_rate(no_1h, CacheRule(mode="explicit", lifetime=3600)) == D("0.00000375")


def test_anthropic_usage_splits_writes_by_lifetime():
    usage = {
        "input_tokens": 50,
        "output_tokens": 20,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 300,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    }
    counts = anthropic_messages.read_usage(usage)
    assert counts is not None
    assert (counts.prompt, counts.cache_read, counts.cache_write, counts.cache_write_1h) == (
        450,
        100,
        300,
        200,
    )
    # the split alone (no cache_creation_input_tokens) still gives the total
    del usage["cache_creation_input_tokens"]
    again = anthropic_messages.read_usage(usage)
    assert again == counts


def test_anthropic_breakpoints_ask_for_the_one_hour_cache():
    body: dict[str, Any] = {"system": "s", "messages": [{"role": "user", "content": "hi"}]}
    anthropic_messages.add_breakpoints(body, ttl="1h")
    assert body["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    plain: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    anthropic_messages.add_breakpoints(plain)
    assert plain["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_openai_dialect_reads_passed_through_one_hour_writes():
    usage = {
        "prompt_tokens": 500,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 300},
        "cache_creation": {"ephemeral_1h_input_tokens": 300},
    }
    counts = openai_chat.read_usage(usage)
    assert counts is not None
    assert (counts.cache_write, counts.cache_write_1h) == (300, 300)


# -- 3. the cost a provider states ---------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "stated"),
    [
        ({"cost": 0.00123}, "0.00123"),
        ({"cost": "0.00123"}, "0.00123"),
        ({"cost": 0}, "0"),
        ({"cost": 1e-7}, "1E-7"),
        # with the caller's own upstream key: OpenRouter's fee plus the upstream's charge
        (
            {"cost": 0.0001, "is_byok": True, "cost_details": {"upstream_inference_cost": 0.002}},
            "0.0021",
        ),
        # not byok: upstream_inference_cost is not added
        ({"cost": 0.0001, "cost_details": {"upstream_inference_cost": 0.002}}, "0.0001"),
        ({"cost": -1}, None),
        ({"cost": "n/a"}, None),
        ({"cost": True}, None),
        ({"cost": float("nan")}, None),
        ({}, None),
    ],
)
def test_stated_cost_is_read_exactly(usage, stated):
    found = openai_chat.read_stated_cost(usage)
    assert found == (None if stated is None else D(stated))
    counts = openai_chat.read_usage({"prompt_tokens": 1, **usage}, stated_cost=True)
    assert counts is not None
    assert counts.billed_usd == found


def test_stated_cost_is_read_only_where_the_provider_states_one():
    counts = openai_chat.read_usage({"prompt_tokens": 1, "cost": 0.5})
    assert counts is not None
    assert counts.billed_usd is None


def test_the_stated_cost_is_the_cost_and_the_catalog_figure_stays_computable():
    counts = TokenCounts(prompt=1_000, completion=100, billed_usd=D("0.0050"))
    assert usage_cost(SONNET, counts) == D("0.0050")
    # 1,000 x 0.000003 + 100 x 0.000015
    assert catalog_cost(SONNET, counts) == D("0.0045")


# -- 4. reasoning tokens outside completion_tokens ----------------------------------------


@pytest.mark.parametrize(
    ("usage", "completion", "reasoning"),
    [
        # OpenAI / OpenRouter / DeepSeek: reasoning inside completion_tokens
        (
            {"prompt_tokens": 21, "completion_tokens": 80, "total_tokens": 101,
             "completion_tokens_details": {"reasoning_tokens": 60}},
            80,
            60,
        ),
        # a Gemini compatibility layer: reasoning outside, total = prompt + answer + reasoning
        (
            {"prompt_tokens": 21, "completion_tokens": 20, "total_tokens": 101,
             "completion_tokens_details": {"reasoning_tokens": 60}},
            80,
            60,
        ),
        # only reasoning (the visible answer empty)
        (
            {"prompt_tokens": 21, "completion_tokens": 0, "total_tokens": 81,
             "completion_tokens_details": {"reasoning_tokens": 60}},
            60,
            60,
        ),
        # no total: nothing to tell by, read as OpenAI counts
        (
            {"prompt_tokens": 21, "completion_tokens": 20,
             "completion_tokens_details": {"reasoning_tokens": 60}},
            20,
            20,
        ),
        # no reasoning reported
        ({"prompt_tokens": 21, "completion_tokens": 20, "total_tokens": 41}, 20, 0),
    ],
)  # fmt: skip
def test_reasoning_outside_completion_is_added(usage, completion, reasoning):
    counts = openai_chat.read_usage(usage)
    assert counts is not None
    assert (counts.completion, counts.reasoning) == (completion, reasoning)


def test_reasoning_outside_completion_is_billed_at_the_completion_rate():
    counts = openai_chat.read_usage(
        {"prompt_tokens": 1000, "completion_tokens": 20, "total_tokens": 1080,
         "completion_tokens_details": {"reasoning_tokens": 60}}
    )  # fmt: skip
    assert counts is not None
    # 1,000 x $0.000003 + (20 + 60) x $0.000015 = 0.003 + 0.0012
    assert catalog_cost(SONNET, counts) == D("0.0042")
    usage = counts.to_usage(catalog_cost(SONNET, counts))
    assert usage.completion_tokens == 80
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 60


# -- the overrides, against OpenRouter's rule, for random lists ----------------------------

_KEYS = ("prompt", "completion", "input_cache_read")
_FIELD = {"prompt": "prompt", "completion": "completion", "input_cache_read": "cache_read"}
_BASE = {"prompt": "0.000001", "completion": "0.000004", "input_cache_read": "0.0000001"}

override = st.fixed_dictionaries(
    {"min_prompt_tokens": st.sampled_from([0, 1000, 128_000, 200_000, 272_000])},
    optional={
        **{k: st.sampled_from(["0.0000005", "0.000002", "0.000008"]) for k in _KEYS},
        "utc_start": st.just("09:00"),
    },
)


def openrouter_rate(overrides: list[dict], key: str, prompt: int, window: bool) -> Decimal:
    """OpenRouter's documented rule: every applicable override in order, later ones
    winning per key; ``window``: whether a time-window condition holds right now."""
    rate = D(_BASE[key])
    for o in overrides:
        if prompt >= o["min_prompt_tokens"] and ("utc_start" not in o or window) and key in o:
            rate = D(o[key])
    return rate


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    overrides=st.lists(override, max_size=5),
    prompt=st.sampled_from([0, 999, 1000, 127_999, 128_000, 199_999, 200_000, 272_000, 10**6]),
)
def test_tiers_match_openrouter_and_never_under_price(overrides, prompt):
    entry = {**GEMINI_PRO, "pricing": {**_BASE, "overrides": overrides}}
    router = Router.from_config(
        {"providers": [{"name": "or", "kind": "openrouter", "api_key": "k"}]}
    )
    (model,), _ = router.providers["or"].parse_catalog({"data": [entry]})
    rates = model.pricing.rates_for(prompt)
    timed = any("utc_start" in o for o in overrides)
    for key in _KEYS:
        ours = getattr(rates, _FIELD[key])
        possible = {openrouter_rate(overrides, key, prompt, w) for w in (False, True)}
        assert ours >= max(possible)  # never under whichever way the window goes
        if not timed:
            assert ours == possible.pop()  # exactly OpenRouter's rate
