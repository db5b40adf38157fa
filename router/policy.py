"""The base class of routing policies, and what a policy returns.

A policy is a pydantic model whose fields are its options (its YAML block in the
``policy:`` chain); :meth:`Policy.apply` takes the request and the candidates that
earlier policies kept, and returns them filtered and ordered, each exclusion with a
reason. Policies compose: the chain runs them in YAML order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from router.catalog import ModelCard
from router.types import ChatRequest

__all__ = ["Filter", "Judgement", "Policy", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy decided: candidates kept, best first, and a reason per excluded ref.

    ``demoted`` names kept candidates the policy is unsure of (a capability or context
    length the catalog does not state), with why: after the whole chain has run, they
    rank after every candidate that no policy was unsure of, whatever later policies'
    order says.
    """

    keep: list[ModelCard]
    excluded: dict[str, str] = field(default_factory=dict)
    demoted: dict[str, str] = field(default_factory=dict)


class Policy(BaseModel, abc.ABC):
    """A routing policy plugin. Subclass it, declare options as fields, implement ``apply``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @abc.abstractmethod
    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        """Filter and order ``candidates`` for ``request``.

        Return every candidate either in ``keep`` (in the order this policy prefers,
        stable where it has no preference) or in ``excluded`` with a short reason
        naming the number that failed (``"context 8192 < 9100 needed"``).
        """


UnknownVerdict = Literal["exclude", "demote"]

Judgement = tuple[UnknownVerdict, str] | None
"""What a :class:`Filter` says of one candidate: None keeps it, ``("exclude", why)``
drops it, ``("demote", why)`` keeps it ranked after the sure ones."""


class Filter(Policy):
    """A policy that judges each candidate on its own and keeps the order it was given.

    Implement :meth:`judge`; ``apply`` follows from it. The router may ask a built-in
    filter about only the candidates it needs (the cheapest few of a large catalog).
    """

    @property
    def unknown_verdict(self) -> UnknownVerdict:
        """``exclude`` with an ``unknown: exclude`` option, else ``demote``."""
        return "exclude" if getattr(self, "unknown", "allow") == "exclude" else "demote"

    @abc.abstractmethod
    def judge(self, request: ChatRequest, card: ModelCard) -> Judgement:
        """None to keep ``card``; ``("exclude", why)`` or ``("demote", why)`` otherwise."""

    def apply(self, request: ChatRequest, candidates: list[ModelCard]) -> Verdict:
        keep: list[ModelCard] = []
        excluded: dict[str, str] = {}
        demoted: dict[str, str] = {}
        for card in candidates:
            judgement = self.judge(request, card)
            if judgement is None:
                keep.append(card)
            elif judgement[0] == "exclude":
                excluded[card.ref] = judgement[1]
            else:
                keep.append(card)
                demoted[card.ref] = judgement[1]
        return Verdict(keep, excluded, demoted)
