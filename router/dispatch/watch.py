"""What the observation hooks are told about one request: its clocks and its attempts.

A :class:`Watch` exists only when some plugin implements ``router_on_attempt`` or
``router_on_result``: the :class:`~router.dispatch.fallback.Plan` calls it at each step.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal

from router.catalog import ModelCard
from router.completion import TokenCounts
from router.dispatch.observe import Observers
from router.errors import BudgetExceeded, NoRouteError, UpstreamError
from router.events import AttemptEvent, ResultEvent
from router.planning.route import Route
from router.types import ChatRequest

__all__ = ["Watch", "refused"]


def refused(
    exc: NoRouteError | BudgetExceeded, req: ChatRequest, watch: Watch | None
) -> NoRouteError | BudgetExceeded:
    """``exc`` with its route (an empty one if planning did not get that far), the
    observers told: the request was refused before anything was sent."""
    route = getattr(exc, "route", None)
    if not isinstance(route, Route):
        route = exc.route = Route(model=req.model)  # type: ignore[union-attr]
    if watch is not None:
        watch.refused(route, req, exc)
    return exc


class Watch:
    """One request as the observation hooks see it: its clocks and its attempts."""

    @classmethod
    def starter(cls, observers: Observers) -> Callable[[bool, str | None], Watch]:
        """``start(stream, client)``: a watch whose clocks start now, numbered in turn."""
        ids = itertools.count(1)

        def start(stream: bool, client: str | None) -> Watch:
            return cls(
                observers,
                next(ids),
                stream=stream,
                client=client,
                started=time.time(),
                clock=time.perf_counter(),
            )

        return start

    def __init__(
        self,
        observers: Observers,
        request_id: int,
        *,
        stream: bool,
        client: str | None,
        started: float,
        clock: float,
    ) -> None:
        self.observers = observers
        self.request_id = request_id
        self.stream = stream
        self.client = client
        self.started = started
        """Wall-clock start of the request (``time.time()``)."""
        self.clock = clock
        """Monotonic start of the request (``time.perf_counter()``)."""
        self.attempts: list[AttemptEvent] = []
        self.ttft: float | None = None
        self._attempt_started = started
        self._attempt_clock = clock

    def begin(self) -> None:
        self._attempt_started = time.time()
        self._attempt_clock = time.perf_counter()

    def _attempt(
        self,
        card: ModelCard,
        status: int | None,
        *,
        ttft: float | None = None,
        error: str | None = None,
        kind: str | None = None,
    ) -> None:
        event = AttemptEvent(
            self.request_id,
            len(self.attempts) + 1,
            card.ref,
            card.provider,
            card.id,
            self.stream,
            self._attempt_started,
            time.perf_counter() - self._attempt_clock,
            ttft=ttft,
            status=status,
            error=error,
            error_kind=kind,
        )
        self.attempts.append(event)
        self.observers.attempt(event)

    def failed(self, card: ModelCard, exc: UpstreamError) -> None:
        self._attempt(card, exc.status, error=exc.message, kind=type(exc).__name__)

    def first_chunk(self, card: ModelCard) -> None:
        now = time.perf_counter()
        self.ttft = now - self.clock
        self._attempt(card, 200, ttft=now - self._attempt_clock)

    def finish(
        self,
        card: ModelCard,
        route: Route,
        request: ChatRequest,
        counts: TokenCounts,
        response_model: str | None,
    ) -> None:
        if not self.stream:
            self._attempt(card, 200)
        event = self._event(route, request, card.provider, counts, response_model, route.cost)
        self.observers.result(event)

    def abort(
        self,
        provider: str | None,
        route: Route,
        request: ChatRequest,
        exc: BaseException,
        received: TokenCounts | None,
        cost: Decimal | None,
    ) -> None:
        error = exc if isinstance(exc, Exception) else None
        event = self._event(
            route, request, provider, received, None, cost, error=error, complete=False
        )
        self.observers.result(event)

    def refused(self, route: Route, request: ChatRequest, error: BaseException) -> None:
        """The result of a request refused before any attempt (no route, no budget)."""
        event = self._event(route, request, None, None, None, None, error=error, complete=False)
        self.observers.result(event)

    def _event(
        self,
        route: Route,
        request: ChatRequest,
        provider: str | None,
        counts: TokenCounts | None,
        response_model: str | None,
        cost: Decimal | None,
        *,
        error: BaseException | None = None,
        complete: bool = True,
    ) -> ResultEvent:
        return ResultEvent(
            self.request_id,
            route.model,
            self.stream,
            route,
            tuple(self.attempts),
            self.started,
            time.perf_counter() - self.clock,
            ttft=self.ttft,
            provider=provider,
            response_model=response_model,
            prompt_tokens=None if counts is None else counts.prompt,
            completion_tokens=None if counts is None else counts.completion,
            cached_tokens=None if counts is None else counts.cache_read,
            usage_estimated=False if counts is None else counts.estimated,
            cost=cost,
            stated_cost=None if counts is None else counts.billed_usd,
            user=request.user,
            metadata=request.metadata,
            client=self.client,
            error=error,
            complete=complete,
        )
