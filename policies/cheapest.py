"""``cheapest``: order candidates by the expected cost of *this* request.

Expected cost = estimated prompt tokens x prompt rate + expected output x completion
rate, at the rates of the tier the prompt falls in. Expected output is
``expected_output_tokens``, capped by the request's ``max_tokens``. Candidates without
published prices are kept, last.
"""

from __future__ import annotations

from pydantic import Field

from router.catalog import ModelCard
from router.cost import expected_cost
from router.hookspecs import RegisterPolicy, hookimpl
from router.policy import Policy, Verdict
from router.types import ChatRequest


class Cheapest(Policy):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens a typical answer has (capped by the request's ``max_tokens``)."""

    def output_tokens(self, request: ChatRequest) -> int:
        """The completion tokens this request is expected to produce."""
        limit = request.output_limit
        return (
            self.expected_output_tokens
            if limit is None
            else min(limit, self.expected_output_tokens)
        )

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        prompt = request.estimated_prompt_tokens
        output = self.output_tokens(request)
        priced = [c for c in candidates if c.pricing is not None]
        unpriced = [c for c in candidates if c.pricing is None]
        priced.sort(key=lambda c: expected_cost(c.pricing, prompt, output))  # type: ignore[arg-type]
        return Verdict(priced + unpriced)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("cheapest", Cheapest)
