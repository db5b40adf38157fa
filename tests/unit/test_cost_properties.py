"""Properties of the cost model over generated prices and token counts (issue 21).

For any prices a catalog can state (rates >= 0, cache-read rates at most the prompt rate,
tiers that cost at least the base above their threshold): a cost is never negative, never
falls when more prompt or completion tokens are sent, never rises when more of a fixed
prompt is served from the cache, equals the sum of its parts worked out independently,
and a bill the provider states is the cost.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from router.catalog import PriceTier, Pricing, Rates
from router.completion import TokenCounts
from router.planning.cost import expected_cost, usage_cost

D = Decimal
PROPERTY = settings(max_examples=60, derandomize=True, deadline=None)

rates = st.integers(0, 20_000_000).map(lambda n: D(n).scaleb(-12))  # $0 to $20 per 1M
shares = st.integers(0, 100).map(lambda n: D(n) / 100)
tokens = st.integers(0, 400_000)
extras = st.integers(0, 5_000).map(lambda n: n * n)  # 0 to 25M more tokens


@st.composite
def pricings(draw: st.DrawFn) -> Pricing:
    """Prices with optional cache rates (read <= prompt) and up to two pricier tiers."""
    base_prompt, base_completion = draw(rates), draw(rates)
    read = draw(st.none() | shares.map(lambda s: base_prompt * s))
    write = draw(st.none() | rates.map(lambda r: base_prompt + r))
    write_1h = draw(st.none() | rates.map(lambda r: (write or base_prompt) + r))
    tiers = []
    threshold = 0
    prompt, completion, tier_read, tier_write = base_prompt, base_completion, read, write
    tier_write_1h = write_1h
    for n in range(draw(st.integers(0, 2))):
        # each tier costs at least the one below in every rate, and reads stay at most
        # the prompt rate: between the last read rate and the tier's prompt rate
        threshold += draw(st.integers(1, 300_000))
        prompt, completion = prompt + draw(rates), completion + draw(rates)
        if tier_read is not None:
            tier_read += (prompt - tier_read) * draw(shares)
        if tier_write is not None:
            tier_write += draw(rates)
        if tier_write_1h is not None:
            tier_write_1h += draw(rates)
        tiers.append(
            PriceTier(
                name=f"t{n}",
                above_prompt_tokens=threshold,
                prompt=prompt,
                completion=completion,
                cache_read=tier_read,
                cache_write=tier_write,
                cache_write_1h=tier_write_1h,
            )
        )
    return Pricing(
        prompt=base_prompt,
        completion=base_completion,
        cache_read=read,
        cache_write=write,
        cache_write_1h=write_1h,
        tiers=tuple(tiers),
    )


def reference(
    pricing: Pricing, prompt: int, output: int, read: int, written: int, hour: int = 0
) -> Decimal:
    """The bill worked out independently: the tier by brute force, rates filled in."""
    tier = None
    for candidate in pricing.tiers:
        if prompt > candidate.above_prompt_tokens:
            tier = candidate

    def rate(name: str) -> Decimal | None:
        stated = getattr(tier, name) if tier is not None else None
        return stated if stated is not None else getattr(pricing, name)

    prompt_rate, completion_rate = rate("prompt"), rate("completion")
    assert prompt_rate is not None
    assert completion_rate is not None
    read_rate = prompt_rate if rate("cache_read") is None else rate("cache_read")
    write_rate = prompt_rate if rate("cache_write") is None else rate("cache_write")
    hour_rate = write_rate if rate("cache_write_1h") is None else rate("cache_write_1h")
    assert read_rate is not None
    assert write_rate is not None
    assert hour_rate is not None
    plain = prompt - read - written
    return (
        plain * prompt_rate
        + read * read_rate
        + (written - hour) * write_rate
        + hour * hour_rate
        + output * completion_rate
    )


@PROPERTY
@given(pricings(), tokens, tokens, tokens)
def test_expected_cost_is_the_sum_of_its_parts(pricing, prompt, output, cached) -> None:
    cost = expected_cost(pricing, prompt, output, cached)
    assert cost == reference(pricing, prompt, output, min(cached, prompt), 0)
    assert cost >= 0
    assert isinstance(cost, Decimal)


@PROPERTY
@given(pricings(), tokens, tokens, tokens, tokens, tokens)
def test_usage_cost_is_the_sum_of_its_parts(pricing, prompt, output, read, written, hour) -> None:
    counts = TokenCounts(
        prompt=prompt,
        completion=output,
        cache_read=read,
        cache_write=written,
        cache_write_1h=hour,
    )
    cost = usage_cost(pricing, counts)
    read = min(read, prompt)
    written = min(written, prompt - read)
    assert cost == reference(pricing, prompt, output, read, written, min(hour, written))
    assert cost is not None
    assert cost >= 0


@PROPERTY
@given(pricings(), tokens, tokens, tokens, extras, extras)
def test_expected_cost_never_falls_with_more_tokens(pricing, prompt, output, cached, more, out):
    cost = expected_cost(pricing, prompt, output, cached)
    assert expected_cost(pricing, prompt + more, output, cached) >= cost
    assert expected_cost(pricing, prompt, output + out, cached) >= cost


@PROPERTY
@given(pricings(), tokens, tokens, tokens, tokens, extras, extras)
def test_usage_cost_never_falls_with_more_tokens(pricing, prompt, output, read, written, more, out):
    def cost(prompt: int, output: int) -> Decimal:
        counts = TokenCounts(prompt=prompt, completion=output, cache_read=read, cache_write=written)
        value = usage_cost(pricing, counts)
        assert value is not None
        return value

    assert cost(prompt + more, output) >= cost(prompt, output)
    assert cost(prompt, output + out) >= cost(prompt, output)


@PROPERTY
@given(pricings(), tokens, tokens, tokens, extras)
def test_more_of_a_fixed_prompt_from_the_cache_never_costs_more(
    pricing, prompt, output, cached, more
) -> None:
    cost = expected_cost(pricing, prompt, output, cached)
    assert expected_cost(pricing, prompt, output, cached + more) <= cost
    counts = TokenCounts(prompt=prompt, completion=output, cache_read=cached)
    warmer = TokenCounts(prompt=prompt, completion=output, cache_read=cached + more)
    before, after = usage_cost(pricing, counts), usage_cost(pricing, warmer)
    assert before is not None
    assert after is not None
    assert after <= before


@PROPERTY
@given(
    st.none() | pricings(),
    tokens,
    tokens,
    tokens,
    st.integers(0, 10**9).map(lambda n: D(n).scaleb(-6)),
)
def test_a_stated_bill_is_the_cost(pricing, prompt, output, read, billed) -> None:
    counts = TokenCounts(prompt=prompt, completion=output, cache_read=read, billed_usd=billed)
    assert usage_cost(pricing, counts) == billed


@PROPERTY
@given(pricings(), tokens)
def test_rates_for_is_a_tier_or_the_base(pricing, prompt) -> None:
    rates = pricing.rates_for(prompt)
    exceeded = [t for t in pricing.tiers if prompt > t.above_prompt_tokens]
    if not exceeded:
        assert rates is pricing
    else:
        tier = exceeded[-1]
        assert rates == Rates(
            prompt=tier.prompt,
            completion=tier.completion,
            cache_read=tier.cache_read,
            cache_write=tier.cache_write,
            cache_write_1h=tier.cache_write_1h,
        )
