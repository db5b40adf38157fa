"""The routing logic shared by the sync and async APIs: choosing candidates, finishing answers.

Nothing here does IO: the Router fetches catalogs and sends; these functions decide
which deployments may serve a request and turn what came back into the caller's answer.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
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
from router.prefix import CacheOutlook, Prefix, prefix_chain
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["Answer", "RoutingContext", "StreamSession", "plan_route", "referenced_providers"]

DEFAULT_EXPECTED_OUTPUT = 300
"""Completion tokens assumed when neither the request nor a policy says."""


class RoutingContext:
    """One request's view of what the router has learned: calibration and warm caches.

    Attached to the request while it is routed (``ChatRequest.prompt_tokens(card)``,
    ``ChatRequest.cache_outlook(card)``), and told the outcome with :meth:`learn`.
    """

    def __init__(self, router: Router) -> None:
        self.router = router
        self._chain: tuple[Prefix, ...] | None = None
        self._outlooks: dict[str, CacheOutlook] = {}

    def chain(self, request: ChatRequest) -> tuple[Prefix, ...]:
        if self._chain is None:
            self._chain = prefix_chain(request)
        return self._chain

    def _scale(self, card: ModelCard, tokens: int) -> int:
        return round(tokens * self.router.prefixes.calibration(card.ref))

    def prompt_tokens(self, request: ChatRequest, card: ModelCard) -> int:
        return max(1, self._scale(card, request.estimated_prompt_tokens))

    def outlook(self, request: ChatRequest, card: ModelCard) -> CacheOutlook:
        if (known := self._outlooks.get(card.ref)) is not None:
            return known
        provider = self.router.providers[card.provider]
        rule = provider.cache_rule(card)
        memory = self.router.prefixes
        outlook = CacheOutlook(rule, 0, 0, memory.hit_rate(card.ref))
        if rule.mode != "none":
            chain = self.chain(request)
            shared = self._scale(card, memory.longest(card.ref, chain, rule.lifetime))
            predicted = rule.cacheable(shared)
            breakpoints = False
            write = 0
            if rule.mode == "explicit":
                # Worth a breakpoint when what precedes the newest message is long enough
                # to be cached: the next turn of the conversation will reuse it.
                stable = [p.tokens for p in chain if p.boundary][-2:-1]
                reused = bool(stable) and rule.cacheable(self._scale(card, stable[0])) > 0
                breakpoints = provider.options.auto_cache_control and reused
                if not breakpoints:
                    predicted = 0  # without breakpoints nothing is read from the cache
                else:
                    prompt = self.prompt_tokens(request, card)
                    write = max(0, rule.cacheable(prompt) - predicted)
            outlook = CacheOutlook(rule, shared, predicted, outlook.hit_rate, write, breakpoints)
        self._outlooks[card.ref] = outlook
        return outlook

    def learn(self, request: ChatRequest, card: ModelCard, counts: TokenCounts) -> None:
        """Record what ``card`` answered: calibration, hit rate, the prefixes now warm."""
        memory = self.router.prefixes
        outlook = self.outlook(request, card)
        # Images are estimated at a flat rate that says nothing about the ratio of text to
        # tokens: only text-only requests calibrate.
        if not counts.estimated and not request.needs_vision:
            memory.calibrate(card.ref, request.estimated_prompt_tokens, counts.prompt)
        if not counts.estimated and outlook.rule.mode != "none":
            memory.observe(card.ref, outlook.predicted_tokens, counts.cache_read)
        if outlook.rule.mode == "automatic" or outlook.breakpoints:
            memory.remember(card.ref, self.chain(request))


def referenced_providers(router: Router, model: str) -> list[str]:
    """The providers whose catalogs a request for ``model`` needs."""
    if model == "auto":
        return list(router.providers)
    if model in router.groups:
        return list(dict.fromkeys(ref.partition(":")[0] for ref in router.groups[model]))
    provider, sep, _ = model.partition(":")
    return [provider] if sep and provider in router.providers else []


def _refs(router: Router, model: str, catalogs: Mapping[str, Catalog | CatalogError]) -> list[str]:
    if model == "auto":
        return [
            card.ref
            for catalog in catalogs.values()
            if isinstance(catalog, Catalog)
            for card in catalog.models
        ]
    if model in router.groups:
        return list(router.groups[model])
    provider, sep, model_id = model.partition(":")
    if sep and model_id and provider in router.providers:
        return [model]
    groups = ", ".join(router.groups) or "none configured"
    raise NoRouteError(
        model,
        {
            model: "not a deployment ref ('<provider>:<model id>' with a configured provider),"
            f" a group ({groups}), or 'auto'"
        },
    )


def _expectations(router: Router, req: ChatRequest) -> tuple[int, bool]:
    """Expected output tokens (the first policy that states them, else the request's cap
    or a default), and whether any policy counts prefix-cache savings."""
    output: int | None = None
    prefix_cache = False
    for _, policy in router.policies:
        expected = getattr(policy, "expected_output_tokens", None)
        if output is None and isinstance(expected, int):
            limit = req.output_limit
            output = expected if limit is None else min(limit, expected)
        prefix_cache = prefix_cache or getattr(policy, "prefix_cache", False) is True
    return output or req.output_limit or DEFAULT_EXPECTED_OUTPUT, prefix_cache


def plan_route(
    router: Router, req: ChatRequest, catalogs: Mapping[str, Catalog | CatalogError]
) -> tuple[Route, list[ModelCard]]:
    """The route for ``req`` and the candidate cards, best first."""
    route = Route(model=req.model)
    excluded = route.excluded
    req._routing = RoutingContext(router)
    for name, catalog in catalogs.items():
        if isinstance(catalog, CatalogError) and req.model == "auto":
            excluded.append(Exclusion(f"{name}:*", "catalog", f"unavailable: {catalog.problem}"))
    index = {
        name: {card.id: card for card in catalog.models}
        for name, catalog in catalogs.items()
        if isinstance(catalog, Catalog)
    }
    cards: list[ModelCard] = []
    for ref in _refs(router, req.model, catalogs):
        provider, _, model_id = ref.partition(":")
        failure = catalogs.get(provider)
        if isinstance(failure, CatalogError):
            excluded.append(Exclusion(ref, "catalog", f"catalog unavailable: {failure.problem}"))
            continue
        card = index.get(provider, {}).get(model_id)
        if card is None:
            excluded.append(Exclusion(ref, "catalog", f"not in {provider}'s catalog"))
        elif card.kind != "chat":
            excluded.append(Exclusion(ref, "catalog", "a generation model: not routed chat"))
        elif (left := router.cooldowns.cooling(ref)) is not None:
            excluded.append(Exclusion(ref, "cooldown", f"cooling down, {left:.0f} s left"))
        else:
            cards.append(card)
    unsure: dict[str, list[str]] = {}
    for name, policy in router.policies:
        if not cards:
            break
        verdict = policy.apply(req, cards)
        excluded.extend(Exclusion(ref, name, why) for ref, why in verdict.excluded.items())
        for ref, why in verdict.demoted.items():
            unsure.setdefault(ref, []).append(f"[{name}] {why}")
        cards = verdict.keep
    # A candidate some policy was unsure of ranks after every sure one (stable sort).
    cards.sort(key=lambda card: len(unsure.get(card.ref, ())))
    output, prefix_cache = _expectations(router, req)
    route.candidates = [_estimate(req, card, output, prefix_cache, unsure) for card in cards]
    return route, cards


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
    if isinstance(req._routing, RoutingContext):
        req._routing.learn(req, card, counts)
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
        for chunk in chunks:
            chunk.provider = self.card.provider
            self._head = self._head or chunk
            self._text.extend(c.delta.content or "" for c in chunk.choices)
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
