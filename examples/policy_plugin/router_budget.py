"""``budget``: leave out deployments where this request is expected to cost too much.

A routing policy as its own installable package::

    policy:
      - budget: {max_usd: 0.01}     # dollars per request
      - cheapest: {}

It uses the router's own cost model (``router.planning.cost.request_cost``), so tiers and, with
``prefix_cache``, expected cache hits are counted the same way the ``cheapest`` policy
counts them.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from router import ChatRequest, ModelCard, Policy, Verdict, hookimpl
from router.planning.cost import request_cost


class Budget(Policy):
    max_usd: Decimal = Field(gt=0)
    """Most USD one request may be expected to cost."""
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens assumed when the request sets no ``max_tokens``."""
    prefix_cache: bool = False
    """Count expected prefix-cache hits, as ``cheapest: {prefix_cache: true}`` does."""

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        output = request.output_limit or self.expected_output_tokens
        keep: list[ModelCard] = []
        excluded: dict[str, str] = {}
        for card in candidates:
            cost = request_cost(request, card, output, prefix_cache=self.prefix_cache)
            if cost is None:
                excluded[card.ref] = "no published price"
            elif cost > self.max_usd:
                excluded[card.ref] = f"expected ${cost:.6f} > budget ${self.max_usd}"
            else:
                keep.append(card)
        return Verdict(keep, excluded)


@hookimpl
def router_register_policies(register):  # type: ignore[no-untyped-def]
    register("budget", Budget)
