"""The built-in policies and the cost model, as pure units: hand-built cards and requests.

A 4,000-character message is estimated at 1,004 prompt tokens (4 characters a token plus
4 tokens of framing); the expected numbers below are worked out from that.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from policies.capabilities import Capabilities
from policies.cheapest import Cheapest
from policies.context_fit import ContextFit
from policies.max_price import MaxPrice
from router.catalog import ModelCard, PriceTier, Pricing
from router.planning.context import RoutingContext
from router.planning.cost import expected_cost
from router.policy import Policy, Verdict
from router.state.prefix import MemoryPrefixes
from router.types import ChatRequest

D = Decimal
MTOK = D(1_000_000)
PROMPT_4000 = 1004  # estimated tokens of one 4,000-character user message
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def card(model_id: str, **fields: Any) -> ModelCard:
    return ModelCard(provider="p", id=model_id, **fields)


def per_mtok(prompt: str, completion: str, **fields: Any) -> Pricing:
    """Pricing from USD per 1M tokens (written as strings), stored as USD per token."""
    return Pricing(prompt=D(prompt) / MTOK, completion=D(completion) / MTOK, **fields)


def request(chars: int = 4000, **fields: Any) -> ChatRequest:
    return ChatRequest(model="auto", messages=[{"role": "user", "content": "a" * chars}], **fields)


def apply(policy: Policy, req: ChatRequest, cards: list[ModelCard]) -> Verdict:
    """``policy`` on ``cards`` for ``req``, with the plain figures of a fresh context."""
    return policy.apply(req, cards, RoutingContext(req))


def ids(verdict: Verdict) -> list[str]:
    return [c.id for c in verdict.keep]


def test_request_estimate_used_below() -> None:
    assert request().estimated_prompt_tokens == PROMPT_4000


# -- capabilities ---------------------------------------------------------------------------


def test_capabilities_tools_excludes_known_lacking_and_demotes_unknown() -> None:
    cards = [
        card("unknown", supports_tools=None),
        card("no", supports_tools=False),
        card("yes", supports_tools=True),
    ]
    verdict = apply(Capabilities(), request(tools=[TOOL]), cards)
    assert ids(verdict) == ["unknown", "yes"]  # a filter keeps the order it was given
    assert set(verdict.demoted) == {"p:unknown"}  # the router ranks it after the sure ones
    assert set(verdict.excluded) == {"p:no"}
    assert "tools" in verdict.excluded["p:no"]


def test_capabilities_unknown_exclude() -> None:
    cards = [card("unknown"), card("yes", supports_tools=True), card("no", supports_tools=False)]
    verdict = apply(Capabilities(unknown="exclude"), request(tools=[TOOL]), cards)
    assert ids(verdict) == ["yes"]
    assert set(verdict.excluded) == {"p:unknown", "p:no"}
    assert "tools" in verdict.excluded["p:unknown"]
    assert "unknown" in verdict.excluded["p:unknown"]


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_capabilities_structured_output(kind: str) -> None:
    cards = [
        card("unknown"),
        card("no", supports_structured_output=False),
        card("yes", supports_structured_output=True),
    ]
    fmt: dict[str, Any] = {"type": kind}
    if kind == "json_schema":
        fmt["json_schema"] = {"name": "a", "schema": {"type": "object"}}
    verdict = apply(Capabilities(), request(response_format=fmt), cards)
    assert ids(verdict) == ["unknown", "yes"]
    assert verdict.excluded == {"p:no": "no structured output support"}
    assert verdict.demoted == {"p:unknown": "structured output support unknown"}
    text = apply(Capabilities(), request(response_format={"type": "text"}), cards)
    assert ids(text) == ["unknown", "no", "yes"]
    assert not text.excluded
    assert not text.demoted


def test_capabilities_vision_from_image_part() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, IMAGE]}]
    req = ChatRequest(model="auto", messages=messages)
    assert req.needs_vision
    assert not req.needs_tools
    cards = [
        card("unknown"),
        card("blind", supports_vision=False, supports_tools=True),
        card("sees", supports_vision=True, supports_tools=False),
    ]
    verdict = apply(Capabilities(), req, cards)
    assert ids(verdict) == ["unknown", "sees"]
    assert set(verdict.demoted) == {"p:unknown"}
    assert set(verdict.excluded) == {"p:blind"}
    assert "vision" in verdict.excluded["p:blind"]


def test_capabilities_tools_and_vision_both_needed() -> None:
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": [IMAGE]}], tools=[TOOL])
    cards = [
        card("both", supports_tools=True, supports_vision=True),
        card("tools-only", supports_tools=True, supports_vision=False),
        card("vision-only", supports_tools=False, supports_vision=True),
        card("half-known", supports_tools=True),
    ]
    verdict = apply(Capabilities(), req, cards)
    assert ids(verdict) == ["both", "half-known"]
    assert "vision" in verdict.excluded["p:tools-only"]
    assert "tools" in verdict.excluded["p:vision-only"]


def test_capabilities_text_in_a_content_list_needs_no_vision() -> None:
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": [{"type": "text"}]}])
    assert not req.needs_vision


def test_capabilities_no_needs_keeps_everything_in_order() -> None:
    cards = [
        card("c", supports_tools=False, supports_vision=False),
        card("a"),
        card("b", supports_tools=True),
    ]
    verdict = apply(Capabilities(unknown="exclude"), request(tools=[]), cards)
    assert verdict.keep == cards
    assert verdict.excluded == {}


# -- context_fit ----------------------------------------------------------------------------


def test_context_fit_excludes_too_short_with_numbers() -> None:
    need = PROMPT_4000 + 300
    cards = [card("short", context_length=1200), card("exact", context_length=need)]
    verdict = apply(ContextFit(), request(), cards)
    assert ids(verdict) == ["exact"]
    reason = verdict.excluded["p:short"]
    assert "1200" in reason
    assert str(need) in reason


def test_context_fit_unknown_is_demoted_only_above_the_assumed_context() -> None:
    cards = [
        card("unknown"),
        card("big", context_length=128_000),
        card("huge", context_length=10**6),
    ]
    # ~1,004 prompt + 300 output tokens fit the 8,192 every chat model has: not demoted
    small = apply(ContextFit(), request(), cards)
    assert ids(small) == ["unknown", "big", "huge"]
    assert small.demoted == {}
    # 8,192 tokens needed exactly still fits; one more does not
    fits = request(chars=(8192 - 300 - 4) * 4)
    assert fits.estimated_prompt_tokens + 300 == 8192
    assert apply(ContextFit(), fits, cards).demoted == {}
    over = request(chars=(8192 - 300 - 4) * 4 + 1)
    verdict = apply(ContextFit(), over, cards)
    assert ids(verdict) == ["unknown", "big", "huge"]
    assert verdict.demoted == {
        "p:unknown": "context length unknown; ~8193 tokens needed > 8192 assumed"
    }
    assert verdict.excluded == {}
    # the floor is an option
    assert apply(ContextFit(assume_context=1000), request(), cards).demoted == {
        "p:unknown": "context length unknown; ~1304 tokens needed > 1000 assumed"
    }


def test_context_fit_calibration_cannot_loosen_the_limit_below_the_margin() -> None:
    req = request(chars=40_000)  # ~10,004 tokens
    tight = card("tight", context_length=9_300)
    ctx = RoutingContext(req, prefixes=MemoryPrefixes())
    assert ctx.prefixes is not None
    ctx.prefixes.calibrate(tight.ref, estimated=10_000, reported=2_500)  # learned 0.25x
    assert ctx.prompt_tokens(tight) == 2501
    # counted: max(2,501, 10,004 - 1,000) = 9,004 + 300 output > 9,300
    verdict = ContextFit().apply(req, [tight], ctx)
    assert verdict.excluded == {"p:tight": "context 9300 < 9304 needed (~9004 prompt + 300 output)"}


def test_one_expected_output_figure_serves_the_whole_chain() -> None:
    from router.errors import ConfigError
    from router.planning.plan import chain_traits

    traits = chain_traits((("context_fit", ContextFit()), ("cheapest", Cheapest())))
    assert (traits.expected_output, traits.output_source) == (None, "default")
    traits = chain_traits(
        (("context_fit", ContextFit()), ("cheapest", Cheapest(expected_output_tokens=500)))
    )
    assert (traits.expected_output, traits.output_source) == (
        500,
        "cheapest.expected_output_tokens",
    )
    with pytest.raises(ConfigError, match=r"policy\[1\]\.cheapest\.expected_output_tokens: 300"):
        chain_traits(
            (
                ("context_fit", ContextFit(expected_output_tokens=500)),
                ("cheapest", Cheapest(expected_output_tokens=300)),
            )
        )
    # context_fit without its own figure counts the chain's
    req = request()
    ctx = RoutingContext(req, expected_output=5000, output_source="cheapest.expected_output_tokens")
    small = card("small", context_length=6000)
    assert (
        "needed (~1004 prompt + 5000 output)"
        in ContextFit().apply(req, [small], ctx).excluded[small.ref]
    )


def test_context_fit_unknown_exclude() -> None:
    cards = [card("unknown"), card("big", context_length=128_000)]
    verdict = apply(ContextFit(unknown="exclude"), request(chars=40_000), cards)
    assert ids(verdict) == ["big"]
    assert "unknown" in verdict.excluded["p:unknown"]


def test_context_fit_max_tokens_above_output_limit() -> None:
    cards = [
        card("small-out", context_length=10**6, max_output_tokens=1000),
        card("exact-out", context_length=10**6, max_output_tokens=2000),
        card("unknown-out", context_length=10**6),
    ]
    verdict = apply(ContextFit(), request(max_tokens=2000), cards)
    assert ids(verdict) == ["exact-out", "unknown-out"]
    reason = verdict.excluded["p:small-out"]
    assert "2000" in reason
    assert "1000" in reason


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_context_fit_uses_max_tokens_instead_of_expected_output(field: str) -> None:
    mid = card("mid", context_length=2500)
    # expected_output_tokens 300: 1,004 + 300 fits in 2,500
    assert ids(apply(ContextFit(), request(), [mid])) == ["mid"]
    # max_tokens 2,000: 1,004 + 2,000 = 3,004 does not
    verdict = apply(ContextFit(), request(**{field: 2000}), [mid])
    assert verdict.keep == []
    assert "3004" in verdict.excluded["p:mid"]
    # max_tokens 10 below expected_output_tokens 5,000: 1,014 fits in 1,100
    small = card("small", context_length=1100)
    assert apply(ContextFit(expected_output_tokens=5000), request(), [small]).keep == []
    verdict = apply(ContextFit(expected_output_tokens=5000), request(**{field: 10}), [small])
    assert ids(verdict) == ["small"]


# -- max_price ------------------------------------------------------------------------------


def test_max_price_caps_are_per_million_tokens() -> None:
    ds = card("ds", pricing=Pricing(prompt=D("0.000000087"), completion=D("0.000000173")))
    assert apply(MaxPrice(prompt_per_mtok=D("0.09")), request(), [ds]).keep == [ds]
    assert apply(MaxPrice(prompt_per_mtok=D("0.087")), request(), [ds]).keep == [ds]
    verdict = apply(MaxPrice(prompt_per_mtok=D("0.08")), request(), [ds])
    assert verdict.keep == []
    assert "0.087" in verdict.excluded["p:ds"]
    assert "0.08" in verdict.excluded["p:ds"]
    assert apply(MaxPrice(completion_per_mtok=D("0.18")), request(), [ds]).keep == [ds]
    verdict = apply(MaxPrice(completion_per_mtok=D("0.17")), request(), [ds])
    assert verdict.keep == []
    assert "completion" in verdict.excluded["p:ds"]


def test_max_price_both_caps() -> None:
    cards = [
        card("cheap", pricing=per_mtok("0.5", "2")),
        card("pricey-in", pricing=per_mtok("1.5", "2")),
        card("pricey-out", pricing=per_mtok("0.5", "4")),
    ]
    verdict = apply(MaxPrice(prompt_per_mtok=D(1), completion_per_mtok=D(3)), request(), cards)
    assert ids(verdict) == ["cheap"]
    assert set(verdict.excluded) == {"p:pricey-in", "p:pricey-out"}


def test_max_price_excludes_unpriced() -> None:
    cards = [card("free", pricing=per_mtok("0", "0")), card("unpriced")]
    verdict = apply(MaxPrice(prompt_per_mtok=D(1)), request(), cards)
    assert ids(verdict) == ["free"]
    assert "price" in verdict.excluded["p:unpriced"]


def test_max_price_without_caps_keeps_everything() -> None:
    cards = [card("unpriced"), card("pricey", pricing=per_mtok("100", "100"))]
    verdict = apply(MaxPrice(), request(), cards)
    assert verdict.keep == cards
    assert verdict.excluded == {}


def test_max_price_uses_tier_rates_above_threshold() -> None:
    tier = PriceTier(name="over_200k", above_prompt_tokens=200_000, prompt=D(2) / MTOK)
    tiered = card("tiered", pricing=per_mtok("1", "1", tiers=(tier,)))
    policy = MaxPrice(prompt_per_mtok=D("1.5"))
    assert apply(policy, request(), [tiered]).keep == [tiered]
    long_request = request(chars=1_000_000)
    assert long_request.estimated_prompt_tokens > 200_000
    verdict = apply(policy, long_request, [tiered])
    assert verdict.keep == []
    assert "$2/1M" in verdict.excluded["p:tiered"]


# -- cheapest -------------------------------------------------------------------------------

# cheap-in: $1/1M in, $10/1M out; cheap-out: $3/1M in, $2/1M out. With a 1,004-token prompt
# cheap-in costs 1004 + 10*out and cheap-out 3012 + 2*out (micro-USD): cheap-in wins below
# 251 output tokens and loses above.
CHEAP_IN = card("cheap-in", pricing=per_mtok("1", "10"))
CHEAP_OUT = card("cheap-out", pricing=per_mtok("3", "2"))


@pytest.mark.parametrize(
    ("expected_output", "first"), [(10, "cheap-in"), (250, "cheap-in"), (252, "cheap-out")]
)
@pytest.mark.parametrize("order", [(CHEAP_IN, CHEAP_OUT), (CHEAP_OUT, CHEAP_IN)])
def test_cheapest_orders_by_expected_cost(
    expected_output: int, first: str, order: tuple[ModelCard, ModelCard]
) -> None:
    verdict = apply(Cheapest(expected_output_tokens=expected_output), request(), list(order))
    assert ids(verdict)[0] == first
    assert len(verdict.keep) == 2
    assert verdict.excluded == {}


def test_cheapest_counts_the_prompt() -> None:
    # 300 output tokens: cheap-in costs P + 3000, cheap-out 3P + 600 (micro-USD); a long
    # prompt (P > 1,200) makes the input price decide.
    policy = Cheapest(expected_output_tokens=300)
    assert ids(apply(policy, request(chars=400), [CHEAP_IN, CHEAP_OUT]))[0] == "cheap-out"
    assert ids(apply(policy, request(chars=8000), [CHEAP_OUT, CHEAP_IN]))[0] == "cheap-in"


def test_cheapest_unpriced_last_in_order() -> None:
    cards = [card("u1"), CHEAP_OUT, card("u2"), CHEAP_IN]
    verdict = apply(Cheapest(expected_output_tokens=10), request(), cards)
    assert ids(verdict) == ["cheap-in", "cheap-out", "u1", "u2"]


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_cheapest_max_tokens_caps_expected_output(field: str) -> None:
    policy = Cheapest(expected_output_tokens=1000)
    assert ids(apply(policy, request(), [CHEAP_IN, CHEAP_OUT]))[0] == "cheap-out"
    capped = request(**{field: 10})
    assert policy.output_tokens(capped, RoutingContext(capped)) == 10
    assert ids(apply(policy, capped, [CHEAP_OUT, CHEAP_IN]))[0] == "cheap-in"
    # a cap above the expectation does not raise it
    wide = request(**{field: 5000})
    assert policy.output_tokens(wide, RoutingContext(wide)) == 1000
    # without its own figure, the chain's (the context's), capped likewise
    assert Cheapest().output_tokens(capped, RoutingContext(capped, expected_output=700)) == 10
    assert Cheapest().output_tokens(wide, RoutingContext(wide, expected_output=700)) == 700


def test_cheapest_uses_tier_rates_for_long_prompts() -> None:
    tier = PriceTier(name="over_200k", above_prompt_tokens=200_000, prompt=D(10) / MTOK)
    tiered = card("tiered", pricing=per_mtok("1", "1", tiers=(tier,)))
    flat = card("flat", pricing=per_mtok("2", "1"))
    assert ids(apply(Cheapest(), request(), [flat, tiered])) == ["tiered", "flat"]
    assert ids(apply(Cheapest(), request(chars=1_000_000), [tiered, flat])) == ["flat", "tiered"]


# -- expected_cost --------------------------------------------------------------------------

BASE = Pricing(prompt=D("0.000001"), completion=D("0.000002"), cache_read=D("0.0000001"))
NO_CACHE_RATE = Pricing(prompt=D("0.000001"), completion=D("0.000002"))
TIERED = Pricing(
    prompt=D("0.000001"),
    completion=D("0.000002"),
    cache_read=D("0.0000001"),
    tiers=(
        PriceTier(
            name="over_200k",
            above_prompt_tokens=200_000,
            prompt=D("0.000002"),
            completion=D("0.000003"),
        ),
    ),
)


@pytest.mark.parametrize(
    ("pricing", "prompt", "output", "cached", "expected"),
    [
        # 1000 x 0.000001 + 500 x 0.000002
        (BASE, 1000, 500, 0, "0.002"),
        (BASE, 0, 0, 0, "0"),
        # 800 x 0.000001 + 200 x 0.0000001 + 500 x 0.000002
        (BASE, 1000, 500, 200, "0.00182"),
        # no cache-read rate: cached tokens at the prompt rate
        (NO_CACHE_RATE, 1000, 500, 200, "0.002"),
        # cached capped at the prompt; negative cached counts as none
        (BASE, 1000, 0, 5000, "0.0001"),
        (BASE, 1000, 0, -5, "0.001"),
        # exactly at the threshold: base rates; 200,000 x 0.000001 + 1000 x 0.000002
        (TIERED, 200_000, 1000, 0, "0.202"),
        # one above: tier rates; 200,001 x 0.000002 + 1000 x 0.000003
        (TIERED, 200_001, 1000, 0, "0.403002"),
        # the tier states no cache rate: the base cache rate applies
        # 200,000 x 0.000002 + 1 x 0.0000001
        (TIERED, 200_001, 0, 1, "0.4000001"),
    ],
)
def test_expected_cost_exact(
    pricing: Pricing, prompt: int, output: int, cached: int, expected: str
) -> None:
    cost = expected_cost(pricing, prompt, output, cached)
    assert isinstance(cost, Decimal)
    assert cost == D(expected)


def test_expected_cost_keeps_sub_float_precision() -> None:
    pricing = Pricing(prompt=D("0.000000087"), completion=D("0.000000173"))
    assert expected_cost(pricing, 3, 7) == D("0.000001472")


def test_rates_for_picks_the_highest_tier_exceeded() -> None:
    pricing = per_mtok(
        "1",
        "2",
        tiers=(
            PriceTier(name="over_128k", above_prompt_tokens=128_000, prompt=D(3) / MTOK),
            PriceTier(name="over_200k", above_prompt_tokens=200_000, prompt=D(5) / MTOK),
        ),
    )
    assert pricing.rates_for(128_000).prompt == D(1) / MTOK
    assert pricing.rates_for(128_001).prompt == D(3) / MTOK
    assert pricing.rates_for(200_001).prompt == D(5) / MTOK
    assert pricing.rates_for(200_001).completion == D(2) / MTOK


# -- estimated_prompt_tokens ----------------------------------------------------------------


def test_estimate_is_a_positive_int() -> None:
    for req in (request(chars=0), request(chars=1), request()):
        tokens = req.estimated_prompt_tokens
        assert isinstance(tokens, int)
        assert tokens > 0


def test_estimate_grows_with_text() -> None:
    sizes = [request(chars=n).estimated_prompt_tokens for n in (0, 400, 4000, 40_000)]
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == len(sizes)
    two = ChatRequest(
        model="auto",
        messages=[{"role": "system", "content": "a" * 4000}, {"role": "user", "content": "a"}],
    )
    assert two.estimated_prompt_tokens > request().estimated_prompt_tokens


def test_estimate_counts_text_parts() -> None:
    parts = ChatRequest(
        model="auto", messages=[{"role": "user", "content": [{"type": "text", "text": "a" * 4000}]}]
    )
    assert parts.estimated_prompt_tokens == request().estimated_prompt_tokens


def test_estimate_counts_images() -> None:
    def with_images(n: int) -> int:
        content = [{"type": "text", "text": "describe"}, *([IMAGE] * n)]
        return ChatRequest(
            model="auto", messages=[{"role": "user", "content": content}]
        ).estimated_prompt_tokens

    none, one, two = with_images(0), with_images(1), with_images(2)
    assert one > none + 100  # an image is hundreds of tokens, not a few characters
    assert two - one == one - none


def test_estimate_counts_tools_and_tool_calls() -> None:
    plain = request()
    with_tools = request(tools=[TOOL])
    assert with_tools.estimated_prompt_tokens > plain.estimated_prompt_tokens
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "a" * 4000},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    bare = [{"role": "user", "content": "a" * 4000}, {"role": "assistant", "content": None}]
    assert (
        ChatRequest(model="auto", messages=messages).estimated_prompt_tokens
        > ChatRequest(model="auto", messages=bare).estimated_prompt_tokens
    )


def test_a_requests_expected_output_replaces_the_policies_own() -> None:
    # router={"expected_output_tokens": 500}: the planner builds the context with it.
    req = request()
    short = card("short", context_length=1100, pricing=per_mtok("1", "2"))
    own = RoutingContext(req)
    asked = RoutingContext(req, expected_output=500, output_from_request=True)
    fit = ContextFit(expected_output_tokens=50)
    assert fit.judge(req, short, own) is None  # 1004 + 50 fits 1100
    assert fit.judge(req, short, asked) == (
        "exclude",
        "context 1100 < 1504 needed (~1004 prompt + 500 output)",
    )
    cheapest = Cheapest(expected_output_tokens=50)
    assert cheapest.rank(req, short, own) == (1004 * D(1) + 50 * D(2)) / MTOK
    assert cheapest.rank(req, short, asked) == (1004 * D(1) + 500 * D(2)) / MTOK
    assert cheapest.rank_floor(req, asked) == (1004, 500.0)
