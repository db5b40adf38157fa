"""The plugin's own test: registered through the router's hooks, applied to a request."""

from __future__ import annotations

from decimal import Decimal

import pytest
import router_budget

from router import ChatRequest, ConfigError, ModelCard, Pricing, Router, RoutingContext

CONFIG = {
    "providers": [{"name": "p", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}],
    "policy": [{"budget": {"max_usd": "0.001"}}, "cheapest"],
}


def card(ref_id: str, per_mtok: str) -> ModelCard:
    rate = Decimal(per_mtok) / 1_000_000
    return ModelCard(provider="p", id=ref_id, pricing=Pricing(prompt=rate, completion=rate))


def test_registers_and_validates_its_options():
    r = Router.from_config(CONFIG, plugins=[router_budget])
    assert [name for name, _ in r.policies] == ["budget", "cheapest"]
    bad = {**CONFIG, "policy": [{"budget": {"max_usd": -1}}]}
    with pytest.raises(ConfigError, match=r"policy\[0\]\.budget\.max_usd"):
        Router.from_config(bad, plugins=[router_budget])


def test_excludes_what_would_cost_more_than_the_budget():
    request = ChatRequest(
        model="auto", messages=[{"role": "user", "content": "x" * 4000}], max_tokens=100
    )
    # ~1,004 prompt + 100 output tokens: $1/1M -> ~$0.0011 (over); $0.5/1M -> ~$0.00055
    cards = [card("pricey", "1"), card("cheap", "0.5"), ModelCard(provider="p", id="free?")]
    verdict = router_budget.Budget(max_usd=Decimal("0.001")).apply(
        request, cards, RoutingContext(request)
    )
    assert [c.id for c in verdict.keep] == ["cheap"]
    assert verdict.excluded["p:pricey"].startswith("expected $0.0011")
    assert verdict.excluded["p:free?"] == "no published price"


def test_a_large_catalog_is_shortlisted_with_it_as_with_the_built_ins():
    # judge_traits makes it a filter the router may ask about only the cards it needs
    assert Router.from_config(CONFIG, plugins=[router_budget]).traits.shortlisted
