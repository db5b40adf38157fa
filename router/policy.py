"""The base classes of routing policies, and what a policy returns.

A policy is a pydantic model whose fields are its options (its YAML block in the
``policy:`` chain); :meth:`Policy.apply` takes the request, the candidates that earlier
policies kept and the request's :class:`~router.planning.context.RoutingContext` (what
the router knows: calibrated prompt tokens per deployment, the cache outlook, expected
output), and returns them filtered and ordered, each exclusion with a reason. Policies
compose: the chain runs them in YAML order.

Two kinds of policy say more about themselves, so that the router can rank a large
catalog without judging every card (it does so only when every policy of the chain is
one of these, whoever wrote it):

- a :class:`Filter` judges each card on its own and keeps the order it was given; with
  :meth:`Filter.judge_traits` it also says what it thinks of every card that shares a
  few traits (tools, vision, a known context length, a price) without looking further;
- a :class:`Ranking` orders by a figure per card (:meth:`Ranking.rank`, lowest first);
  with :meth:`Ranking.rank_floor` it also bounds that figure from below by list prices.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from router.catalog import ModelCard
from router.planning.context import RoutingContext
from router.types import ChatRequest

__all__ = ["CardTraits", "Filter", "Judgement", "Policy", "Ranking", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy decided: candidates kept, best first, and a reason per excluded ref.

    ``demoted`` names kept candidates the policy is unsure of (a capability or context
    length the catalog does not state), with why: after the whole chain has run, they
    rank after every candidate that no policy was unsure of, whatever later policies'
    order says. ``reasons`` may say, for kept candidates, why this policy put them where
    it did (``explain`` shows it beside the candidate).

    Every candidate given must come back in ``keep`` or ``excluded``: a policy that loses
    one is a ``PluginError`` naming it.
    """

    keep: list[ModelCard]
    excluded: dict[str, str] = field(default_factory=dict)
    demoted: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)


class Policy(BaseModel, abc.ABC):
    """A routing policy plugin. Subclass it, declare options as fields, implement ``apply``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @abc.abstractmethod
    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        """Filter and order ``candidates`` for ``request``.

        Return every candidate either in ``keep`` (in the order this policy prefers,
        stable where it has no preference) or in ``excluded`` with a short reason
        naming the number that failed (``"context 8192 < 9100 needed"``). Ask
        ``context`` for per-deployment figures (``context.prompt_tokens(card)``,
        ``context.cache_outlook(card)``, ``context.expected_output``).
        """


UnknownVerdict = Literal["exclude", "demote"]

Judgement = tuple[UnknownVerdict, str] | None
"""What a :class:`Filter` says of one candidate: None keeps it, ``("exclude", why)``
drops it, ``("demote", why)`` keeps it ranked after the sure ones."""


class CardTraits(NamedTuple):
    """What decides many cards' fate before any arithmetic: cards that share these
    traits are judged as one group by :meth:`Filter.judge_traits`."""

    supports_tools: bool | None
    supports_vision: bool | None
    context_known: bool
    priced: bool
    supports_structured_output: bool | None = None
    context_borrowed: bool = False
    """The card's catalog states no context length, but another loaded catalog states one
    for the same canonical model (:meth:`RoutingContext.context_length` lends it)."""

    @classmethod
    def of(cls, card: ModelCard, *, borrowed: bool = False) -> CardTraits:
        """``card``'s traits; ``borrowed``: a context length is known for its model
        elsewhere (only counts when its own catalog states none)."""
        return cls(
            card.supports_tools,
            card.supports_vision,
            card.context_length is not None,
            card.pricing is not None,
            card.supports_structured_output,
            borrowed and card.context_length is None,
        )


class Filter(Policy):
    """A policy that judges each candidate on its own and keeps the order it was given.

    Implement :meth:`judge`; ``apply`` follows from it. Implement :meth:`judge_traits`
    too and the router may ask about only the candidates it needs (the cheapest few of
    a large catalog).
    """

    @property
    def unknown_verdict(self) -> UnknownVerdict:
        """``exclude`` with an ``unknown: exclude`` option, else ``demote``."""
        return "exclude" if getattr(self, "unknown", "allow") == "exclude" else "demote"

    @abc.abstractmethod
    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        """None to keep ``card``; ``("exclude", why)`` or ``("demote", why)`` otherwise."""

    def judge_traits(
        self, request: ChatRequest, traits: CardTraits, context: RoutingContext
    ) -> Judgement:
        """What :meth:`judge` says of *every* card with ``traits``, known without the card:
        ``("exclude", why)`` when it excludes them all, ``("demote", why)`` when it
        demotes them all (it may still exclude some), None when it demotes none of them
        (it may still exclude some). Not implemented (the default): the router judges
        every card, and a large catalog is not shortlisted."""
        raise NotImplementedError

    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        keep: list[ModelCard] = []
        excluded: dict[str, str] = {}
        demoted: dict[str, str] = {}
        for card in candidates:
            judgement = self.judge(request, card, context)
            if judgement is None:
                keep.append(card)
            elif judgement[0] == "exclude":
                excluded[card.ref] = judgement[1]
            else:
                keep.append(card)
                demoted[card.ref] = judgement[1]
        return Verdict(keep, excluded, demoted)


class Ranking(Policy):
    """A policy that orders candidates by a figure per card, lowest first; candidates
    without one (:meth:`rank` gives None) keep their order, after the others.

    Implement :meth:`rank`; ``apply`` follows from it. Implement :meth:`rank_floor` too
    and the router may rank a large catalog lazily, reading cards cheapest-looking first.
    ``rank_unit`` names what the figure counts, for ``explain``: ``$`` (the default) or
    ``s`` (seconds).
    """

    rank_unit: ClassVar[str] = "$"

    @abc.abstractmethod
    def rank(
        self, request: ChatRequest, card: ModelCard, context: RoutingContext
    ) -> Decimal | None:
        """The figure ``card`` is ranked by for ``request`` (lower is better), or None."""

    def rank_floor(self, request: ChatRequest, context: RoutingContext) -> tuple[int, float]:
        """Weights ``(p, c)`` that bound :meth:`rank` from below by list prices: for every
        priced card whose deployment has no learned state (calibration, a warm cache),
        ``rank(card) >= p x its lowest prompt-side rate + c x its lowest completion
        rate`` (the lowest of the base and every tier; a cache-write rate counts as
        prompt-side when lower), and ``rank`` is None exactly for unpriced cards. Not
        implemented (the default): a large catalog is ranked whole."""
        raise NotImplementedError

    def apply(
        self, request: ChatRequest, candidates: list[ModelCard], context: RoutingContext
    ) -> Verdict:
        figures = {c.ref: self.rank(request, c, context) for c in candidates}
        context.ranks.update(figures)
        ranked = [c for c in candidates if figures[c.ref] is not None]
        ranked.sort(key=lambda c: figures[c.ref])  # type: ignore[arg-type, return-value]
        return Verdict(ranked + [c for c in candidates if figures[c.ref] is None])
