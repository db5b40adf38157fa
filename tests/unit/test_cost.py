"""Exact cost from returned usage, in every usage dialect."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.catalog import PriceTier, Pricing
from router.completion import TokenCounts
from router.planning.cost import usage_cost
from router.wire.openai_chat import read_usage

D = Decimal
# pinstripes ps/deepseek-v4-flash (seed 000): $0.087 / $0.173 / cached $0.05 per 1M
FLASH = Pricing(prompt=D("0.000000087"), completion=D("0.000000173"), cache_read=D("0.00000005"))
# PipeLLM gpt-5 (seed 002), with its over_200k tier
GPT5 = Pricing(
    prompt=D("0.000003"),
    completion=D("0.000015"),
    cache_read=D("0.000001"),
    cache_write=D("0.00000375"),
    tiers=(
        PriceTier(
            name="over_200k",
            above_prompt_tokens=200_000,
            prompt=D("0.0000055"),
            completion=D("0.000022"),
            cache_read=D("0.0000009"),
            cache_write=D("0.0000033"),
        ),
    ),
)


@pytest.mark.parametrize(
    ("usage", "counts"),
    [
        # pinstripes (seed 001): cached_tokens at the top level of usage
        (
            {
                "prompt_tokens": 32,
                "completion_tokens": 84,
                "cached_tokens": 16,
                "total_tokens": 116,
            },
            TokenCounts(prompt=32, completion=84, cache_read=16),
        ),
        # OpenAI / OpenRouter / Routstr: prompt_tokens_details.cached_tokens
        (
            {
                "prompt_tokens": 2000,
                "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
            TokenCounts(prompt=2000, completion=10, cache_read=1024),
        ),
        ({"prompt_tokens": 5, "completion_tokens": 1}, TokenCounts(prompt=5, completion=1)),
    ],
)
def test_usage_dialects_are_normalized(usage, counts):
    assert read_usage(usage) == counts


def test_uncached_cost_is_exact():
    # 1,000,000 prompt x $0.087/1M + 1,000,000 completion x $0.173/1M
    assert usage_cost(FLASH, TokenCounts(prompt=1_000_000, completion=1_000_000)) == D("0.26")


def test_cached_tokens_at_the_cached_rate():
    # (32 - 16) x 0.000000087 + 16 x 0.00000005 + 84 x 0.000000173
    expected = 16 * D("0.000000087") + 16 * D("0.00000005") + 84 * D("0.000000173")
    assert usage_cost(FLASH, TokenCounts(prompt=32, completion=84, cache_read=16)) == expected
    assert expected == D("0.000016724")


def test_cache_writes_at_the_write_rate_and_tiers_above_the_threshold():
    counts = TokenCounts(prompt=1000, completion=100, cache_read=600, cache_write=300)
    expected = (
        100 * D("0.000003") + 600 * D("0.000001") + 300 * D("0.00000375") + 100 * D("0.000015")
    )
    assert usage_cost(GPT5, counts) == expected
    big = TokenCounts(prompt=200_001, completion=1)
    assert usage_cost(GPT5, big) == 200_001 * D("0.0000055") + D("0.000022")
    assert usage_cost(GPT5, TokenCounts(prompt=200_000, completion=1)) == 200_000 * D(
        "0.000003"
    ) + D("0.000015")


def test_no_cache_rate_bills_cached_tokens_as_prompt():
    plain = Pricing(prompt=D("0.000001"), completion=D("0.000002"))
    assert usage_cost(plain, TokenCounts(prompt=10, completion=0, cache_read=10)) == D("0.00001")


def test_billed_usd_wins_and_unpriced_is_none():
    billed = TokenCounts(prompt=1, completion=1, billed_usd=D("0.001234"), estimated=True)
    assert usage_cost(FLASH, billed) == D("0.001234")
    assert usage_cost(None, TokenCounts(prompt=1)) is None
    assert usage_cost(None, billed) == D("0.001234")


def test_float_appears_only_at_usage_cost():
    usage = TokenCounts(prompt=32, completion=84, cache_read=16).to_usage(D("0.000016724"))
    assert usage.cost == 0.000016724
    assert usage.prompt_tokens_details.cached_tokens == 16
    assert usage.total_tokens == 116
