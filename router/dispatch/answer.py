"""Finishing an answer: usage, exact cost, the provider and the route; stream sessions."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from router.catalog import ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.dispatch.fallback import Plan
from router.errors import StreamInterrupted, Unavailable, UpstreamError
from router.planning.cost import catalog_cost
from router.planning.route import Route
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.provider import Provider

__all__ = ["Answer", "StreamSession"]

logger = logging.getLogger("router.cost")

DIVERGENCE = Decimal("0.01")
"""A stated cost further than this share of the catalog's computation from it is logged."""


def _estimated(req: ChatRequest, text: str) -> TokenCounts:
    return TokenCounts(
        prompt=req.estimated_prompt_tokens, completion=math.ceil(len(text) / 4), estimated=True
    )


def _settle(
    plan: Plan, card: ModelCard, counts: TokenCounts, model: str | None, first_at: float | None
) -> Route:
    plan.succeeded()
    context = plan.context
    context.learn(card, counts)
    if context.latency is not None:
        sent = plan.flight.sent_at
        context.latency.observe(
            card.ref,
            seconds=time.perf_counter() - sent,
            ttft=None if first_at is None else first_at - sent,
            output_tokens=counts.completion,
        )
    route = plan.route
    route.chosen = card.ref
    computed = catalog_cost(card.pricing, counts)
    route.catalog_cost = computed
    route.cost_stated = counts.billed_usd is not None
    route.cost = counts.billed_usd if route.cost_stated else computed
    route.usage_estimated = counts.estimated
    if route.cost_stated and computed is not None and not counts.estimated:
        _check_divergence(card, counts.billed_usd, computed)
    plan.finish(counts, model)
    return route


def _check_divergence(card: ModelCard, stated: Decimal | None, computed: Decimal) -> None:
    """Log a stated cost more than 1% away from the catalog's figure: the catalog lacks
    a rate, or bills one the provider does not (the stated figure is the cost)."""
    if stated is None or abs(stated - computed) <= computed * DIVERGENCE:
        return
    share = f"{(stated - computed) / computed * 100:+.1f}%" if computed else "from zero"
    logger.warning(
        "%s: the provider states it billed $%s; the catalog prices give $%s (%s)",
        card.ref,
        _plain(stated),
        _plain(computed),
        share,
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


class Answer:
    """Finishes a complete (non-streamed) answer: usage, exact cost, provider, route."""

    def __init__(self, plan: Plan, card: ModelCard) -> None:
        self.plan = plan
        self.card = card

    def completion(self, completion: ChatCompletion, counts: TokenCounts | None) -> ChatCompletion:
        if counts is None:
            text = "".join(c.message.content or "" for c in completion.choices)
            counts = _estimated(self.plan.context.request, text)
        route = _settle(self.plan, self.card, counts, completion.model, None)
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
        decoder: Any,
        snippet: Callable[[str, int], str],
    ) -> None:
        self.snippet = snippet
        """The provider's redact-then-cut: stream events may echo a credential."""
        self.plan = plan
        self.card = card
        self.decoder = decoder
        self.delivered = 0
        self._text: list[str] = []
        self._head: ChatCompletionChunk | None = None
        self._first_at: float | None = None
        """When the first chunk arrived (``time.perf_counter``): the time to first token."""

    @classmethod
    def open(
        cls, plan: Plan, providers: Mapping[str, Provider], req: ChatRequest
    ) -> tuple[StreamSession, Generator[Any]]:
        """Begin the plan's next attempt as a stream: the session and the provider's events."""
        card = plan.begin()
        provider = providers[card.provider]
        session = cls(plan, card, provider.stream_decoder(card, req), provider.snippet)
        return session, provider.events(card, req, cache_breakpoints=plan.breakpoints(card))

    @classmethod
    def aopen(
        cls, plan: Plan, providers: Mapping[str, Provider], req: ChatRequest
    ) -> tuple[StreamSession, AsyncGenerator[Any]]:
        """Async :meth:`open`."""
        card = plan.begin()
        provider = providers[card.provider]
        session = cls(plan, card, provider.stream_decoder(card, req), provider.snippet)
        return session, provider.aevents(card, req, cache_breakpoints=plan.breakpoints(card))

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
                self._first_at = time.perf_counter()
                self.delivered += len(chunks)
                return chunks
        self._check_end()
        return []

    async def afirst(self, events: AsyncIterator[Any]) -> list[ChatCompletionChunk]:
        """Async :meth:`first`."""
        async for event in events:
            if chunks := self._feed(event):
                self._first_at = time.perf_counter()
                self.delivered += len(chunks)
                return chunks
        self._check_end()
        return []

    def rest(self, events: Iterator[Any]) -> Iterator[ChatCompletionChunk]:
        """The remaining chunks, then the usage chunk (after the first reached the caller).
        A caller that stops early ends the attempt here too (its rate-limit flight)."""
        try:
            for event in events:
                for chunk in self._feed(event):
                    self.delivered += 1
                    yield chunk
            self._check_end()
        except UpstreamError as exc:
            raise self._interrupted(exc) from exc
        except GeneratorExit:
            self.plan.flight.landed()
            raise
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
        except GeneratorExit:
            self.plan.flight.landed()
            raise
        yield self.last()

    def received(self) -> TokenCounts:
        """The usage of what the provider sent: its own counts when it sent them, else
        estimated from the prompt and the text received."""
        return self.decoder.counts or _estimated(self.plan.context.request, "".join(self._text))

    def _interrupted(self, exc: UpstreamError) -> StreamInterrupted:
        self.plan.flight.landed()
        error = StreamInterrupted(self.card.ref, "".join(self._text), self.delivered, exc)
        error.route = self.plan.route  # type: ignore[attr-defined]
        return error

    def last(self) -> ChatCompletionChunk:
        """The closing chunk: no choices, ``usage`` with ``cost``, and the route."""
        counts = self.received()
        head = self._head
        route = _settle(self.plan, self.card, counts, head.model if head else None, self._first_at)
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
