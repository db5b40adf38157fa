"""``context_fit``: the estimated prompt plus the expected output must fit the context.

The output counted is the request's ``max_tokens`` (or ``max_completion_tokens``), else
``expected_output_tokens``. A ``max_tokens`` above the model's output limit excludes it
too. Unknown context lengths are kept, ranked after known ones (or excluded with
``unknown: exclude``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import CardTraits, Filter, Judgement
from router.types import ChatRequest


class ContextFit(Filter):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Output tokens assumed when the request sets no ``max_tokens``."""
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a candidate whose context length is unknown."""

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        limit = request.output_limit
        most = card.max_output_tokens
        if limit is not None and most is not None and limit > most:
            return "exclude", f"max_tokens {limit} > max output {most}"
        if card.context_length is None:
            return self.unknown_verdict, "context length unknown"
        output = limit if limit is not None else self.expected_output_tokens
        prompt = context.prompt_tokens(card)
        if card.context_length < prompt + output:
            return "exclude", (
                f"context {card.context_length} < {prompt + output} needed"
                f" (~{prompt} prompt + {output} output)"
            )
        return None

    def judge_traits(self, request: ChatRequest, traits: CardTraits) -> Judgement:
        # A card with a known context length may still be excluded (too short, or an
        # output limit below max_tokens); one without is demoted or excluded whole.
        return None if traits.context_known else (self.unknown_verdict, "context length unknown")


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("context_fit", ContextFit)
