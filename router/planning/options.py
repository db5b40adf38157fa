"""Per-request routing options: ``router.complete(..., router={...})``, or the body field
``"router": {...}`` over HTTP (the OpenAI SDK's ``extra_body={"router": {...}}``).

They apply on top of the YAML policy chain, for one request: the ``[request]`` step of
the route. Filters (``providers.only`` / ``ignore``, ``max_price``, ``require``) run
before the chain, so the chain ranks only what the request allows; orderings
(``sort``, then ``providers.order``) run after it. ``expected_output_tokens``
replaces the chain's own for this request. Nothing here is ever forwarded to a
provider: the field is excluded from every body a provider sees.

Unknown keys and bad values are an :class:`~router.errors.InvalidRequest` (400 over
HTTP) naming the key (``router.providers.onlyy``). ``sort: latency | throughput`` and
``max_ttft_ms`` read the speed each deployment measured (``context.speed(card)``, the
statistics of ``router.state.latency``): a deployment not measured yet is kept, after
the measured ones when sorting.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from router.catalog import ModelCard
from router.errors import InvalidRequest
from router.state.latency import Speed

__all__ = ["MaxPriceOption", "ProvidersOption", "RoutingOptions", "judge", "reorder"]

Capability = Literal["tools", "vision", "structured_output"]

_MTOK = Decimal(1_000_000)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProvidersOption(_Strict):
    """Which providers may serve this request, and in which order to try them."""

    only: tuple[str, ...] | None = None
    """Only these providers (configured names); the rest are excluded."""
    ignore: tuple[str, ...] = ()
    """Never these providers."""
    order: tuple[str, ...] = ()
    """Try these providers first, in this order; the others follow in the chain's order."""


class MaxPriceOption(_Strict):
    """Ceilings on a deployment's rates, in USD per 1M tokens (the tier this prompt is in)."""

    prompt_per_mtok: Decimal | None = Field(default=None, ge=0)
    """Highest acceptable USD per 1M prompt tokens."""
    completion_per_mtok: Decimal | None = Field(default=None, ge=0)
    """Highest acceptable USD per 1M completion tokens."""


class RoutingOptions(_Strict):
    """One request's routing options (DESIGN, "Per-request routing options")."""

    providers: ProvidersOption | None = None
    max_price: MaxPriceOption | None = None
    require: tuple[Capability, ...] = ()
    """Capabilities a deployment must be *known* to have (the catalog says so): one whose
    catalog does not say is excluded too, unlike the ``capabilities`` policy's demotion."""
    sort: Literal["price", "latency", "throughput"] | None = None
    """``price``: cheapest expected cost of this request first; ``latency``: soonest
    expected answer of this request first (TTFT + expected output ÷ tokens/s, as
    measured); ``throughput``: most output tokens per second first. Whatever the chain's
    order; unpriced or unmeasured deployments last."""
    max_ttft_ms: int | None = Field(default=None, ge=1)
    """Exclude deployments whose measured p90 time to first token is over this many
    milliseconds (a deployment not measured yet is kept)."""
    expected_output_tokens: int | None = Field(default=None, ge=0)
    """Completion tokens this request is expected to produce (the chain's figure otherwise),
    capped by its ``max_tokens``."""

    @property
    def filters(self) -> bool:
        """Whether some option excludes deployments."""
        providers = self.providers
        return bool(
            (providers and (providers.only is not None or providers.ignore))
            or (
                self.max_price
                and (
                    self.max_price.prompt_per_mtok is not None
                    or self.max_price.completion_per_mtok is not None
                )
            )
            or self.require
            or self.max_ttft_ms is not None
        )

    @property
    def orders(self) -> bool:
        """Whether some option reorders the chain's candidates."""
        return self.sort is not None or bool(self.providers and self.providers.order)

    def check_providers(self, configured: Collection[str]) -> None:
        """Raise ``InvalidRequest`` naming the key when a provider name is not configured."""
        if self.providers is None:
            return
        for key in ("only", "ignore", "order"):
            for i, name in enumerate(getattr(self.providers, key) or ()):
                if name not in configured:
                    known = ", ".join(configured)
                    raise InvalidRequest(
                        f"router.providers.{key}[{i}]: no provider named {name!r};"
                        f" configured: {known}"
                    )


def _per_mtok(rate: Decimal) -> str:
    return format((rate * _MTOK).normalize(), "f")


_SUPPORTS = {
    "tools": "supports_tools",
    "vision": "supports_vision",
    "structured_output": "supports_structured_output",
}


def judge(
    options: RoutingOptions, card: ModelCard, prompt_tokens: int, speed: Speed | None = None
) -> str | None:
    """Why ``options`` exclude ``card`` (a request of ``prompt_tokens``; ``speed``, what
    its deployment measured), or None."""
    providers = options.providers
    if providers is not None:
        if providers.only is not None and card.provider not in providers.only:
            return f"provider {card.provider!r} not in providers.only"
        if card.provider in providers.ignore:
            return f"provider {card.provider!r} in providers.ignore"
    for capability in options.require:
        has = getattr(card, _SUPPORTS[capability])
        if has is not True:
            state = "unknown" if has is None else "not supported"
            return f"require: {capability} ({state} in the catalog)"
    cap = options.max_price
    if cap is not None and (cap.prompt_per_mtok is not None or cap.completion_per_mtok is not None):
        if card.pricing is None:
            return "max_price: no published price"
        rates = card.pricing.rates_for(prompt_tokens)
        over = [
            f"max_price: {what} ${_per_mtok(rate)}/1M > ${format(limit.normalize(), 'f')}/1M"
            for what, rate, limit in (
                ("prompt", rates.prompt, cap.prompt_per_mtok),
                ("completion", rates.completion, cap.completion_per_mtok),
            )
            if limit is not None and rate * _MTOK > limit
        ]
        if over:
            return "; ".join(over)
    bound = options.max_ttft_ms
    p90 = speed.ttft_p90 if speed is not None else None
    if bound is not None and p90 is not None and p90 * 1000 > bound:
        return f"max_ttft_ms: p90 TTFT {p90 * 1000:.0f} ms > {bound} ms"
    return None


def reorder(
    options: RoutingOptions,
    cards: list[ModelCard],
    costs: dict[str, Decimal | None],
    seconds: dict[str, float | None],
    speeds: dict[str, Speed | None],
) -> list[ModelCard]:
    """``cards`` in the order the options ask: ``sort`` by ``costs`` (``price``), by
    expected ``seconds`` (``latency``) or by measured tokens per second (``throughput``),
    unknown figures last and ties in the chain's order; then the ``providers.order``
    providers first."""
    ordered = list(cards)
    figures: dict[str, Decimal | float | None]
    if options.sort == "price":
        figures = dict(costs)
    elif options.sort == "latency":
        figures = dict(seconds)
    elif options.sort == "throughput":
        figures = {
            ref: -speed.tokens_per_second if speed and speed.tokens_per_second else None
            for ref, speed in speeds.items()
        }
    if options.sort is not None:
        ordered.sort(key=lambda c: (figures.get(c.ref) is None, figures.get(c.ref) or 0))
    first = options.providers.order if options.providers else ()
    if first:
        rank = {name: i for i, name in enumerate(first)}
        ordered.sort(key=lambda c: rank.get(c.provider, len(rank)))
    return ordered
