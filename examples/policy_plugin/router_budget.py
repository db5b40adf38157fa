"""``budget``: leave out deployments where this request is expected to cost too much.

A routing policy as its own installable package::

    policy:
      - budget: {max_usd: 0.01}     # dollars per request
      - cheapest: {}

It uses the router's own cost model (``router.planning.cost.request_cost``), so tiers and, with
``prefix_cache``, expected cache hits are counted the same way the ``cheapest`` policy
counts them. It is a :class:`router.Filter` that also judges by traits, so the router
may ask it about only the cheapest few cards of a large catalog, as it does the
built-in filters.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from router import CardTraits, ChatRequest, Filter, Judgement, ModelCard, RoutingContext, hookimpl
from router.planning.cost import request_cost


class Budget(Filter):
    max_usd: Decimal = Field(gt=0)
    """Most USD one request may be expected to cost."""
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens assumed when the request sets no ``max_tokens``."""
    prefix_cache: bool = False
    """Count expected prefix-cache hits, as ``cheapest: {prefix_cache: true}`` does."""

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        output = request.output_limit or self.expected_output_tokens
        cost = request_cost(context, card, output, prefix_cache=self.prefix_cache)
        if cost is None:
            return "exclude", "no published price"
        if cost > self.max_usd:
            return "exclude", f"expected ${cost:.6f} > budget ${self.max_usd}"
        return None

    def judge_traits(
        self, request: ChatRequest, traits: CardTraits, context: RoutingContext
    ) -> Judgement:
        # Every unpriced card is out; a priced one is judged on its own.
        return None if traits.priced else ("exclude", "no published price")


@hookimpl
def router_register_policies(register):  # type: ignore[no-untyped-def]
    register("budget", Budget)
