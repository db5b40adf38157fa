"""What the router knows about one request while it plans it: calibration, warm caches.

A :class:`RoutingContext` is handed to every policy with the request
(``Policy.apply(request, candidates, context)``, ``Filter.judge(request, card, context)``):
policies ask it for the prompt tokens a deployment will count, for what that
deployment's prefix cache is expected to serve, and for a context length its catalog does
not state as another catalog states it for the same model (:meth:`context_length`). Built
without a memory (``RoutingContext(request)``) it gives the plain, uncalibrated figures of
a cold cache, and lends no context length: what a policy sees outside a router, in a unit
test say.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

from router.catalog import ModelCard
from router.completion import TokenCounts
from router.planning.lengths import ContextLength, KnownLengths
from router.state.conversations import ConversationOutlook
from router.state.latency import LatencyState, Speed
from router.state.prefix import NO_CACHE, CacheOutlook, CacheRule, Prefix, PrefixState, prefix_chain
from router.state.ratelimits import RateLimitState
from router.types import ChatRequest

__all__ = ["DEFAULT_EXPECTED_OUTPUT", "Caching", "RoutingContext"]

DEFAULT_EXPECTED_OUTPUT = 300
"""Completion tokens assumed when neither the request nor a policy says."""

Caching = Callable[[ModelCard], tuple[CacheRule, bool]]
"""A deployment's prefix-cache rule, and whether the router may add cache breakpoints
to requests for it (``auto_cache_control``): asked of its provider."""


def _no_caching(card: ModelCard) -> tuple[CacheRule, bool]:
    return NO_CACHE, False


class RoutingContext:
    """One request's view of what the router has learned: calibration and warm caches.

    What it works out for a deployment (calibrated tokens, cache outlook, expected costs
    in ``costs``) is worked out once per request: policies ask for the same card again.
    After the answer, :meth:`learn` tells the memory what the deployment reported.
    """

    def __init__(
        self,
        request: ChatRequest,
        *,
        prefixes: PrefixState | None = None,
        caching: Caching = _no_caching,
        prefix_cache: bool = False,
        expected_output: int | None = None,
        output_source: str = "default",
        latency: LatencyState | None = None,
        limits: RateLimitState | None = None,
        output_from_request: bool = False,
        lengths: Callable[[], KnownLengths] | None = None,
    ) -> None:
        self.request = request
        """The request being routed."""
        self.prefixes = prefixes
        """The prefix memory (calibration, hit rates, warm prefixes); None: plain figures."""
        self.prefix_cache = prefix_cache and prefixes is not None
        """Whether a policy prices the prefix cache (else nothing is hashed or remembered
        for it: only explicit caching's breakpoints need the prompt's prefixes)."""
        typical = DEFAULT_EXPECTED_OUTPUT if expected_output is None else expected_output
        self.typical_output = typical
        """Completion tokens a typical answer has: the chain's ``expected_output_tokens``
        (the policy that sets one), else 300."""
        limit = request.output_limit
        capped = limit is not None and limit < typical
        self.expected_output = limit if capped and limit is not None else typical
        """Completion tokens expected for this request: ``typical_output`` capped by the
        request's ``max_tokens``. One figure for every policy and the route."""
        self.output_source = "max_tokens" if capped else output_source
        """Where ``expected_output`` comes from: ``max_tokens``, the option that set it
        (``cheapest.expected_output_tokens``), or ``default``."""
        self.output_from_request = output_from_request
        """Whether ``typical_output`` is the request's own ``router.expected_output_tokens``
        (then it replaces every policy's own figure, for this request)."""
        self.costs: dict[tuple[str, int, bool], Decimal | None] = {}
        """``request_cost`` memo: (ref, output tokens, prefix_cache) → USD."""
        self.ranks: dict[str, Decimal | None] = {}
        """The figures the chain's ranking policies ordered by, per ref (the last
        ranking's): the route shows them without working them out again."""
        self.more: Iterator[ModelCard] | None = None
        """A shortlisted route's candidates after the first ones, worked out on demand."""
        self.latency = latency
        """The speed statistics (None: no measurements, every speed unknown)."""
        self.limits = limits
        """The rate-limit budgets a sent request counts against (None: none kept)."""
        self.borrowed: dict[str, ContextLength] = {}
        """Context lengths filled in from another deployment's catalog, per ref, as
        :meth:`context_length` lent them to a policy: the route shows them."""
        self._lengths = lengths
        self._known: KnownLengths | None = None
        self.conversation: ConversationOutlook | None = None
        """Where the request stands in its conversation and what usually follows (set by
        the planner for a chain that looks ahead; None: nothing known)."""
        self._caching = caching
        self._chain: tuple[Prefix, ...] | None = None
        self._outlooks: dict[str, CacheOutlook | None] = {}
        self._tokens: dict[str, int] = {}
        self._speeds: dict[str, Speed | None] = {}

    def chain(self) -> tuple[Prefix, ...]:
        """The request's prefixes (hashed once)."""
        if self._chain is None:
            self._chain = prefix_chain(self.request)
        return self._chain

    def _scale(self, card: ModelCard, tokens: int) -> int:
        if self.prefixes is None:
            return tokens
        return round(tokens * self.prefixes.calibration(card.ref))

    def caching(self, card: ModelCard) -> tuple[CacheRule, bool]:
        """``card``'s prefix-cache rule, and whether the router adds cache breakpoints to
        requests for it."""
        return self._caching(card)

    def scaled(self, card: ModelCard, tokens: int) -> int:
        """``tokens`` estimated, as ``card``'s deployment is expected to count them."""
        return self._scale(card, tokens)

    def prompt_tokens(self, card: ModelCard) -> int:
        """Prompt tokens on ``card``: the estimate, calibrated by what that deployment
        has reported before."""
        ref = card.ref
        tokens = self._tokens.get(ref)
        if tokens is None:
            estimate = self.request.estimated_prompt_tokens
            tokens = self._tokens[ref] = max(1, self._scale(card, estimate))
        return tokens

    def known_lengths(self) -> KnownLengths | None:
        """The smallest context length every loaded catalog states per canonical model
        (worked out once per catalog refresh, looked up once per request); None when the
        context was built without one."""
        known = self._known
        if known is None and self._lengths is not None:
            known = self._known = self._lengths()
        return known

    def context_length(self, card: ModelCard, *, borrow: bool = True) -> ContextLength | None:
        """``card``'s context length: as its catalog states it; else (with ``borrow``) the
        smallest any other loaded catalog states for the same canonical model that its own
        catalog does not contradict (:meth:`KnownLengths.lend`), with the deployment that
        states it (``source``; recorded in :attr:`borrowed`); else None."""
        if card.context_length is not None:
            return ContextLength(card.context_length)
        if not borrow:
            return None
        known = self.known_lengths()
        found = None if known is None else known.lend(card)
        if found is not None:
            self.borrowed[card.ref] = found
        return found

    def cache_outlook(self, card: ModelCard) -> CacheOutlook | None:
        """What ``card``'s prefix cache is expected to serve for this request (None
        without a memory)."""
        ref = card.ref
        if ref in self._outlooks:
            return self._outlooks[ref]
        memory = self.prefixes
        if memory is None:
            self._outlooks[ref] = None
            return None
        rule, breakpoints = self._caching(card)
        outlook = CacheOutlook(rule, 0, 0, memory.hit_rate(ref))
        if rule.mode == "explicit" and breakpoints:
            # Worth a breakpoint when what precedes the newest message is long enough
            # to be cached: the next turn of the conversation will reuse it.
            chain = self.chain()
            stable = [p.tokens for p in chain if p.boundary][-2:-1]
            if stable and rule.cacheable(self._scale(card, stable[0])) > 0:
                shared = 0
                if self.prefix_cache:
                    shared = self._scale(card, memory.longest(ref, chain, rule.lifetime))
                predicted = rule.cacheable(shared)
                write = max(0, rule.cacheable(self.prompt_tokens(card)) - predicted)
                outlook = CacheOutlook(rule, shared, predicted, outlook.hit_rate, write, True)
        elif rule.mode == "automatic" and self.prefix_cache:
            shared = self._scale(card, memory.longest(ref, self.chain(), rule.lifetime))
            outlook = CacheOutlook(rule, shared, rule.cacheable(shared), outlook.hit_rate)
        self._outlooks[ref] = outlook
        return outlook

    def speed(self, card: ModelCard) -> Speed | None:
        """What ``card``'s deployment measured (TTFT, tokens/s, latency, p50/p90), or
        None when nothing was (or there is no memory): read once per request, so every
        policy and the route see the same figures."""
        ref = card.ref
        if ref in self._speeds:
            return self._speeds[ref]
        speed = self._speeds[ref] = None if self.latency is None else self.latency.speed(ref)
        return speed

    def expected_seconds(self, card: ModelCard) -> float | None:
        """The wall time of this request at ``card``: TTFT + ``expected_output`` ÷ its
        throughput (:meth:`Speed.expected_seconds`), or None when unmeasured."""
        speed = self.speed(card)
        return None if speed is None else speed.expected_seconds(self.expected_output)

    def learn(self, card: ModelCard, counts: TokenCounts) -> None:
        """Record what ``card`` answered: calibration, hit rate, the prefixes now warm."""
        memory = self.prefixes
        if memory is None:
            return
        request = self.request
        # Images are estimated at a flat rate that says nothing about the ratio of text to
        # tokens: only text-only requests calibrate.
        if not counts.estimated and not request.needs_vision:
            memory.calibrate(card.ref, request.estimated_prompt_tokens, counts.prompt)
        if not self.prefix_cache:
            return
        outlook = self.cache_outlook(card)
        assert outlook is not None  # a memory is set
        rule = outlook.rule
        # A prediction within one step of the cache's minimum says little when nothing is
        # served: the provider's own count of the prompt may fall just under the minimum
        # (an estimate, not a miss). A reported hit there still counts.
        clear = outlook.predicted_tokens >= rule.min_tokens + rule.step
        if not counts.estimated and rule.mode != "none" and (clear or counts.cache_read > 0):
            memory.observe(card.ref, outlook.predicted_tokens, counts.cache_read)
        if outlook.rule.mode == "automatic" or outlook.breakpoints:
            memory.remember(card.ref, self.chain(), outlook.rule.lifetime)
