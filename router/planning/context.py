"""What the router knows about one request while it plans it: calibration, warm caches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from router.catalog import ModelCard
from router.completion import TokenCounts
from router.policy import Policy
from router.state.prefix import CacheOutlook, Prefix, prefix_chain
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["ChainTraits", "RoutingContext", "chain_traits"]


class RoutingContext:
    """One request's view of what the router has learned: calibration and warm caches.

    Attached to the request while it is routed (``ChatRequest.prompt_tokens(card)``,
    ``ChatRequest.cache_outlook(card)``), and told the outcome with :meth:`learn`. What
    it works out for a deployment (calibrated tokens, cache outlook, expected costs in
    ``costs``) is worked out once per request: policies ask for the same card again.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self.prefix_cache = router.traits.prefix_cache
        """Whether a policy prices the prefix cache (else nothing is hashed or remembered
        for it: only explicit caching's breakpoints need the prompt's prefixes)."""
        self.costs: dict[tuple[str, int, bool], Decimal | None] = {}
        """``request_cost`` memo: (ref, output tokens, prefix_cache) → USD."""
        self._chain: tuple[Prefix, ...] | None = None
        self._outlooks: dict[str, CacheOutlook] = {}
        self._tokens: dict[str, int] = {}
        self.more: Iterator[ModelCard] | None = None
        """A shortlisted route's candidates after the first ones, worked out on demand."""

    def chain(self, request: ChatRequest) -> tuple[Prefix, ...]:
        if self._chain is None:
            self._chain = prefix_chain(request)
        return self._chain

    def _scale(self, card: ModelCard, tokens: int) -> int:
        return round(tokens * self.router.prefixes.calibration(card.ref))

    def prompt_tokens(self, request: ChatRequest, card: ModelCard) -> int:
        ref = card.ref
        tokens = self._tokens.get(ref)
        if tokens is None:
            tokens = self._tokens[ref] = max(1, self._scale(card, request.estimated_prompt_tokens))
        return tokens

    def outlook(self, request: ChatRequest, card: ModelCard) -> CacheOutlook:
        if (known := self._outlooks.get(card.ref)) is not None:
            return known
        provider = self.router.providers[card.provider]
        rule = provider.cache_rule(card)
        memory = self.router.prefixes
        outlook = CacheOutlook(rule, 0, 0, memory.hit_rate(card.ref))
        explicit = rule.mode == "explicit"
        if explicit and provider.options.auto_cache_control:
            # Worth a breakpoint when what precedes the newest message is long enough
            # to be cached: the next turn of the conversation will reuse it.
            chain = self.chain(request)
            stable = [p.tokens for p in chain if p.boundary][-2:-1]
            if stable and rule.cacheable(self._scale(card, stable[0])) > 0:
                shared = 0
                if self.prefix_cache:
                    shared = self._scale(card, memory.longest(card.ref, chain, rule.lifetime))
                predicted = rule.cacheable(shared)
                prompt = self.prompt_tokens(request, card)
                write = max(0, rule.cacheable(prompt) - predicted)
                outlook = CacheOutlook(rule, shared, predicted, outlook.hit_rate, write, True)
        elif rule.mode == "automatic" and self.prefix_cache:
            shared = self._scale(card, memory.longest(card.ref, self.chain(request), rule.lifetime))
            outlook = CacheOutlook(rule, shared, rule.cacheable(shared), outlook.hit_rate)
        self._outlooks[card.ref] = outlook
        return outlook

    def learn(self, request: ChatRequest, card: ModelCard, counts: TokenCounts) -> None:
        """Record what ``card`` answered: calibration, hit rate, the prefixes now warm."""
        memory = self.router.prefixes
        # Images are estimated at a flat rate that says nothing about the ratio of text to
        # tokens: only text-only requests calibrate.
        if not counts.estimated and not request.needs_vision:
            memory.calibrate(card.ref, request.estimated_prompt_tokens, counts.prompt)
        if not self.prefix_cache:
            return
        outlook = self.outlook(request, card)
        if not counts.estimated and outlook.rule.mode != "none":
            memory.observe(card.ref, outlook.predicted_tokens, counts.cache_read)
        if outlook.rule.mode == "automatic" or outlook.breakpoints:
            memory.remember(card.ref, self.chain(request))


@dataclass(frozen=True, slots=True)
class ChainTraits:
    """What the policy chain as a whole implies for every request, worked out once."""

    expected_output: int | None
    """``expected_output_tokens`` of the first policy that states it."""
    prefix_cache: bool
    """Whether some policy counts prefix-cache savings."""


def chain_traits(policies: tuple[tuple[str, Policy], ...]) -> ChainTraits:
    """The traits of a policy chain (the Router keeps its chain's as ``traits``)."""
    output: int | None = None
    prefix_cache = False
    for _, policy in policies:
        expected = getattr(policy, "expected_output_tokens", None)
        if output is None and isinstance(expected, int):
            output = expected
        prefix_cache = prefix_cache or getattr(policy, "prefix_cache", False) is True
    return ChainTraits(output, prefix_cache)
