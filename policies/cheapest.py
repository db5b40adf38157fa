"""``cheapest``: order candidates by the expected cost of *this* request.

Expected cost = estimated prompt tokens x prompt rate + expected output x completion
rate, at the rates of the tier the prompt falls in. Expected output is
``expected_output_tokens``, capped by the request's ``max_tokens``. With
``prefix_cache: true`` the tokens a deployment's prefix cache is expected to serve are
billed at its cache-read rate (and an expected cache write at its premium), so a warm
deployment can beat a cheaper cold one, and a cold one wins when it is cheaper even
so. ``expected_reuse`` looks ahead: when later requests (the next turns of an agent's
conversation) are expected to reuse this prompt as their prefix, what each would save
at a deployment's cache counts in that deployment's favour now, so a conversation
starts where staying is cheapest. Candidates without published prices are kept, last.

``time_value_usd_per_s`` puts a price on waiting: the figure becomes expected cost +
value of a second x the expected wall time of this request at that deployment (TTFT +
expected output ÷ tokens per second, as measured: ``context.expected_seconds``), so
"worth 1 cent a second" is one YAML line and a fast deployment wins when its speed is
worth its price. A deployment not measured yet counts no time: it is ranked by its
money alone, so it gets tried (and measured) when its price deserves it.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.planning.cost import request_cost, reuse_value
from router.policy import Ranking
from router.types import ChatRequest


class Cheapest(Ranking):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens a typical answer has (capped by the request's ``max_tokens``)."""
    prefix_cache: bool = False
    """Count the expected prefix-cache hits (and writes) of each deployment."""
    expected_reuse: Decimal = Field(default=Decimal(0), ge=0)
    """With ``prefix_cache``: how many later requests are expected to reuse this
    request's prompt as their prefix; 0 decides on this request alone."""
    time_value_usd_per_s: Decimal = Field(default=Decimal(0), ge=0)
    """USD that one second of waiting for this request's answer is worth (0: money alone)."""

    def output_tokens(self, request: ChatRequest, context: RoutingContext) -> int:
        """The completion tokens this request is expected to produce: the chain's figure
        (this policy's ``expected_output_tokens`` when set), capped by ``max_tokens``."""
        # The request's own router.expected_output_tokens wins over this policy's figure.
        if context.output_from_request or "expected_output_tokens" not in self.model_fields_set:
            return context.expected_output
        limit = request.output_limit
        expected = self.expected_output_tokens
        return expected if limit is None else min(limit, expected)

    def cost(
        self, request: ChatRequest, card: ModelCard, output: int, context: RoutingContext
    ) -> Decimal | None:
        """The figure candidates are ordered by: this request's expected cost, plus, with
        ``expected_reuse``, what that many later requests reusing its prompt would cost
        here with the cache warm."""
        cost = request_cost(context, card, output, prefix_cache=self.prefix_cache)
        if cost is not None and self.prefix_cache and self.expected_reuse:
            # Each of the later requests pays this deployment's cold price less what its
            # warm cache saves: the whole conversation is ranked, not this turn alone.
            cold = request_cost(context, card, output)
            assert cold is not None  # priced, as cost is
            cost += self.expected_reuse * (cold - reuse_value(context, card))
        return cost

    def rank(
        self, request: ChatRequest, card: ModelCard, context: RoutingContext
    ) -> Decimal | None:
        cost = self.cost(request, card, self.output_tokens(request, context), context)
        if cost is not None and self.time_value_usd_per_s:
            expected = context.expected_seconds(card)
            if expected is not None:
                cost += self.time_value_usd_per_s * Decimal(f"{expected:.6f}")
        return cost

    def rank_floor(self, request: ChatRequest, context: RoutingContext) -> tuple[int, float]:
        # cost >= prompt x prompt floor + (1 + reuse) x output x completion floor: each
        # later request reusing the prompt pays at least the output again.
        reuse = self.expected_reuse if self.prefix_cache else Decimal(0)
        output = self.output_tokens(request, context)
        return max(1, request.estimated_prompt_tokens), float((1 + reuse) * output)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("cheapest", Cheapest)
