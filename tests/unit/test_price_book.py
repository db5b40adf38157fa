"""Prices where a catalog has none: ``genai-prices`` (USD per 1M tokens, tiers by input
tokens *above* a start) read as exact USD per token, and the order of precedence: the live
catalog, then the YAML ``model_info``, then ``genai-prices``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from genai_prices.types import ModelPrice, Tier, TieredPrices

from router import Router
from router.catalog import ModelCard
from router.completion import TokenCounts
from router.planning.cost import catalog_cost
from router.price_book import published_pricing, to_pricing

D = Decimal


def test_per_million_becomes_per_token():
    found = to_pricing(
        ModelPrice(
            input_mtok=D("3"),
            output_mtok=D("15"),
            cache_read_mtok=D("0.3"),
            cache_write_mtok=D("3.75"),
            cache_write_1h_mtok=D("6"),
        )
    )
    assert found is not None
    assert (
        found.prompt,
        found.completion,
        found.cache_read,
        found.cache_write,
        found.cache_write_1h,
    ) == (D("0.000003"), D("0.000015"), D("0.0000003"), D("0.00000375"), D("0.000006"))
    assert found.tiers == ()


def test_the_five_minute_write_key_stands_for_the_write_rate():
    found = to_pricing(
        ModelPrice(input_mtok=D("1"), output_mtok=D("2"), cache_write_5m_mtok=D("1.25"))
    )
    assert found is not None
    assert found.cache_write == D("0.00000125")


def test_without_a_prompt_and_completion_rate_there_is_no_price():
    assert to_pricing(ModelPrice(input_mtok=D("1"))) is None
    assert to_pricing(ModelPrice(output_mtok=D("1"))) is None


def tiered(base: str, *tiers: tuple[int, str]) -> TieredPrices:
    return TieredPrices(base=D(base), tiers=[Tier(start=s, price=D(p)) for s, p in tiers])


def test_tiers_apply_above_their_start():
    found = to_pricing(
        ModelPrice(
            input_mtok=tiered("1.25", (200_000, "2.5")),
            output_mtok=tiered("10", (200_000, "15")),
            cache_read_mtok=D("0.125"),
        )
    )
    assert found is not None
    (tier,) = found.tiers
    assert tier.above_prompt_tokens == 200_000
    assert (tier.prompt, tier.completion, tier.cache_read) == (D("0.0000025"), D("0.000015"), None)
    # genai-prices: a tier applies when the input tokens are more than its start
    at = found.rates_for
    assert (at(200_000).prompt, at(200_001).prompt) == (D("0.00000125"), D("0.0000025"))
    assert at(200_001).cache_read == D("0.000000125")  # untiered: the base rate
    # 200,001 x $0.0000025 + 10 x $0.000015, against 200,000 x $0.00000125 + 10 x $0.00001
    assert catalog_cost(found, TokenCounts(prompt=200_001, completion=10)) == D("0.5001525")
    assert catalog_cost(found, TokenCounts(prompt=200_000, completion=10)) == D("0.2501")


def test_tiers_at_different_starts_per_rate():
    found = to_pricing(
        ModelPrice(
            input_mtok=tiered("2", (128_000, "3"), (272_000, "4")),
            output_mtok=tiered("8", (272_000, "12")),
        )
    )
    assert found is not None
    assert [t.above_prompt_tokens for t in found.tiers] == [128_000, 272_000]
    first, second = found.tiers
    assert (first.prompt, first.completion) == (D("0.000003"), None)
    assert (second.prompt, second.completion) == (D("0.000004"), D("0.000012"))


def test_published_prices_of_known_models():
    # genai-prices 0.2.3 (pinned in the dev extra): Claude Sonnet 4.6 at Anthropic
    sonnet = published_pricing("anthropic", "claude-sonnet-4-6")
    assert sonnet is not None
    assert (sonnet.prompt, sonnet.completion, sonnet.cache_write_1h) == (
        D("0.000003"),
        D("0.000015"),
        D("0.000006"),
    )
    pro = published_pricing("google", "gemini-2.5-pro")
    assert pro is not None
    assert [(t.above_prompt_tokens, t.prompt) for t in pro.tiers] == [(200_000, D("0.0000025"))]
    assert published_pricing("anthropic", "claude-mythos-5") is None


def test_without_the_extra_nothing_is_found(monkeypatch):
    monkeypatch.setattr("router.price_book._snapshot", lambda: None)
    assert published_pricing("openai", "gpt-4o") is None


def parse(entry: dict[str, Any], **options: Any) -> ModelCard:
    conf = {"name": "p", "kind": "openai", **options}
    router = Router.from_config({"providers": [conf]})
    models, skipped = router.providers["p"].parse_catalog({"data": [entry]})
    assert skipped == []
    (card,) = models
    return card


GPT_4O = {"prompt_per_mtok": "2", "completion_per_mtok": "8"}


@pytest.mark.parametrize(
    ("entry", "options", "source", "prompt"),
    [
        # genai-prices 0.2.3: gpt-4o at OpenAI, $2.50 per 1M in
        ({"id": "gpt-4o"}, {}, "genai-prices", "0.0000025"),
        # the YAML before genai-prices
        ({"id": "gpt-4o"}, {"model_info": {"gpt-4o": GPT_4O}}, "model_info", "0.000002"),
        ({"id": "gpt-4o"}, {"model_info": {"*": GPT_4O}}, "model_info", "0.000002"),
        # the live catalog before the YAML
        (
            {"id": "gpt-4o", "pricing": {"prompt": "0.000001", "completion": "0.000004"}},
            {"model_info": {"gpt-4o": GPT_4O}},
            "catalog",
            "0.000001",
        ),
        # published prices turned off, or a model no price list knows: unpriced
        ({"id": "gpt-4o"}, {"published_prices": False}, None, None),
        ({"id": "Qwen/Qwen3-8B"}, {}, None, None),
    ],
)
def test_precedence(entry, options, source, prompt):
    card = parse(entry, **options)
    assert card.price_source == source
    assert (card.pricing.prompt if card.pricing else None) == (prompt and D(prompt))


def test_generation_models_are_not_priced_from_the_book():
    card = parse({"id": "text-embedding-3-small"})
    assert (card.kind, card.pricing) == ("generation", None)
