"""What ``router check`` says beyond "valid": settings that are allowed but almost surely wrong.

A configuration can be valid and still route nothing: a price cap typed per token where
per 1M tokens is expected lies below every price in the catalogs, and an ``api_key``
whose environment variable is set but empty is only refused later, as a 401. Each
:class:`Finding` names the key path and says what to change; none quotes a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from router.catalog import Catalog, ModelCard
    from router.core import Router

__all__ = ["Finding", "config_findings"]

_MTOK = Decimal(1_000_000)

PER_MTOK_FLOOR = Decimal("0.001")
"""Below this many USD per 1M tokens (a thousandth of a cent) no provider prices a model:
a smaller figure in a ``*_per_mtok`` option is most likely a per-token price."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing ``router check`` reports about the configuration itself."""

    key_path: str
    """Where, in YAML terms (``policy[2].max_price.prompt_per_mtok``)."""
    problem: str
    """What is wrong and what to change; never quotes a secret."""
    severity: Literal["warning", "problem"]
    """``problem``: no request can be routed as configured (``router check`` fails);
    ``warning``: probably a mistake."""

    def __str__(self) -> str:
        return f"{self.key_path}: {self.problem}"


def config_findings(router: Router, catalogs: Iterable[Catalog] = ()) -> list[Finding]:
    """Settings of ``router``'s configuration that are valid but almost surely wrong,
    judged against ``catalogs`` (the ones fetched; prices caps need them)."""
    cards = [card for catalog in catalogs for card in catalog.models if card.kind == "chat"]
    return [*_empty_secrets(router), *_price_figures(router, cards)]


def _empty_secrets(router: Router) -> Iterator[Finding]:
    for i, provider in enumerate(router.providers.values()):
        key = provider.options.api_key
        if key is None:
            continue
        value = key.get_secret_value()
        where = f"providers[{i}].api_key"
        # A key padded with spaces or a line break never gets here: the configuration
        # refuses it (a ConfigError naming the key path).
        if not value and type(provider).requires_key:
            yield Finding(
                where,
                "empty: the environment variable it names is set but empty, so the provider"
                " will refuse every request (401); export the key, then run check again",
                "warning",
            )


def _price_figures(router: Router, cards: list[ModelCard]) -> Iterator[Finding]:
    figures: list[tuple[str, Decimal]] = []
    for i, (name, policy) in enumerate(router.policies):
        figures.extend(_per_mtok_fields(policy, f"policy[{i}].{name}"))
    for i, provider in enumerate(router.providers.values()):
        figures.extend(_per_mtok_fields(provider.options, f"providers[{i}]"))
    for path, value in figures:
        if 0 < value < PER_MTOK_FLOOR:
            yield Finding(
                path,
                f"${_usd(value)} per 1M tokens is less than any provider charges: it looks like"
                f" a price per token; this option is USD per 1M tokens (per token x 1,000,000:"
                f" {_usd(value * _MTOK)})",
                "warning",
            )
    priced = [card for card in cards if card.pricing is not None]
    if not priced:
        return
    for i, (name, policy) in enumerate(router.policies):
        if name != "max_price":  # the built-in cap (or what replaced it under its name)
            continue
        for field in ("prompt_per_mtok", "completion_per_mtok"):
            cap = getattr(policy, field, None)
            if not isinstance(cap, Decimal):
                continue
            which = "prompt" if field == "prompt_per_mtok" else "completion"
            cheapest = min(priced, key=lambda card: _rate(card, which))
            lowest = _rate(cheapest, which) * _MTOK
            if cap < lowest:
                yield Finding(
                    f"policy[{i}].{name}.{field}",
                    f"below every {which} price in the catalogs (the lowest is ${_usd(lowest)}"
                    f" per 1M tokens, {cheapest.ref}): no request can be routed; the cap is USD"
                    " per 1M tokens",
                    "problem",
                )


def _rate(card: ModelCard, which: str) -> Decimal:
    assert card.pricing is not None
    rate: Decimal = card.pricing.prompt if which == "prompt" else card.pricing.completion
    return rate


def _per_mtok_fields(model: BaseModel, path: str) -> Iterator[tuple[str, Decimal]]:
    """Every ``*_per_mtok`` number in ``model`` and the models and mappings it holds."""
    for field in type(model).model_fields:
        value = getattr(model, field, None)
        where = f"{path}.{field}"
        if field.endswith("_per_mtok") and isinstance(value, Decimal | int | float):
            yield where, Decimal(str(value))
        elif isinstance(value, BaseModel):
            yield from _per_mtok_fields(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _per_mtok_fields(item, f"{where}.{key}")


def _usd(value: Decimal) -> str:
    return format(value.normalize(), "f")
