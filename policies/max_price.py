"""``max_price``: exclude deployments whose rates exceed a ceiling, in USD per 1M tokens.

The rates compared are those of the tier this request's estimated prompt falls in. A
deployment without published prices is excluded: it cannot be shown to be under the cap.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import CardTraits, Filter, Judgement
from router.types import ChatRequest

_MTOK = Decimal(1_000_000)


def _per_mtok(rate: Decimal) -> str:
    return format((rate * _MTOK).normalize(), "f")


class MaxPrice(Filter):
    prompt_per_mtok: Decimal | None = Field(default=None, ge=0)
    """Highest acceptable USD per 1M prompt tokens."""
    completion_per_mtok: Decimal | None = Field(default=None, ge=0)
    """Highest acceptable USD per 1M completion tokens."""

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        if card.pricing is None:
            return self.judge_traits(request, CardTraits.of(card), context)
        if self.prompt_per_mtok is None and self.completion_per_mtok is None:
            return None
        rates = card.pricing.rates_for(context.prompt_tokens(card))
        over = [
            f"{what} ${_per_mtok(rate)}/1M > max ${_per_mtok(cap / _MTOK)}/1M"
            for what, rate, cap in (
                ("prompt", rates.prompt, self.prompt_per_mtok),
                ("completion", rates.completion, self.completion_per_mtok),
            )
            if cap is not None and rate * _MTOK > cap
        ]
        return ("exclude", "; ".join(over)) if over else None

    def judge_traits(
        self, request: ChatRequest, traits: CardTraits, context: RoutingContext
    ) -> Judgement:
        capped = self.prompt_per_mtok is not None or self.completion_per_mtok is not None
        if capped and not traits.priced:
            return "exclude", "no published price"
        return None


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("max_price", MaxPrice)
