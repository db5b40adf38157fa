"""Expected cost of a request on a deployment, in USD, exactly (``Decimal``)."""

from __future__ import annotations

from decimal import Decimal

from router.catalog import ModelCard, Pricing, Rates
from router.completion import TokenCounts
from router.planning.context import RoutingContext
from router.state.prefix import NO_CACHE, CacheRule

__all__ = [
    "catalog_cost",
    "expected_cost",
    "later_cost",
    "request_cost",
    "reuse_value",
    "usage_cost",
    "write_rate",
]


def expected_cost(
    pricing: Pricing, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0
) -> Decimal:
    """USD for ``prompt_tokens`` in (``cached_tokens`` of them cached) and ``output_tokens`` out.

    ``(prompt - cached) x prompt_rate + cached x cache_read_rate + output x completion_rate``,
    with the rates of the tier the prompt size falls in. Without a cache-read rate, cached
    tokens are billed as ordinary prompt tokens.
    """
    rates = pricing.rates_for(prompt_tokens)
    cached = min(max(cached_tokens, 0), prompt_tokens)
    read = rates.cache_read if rates.cache_read is not None else rates.prompt
    return (
        (prompt_tokens - cached) * rates.prompt + cached * read + output_tokens * rates.completion
    )


def usage_cost(pricing: Pricing | None, counts: TokenCounts) -> Decimal | None:
    """USD billed for a request: what the provider states it billed (``billed_usd``) when
    it states it, else :func:`catalog_cost`. None: neither is known."""
    if counts.billed_usd is not None:
        return counts.billed_usd
    return catalog_cost(pricing, counts)


def catalog_cost(pricing: Pricing | None, counts: TokenCounts) -> Decimal | None:
    """USD for a request, from the catalog prices and the usage the provider returned.

    ``(prompt - cache_read - cache_write) x prompt_rate + cache_read x cache_read_rate
    + (cache_write - cache_write_1h) x cache_write_rate + cache_write_1h x
    cache_write_1h_rate + completion x completion_rate``, at the rates of the tier the
    whole prompt falls in. ``counts.prompt`` includes cache reads and writes (OpenAI's
    convention; Anthropic usage is normalized to it when read), ``counts.completion``
    includes reasoning. A cache rate the catalog does not state bills those tokens at the
    prompt rate; a one-hour write without a one-hour rate, at the cache-write rate. What
    the provider states it billed is not looked at. None: no price is known.
    """
    if pricing is None:
        return None
    rates = pricing.rates_for(counts.prompt)
    read = min(counts.cache_read, counts.prompt)
    written = min(counts.cache_write, counts.prompt - read)
    written_1h = min(counts.cache_write_1h, written)
    read_rate = rates.cache_read if rates.cache_read is not None else rates.prompt
    write_5m = rates.cache_write if rates.cache_write is not None else rates.prompt
    write_1h = rates.cache_write_1h if rates.cache_write_1h is not None else write_5m
    return (
        (counts.prompt - read - written) * rates.prompt
        + read * read_rate
        + (written - written_1h) * write_5m
        + written_1h * write_1h
        + counts.completion * rates.completion
    )


def write_rate(rates: Rates, rule: CacheRule) -> Decimal | None:
    """USD per token the router's cache breakpoints write at under ``rule``: the one-hour
    rate when the rule asks for the one-hour cache (falling back to the default-lifetime
    rate when the catalog states none), else the default-lifetime rate; None: no rate."""
    if rule.one_hour and rates.cache_write_1h is not None:
        return rates.cache_write_1h
    return rates.cache_write


def request_cost(
    context: RoutingContext, card: ModelCard, output_tokens: int, *, prefix_cache: bool = False
) -> Decimal | None:
    """Expected USD for the context's request on ``card``; None when it has no price.

    With ``prefix_cache``, the tokens its prefix cache is expected to serve are billed at
    the cache-read rate, and tokens expected to be written at a premium (explicit
    caching with breakpoints) add ``cache_write - prompt`` rate each (``cache_write_1h -
    prompt`` when the provider's cache rule asks for the one-hour cache). Worked out once
    per request (``context.costs``): policies and the route ask for the same card again.
    """
    if card.pricing is None:
        return None
    memo = context.costs
    key = (card.ref, output_tokens, prefix_cache)
    if (known := memo.get(key)) is not None:
        return known
    prompt = context.prompt_tokens(card)
    outlook = context.cache_outlook(card) if prefix_cache else None
    if outlook is None:
        cost = expected_cost(card.pricing, prompt, output_tokens)
    else:
        cost = expected_cost(card.pricing, prompt, output_tokens, outlook.cached_tokens)
        rates = card.pricing.rates_for(prompt)
        premium = write_rate(rates, outlook.rule)
        if outlook.write_tokens and premium is not None:
            cost += outlook.write_tokens * (premium - rates.prompt)
    memo[key] = cost
    return cost


def reuse_value(context: RoutingContext, card: ModelCard) -> Decimal:
    """USD that one later request reusing this request's whole prompt as its prefix
    would save on ``card``: the cacheable part of the prompt, times the learned hit
    rate, times the gap between the prompt and cache-read rates. Zero where nothing is
    cached (no cache rate, rule ``none``, explicit caching without breakpoints)."""
    outlook = context.cache_outlook(card)
    if card.pricing is None or outlook is None or outlook.rule.mode == "none":
        return Decimal(0)
    if outlook.rule.mode == "explicit" and not outlook.breakpoints:
        return Decimal(0)
    prompt = context.prompt_tokens(card)
    rates = card.pricing.rates_for(prompt)
    if rates.cache_read is None:
        return Decimal(0)
    reusable = int(outlook.rule.cacheable(prompt) * outlook.hit_rate)
    return reusable * (rates.prompt - rates.cache_read)


def later_cost(
    context: RoutingContext, card: ModelCard, output_tokens: int, later: Decimal
) -> Decimal | None:
    """Expected USD of ``later`` requests that continue this request's conversation on
    ``card`` (a fraction counts that share of one more); None when ``card`` has no price.

    Later request ``j`` sends this prompt grown by ``j`` turns (``context.conversation``'s
    growth per turn, calibrated for ``card``; none when unknown) and ``output_tokens``
    out. Its prefix cache serves what the request before it wrote: the cacheable part of
    that prompt (``card``'s rule: minimum, step), times the learned hit rate, times the
    share of next turns that arrive within the cache's lifetime (so a one-hour cache is
    worth more to a conversation that pauses). With explicit caching, each later request
    writes its new cacheable tokens at the cache-write premium (the one-hour rate for a
    one-hour cache). Tiers follow each later prompt's size. With automatic caching, no
    growth and no pauses this is ``later x (cold - reuse_value)``: the price of the same
    prompt, warm.
    """
    pricing = card.pricing
    if pricing is None or later <= 0:
        return None if pricing is None else Decimal(0)
    outlook = context.cache_outlook(card)
    rule = NO_CACHE if outlook is None else outlook.rule
    # explicit caching serves later turns where the router adds breakpoints
    caches = rule.mode == "automatic" or (
        rule.mode == "explicit"
        and outlook is not None
        and (outlook.breakpoints or context.caching(card)[1])
    )
    talk = context.conversation
    keep = 0.0
    if caches and outlook is not None:
        keep = outlook.hit_rate * (1.0 if talk is None else talk.within(rule.lifetime))
    growth = 0 if talk is None else context.scaled(card, talk.growth)
    previous = context.prompt_tokens(card)
    whole = int(later)
    total = Decimal(0)
    for j in range(1, whole + 2):
        weight = Decimal(1) if j <= whole else later - whole
        if not weight:
            break
        prompt = previous + growth
        cached = int(rule.cacheable(previous) * keep)
        cost = expected_cost(pricing, prompt, output_tokens, cached)
        if rule.mode == "explicit" and caches:
            rates = pricing.rates_for(prompt)
            premium = write_rate(rates, rule)
            written = max(0, rule.cacheable(prompt) - cached)
            if premium is not None and written:
                cost += written * (premium - rates.prompt)
        total += weight * cost
        previous = prompt
    return total
