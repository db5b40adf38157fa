"""Prices where a catalog publishes none, from pydantic's ``genai-prices`` (extra ``prices``).

``genai-prices`` is a maintained database of published LLM API prices, in ``Decimal`` USD
per million tokens (``input_mtok``, ``output_mtok``, ``cache_read_mtok``,
``cache_write_mtok`` / ``cache_write_5m_mtok``, ``cache_write_1h_mtok``), some of them
tiered by prompt size (``TieredPrices``: a tier's rate applies to the whole request when
its input tokens are *more than* the tier's ``start``). :func:`published_pricing` turns
one model's entry into a :class:`Pricing` in USD per token, ÷ 1,000,000.

Providers ask it last: the live catalog first, then the YAML ``model_info``, then this.
Without the extra installed it finds nothing. Where the database states a price that
changes with the time of day (a ``ConditionalPrice``), the one in force when the catalog
is read is taken.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from router.catalog import PriceTier, Pricing

__all__ = ["PRICE_KEYS", "published_pricing"]

logger = logging.getLogger("router.price_book")

_MTOK = Decimal(1_000_000)

PRICE_KEYS: dict[str, tuple[str, ...]] = {
    "prompt": ("input_mtok", "input_text_mtok"),
    "completion": ("output_mtok", "output_text_mtok"),
    "cache_read": ("cache_read_mtok", "cache_text_read_mtok"),
    "cache_write": ("cache_write_mtok", "cache_write_5m_mtok", "cache_text_write_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok", "cache_text_write_1h_mtok"),
}
"""Each :class:`Pricing` field and the ``genai-prices`` keys that state it, first found wins."""


def _snapshot() -> Any:
    try:
        from genai_prices import data_snapshot
    except ImportError:  # the 'prices' extra is not installed
        return None
    return data_snapshot.get_snapshot()


def published_pricing(provider_id: str, model_id: str) -> Pricing | None:
    """The prices ``genai-prices`` lists for ``model_id`` at its provider ``provider_id``
    (``openai``, ``anthropic``, ``google``, ...), in USD per token; None when the package
    is not installed, or lists no such model, or no prompt and completion rate for it."""
    snapshot = _snapshot()
    if snapshot is None:
        return None
    try:
        _, model = snapshot.find_provider_model(model_id, None, provider_id, None)
    except LookupError:
        return None
    return to_pricing(model.get_prices(datetime.now(UTC)))


def to_pricing(prices: Any) -> Pricing | None:
    """A ``genai-prices`` ``ModelPrice`` as a :class:`Pricing` (USD per token), or None
    without both a prompt and a completion rate."""
    stated: dict[str, Any] = {}
    for field, keys in PRICE_KEYS.items():
        for key in keys:
            value = getattr(prices, key, None)
            if value is not None:
                stated[field] = value
                break
    if "prompt" not in stated or "completion" not in stated:
        return None
    base = {field: _base(value) / _MTOK for field, value in stated.items()}
    starts = sorted({t.start for value in stated.values() for t in _tiers(value)})
    tiers = tuple(
        PriceTier(
            name=f"over_{start}",
            above_prompt_tokens=start,  # genai-prices: applies when input tokens > start
            **{
                field: rate / _MTOK
                for field, value in stated.items()
                if (rate := _rate_above(value, start)) is not None
            },
        )
        for start in starts
    )
    return Pricing(**base, tiers=tiers)


def _base(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value.base)


def _tiers(value: Any) -> list[Any]:
    return [] if isinstance(value, Decimal) else list(value.tiers)


def _rate_above(value: Any, start: int) -> Decimal | None:
    """The rate of a tiered ``value`` for a prompt just above ``start`` tokens; None when
    ``value`` has no tier from there (the base rate applies)."""
    rate = None
    for tier in _tiers(value):
        if tier.start <= start:
            rate = Decimal(tier.price)
    return rate
