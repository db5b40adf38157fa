"""A context length a catalog does not state, filled from the same model at another provider.

Pure units: hand-built catalogs (nothing fetched). The index of context lengths
(:class:`KnownLengths`), its per-refresh cache (:class:`LengthBook`), what the request's
context lends (:meth:`RoutingContext.context_length`), ``context_fit`` judging by a lent
figure, and the route saying where the figure came from.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from policies.context_fit import ContextFit
from router import Router
from router.catalog import Catalog, ModelCard, PriceTier, Pricing
from router.errors import ConfigError
from router.planning.context import RoutingContext
from router.planning.lengths import ContextLength, KnownLengths, LengthBook
from router.types import ChatRequest

D = Decimal
PRICE = Pricing(prompt=D("0.000003"), completion=D("0.000015"))


def card(provider: str, model_id: str, context: int | None = None, **fields: Any) -> ModelCard:
    return ModelCard(
        provider=provider, id=model_id, context_length=context, pricing=PRICE, **fields
    )


def request(chars: int, **fields: Any) -> ChatRequest:
    """One user message: ``chars / 4 + 4`` estimated prompt tokens."""
    return ChatRequest(model="auto", messages=[{"role": "user", "content": "a" * chars}], **fields)


PIPE = card("pipe", "claude-sonnet-4-6")  # states no context length, as PipeLLM
OPENROUTER = Catalog(
    "or",
    (
        card("or", "anthropic/claude-sonnet-4.6", 1_000_000),
        card("or", "openai/gpt-5-mini", 400_000),
    ),
)
MAJESTIX = Catalog(
    "mx",
    (
        card("mx", "claude-sonnet-4.6", 200_000),
        card("mx", "Claude-Sonnet-4.6", 200_000),  # the same figure again: the first wins
        card("mx", "gpt-5-mini", 400_000),
    ),
)


# -- the index --------------------------------------------------------------------------


def test_the_smallest_stated_figure_per_canonical_name_with_its_source() -> None:
    known = KnownLengths([OPENROUTER, MAJESTIX])
    assert known.get("claude-sonnet-4-6") == ContextLength(200_000, "mx:claude-sonnet-4.6")
    # equal figures: the first in the order given (provider order, then catalog order)
    assert known.get("gpt-5-mini") == ContextLength(400_000, "or:openai/gpt-5-mini")
    assert KnownLengths([MAJESTIX, OPENROUTER]).get("gpt-5-mini") == ContextLength(
        400_000, "mx:gpt-5-mini"
    )
    assert known.get("claude-opus-4-6") is None
    assert len(known) == 2


def test_cards_without_a_figure_and_generation_models_lend_nothing() -> None:
    catalog = Catalog(
        "x",
        (
            card("x", "claude-sonnet-4-6"),  # unknown: nothing to lend
            card("x", "sora-2", 32_000, kind="generation"),
        ),
    )
    other = Catalog("y", (card("y", "sora-2"),))
    known = KnownLengths([catalog, other])
    assert known.get("claude-sonnet-4-6") is None
    assert known.get("sora-2") is None
    assert len(known) == 0


def test_a_figure_the_cards_own_catalog_contradicts_is_not_lent() -> None:
    known = KnownLengths([OPENROUTER, MAJESTIX])
    assert known.get("claude-sonnet-4-6", above=200_000) == ContextLength(
        1_000_000, "or:anthropic/claude-sonnet-4.6"
    )
    assert known.get("claude-sonnet-4-6", above=1_000_000) is None
    assert known.lend(PIPE) == ContextLength(200_000, "mx:claude-sonnet-4.6")

    def tiered(above: int) -> ModelCard:
        tier = PriceTier(name="over", above_prompt_tokens=above, prompt=D("0.000006"))
        pricing = Pricing(prompt=D("0.000003"), completion=D("0.000015"), tiers=(tier,))
        return ModelCard(provider="pipe", id="claude-sonnet-4-6", pricing=pricing)

    # PipeLLM's over_200k: it takes prompts over 200,000 tokens, so mx's 200,000 is
    # another provider's window; OpenRouter's 1,000,000 is not contradicted
    assert known.lend(tiered(200_000)) == ContextLength(1_000_000, "or:anthropic/claude-sonnet-4.6")
    assert known.lend(tiered(199_999)) == ContextLength(200_000, "mx:claude-sonnet-4.6")
    assert known.lend(tiered(1_000_000)) is None  # every figure contradicted: none lent
    ctx = RoutingContext(request(40), lengths=lambda: known)
    assert ctx.context_length(tiered(200_000)) == ContextLength(
        1_000_000, "or:anthropic/claude-sonnet-4.6"
    )


def test_context_length_describes_its_source() -> None:
    assert ContextLength(200_000).describe() == "200,000"
    assert not ContextLength(200_000).borrowed
    lent = ContextLength(1_000_000, "or:anthropic/claude-sonnet-4.6")
    assert lent.borrowed
    assert lent.describe() == "1,000,000 (from or:anthropic/claude-sonnet-4.6)"


# -- built once per refresh ----------------------------------------------------------------


def test_the_book_rebuilds_only_when_a_catalog_is_refreshed() -> None:
    held: dict[str, Catalog | None] = {"or": OPENROUTER, "mx": MAJESTIX, "pipe": None}
    book = LengthBook(lambda: held)
    first = book.current()
    assert first.get("claude-sonnet-4-6") == ContextLength(200_000, "mx:claude-sonnet-4.6")
    assert book.current() is first  # nothing refreshed: the same index, not rebuilt
    assert book.current({"or": OPENROUTER}) is first  # a request's copy of a held catalog
    # a refresh is a new Catalog object: a new index, even with the same content
    held["mx"] = Catalog("mx", MAJESTIX.models[2:])
    second = book.current()
    assert second is not first
    assert second.get("claude-sonnet-4-6") == ContextLength(
        1_000_000, "or:anthropic/claude-sonnet-4.6"
    )
    assert book.current() is second


def test_the_book_adds_a_request_catalog_its_provider_does_not_hold() -> None:
    book = LengthBook(lambda: {"or": None})
    assert len(book.current()) == 0
    loaded = book.current({"or": OPENROUTER, "failed": ConfigError("x", "not a catalog")})
    assert loaded.get("claude-sonnet-4-6") == ContextLength(
        1_000_000, "or:anthropic/claude-sonnet-4.6"
    )
    assert len(LengthBook().current({"mx": MAJESTIX})) == 2  # no held catalogs at all


# -- what the request's context lends ----------------------------------------------------


def test_the_context_lends_a_figure_and_records_it() -> None:
    known = KnownLengths([OPENROUTER, MAJESTIX])
    calls: list[int] = []

    def lengths() -> KnownLengths:
        calls.append(1)
        return known

    ctx = RoutingContext(request(40), lengths=lengths)
    stated = OPENROUTER.models[0]
    assert ctx.context_length(stated) == ContextLength(1_000_000, None)
    assert calls == []  # a stated figure asks for no index
    assert ctx.context_length(PIPE, borrow=False) is None
    assert ctx.borrowed == {}
    assert ctx.context_length(PIPE) == ContextLength(200_000, "mx:claude-sonnet-4.6")
    assert ctx.context_length(card("pipe", "gpt-5-mini")) == ContextLength(
        400_000, "or:openai/gpt-5-mini"
    )
    assert ctx.context_length(card("pipe", "gemini-3-flash")) is None
    assert calls == [1]  # looked up once per request
    assert ctx.borrowed == {
        "pipe:claude-sonnet-4-6": ContextLength(200_000, "mx:claude-sonnet-4.6"),
        "pipe:gpt-5-mini": ContextLength(400_000, "or:openai/gpt-5-mini"),
    }
    # outside a router (no index): plain, nothing lent
    assert RoutingContext(request(40)).context_length(PIPE) is None


# -- context_fit -------------------------------------------------------------------------------


def judge(policy: ContextFit, req: ChatRequest, target: ModelCard) -> Any:
    ctx = RoutingContext(req, lengths=lambda: KnownLengths([OPENROUTER, MAJESTIX]))
    return policy.judge(req, target, ctx), ctx


def test_a_lent_figure_is_a_hard_limit_and_the_reason_names_its_source() -> None:
    # 800,000 chars: 200,004 prompt tokens + 300 output > 200,000 lent by mx
    too_long = request(800_000)
    verdict, ctx = judge(ContextFit(), too_long, PIPE)
    assert verdict == (
        "exclude",
        "context 200000 (from mx:claude-sonnet-4.6; pipe states none)"
        " < 200304 needed (~200004 prompt + 300 output)",
    )
    assert ctx.borrowed == {
        "pipe:claude-sonnet-4-6": ContextLength(200_000, "mx:claude-sonnet-4.6")
    }
    # exactly the lent figure still fits: 199,700 prompt + 300 output
    fits = request((199_700 - 4) * 4)
    assert fits.estimated_prompt_tokens == 199_700
    assert judge(ContextFit(), fits, PIPE)[0] is None
    # one token over does not
    over = request((199_700 - 4) * 4 + 1)
    assert judge(ContextFit(), over, PIPE)[0] == (
        "exclude",
        "context 200000 (from mx:claude-sonnet-4.6; pipe states none)"
        " < 200001 needed (~199701 prompt + 300 output)",
    )


def test_a_lent_figure_keeps_a_long_request_that_the_floor_would_demote() -> None:
    long = request(80_000)  # 20,004 prompt tokens: above the 8,192 assumed
    verdict, ctx = judge(ContextFit(), long, PIPE)
    assert verdict is None  # 200,000 lent: fits, ranked as a known one
    assert ctx.borrowed["pipe:claude-sonnet-4-6"].source == "mx:claude-sonnet-4.6"
    # a model no other catalog states: judged by the floor, as before
    verdict, ctx = judge(ContextFit(), long, card("pipe", "gemini-3-flash"))
    assert verdict == (
        "demote",
        "context length unknown; ~20304 tokens needed > 8192 assumed",
    )
    assert ctx.borrowed == {}


def test_borrow_context_false_judges_by_the_floor_alone() -> None:
    policy = ContextFit(borrow_context=False)
    verdict, ctx = judge(policy, request(800_000), PIPE)
    assert verdict == (
        "demote",
        "context length unknown; ~200304 tokens needed > 8192 assumed",
    )
    assert ctx.borrowed == {}  # nothing asked for, nothing shown
    assert judge(policy, request(40), PIPE)[0] is None


def test_a_stated_figure_wins_over_a_smaller_one_elsewhere() -> None:
    # OpenRouter states 1,000,000 for its own card: mx's 200,000 is not its figure
    stated = OPENROUTER.models[0]
    verdict, ctx = judge(ContextFit(), request(800_000), stated)
    assert verdict is None
    assert ctx.borrowed == {}


def test_the_option_is_in_the_yaml_and_checked() -> None:
    assert ContextFit().borrow_context is True
    with pytest.raises(ConfigError, match=r"policy\[0\]\.context_fit\.borrow_context"):
        Router.from_config(
            {
                "providers": [{"name": "p", "kind": "openai", "base_url": "http://127.0.0.1:9"}],
                "policy": [{"context_fit": {"borrow_context": "sometimes"}}],
            },
            entry_points=False,
        )


# -- the route says where the figure came from ---------------------------------------------


def router_for(policy: list[Any]) -> Router:
    conf = {
        "providers": [
            {"name": name, "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
            for name in ("pipe", "or", "mx")
        ],
        "models": {"sonnet": ["pipe:claude-sonnet-4-6", "or:anthropic/claude-sonnet-4.6"]},
        "policy": policy,
    }
    return Router.from_config(conf, entry_points=False)


def held(router: Router, catalogs: dict[str, Catalog]) -> None:
    """What the router's providers hold, as if fetched (no network)."""
    router.planner.lengths = LengthBook(lambda: catalogs)


CHAIN: list[Any] = [{"context_fit": {}}, {"cheapest": {}}]


def test_the_route_shows_a_lent_figure_and_an_exclusion_names_it() -> None:
    router = router_for(CHAIN)
    pipe = Catalog("pipe", (PIPE,))
    held(router, {"pipe": pipe, "or": OPENROUTER, "mx": MAJESTIX})
    catalogs = {"pipe": pipe, "or": OPENROUTER}  # the group's; mx only held

    short = ChatRequest(model="sonnet", messages=[{"role": "user", "content": "Hi there"}])
    route, cards, _ = router.planner.plan(short, catalogs)
    assert [c.ref for c in cards] == ["pipe:claude-sonnet-4-6", "or:anthropic/claude-sonnet-4.6"]
    first, second = route.candidates
    assert (first.context_length, first.context_from) == (200_000, "mx:claude-sonnet-4.6")
    assert (second.context_length, second.context_from) == (None, None)  # its own figure
    text = str(route)
    assert (
        "  1. pipe:claude-sonnet-4-6  ~6 prompt + 300 output tokens  est. $0.004518"
        "  context 200,000 (from mx:claude-sonnet-4.6)"
    ) in text
    assert (
        "  2. or:anthropic/claude-sonnet-4.6  ~6 prompt + 300 output tokens  est. $0.004518\n"
        in (text + "\n")
    )
    row = route.to_dict()["candidates"][0]
    assert (row["context_length"], row["context_from"]) == (200_000, "mx:claude-sonnet-4.6")
    assert route.to_dict()["candidates"][1]["context_from"] is None

    long = ChatRequest(model="sonnet", messages=[{"role": "user", "content": "a" * 800_000}])
    route, cards, _ = router.planner.plan(long, catalogs)
    assert [c.ref for c in cards] == ["or:anthropic/claude-sonnet-4.6"]
    (excluded,) = route.excluded
    assert (excluded.ref, excluded.policy) == ("pipe:claude-sonnet-4-6", "context_fit")
    assert excluded.reason == (
        "context 200000 (from mx:claude-sonnet-4.6; pipe states none)"
        " < 200304 needed (~200004 prompt + 300 output)"
    )


def test_without_borrowing_the_route_shows_no_lent_figure() -> None:
    router = router_for([{"context_fit": {"borrow_context": False}}, {"cheapest": {}}])
    pipe = Catalog("pipe", (PIPE,))
    held(router, {"pipe": pipe, "or": OPENROUTER, "mx": MAJESTIX})
    long = ChatRequest(model="sonnet", messages=[{"role": "user", "content": "a" * 80_000}])
    route, cards, _ = router.planner.plan(long, {"pipe": pipe, "or": OPENROUTER})
    # demoted by the floor: after the stated one, whatever the price
    assert [c.ref for c in cards] == ["or:anthropic/claude-sonnet-4.6", "pipe:claude-sonnet-4-6"]
    assert route.candidates[1].context_from is None
    assert route.candidates[1].unsure == (
        "[context_fit] context length unknown; ~20304 tokens needed > 8192 assumed",
    )
    assert "(from " not in str(route)


def test_a_router_lends_from_what_its_providers_hold_and_fetches_nothing() -> None:
    router = router_for(CHAIN)
    # nothing fetched yet: every provider holds nothing, so nothing is lent
    assert len(router.planner.lengths.current()) == 0
    assert [p.catalog.last for p in router.providers.values()] == [None, None, None]
