"""``cheapest``: order candidates by the expected cost of *this* request.

Expected cost = estimated prompt tokens x prompt rate + expected output x completion
rate, at the rates of the tier the prompt falls in. Expected output is
``expected_output_tokens``, capped by the request's ``max_tokens``. With
``prefix_cache: true`` the tokens a deployment's prefix cache is expected to serve are
billed at its cache-read rate (and an expected cache write at its premium), so a warm
deployment can beat a cheaper cold one, and a cold one wins when it is cheaper even
so. ``expected_reuse`` looks ahead: when later requests (the next turns of an agent's
conversation) are expected to reuse this prompt as their prefix, what they would cost
at a deployment, its cache warm, counts now, so a conversation starts (and stays) where
the whole of it is cheapest. The later requests are priced as conversations of the
kind go on in this router's traffic (``router.state.conversations``): their prompts grow
by the measured tokens per turn, and a cache serves the next turn only as often as
turns come within its lifetime. ``expected_reuse: auto`` also learns how many later
requests follow a turn (by its turn number, with tools or without); a number fixes it.
Candidates without published prices are kept, last.

``time_value_usd_per_s`` puts a price on waiting: the figure becomes expected cost +
value of a second x the expected wall time of this request at that deployment (TTFT +
expected output ÷ tokens per second, as measured: ``context.expected_seconds``), so
"worth 1 cent a second" is one YAML line and a fast deployment wins when its speed is
worth its price. A deployment not measured yet counts no time: it is ranked by its
money alone, so it gets tried (and measured) when its price deserves it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.planning.cost import later_cost, request_cost
from router.policy import Ranking
from router.types import ChatRequest

AUTO_PRIOR = Decimal(3)
"""Later requests ``expected_reuse: auto`` counts before traffic says (fewer than five
requests seen at the turn number)."""


class Cheapest(Ranking):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Completion tokens a typical answer has (capped by the request's ``max_tokens``)."""
    prefix_cache: bool = False
    """Count the expected prefix-cache hits (and writes) of each deployment."""
    expected_reuse: Annotated[Decimal, Field(ge=0)] | Literal["auto"] = Decimal(0)
    """With ``prefix_cache``: how many later requests are expected to continue this
    request's conversation (reusing its prompt as their prefix); 0 decides on this
    request alone; ``auto``: as many as follow a turn like this one in this router's
    traffic (:data:`AUTO_PRIOR` until it has seen enough)."""
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

    def later_requests(self, context: RoutingContext) -> Decimal:
        """How many later requests the look-ahead prices for this request (0: none)."""
        if not self.prefix_cache:
            return Decimal(0)
        if self.expected_reuse != "auto":
            return self.expected_reuse
        talk = context.conversation
        if talk is None or talk.later is None:
            return AUTO_PRIOR
        return Decimal(f"{talk.later:.2f}")

    def cost(
        self, request: ChatRequest, card: ModelCard, output: int, context: RoutingContext
    ) -> Decimal | None:
        """The figure candidates are ordered by: this request's expected cost, plus, with
        ``expected_reuse``, what the later requests of its conversation would cost here
        (:func:`~router.planning.cost.later_cost`): the whole conversation is ranked,
        not this turn alone."""
        cost = request_cost(context, card, output, prefix_cache=self.prefix_cache)
        later = self.later_requests(context)
        if cost is not None and later:
            after = later_cost(context, card, output, later)
            assert after is not None  # priced, as cost is
            cost += after
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
        reuse = self.later_requests(context)
        output = self.output_tokens(request, context)
        return max(1, request.estimated_prompt_tokens), float((1 + reuse) * output)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("cheapest", Cheapest)
