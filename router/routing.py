"""The routing logic shared by the sync and async APIs: choosing candidates, finishing answers.

Nothing here does IO: the Router fetches catalogs and sends; these functions decide
which deployments may serve a request and turn what came back into the caller's answer.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from router.catalog import Catalog, ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.cost import request_cost, usage_cost
from router.decision import Estimate, Exclusion, Route
from router.errors import (
    CatalogError,
    NoRouteError,
    StreamInterrupted,
    Unavailable,
    UpstreamError,
)
from router.fallback import Plan
from router.policy import Filter, Policy
from router.prefix import CacheOutlook, Prefix, prefix_chain
from router.shortlist import SHORTLIST_MIN_CARDS, CardIndex, shortlist, shortlisted_chain
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["Answer", "RoutingContext", "StreamSession", "plan_route", "referenced_providers"]

DEFAULT_EXPECTED_OUTPUT = 300
"""Completion tokens assumed when neither the request nor a policy says."""


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


def referenced_providers(router: Router, model: str) -> list[str]:
    """The providers whose catalogs a request for ``model`` needs."""
    if model == "auto":
        return list(router.providers)
    if model in router.groups:
        return list(dict.fromkeys(ref.partition(":")[0] for ref in router.groups[model]))
    provider, sep, _ = model.partition(":")
    return [provider] if sep and provider in router.providers else []


def _cards(
    router: Router,
    model: str,
    catalogs: Mapping[str, Catalog | CatalogError],
    excluded: list[Exclusion],
) -> list[ModelCard]:
    """The chat cards ``model`` names that are not cooling down; the rest into ``excluded``."""
    if model == "auto":
        found: Iterable[tuple[str, ModelCard | None]] = (
            (card.ref, card)
            for catalog in catalogs.values()
            if isinstance(catalog, Catalog)
            for card in catalog.models
        )
    elif model in router.groups:
        found = ((ref, _lookup(ref, catalogs)) for ref in router.groups[model])
    elif _is_ref(router, model):
        found = [(model, _lookup(model, catalogs))]
    else:
        groups = ", ".join(router.groups) or "none configured"
        raise NoRouteError(
            model,
            {
                model: "not a deployment ref ('<provider>:<model id>' with a configured"
                f" provider), a group ({groups}), or 'auto'"
            },
        )
    cooling = router.cooldowns.cooling
    cards: list[ModelCard] = []
    for ref, card in found:
        if card is None:
            provider = ref.partition(":")[0]
            failure = catalogs.get(provider)
            if isinstance(failure, CatalogError):
                why = f"catalog unavailable: {failure.problem}"
            else:
                why = f"not in {provider}'s catalog"
            excluded.append(Exclusion(ref, "catalog", why))
        elif card.kind != "chat":
            excluded.append(Exclusion(ref, "catalog", "a generation model: not routed chat"))
        elif (left := cooling(ref)) is not None:
            excluded.append(Exclusion(ref, "cooldown", f"cooling down, {left:.0f} s left"))
        else:
            cards.append(card)
    return cards


def _is_ref(router: Router, model: str) -> bool:
    provider, sep, model_id = model.partition(":")
    return bool(sep and model_id) and provider in router.providers


def _lookup(ref: str, catalogs: Mapping[str, Catalog | CatalogError]) -> ModelCard | None:
    provider, _, model_id = ref.partition(":")
    catalog = catalogs.get(provider)
    return catalog.card(model_id) if isinstance(catalog, Catalog) else None


def plan_route(
    router: Router,
    req: ChatRequest,
    catalogs: Mapping[str, Catalog | CatalogError],
    *,
    first: int | None = None,
) -> tuple[Route, list[ModelCard]]:
    """The route for ``req`` and the candidate cards, best first.

    With ``first`` (a request about to be sent), a large catalog under the built-in
    chain is shortlisted: only the ``first`` best candidates are worked out now, the
    rest on demand (``RoutingContext.more``), and the route lists the candidates and
    exclusions examined, with ``unexamined`` counting the cards never judged. Without
    it (``explain``), every card is judged and every exclusion listed.
    """
    route = Route(model=req.model)
    excluded = route.excluded
    routing = req._routing = RoutingContext(router)
    if req.model == "auto":
        for name, catalog in catalogs.items():
            if isinstance(catalog, CatalogError):
                excluded.append(
                    Exclusion(f"{name}:*", "catalog", f"unavailable: {catalog.problem}")
                )
        if first is not None:
            shortlisted = _shortlisted(router, req, catalogs, route, first)
            if shortlisted is not None:  # [] too: every card was judged, none is left
                return route, shortlisted
    cards = _cards(router, req.model, catalogs, excluded)
    unsure: dict[str, list[str]] = {}
    for name, policy in router.policies:
        if not cards:
            break
        verdict = policy.apply(req, cards)
        excluded.extend(Exclusion(ref, name, why) for ref, why in verdict.excluded.items())
        for ref, why in verdict.demoted.items():
            unsure.setdefault(ref, []).append(f"[{name}] {why}")
        cards = verdict.keep
    if unsure:
        # A candidate some policy was unsure of ranks after every sure one (stable sort).
        cards.sort(key=lambda card: len(unsure.get(card.ref, ())))
    output = _expected_output(router, req)
    route.candidates = [
        _estimate(req, card, output, routing.prefix_cache, unsure) for card in cards
    ]
    return route, cards


def _shortlisted(
    router: Router,
    req: ChatRequest,
    catalogs: Mapping[str, Catalog | CatalogError],
    route: Route,
    first: int,
) -> list[ModelCard] | None:
    """The first candidates from :func:`router.shortlist.shortlist`, or None when the
    whole chain must run (a small catalog, a third-party policy, a prefix memory that
    cannot say which deployments have learned state)."""
    if not shortlisted_chain(router.policies):
        return None
    learned = getattr(router.prefixes, "learned", None)
    refs = learned() if callable(learned) else None
    if refs is None:
        return None
    index = _card_index(router, [c for c in catalogs.values() if isinstance(c, Catalog)])
    if len(index.cards) < SHORTLIST_MIN_CARDS:
        return None
    examined: set[int] = set()
    more = shortlist(router, req, index, refs, route.excluded, examined)
    cards = list(itertools.islice(more, first))
    output = _expected_output(router, req)
    prefix_cache = router.traits.prefix_cache
    for card in cards:
        unsure = [
            f"[{name}] {judgement[1]}"
            for name, policy in router.policies
            if isinstance(policy, Filter) and (judgement := policy.judge(req, card)) is not None
        ]
        route.candidates.append(_estimate(req, card, output, prefix_cache, {card.ref: unsure}))
    route.unexamined = len(index.cards) - len(examined)
    assert isinstance(req._routing, RoutingContext)
    req._routing.more = more
    return cards


def _card_index(router: Router, catalogs: list[Catalog]) -> CardIndex:
    """The chat cards of ``catalogs`` indexed for shortlisting, built once per fetch."""
    key = tuple(id(c) for c in catalogs)
    cached = router._card_indexes.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], catalogs, strict=True)):
        return cached[1]
    chat = [card for catalog in catalogs for card in catalog.models if card.kind == "chat"]
    index = CardIndex(chat)
    with router._card_indexes_lock:  # requests in other threads may miss at the same time
        if len(router._card_indexes) >= 8:
            router._card_indexes.pop(next(iter(router._card_indexes)))
        router._card_indexes[key] = (tuple(catalogs), index)
    return index


def _expected_output(router: Router, req: ChatRequest) -> int:
    """Expected output tokens: the first policy's that states them (capped by the
    request's), else the request's cap, else a default."""
    expected = router.traits.expected_output
    limit = req.output_limit
    if expected is None:
        return limit or DEFAULT_EXPECTED_OUTPUT
    return expected if limit is None else min(limit, expected)


def _estimate(
    req: ChatRequest, card: ModelCard, output: int, prefix_cache: bool, unsure: dict[str, list[str]]
) -> Estimate:
    cost = request_cost(req, card, output, prefix_cache=prefix_cache)
    outlook = req.cache_outlook(card) if prefix_cache else None
    cached = outlook.cached_tokens if outlook else 0
    saved = None
    if outlook is not None and cost is not None and outlook.rule.mode != "none":
        cold = request_cost(req, card, output)
        saved = None if cold is None else cold - cost
    return Estimate(
        card.ref,
        req.prompt_tokens(card),
        output,
        cost,
        tuple(unsure.get(card.ref, ())),
        cached_tokens=cached,
        hit_rate=outlook.hit_rate if outlook and outlook.rule.mode != "none" else None,
        saved=saved,
    )


def _estimated(req: ChatRequest, text: str) -> TokenCounts:
    return TokenCounts(
        prompt=req.estimated_prompt_tokens, completion=math.ceil(len(text) / 4), estimated=True
    )


def _settle(plan: Plan, card: ModelCard, req: ChatRequest, counts: TokenCounts) -> Route:
    plan.succeeded()
    routing = getattr(req, "_routing", None)
    if isinstance(routing, RoutingContext):
        routing.learn(req, card, counts)
    route = plan.route
    route.chosen = card.ref
    route.cost = usage_cost(card.pricing, counts)
    route.usage_estimated = counts.estimated
    return route


class Answer:
    """Finishes a complete (non-streamed) answer: usage, exact cost, provider, route."""

    def __init__(self, plan: Plan, card: ModelCard, req: ChatRequest) -> None:
        self.plan = plan
        self.card = card
        self.req = req

    def completion(self, completion: ChatCompletion, counts: TokenCounts | None) -> ChatCompletion:
        if counts is None:
            text = "".join(c.message.content or "" for c in completion.choices)
            counts = _estimated(self.req, text)
        route = _settle(self.plan, self.card, self.req, counts)
        completion.usage = counts.to_usage(route.cost)
        completion.provider = self.card.provider
        completion._route = route
        return completion


class StreamSession:
    """One streamed answer: decodes events, counts what reached the caller, ends with usage.

    Until the first chunk is out, a failure is an ``UpstreamError`` (the Router may fall
    over); after it, a failure is ``StreamInterrupted`` carrying what was received.
    """

    def __init__(
        self,
        plan: Plan,
        card: ModelCard,
        req: ChatRequest,
        decoder: Any,
        snippet: Callable[[str, int], str],
    ) -> None:
        self.snippet = snippet
        """The provider's redact-then-cut: stream events may echo a credential."""
        self.plan = plan
        self.card = card
        self.req = req
        self.decoder = decoder
        self.delivered = 0
        self._text: list[str] = []
        self._head: ChatCompletionChunk | None = None

    def _feed(self, event: Any) -> list[ChatCompletionChunk]:
        try:
            chunks = self.decoder.feed(event)
        except UpstreamError as exc:
            exc.message = self.snippet(exc.message, 300)
            exc.args = (self.snippet(str(exc.args[0]) if exc.args else "", 400),)
            raise
        except (ValueError, ValidationError) as exc:
            problem = f"malformed stream event: {self.snippet(str(exc), 200)}"
            raise Unavailable(self.card.provider, self.card.id, problem) from None
        provider = self.card.provider
        for chunk in chunks:
            if chunk.provider != provider:
                chunk.provider = provider
            self._head = self._head or chunk
            for choice in chunk.choices:
                if choice.delta.content:
                    self._text.append(choice.delta.content)
        return list(chunks)

    def _check_end(self) -> None:
        if not self.decoder.complete:
            raise Unavailable(self.card.provider, self.card.id, "the stream ended before its end")

    def first(self, events: Iterator[Any]) -> list[ChatCompletionChunk]:
        """Pull events until the first chunks (inside the retry loop)."""
        for event in events:
            if chunks := self._feed(event):
                self.delivered += len(chunks)
                return chunks
        self._check_end()
        return []

    async def afirst(self, events: AsyncIterator[Any]) -> list[ChatCompletionChunk]:
        """Async :meth:`first`."""
        async for event in events:
            if chunks := self._feed(event):
                self.delivered += len(chunks)
                return chunks
        self._check_end()
        return []

    def rest(self, events: Iterator[Any]) -> Iterator[ChatCompletionChunk]:
        """The remaining chunks, then the usage chunk (after the first reached the caller)."""
        try:
            for event in events:
                for chunk in self._feed(event):
                    self.delivered += 1
                    yield chunk
            self._check_end()
        except UpstreamError as exc:
            raise self._interrupted(exc) from exc
        yield self.last()

    async def arest(self, events: AsyncIterator[Any]) -> AsyncIterator[ChatCompletionChunk]:
        """Async :meth:`rest`."""
        try:
            async for event in events:
                for chunk in self._feed(event):
                    self.delivered += 1
                    yield chunk
            self._check_end()
        except UpstreamError as exc:
            raise self._interrupted(exc) from exc
        yield self.last()

    def _interrupted(self, exc: UpstreamError) -> StreamInterrupted:
        error = StreamInterrupted(self.card.ref, "".join(self._text), self.delivered, exc)
        error.route = self.plan.route  # type: ignore[attr-defined]
        return error

    def last(self) -> ChatCompletionChunk:
        """The closing chunk: no choices, ``usage`` with ``cost``, and the route."""
        counts = self.decoder.counts or _estimated(self.req, "".join(self._text))
        route = _settle(self.plan, self.card, self.req, counts)
        head = self._head
        chunk = ChatCompletionChunk(
            id=head.id if head else f"chatcmpl-{int(time.time() * 1000)}",
            created=head.created if head else int(time.time()),
            model=head.model if head else self.card.id,
            choices=[],
            usage=counts.to_usage(route.cost),
            provider=self.card.provider,
        )
        chunk._route = route
        return chunk
