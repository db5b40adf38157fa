"""``context_fit``: the estimated prompt plus the expected output must fit the context.

The output counted is the request's ``max_tokens`` (or ``max_completion_tokens``), else
the expected output (``expected_output_tokens``, one figure for the whole chain). A
``max_tokens`` above the model's output limit excludes it too.

The prompt counted is the estimate calibrated by what the deployment reported before,
but never less than the raw estimate minus 10% (:data:`CALIBRATION_MARGIN`): a few
answers that counted fewer tokens than estimated cannot loosen a hard limit.

A context length the card's catalog does not state is first looked for at the same
model elsewhere (``borrow_context``, on by default): the smallest figure any other
catalog the router has loaded states for the same canonical model
(:meth:`RoutingContext.context_length`). It is judged as a hard limit like a stated one,
and every message about it names the deployment it comes from. The smallest, because
providers may serve a model with a shorter window than its maker's; another provider's
figure is less certain than a stated one, so the route says where it came from.

A context length still unknown is judged by risk: every chat model has at least
``assume_context`` tokens (default 8,192), so a request that needs no more is kept as
if the length were known; one that needs more is ranked after known ones (or excluded
with ``unknown: exclude``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import CardTraits, Filter, Judgement
from router.types import ChatRequest

CALIBRATION_MARGIN = 0.1
"""The share of the raw prompt estimate that calibration may take off in this check."""


class ContextFit(Filter):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Output tokens assumed when the request sets no ``max_tokens`` (one figure for the
    chain: ``cheapest`` uses the same)."""
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a candidate whose context length is unknown and not assumed."""
    assume_context: int = Field(default=8192, ge=0)
    """Tokens every chat model is assumed to hold: an unknown context length costs
    nothing for a request that needs no more."""
    borrow_context: bool = True
    """Fill a context length the card's catalog does not state from the same canonical
    model in another loaded catalog (the smallest figure stated; its source is shown)."""

    def _output(self, request: ChatRequest, context: RoutingContext) -> int:
        limit = request.output_limit
        if limit is not None:
            return limit
        # The request's own router.expected_output_tokens wins over this policy's figure.
        if "expected_output_tokens" in self.model_fields_set and not context.output_from_request:
            return self.expected_output_tokens
        return context.typical_output

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        limit = request.output_limit
        most = card.max_output_tokens
        if limit is not None and most is not None and limit > most:
            return "exclude", f"max_tokens {limit} > max output {most}"
        length = card.context_length
        source = ""
        if length is None:
            found = context.context_length(card) if self.borrow_context else None
            if found is None:
                return self._unknown(request, context)
            length = found.tokens
            source = f" (from {found.source}; {card.provider} states none)"
        output = self._output(request, context)
        raw = request.estimated_prompt_tokens
        prompt = max(context.prompt_tokens(card), raw - int(raw * CALIBRATION_MARGIN))
        if length < prompt + output:
            return "exclude", (
                f"context {length}{source} < {prompt + output} needed"
                f" (~{prompt} prompt + {output} output)"
            )
        return None

    def judge_traits(
        self, request: ChatRequest, traits: CardTraits, context: RoutingContext
    ) -> Judgement:
        # A card with a known context length (or one filled in from another provider)
        # may still be excluded (too short, or an output limit below max_tokens); one
        # without is judged by the request's size.
        if traits.context_known or (self.borrow_context and traits.context_borrowed):
            return None
        return self._unknown(request, context)

    def _unknown(self, request: ChatRequest, context: RoutingContext) -> Judgement:
        needed = request.estimated_prompt_tokens + self._output(request, context)
        if needed <= self.assume_context:
            return None
        return self.unknown_verdict, (
            f"context length unknown; ~{needed} tokens needed > {self.assume_context} assumed"
        )


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("context_fit", ContextFit)
