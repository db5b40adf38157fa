"""Expected cost of a request on a deployment, in USD, exactly (``Decimal``)."""

from __future__ import annotations

from decimal import Decimal

from router.catalog import Pricing

__all__ = ["expected_cost"]


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
