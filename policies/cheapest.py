"""``cheapest``: order candidates by the expected cost of *this* request.

Expected cost = estimated prompt tokens x prompt rate + expected output x completion
rate, at the rates of the tier the prompt falls in. Expected output is
``expected_output_tokens``, capped by the request's ``max_tokens``. With
``prefix_cache: true`` the tokens a deployment's prefix cache is expected to serve are
billed at its cache-read rate (and an expected cache write at its premium), so a warm
deployment can beat a cheaper cold one, and a cold one wins when it is cheaper even
so. Candidates without published prices are kept, last.
"""

from __future__ import annotations

from pydantic import Field

from router.catalog import ModelCard
from router.cost import request_cost
from router.hookspecs import RegisterPolicy, hookimpl
from router.policy import Policy, Verdict
from router.types import ChatRequest


class Cheapest(Policy):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens a typical answer has (capped by the request's ``max_tokens``)."""
    prefix_cache: bool = False
    """Count the expected prefix-cache hits (and writes) of each deployment."""

    def output_tokens(self, request: ChatRequest) -> int:
        """The completion tokens this request is expected to produce."""
        limit = request.output_limit
        return (
            self.expected_output_tokens
            if limit is None
            else min(limit, self.expected_output_tokens)
        )

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        output = self.output_tokens(request)
        costs = {
            c.ref: request_cost(request, c, output, prefix_cache=self.prefix_cache)
            for c in candidates
        }
        priced = [c for c in candidates if costs[c.ref] is not None]
        unpriced = [c for c in candidates if costs[c.ref] is None]
        priced.sort(key=lambda c: costs[c.ref])  # type: ignore[arg-type, return-value]
        return Verdict(priced + unpriced)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("cheapest", Cheapest)
