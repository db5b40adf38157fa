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
from router.policy import Policy, Verdict
from router.types import ChatRequest


class ContextFit(Policy):
    expected_output_tokens: int = Field(default=300, ge=0)
    """Output tokens assumed when the request sets no ``max_tokens``."""
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a candidate whose context length is unknown."""

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        limit = request.output_limit
        output = limit if limit is not None else self.expected_output_tokens
        known: list[ModelCard] = []
        unsure: list[ModelCard] = []
        excluded: dict[str, str] = {}
        demoted: dict[str, str] = {}
        for card in candidates:
            prompt = request.prompt_tokens(card)
            need = prompt + output
            if (
                limit is not None
                and card.max_output_tokens is not None
                and limit > card.max_output_tokens
            ):
                excluded[card.ref] = f"max_tokens {limit} > max output {card.max_output_tokens}"
            elif card.context_length is None:
                if self.unknown == "exclude":
                    excluded[card.ref] = "context length unknown"
                else:
                    unsure.append(card)
                    demoted[card.ref] = "context length unknown"
            elif card.context_length < need:
                excluded[card.ref] = (
                    f"context {card.context_length} < {need} needed"
                    f" (~{prompt} prompt + {output} output)"
                )
            else:
                known.append(card)
        return Verdict(known + unsure, excluded, demoted)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("context_fit", ContextFit)
