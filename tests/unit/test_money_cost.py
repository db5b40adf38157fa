"""The cost model and the money policies, asserted as exact Decimal amounts (issue 21).

Each test pins a figure a mutation of ``router/planning/cost.py``, ``Pricing.rates_for``
or the ``cheapest``/``max_price``/``context_fit`` policies would change: a sign, a
boundary (``>`` for ``>=``), a default, a rate that falls back to another. The expected
amounts are worked out by hand in the comments; orderings alone would let a price 9x too
high through.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from policies.cheapest import Cheapest
from policies.context_fit import CALIBRATION_MARGIN, ContextFit
from policies.max_price import MaxPrice
from router.catalog import ModelCard, PriceTier, Pricing, Rates
from router.completion import TokenCounts
from router.planning.context import RoutingContext
from router.planning.cost import (
    catalog_cost,
    expected_cost,
    request_cost,
    reuse_value,
    usage_cost,
    write_rate,
)
from router.policy import CardTraits
from router.state.prefix import CacheOutlook, CacheRule, MemoryPrefixes
from router.types import ChatRequest

D = Decimal
PROMPT_4000 = 1004  # estimated prompt tokens of one 4,000-character user message

# Anthropic-style rates, USD per token: $3 / $15 per 1M, cache read $0.30, write $3.75
SONNET = Pricing(
    prompt=D("0.000003"),
    completion=D("0.000015"),
    cache_read=D("0.0000003"),
    cache_write=D("0.00000375"),
)
# the same, with a tier above 200,000 prompt tokens that states every rate
TIERED = SONNET.model_copy(
    update={
        "tiers": (
            PriceTier(
                name="over_200k",
                above_prompt_tokens=200_000,
                prompt=D("0.000006"),
                completion=D("0.0000225"),
                cache_read=D("0.0000006"),
                cache_write=D("0.0000075"),
                cache_write_1h=D("0.000012"),
            ),
        )
    }
)
NO_CACHE_RATES = Pricing(prompt=D("0.000002"), completion=D("0.000008"))


def card(model_id: str = "m", **fields: Any) -> ModelCard:
    return ModelCard(provider="p", id=model_id, **fields)


def request(chars: int = 4000, **fields: Any) -> ChatRequest:
    return ChatRequest(model="auto", messages=[{"role": "user", "content": "a" * chars}], **fields)


class Context(RoutingContext):
    """A routing context with a fixed prompt size and cache outlook for every card."""

    def __init__(
        self,
        prompt: int,
        outlook: CacheOutlook | None = None,
        req: ChatRequest | None = None,
        **options: Any,
    ) -> None:
        super().__init__(req or request(), **options)
        self.fixed_prompt = prompt
        self.outlook = outlook

    def prompt_tokens(self, card: ModelCard) -> int:
        return self.fixed_prompt

    def cache_outlook(self, card: ModelCard) -> CacheOutlook | None:
        return self.outlook


AUTOMATIC = CacheRule(mode="automatic")  # min 1,024 tokens, steps of 128
EXPLICIT = CacheRule(mode="explicit")


# -- Pricing.rates_for --------------------------------------------------------------------


def test_rates_for_is_the_base_up_to_and_at_the_threshold() -> None:
    assert TIERED.rates_for(0) is TIERED
    assert TIERED.rates_for(200_000) is TIERED  # "above" 200k: 200,000 itself is base


def test_rates_for_one_token_above_the_threshold_is_the_tier_in_every_rate() -> None:
    assert TIERED.rates_for(200_001) == Rates(
        prompt=D("0.000006"),
        completion=D("0.0000225"),
        cache_read=D("0.0000006"),
        cache_write=D("0.0000075"),
        cache_write_1h=D("0.000012"),
    )


def test_rates_for_takes_the_highest_tier_exceeded_and_base_for_each_rate_it_omits() -> None:
    pricing = Pricing(
        prompt=D(1),
        completion=D(2),
        cache_read=D(3),
        cache_write=D(4),
        cache_write_1h=D(5),
        tiers=(
            PriceTier(name="a", above_prompt_tokens=10, prompt=D(10), cache_write_1h=D(50)),
            PriceTier(name="b", above_prompt_tokens=20, completion=D(20), cache_read=D(30)),
        ),
    )
    assert pricing.rates_for(15) == Rates(
        prompt=D(10), completion=D(2), cache_read=D(3), cache_write=D(4), cache_write_1h=D(50)
    )
    assert pricing.rates_for(21) == Rates(
        prompt=D(1), completion=D(20), cache_read=D(30), cache_write=D(4), cache_write_1h=D(5)
    )


# -- expected_cost ------------------------------------------------------------------------


def test_expected_cost_without_cached_tokens_bills_every_prompt_token_in_full() -> None:
    # 1,000 x $0.000003 + 100 x $0.000015 = $0.003 + $0.0015
    assert expected_cost(SONNET, 1000, 100) == D("0.0045")


def test_expected_cost_bills_cached_tokens_at_the_cache_read_rate() -> None:
    # 600 x $0.000003 + 400 x $0.0000003 + 100 x $0.000015 = 0.0018 + 0.00012 + 0.0015
    assert expected_cost(SONNET, 1000, 100, 400) == D("0.00342")


def test_expected_cost_clamps_cached_tokens_to_the_prompt_and_to_zero() -> None:
    # all 1,000 cached: 1,000 x 0.0000003 + 100 x 0.000015
    assert expected_cost(SONNET, 1000, 100, 5000) == D("0.0018")
    assert expected_cost(SONNET, 1000, 100, -50) == D("0.0045")


def test_expected_cost_without_a_cache_rate_bills_cached_tokens_as_prompt() -> None:
    # 1,000 x $0.000002 + 10 x $0.000008
    assert expected_cost(NO_CACHE_RATES, 1000, 10, 400) == D("0.00208")


def test_expected_cost_uses_the_tier_of_the_prompt_size() -> None:
    # 200,001 x 0.000006 + 1,000 x 0.0000225, of which 1 cached at 0.0000006
    assert expected_cost(TIERED, 200_001, 1000) == D("1.2000060") + D("0.0225")
    assert expected_cost(TIERED, 200_001, 1000, 1) == D("1.2000000") + D("0.0000006") + D("0.0225")


# -- usage_cost -----------------------------------------------------------------------------


def test_usage_cost_prefers_the_stated_bill_even_of_zero() -> None:
    stated = TokenCounts(prompt=1000, completion=100, billed_usd=D(0))
    assert usage_cost(SONNET, stated) == D(0)
    assert usage_cost(None, stated) == D(0)
    assert usage_cost(None, TokenCounts(prompt=1000, completion=100)) is None


def test_usage_cost_bills_reads_and_writes_at_their_rates() -> None:
    counts = TokenCounts(prompt=1000, completion=100, cache_read=300, cache_write=200)
    # 500 x 0.000003 + 300 x 0.0000003 + 200 x 0.00000375 + 100 x 0.000015
    assert usage_cost(SONNET, counts) == D("0.0015") + D("0.00009") + D("0.00075") + D("0.0015")


def test_usage_cost_clamps_reads_and_writes_that_exceed_the_prompt() -> None:
    # 800 read, then only 200 of the 500 written fit: 0 uncached
    counts = TokenCounts(prompt=1000, completion=0, cache_read=800, cache_write=500)
    assert usage_cost(SONNET, counts) == D("0.00024") + D("0.00075")
    # reads beyond the prompt: all 1,000 at the read rate
    counts = TokenCounts(prompt=1000, completion=0, cache_read=1500)
    assert usage_cost(SONNET, counts) == D("0.0003")


def test_usage_cost_bills_unpriced_cache_tokens_at_the_prompt_rate() -> None:
    counts = TokenCounts(prompt=1000, completion=10, cache_read=300, cache_write=200)
    # everything at $0.000002 per prompt token + 10 x $0.000008
    assert usage_cost(NO_CACHE_RATES, counts) == D("0.00208")


def test_usage_cost_uses_the_tier_of_the_whole_prompt() -> None:
    counts = TokenCounts(prompt=200_001, completion=0, cache_read=1, cache_write=1)
    # 199,999 x 0.000006 + 1 x 0.0000006 + 1 x 0.0000075
    assert usage_cost(TIERED, counts) == D("1.199994") + D("0.0000006") + D("0.0000075")


# one-hour cache writes (Anthropic's 2x rate), and the router's breakpoint write rate
HOUR = SONNET.model_copy(update={"cache_write_1h": D("0.000006")})
ONE_HOUR = CacheRule(mode="explicit", lifetime=3600)


def test_catalog_cost_bills_one_hour_writes_at_the_one_hour_rate() -> None:
    counts = TokenCounts(prompt=1000, completion=0, cache_write=300, cache_write_1h=100)
    # 700 x 0.000003 + 200 x 0.00000375 + 100 x 0.000006
    assert catalog_cost(HOUR, counts) == D("0.0021") + D("0.00075") + D("0.0006")
    # no one-hour rate: the write rate; no write rate either: the prompt rate
    assert catalog_cost(SONNET, counts) == D("0.0021") + D("0.001125")
    assert catalog_cost(NO_CACHE_RATES, counts) == D("0.002")


def test_catalog_cost_caps_one_hour_writes_by_the_writes() -> None:
    # 500 writes stated but only 200 fit after 800 reads; 1-hour writes capped at those 200
    counts = TokenCounts(
        prompt=1000, completion=0, cache_read=800, cache_write=500, cache_write_1h=400
    )
    assert catalog_cost(HOUR, counts) == D("0.00024") + D("0.0012")
    assert catalog_cost(None, counts) is None


def test_usage_cost_is_the_stated_bill_else_the_catalog_cost() -> None:
    counts = TokenCounts(prompt=1000, completion=0, cache_write=300, cache_write_1h=100)
    assert usage_cost(HOUR, counts) == catalog_cost(HOUR, counts) == D("0.00345")
    stated = counts.model_copy(update={"billed_usd": D("0.01")})
    assert usage_cost(HOUR, stated) == D("0.01")
    assert catalog_cost(HOUR, stated) == D("0.00345")  # the catalog figure ignores the bill


def test_write_rate_follows_the_cache_lifetime() -> None:
    assert write_rate(HOUR, ONE_HOUR) == D("0.000006")
    assert write_rate(HOUR, EXPLICIT) == D("0.00000375")
    assert write_rate(HOUR, CacheRule(mode="explicit", lifetime=300)) == D("0.00000375")
    assert write_rate(HOUR, CacheRule(mode="explicit", lifetime=301)) == D("0.000006")
    assert write_rate(SONNET, ONE_HOUR) == D("0.00000375")
    assert write_rate(NO_CACHE_RATES, ONE_HOUR) is None
    only_hour = NO_CACHE_RATES.model_copy(update={"cache_write_1h": D(1)})
    assert write_rate(only_hour, EXPLICIT) is None


def test_request_cost_one_hour_write_premium() -> None:
    outlook = CacheOutlook(ONE_HOUR, 0, 0, 1.0, write_tokens=2000, breakpoints=True)
    # cold 0.0105 + 2,000 x (0.000006 - 0.000003)
    assert request_cost(Context(3000, outlook), card(pricing=HOUR), 100, prefix_cache=True) == (
        D("0.0165")
    )


# -- request_cost -------------------------------------------------------------------------


def test_request_cost_unpriced_is_none() -> None:
    assert request_cost(Context(1000), card(), 100) is None


def test_request_cost_is_cold_unless_asked_for_the_cache() -> None:
    warm = CacheOutlook(AUTOMATIC, 2048, 2048, 1.0)
    ctx = Context(3000, warm)
    # cold: 3,000 x 0.000003 + 100 x 0.000015
    assert request_cost(ctx, card(pricing=SONNET), 100) == D("0.0105")
    # warm: 952 x 0.000003 + 2,048 x 0.0000003 + 0.0015
    assert request_cost(ctx, card(pricing=SONNET), 100, prefix_cache=True) == D("0.0049704")


def test_request_cost_memo_is_keyed_by_output_and_cache() -> None:
    ctx = Context(1000, CacheOutlook(AUTOMATIC, 1024, 1024, 0.5))
    deployment = card(pricing=SONNET)
    assert request_cost(ctx, deployment, 100) == D("0.0045")
    assert request_cost(ctx, deployment, 200) == D("0.006")
    # 512 cached: 488 x 0.000003 + 512 x 0.0000003 + 0.0015
    assert request_cost(ctx, deployment, 100, prefix_cache=True) == D("0.0031176")
    assert ctx.costs == {
        ("p:m", 100, False): D("0.0045"),
        ("p:m", 200, False): D("0.006"),
        ("p:m", 100, True): D("0.0031176"),
    }
    ctx.costs[("p:m", 100, False)] = D(7)  # a memoized figure is not worked out again
    assert request_cost(ctx, deployment, 100) == D(7)


def test_request_cost_adds_the_explicit_cache_write_premium() -> None:
    outlook = CacheOutlook(EXPLICIT, 0, 0, 1.0, write_tokens=2000, breakpoints=True)
    ctx = Context(3000, outlook)
    # cold 0.0105, plus 2,000 x (0.00000375 - 0.000003) = 0.0015
    assert request_cost(ctx, card(pricing=SONNET), 100, prefix_cache=True) == D("0.012")
    # no write rate stated: no premium
    plain = card("plain", pricing=SONNET.model_copy(update={"cache_write": None}))
    assert request_cost(ctx, plain, 100, prefix_cache=True) == D("0.0105")


def test_request_cost_write_premium_is_at_the_tier_rates() -> None:
    outlook = CacheOutlook(EXPLICIT, 0, 0, 1.0, write_tokens=1000, breakpoints=True)
    ctx = Context(200_001, outlook)
    # 200,001 x 0.000006 + 0 output + 1,000 x (0.0000075 - 0.000006)
    assert request_cost(ctx, card(pricing=TIERED), 0, prefix_cache=True) == D("1.200006") + D(
        "0.0015"
    )


# -- reuse_value ----------------------------------------------------------------------------


def test_reuse_value_is_the_cacheable_prompt_times_hit_rate_times_the_rate_gap() -> None:
    # cacheable(3,000) = 1,024 + 15 x 128 = 2,944; x 0.3 = 883.2 -> 883 tokens;
    # each saves 0.000003 - 0.0000003 = 0.0000027
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 0, 0, 0.3))
    assert reuse_value(ctx, card(pricing=SONNET)) == D("0.0023841")
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 0, 0, 1.0))
    assert reuse_value(ctx, card(pricing=SONNET)) == D("0.0079488")


def test_reuse_value_with_explicit_breakpoints() -> None:
    ctx = Context(3000, CacheOutlook(EXPLICIT, 0, 0, 0.5, breakpoints=True))
    # 1,472 x 0.0000027
    assert reuse_value(ctx, card(pricing=SONNET)) == D("0.0039744")


def test_reuse_value_at_the_tier_rates() -> None:
    ctx = Context(200_064, CacheOutlook(AUTOMATIC, 0, 0, 1.0))
    # cacheable(200,064) = 1,024 + 1,555 x 128 = 200,064; x (0.000006 - 0.0000006)
    assert reuse_value(ctx, card(pricing=TIERED)) == D("200064") * D("0.0000054")


def test_reuse_value_through_a_routing_context_with_a_memory() -> None:
    req = request(12_000)  # 3,004 estimated prompt tokens
    ctx = RoutingContext(req, prefixes=MemoryPrefixes(), caching=lambda c: (AUTOMATIC, False))
    # cacheable(3,004) = 2,944; x the prior hit rate 0.9 = 2,649.6 -> 2,649; x 0.0000027
    assert reuse_value(ctx, card(pricing=SONNET)) == D("0.0071523")


@pytest.mark.parametrize(
    ("outlook", "pricing"),
    [
        (None, SONNET),
        (CacheOutlook(AUTOMATIC, 0, 0, 1.0), None),
        (CacheOutlook(CacheRule(mode="none"), 0, 0, 1.0), SONNET),
        (CacheOutlook(EXPLICIT, 0, 0, 1.0, breakpoints=False), SONNET),
        (CacheOutlook(AUTOMATIC, 0, 0, 1.0), NO_CACHE_RATES),
    ],
    ids=["no-memory", "unpriced", "rule-none", "explicit-no-breakpoints", "no-cache-rate"],
)
def test_reuse_value_is_zero_where_nothing_is_cached(outlook, pricing) -> None:
    value = reuse_value(Context(3000, outlook), card(pricing=pricing))
    assert value == 0
    assert isinstance(value, Decimal)


# -- cheapest -------------------------------------------------------------------------------


def test_cheapest_defaults() -> None:
    policy = Cheapest()
    assert policy.expected_output_tokens == 300
    assert policy.prefix_cache is False
    assert policy.expected_reuse == 0


def test_cheapest_ranks_by_the_exact_cost_with_300_output_tokens_by_default() -> None:
    req = request()
    # 1,004 x 0.000003 + 300 x 0.000015 = 0.003012 + 0.0045
    assert Cheapest().rank(req, card(pricing=SONNET), RoutingContext(req)) == D("0.007512")
    assert Cheapest().rank(req, card(), RoutingContext(req)) is None


def test_cheapest_expected_output_tokens_set_is_capped_by_max_tokens() -> None:
    deployment = card(pricing=SONNET)
    for max_tokens, output in ((None, 500), (200, 200), (800, 500)):
        req = request(max_tokens=max_tokens)
        ctx = RoutingContext(req)
        assert Cheapest(expected_output_tokens=500).output_tokens(req, ctx) == output
        assert Cheapest(expected_output_tokens=500).rank(req, deployment, ctx) == D(
            "0.003012"
        ) + output * D("0.000015")


def test_cheapest_unset_output_is_the_chains_figure() -> None:
    req = request(max_tokens=100)
    ctx = RoutingContext(req, expected_output=700)
    assert Cheapest().output_tokens(req, ctx) == 100
    assert Cheapest().output_tokens(request(), RoutingContext(request(), expected_output=700)) == (
        700
    )


def test_cheapest_options_reject_negatives_and_take_zero() -> None:
    assert Cheapest(expected_output_tokens=0, expected_reuse=0).expected_output_tokens == 0
    with pytest.raises(ValidationError):
        Cheapest(expected_output_tokens=-1)
    with pytest.raises(ValidationError):
        Cheapest(expected_reuse=D("-0.5"))


def test_cheapest_with_the_cache_ranks_by_the_warm_cost() -> None:
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 2048, 2048, 1.0), prefixes=None)
    policy = Cheapest(prefix_cache=True, expected_output_tokens=100)
    assert policy.rank(request(), card(pricing=SONNET), ctx) == D("0.0049704")


def test_cheapest_expected_reuse_adds_the_later_requests_warm_cost() -> None:
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 2048, 2048, 1.0))
    policy = Cheapest(prefix_cache=True, expected_output_tokens=100, expected_reuse=D(2))
    # this one warm: 0.0049704; each of 2 later: cold 0.0105 less reuse 2,944 x 0.0000027
    later = D("0.0105") - D("0.0079488")
    assert policy.rank(request(), card(pricing=SONNET), ctx) == D("0.0049704") + 2 * later
    # without prefix_cache, reuse counts for nothing
    cold = Cheapest(expected_output_tokens=100, expected_reuse=D(2))
    assert cold.rank(request(), card(pricing=SONNET), ctx) == D("0.0105")


def test_cheapest_rank_floor() -> None:
    req = request()
    ctx = RoutingContext(req)
    assert Cheapest().rank_floor(req, ctx) == (PROMPT_4000, 300.0)
    reuse = Cheapest(prefix_cache=True, expected_reuse=D("1.5"), expected_output_tokens=100)
    assert reuse.rank_floor(req, ctx) == (PROMPT_4000, 250.0)
    no_cache = Cheapest(expected_reuse=D("1.5"), expected_output_tokens=100)
    assert no_cache.rank_floor(req, ctx) == (PROMPT_4000, 100.0)


class Timed(Context):
    """A context where deployment ``p:m`` is expected to take ``seconds`` (None: unmeasured),
    and ``p:slow`` ten times as long."""

    def __init__(self, seconds: float | None, **options: Any) -> None:
        super().__init__(PROMPT_4000, **options)
        self.seconds = seconds

    def expected_seconds(self, card: ModelCard) -> float | None:
        factor = {"p:m": 1, "p:slow": 10}[card.ref]
        return None if self.seconds is None else self.seconds * factor


def test_cheapest_time_value_adds_the_price_of_the_expected_wait() -> None:
    deployment = card(pricing=SONNET)
    # 0.007512 for the money, + $0.01 a second x 2.5 s
    policy = Cheapest(time_value_usd_per_s=D("0.01"))
    assert policy.time_value_usd_per_s == D("0.01")
    assert policy.rank(request(), deployment, Timed(2.5)) == D("0.007512") + D("0.025")
    slow = card("slow", pricing=SONNET)
    assert policy.rank(request(), slow, Timed(2.5)) == D("0.007512") + D("0.25")
    # the seconds are read to the microsecond: 1.2345678 s -> 1.234568
    assert policy.rank(request(), deployment, Timed(1.2345678)) == D("0.007512") + D("0.01234568")
    # unmeasured: the money alone; no time value (the default): the money alone
    assert policy.rank(request(), deployment, Timed(None)) == D("0.007512")
    assert Cheapest().time_value_usd_per_s == 0
    assert Cheapest().rank(request(), deployment, Timed(2.5)) == D("0.007512")
    assert policy.rank(request(), card(), Timed(2.5)) is None
    with pytest.raises(ValidationError):
        Cheapest(time_value_usd_per_s=D("-0.01"))


def test_the_requests_own_expected_output_wins_over_the_policies() -> None:
    req = request()
    ctx = RoutingContext(req, expected_output=50, output_from_request=True)
    assert Cheapest(expected_output_tokens=500).output_tokens(req, ctx) == 50
    fits = card(context_length=PROMPT_4000 + 50)
    assert ContextFit(expected_output_tokens=500).judge(req, fits, ctx) is None
    tight = card(context_length=PROMPT_4000 + 49)
    assert ContextFit(expected_output_tokens=500).judge(req, tight, ctx) is not None


# -- max_price ------------------------------------------------------------------------------


def judge(policy: Any, deployment: ModelCard, req: ChatRequest | None = None) -> Any:
    req = req or request()
    return policy.judge(req, deployment, RoutingContext(req))


def test_max_price_keeps_a_rate_exactly_at_the_cap() -> None:
    deployment = card(pricing=SONNET)  # $3 / $15 per 1M
    assert judge(MaxPrice(prompt_per_mtok=D(3), completion_per_mtok=D(15)), deployment) is None


def test_max_price_excludes_a_rate_above_the_cap_naming_both() -> None:
    deployment = card(pricing=SONNET)
    assert judge(MaxPrice(prompt_per_mtok=D("2.99")), deployment) == (
        "exclude",
        "prompt $3/1M > max $2.99/1M",
    )
    assert judge(MaxPrice(completion_per_mtok=D("14.5")), deployment) == (
        "exclude",
        "completion $15/1M > max $14.5/1M",
    )
    assert judge(MaxPrice(prompt_per_mtok=D(1), completion_per_mtok=D(1)), deployment) == (
        "exclude",
        "prompt $3/1M > max $1/1M; completion $15/1M > max $1/1M",
    )


def test_max_price_shows_rates_as_plain_decimals() -> None:
    # $10 / $0.00002 per 1M: never "1E+1" or "2E-5"
    pricing = Pricing(prompt=D("0.00001"), completion=D("0.00000000002"))
    verdict = judge(
        MaxPrice(prompt_per_mtok=D(5), completion_per_mtok=D("0.00001")), card(pricing=pricing)
    )
    assert verdict == (
        "exclude",
        "prompt $10/1M > max $5/1M; completion $0.00002/1M > max $0.00001/1M",
    )


def test_max_price_reads_the_tier_of_the_prompt() -> None:
    small = Context(200_000)
    big = Context(200_001)
    policy = MaxPrice(prompt_per_mtok=D(4))
    deployment = card(pricing=TIERED)
    assert policy.judge(request(), deployment, small) is None
    assert policy.judge(request(), deployment, big) == ("exclude", "prompt $6/1M > max $4/1M")


def test_max_price_unpriced() -> None:
    assert judge(MaxPrice(), card()) is None
    assert judge(MaxPrice(prompt_per_mtok=D(1)), card()) == ("exclude", "no published price")
    assert judge(MaxPrice(completion_per_mtok=D(1)), card()) == ("exclude", "no published price")
    assert judge(MaxPrice(), card(pricing=SONNET)) is None
    traits = CardTraits.of(card(pricing=SONNET))
    assert (
        MaxPrice(prompt_per_mtok=D(1)).judge_traits(request(), traits, RoutingContext(request()))
        is None
    )


def test_max_price_caps_reject_negatives_and_take_zero() -> None:
    free = card(pricing=Pricing(prompt=D(0), completion=D(0)))
    assert judge(MaxPrice(prompt_per_mtok=D(0), completion_per_mtok=D(0)), free) is None
    with pytest.raises(ValidationError):
        MaxPrice(prompt_per_mtok=D(-1))
    with pytest.raises(ValidationError):
        MaxPrice(completion_per_mtok=D(-1))


# -- context_fit ----------------------------------------------------------------------------


def test_context_fit_defaults() -> None:
    policy = ContextFit()
    assert policy.expected_output_tokens == 300
    assert policy.unknown == "allow"
    assert policy.assume_context == 8192
    assert CALIBRATION_MARGIN == 0.1


def test_context_fit_keeps_an_exact_fit_and_excludes_one_token_short() -> None:
    fits = card(context_length=PROMPT_4000 + 300)
    assert judge(ContextFit(), fits) is None
    short = card(context_length=PROMPT_4000 + 299)
    assert judge(ContextFit(), short) == (
        "exclude",
        f"context {PROMPT_4000 + 299} < {PROMPT_4000 + 300} needed (~{PROMPT_4000} prompt"
        " + 300 output)",
    )


def test_context_fit_counts_max_tokens_then_the_set_then_the_chains_output() -> None:
    deployment = card(context_length=PROMPT_4000 + 500)
    assert judge(ContextFit(), deployment, request(max_tokens=500)) is None
    assert judge(ContextFit(), deployment, request(max_tokens=501))[0] == "exclude"
    assert judge(ContextFit(expected_output_tokens=500), deployment) is None
    assert judge(ContextFit(expected_output_tokens=501), deployment)[0] == "exclude"
    req = request()
    assert ContextFit().judge(req, deployment, RoutingContext(req, expected_output=500)) is None
    verdict = ContextFit().judge(req, deployment, RoutingContext(req, expected_output=501))
    assert verdict is not None
    assert verdict[0] == "exclude"


def test_context_fit_max_tokens_above_the_output_limit() -> None:
    deployment = card(context_length=100_000, max_output_tokens=4096)
    assert judge(ContextFit(), deployment, request(max_tokens=4096)) is None
    assert judge(ContextFit(), deployment, request(max_tokens=4097)) == (
        "exclude",
        "max_tokens 4097 > max output 4096",
    )


def test_context_fit_calibration_cannot_take_off_more_than_ten_percent() -> None:
    # raw 1,004: at least 1,004 - 100 = 904 prompt tokens are counted
    deployment = card(context_length=904 + 300)
    assert ContextFit().judge(request(), deployment, Context(500)) is None
    tight = card(context_length=903 + 300)
    assert ContextFit().judge(request(), tight, Context(500)) == (
        "exclude",
        "context 1203 < 1204 needed (~904 prompt + 300 output)",
    )
    # a calibration above the raw estimate counts in full
    assert ContextFit().judge(request(), deployment, Context(905)) is not None


def test_context_fit_unknown_context_at_and_above_the_assumed_length() -> None:
    unknown = card()
    assume = PROMPT_4000 + 300
    assert judge(ContextFit(assume_context=assume), unknown) is None
    assert judge(ContextFit(assume_context=assume - 1), unknown) == (
        "demote",
        f"context length unknown; ~{assume} tokens needed > {assume - 1} assumed",
    )
    assert judge(ContextFit(assume_context=assume - 1, unknown="exclude"), unknown) == (
        "exclude",
        f"context length unknown; ~{assume} tokens needed > {assume - 1} assumed",
    )
    assert judge(ContextFit(), unknown) is None  # 1,304 <= 8,192


def test_context_fit_judge_traits() -> None:
    req = request()
    ctx = RoutingContext(req)
    policy = ContextFit(assume_context=10)
    assert policy.judge_traits(req, CardTraits.of(card(context_length=10)), ctx) is None
    assert policy.judge_traits(req, CardTraits.of(card()), ctx) == (
        "demote",
        f"context length unknown; ~{PROMPT_4000 + 300} tokens needed > 10 assumed",
    )


def test_context_fit_options_reject_negatives() -> None:
    assert ContextFit(expected_output_tokens=0, assume_context=0).assume_context == 0
    with pytest.raises(ValidationError):
        ContextFit(expected_output_tokens=-1)
    with pytest.raises(ValidationError):
        ContextFit(assume_context=-1)
