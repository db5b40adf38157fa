"""Fallback across candidates, driven by tenacity.

A failed attempt moves on to the next candidate at once; the same deployment is retried
only when no other is left, after exponential backoff with jitter or the provider's
``Retry-After``, whichever is longer, capped. Auth and payment failures drop every
deployment of that provider; not-found drops the deployment; a context-length error
drops the candidates whose context is no longer; any other 4xx goes back to the caller.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
)

from router.catalog import ModelCard
from router.completion import TokenCounts
from router.config import FallbackConfig
from router.dispatch.budget import Spending
from router.dispatch.deadline import deadline_at
from router.dispatch.flight import Flight
from router.dispatch.waiting import Waiting, retry_after_of
from router.errors import (
    AllProvidersFailed,
    Attempt,
    BudgetExceeded,
    ContextTooLong,
    DeadlineExceeded,
    NoRouteError,
    RateLimited,
    Rejected,
    Timeout,
    Unavailable,
    UpstreamError,
)
from router.planning.context import RoutingContext
from router.planning.cost import usage_cost
from router.planning.route import Exclusion, Route, cooldown_exclusion
from router.state.cooldowns import CooldownState

if TYPE_CHECKING:
    from router.dispatch.watch import Watch

__all__ = ["Plan"]

# Codes that mean "not this deployment" rather than "not this request".
_DROP_CODES = frozenset(
    {"invalid_model", "model_not_found", "not_found_error", "unsupported_request"}
)


class Plan:
    """The candidates of one request and what each failure does to them.

    ``current`` is the deployment to try now. :meth:`on_failure` is tenacity's retry
    predicate: it records the attempt, reorders the queue, and says whether to go on;
    :meth:`wait` is tenacity's wait strategy.
    """

    def __init__(
        self,
        cards: list[ModelCard],
        config: FallbackConfig,
        cooldowns: CooldownState,
        route: Route,
        context: RoutingContext,
        *,
        waiting: Waiting | None = None,
        replan: Callable[[], list[ModelCard]] | None = None,
        spending: Spending | None = None,
        watch: Watch | None = None,
    ) -> None:
        self.queue = list(cards)
        self._parked: list[ModelCard] = []
        """Candidates another request is probing, or that cooled down since planning."""
        self._replan = replan
        """The policy chain's candidates now (for deployments back from a cooldown)."""
        self._later = [e.ref for e in route.excluded if e.policy == "cooldown"] if replan else []
        """Deployments left out at planning for a cooldown: tried if they come back while
        this request has nothing else left."""
        self.spending = spending
        """The request's budgets (None: it falls under none)."""
        self.watch = watch
        """What the observation hooks are told (None: no hook is implemented)."""
        self.done = False
        """True once the request was settled (answered) or aborted."""
        self.context = context
        """The request's routing context (learns from the answer)."""
        self._more = context.more
        """The candidates after ``cards`` (a shortlisted route), pulled when needed."""
        self._dropped: list[Callable[[ModelCard], bool]] = []
        self.config = config
        self.cooldowns = cooldowns
        self.route = route
        self.fatal: UpstreamError | None = None
        """A failure that goes straight back to the caller (a plain 4xx)."""
        self._same = False
        self._retry_after: float | None = None
        self._same_tries = 0
        self.expired = False
        """True when the request's ``deadline_seconds`` ran out."""
        self.waiting = waiting if waiting is not None else Waiting.starting(config)
        """The request's deadline and its waits for capacity."""
        self._deadline = self.waiting.deadline
        self._last: UpstreamError | None = None
        self.flight = Flight(context)
        """The attempt in the air (its send time, its hold on a rate-limit budget)."""

    def sending(self) -> AbstractContextManager[None]:
        """The block that makes the attempts: under the request's deadline; a failure that
        ends it leaves as what the caller gets (:meth:`fail`)."""
        return _Sending(self)

    def fail(self, exc: BaseException) -> BaseException:
        """What the caller gets when ``exc`` ends the request (for a provider failure the
        retry loop gave up on: the error itself for a plain 4xx, else ``AllProvidersFailed``
        or ``DeadlineExceeded`` with every attempt), after :meth:`abort`."""
        if isinstance(exc, UpstreamError):
            exc.route = self.route  # type: ignore[attr-defined]
            if self.fatal is not exc:
                route = self.route
                if self.expired:
                    exc = DeadlineExceeded(
                        route.model, route.attempts, self.config.deadline_seconds
                    )
                else:
                    excluded = {e.ref: f"[{e.policy}] {e.reason}" for e in route.excluded}
                    exc = AllProvidersFailed(route.model, route.attempts, excluded)
                exc.route = route  # type: ignore[attr-defined]
        return self.abort(exc)

    def deadline(self) -> AbstractContextManager[None]:
        """Within this block, provider calls cap their timeouts at the time left."""
        return deadline_at(self._deadline)

    def _time_left(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def stop(self, _state: RetryCallState | None = None) -> bool:
        """tenacity's stop: out of attempts, or out of time."""
        left = self._time_left()
        if left is not None and left <= 0:
            self.expired = True
            return True
        return len(self.route.attempts) >= self.config.attempts

    @property
    def current(self) -> ModelCard:
        return self.queue[0]

    def attempts(self, sleep: Callable[[float], None]) -> Iterator[AbstractContextManager[None]]:
        """The attempts of the sync API: ``for attempt in plan.attempts(sleep): with attempt:``.

        The first attempt runs without tenacity (most requests need no other); after a
        failure it hands over to :meth:`retrying`, with the same stop, wait and predicate.
        """
        while (wait := self._admit()) is not None:
            sleep(wait)
        first = _FirstAttempt(self)
        yield first
        if first.failure is None:
            return
        if self.stop():
            raise first.failure
        sleep(self.wait())
        for attempt in self.retrying(sleep):
            while (wait := self._admit()) is not None:
                sleep(wait)
            yield attempt

    async def aattempts(
        self, sleep: Callable[[float], Awaitable[None]]
    ) -> AsyncIterator[AbstractContextManager[None]]:
        """:meth:`attempts` for the async API."""
        while (wait := self._admit()) is not None:
            await sleep(wait)
        first = _FirstAttempt(self)
        yield first
        if first.failure is None:
            return
        if self.stop():
            raise first.failure
        await sleep(self.wait())
        async for attempt in self.aretrying(sleep):
            while (wait := self._admit()) is not None:
                await sleep(wait)
            yield attempt

    def _admit(self) -> float | None:
        """Make ``current`` a deployment that may be sent to now; None when it is, else
        seconds to wait before asking again. Raises when nothing returns in time.

        A deployment back from a cooldown takes one request (its probe); the others set
        it aside and go on to their next candidate, or, with none left, wait for the
        probe's outcome or the earliest deployment to come back, within the request's
        deadline and wait budget. A retry of the same deployment after its own backoff
        or ``Retry-After`` goes ahead: that wait was already made.
        """
        if self._parked:  # back in policy order, ahead of the rest
            self.queue[0:0] = self._parked
            self._parked = []
        if self._same:
            return None
        while self._fill(1) or self._revive():
            if self.cooldowns.probe(self.current.ref):
                return None
            self._parked.append(self.queue.pop(0))
        cooling = self.cooldowns.cooling
        # (one that may be tried again already, None, is asked again after the least wait)
        excluded = [cooldown_exclusion(c.ref, cooling(c.ref) or 0.0) for c in self._parked]
        excluded += [cooldown_exclusion(ref, cooling(ref) or 0.0) for ref in self._later]
        wait = self.waiting.for_capacity(excluded)
        if wait is not None:
            self.waiting.waited += wait
            self.route.waited = self.waiting.waited
            return wait
        self.route.excluded.extend(excluded)
        if self._last is not None:
            raise self._last
        raise NoRouteError(
            self.route.model,
            {e.ref: f"[{e.policy}] {e.reason}" for e in self.route.excluded},
            retry_after=retry_after_of(excluded),
        )

    def _revive(self) -> bool:
        """Queue the deployments left out at planning that are back from their cooldown and
        pass the policy chain (and what failed here did not drop); whether any were."""
        if self._replan is None or not self._later:
            return False
        back = {ref for ref in self._later if self.cooldowns.cooling(ref) is None}
        if not back:
            return False
        self._later = [ref for ref in self._later if ref not in back]
        for card in self._replan():
            if card.ref in back and not any(drop(card) for drop in self._dropped):
                self.queue.append(card)
        return bool(self.queue)

    def _waits_for_later(self) -> bool:
        """Whether a deployment left out at planning may still come back for this request."""
        return (
            bool(self._later)
            and self.waiting.for_capacity(
                [cooldown_exclusion(ref, self.cooldowns.cooling(ref) or 0.0) for ref in self._later]
            )
            is not None
        )

    def retrying(self, sleep: Callable[[float], None]) -> Retrying:
        """A tenacity controller for the sync API."""
        return Retrying(
            stop=self.stop,
            wait=self.wait,
            retry=retry_if_exception(self.on_failure),
            sleep=sleep,
            reraise=True,
        )

    def aretrying(self, sleep: Callable[[float], object]) -> AsyncRetrying:
        """The same controller for the async API."""
        return AsyncRetrying(
            stop=self.stop,
            wait=self.wait,
            retry=retry_if_exception(self.on_failure),
            sleep=sleep,  # type: ignore[arg-type]
            reraise=True,
        )

    def begin(self) -> ModelCard:
        """Start an attempt: reserve its worst case against the request's budgets (a
        ``downgrade`` budget drops the candidates that no longer fit; raises
        ``BudgetExceeded``), start its clock (speed statistics, observers) and count it
        against the deployment's rate-limit budget; the deployment to try."""
        if self.spending is not None:
            self._reserve(self.spending)
        card = self.queue[0]
        self.flight.start(card)
        if self.watch is not None:
            self.watch.begin()
        return card

    def _reserve(self, spending: Spending) -> None:
        while True:
            card = self.queue[0]
            shortfall = spending.reserve(self.context, card, self.breakpoints(card))
            if shortfall is None:
                return
            self.route.excluded.append(Exclusion(card.ref, "budget", spending.why(shortfall)))
            self.route.candidates = [c for c in self.route.candidates if c.ref != card.ref]
            self.queue.pop(0)
            # the next candidate is claimed as _admit claims one (a deployment back from a
            # cooldown takes one probe; another request's probe out: set aside)
            while self._fill(1) and not self.cooldowns.probe(self.current.ref):
                self._parked.append(self.queue.pop(0))
            if not self.queue:
                raise spending.exceeded(shortfall)

    def first_chunk(self) -> None:
        """A stream's first chunk is out: its attempt succeeded (observers are told)."""
        if self.watch is not None:
            self.watch.first_chunk(self.current)

    def succeeded(self) -> None:
        self.flight.landed()
        self.cooldowns.succeeded(self.current.ref)

    def finish(self, counts: TokenCounts, response_model: str | None) -> None:
        """The answer is complete and priced (``route.cost``): settle the budgets, tell
        the observers."""
        self.done = True
        if self.spending is not None:
            self.spending.settle(self.route.cost)
        if self.watch is not None:
            self.watch.finish(
                self.current, self.route, self.context.request, counts, response_model
            )

    def abort(self, exc: BaseException, received: TokenCounts | None = None) -> BaseException:
        """The request ended without a complete answer (``exc``): release the budgets'
        reservation, or settle the estimated cost of ``received`` (a stream cut or left
        after its first chunk); tell the observers. Returns ``exc``."""
        self.flight.landed()
        if self.done:
            return exc
        self.done = True
        if isinstance(exc, BudgetExceeded):
            exc.route = self.route  # type: ignore[attr-defined]
        cost = None
        if received is not None:
            cost = usage_cost(self.queue[0].pricing, received) if self.queue else None
        if self.spending is not None:
            if received is not None:
                self.spending.settle(cost)
            else:
                self.spending.release()
        if self.watch is not None:
            provider = self.queue[0].provider if received is not None and self.queue else None
            self.watch.abort(provider, self.route, self.context.request, exc, received, cost)
        return exc

    def on_failure(self, exc: BaseException) -> bool:
        self.flight.landed()
        if self.spending is not None:
            self.spending.release()
        if not isinstance(exc, UpstreamError):
            return False  # a bug, not a provider failure: let it surface
        card = self.current
        self._last = exc
        self.route.attempts.append(Attempt(card.ref, exc.status, exc.message, type(exc).__name__))
        if self.context.latency is not None and not isinstance(exc, Rejected):
            self.context.latency.failed(card.ref)  # the deployment's error rate
        if self.watch is not None:
            self.watch.failed(card, exc)
        if isinstance(exc, Rejected):
            return self._rejected(card, exc)
        if not self._retryable(exc):
            self.fatal = exc
            return False
        self.cooldowns.failed(card.ref)
        retry_after = exc.retry_after if self.config.respect_retry_after else None
        if retry_after:
            self.cooldowns.hold(card.ref, retry_after)
        if self._fill(2) > 1:
            self.queue.pop(0)
            self._same = False
        else:
            self._same = True
            self._same_tries += 1
            self._retry_after = retry_after
        return True

    def _fill(self, size: int) -> int:
        """Pull shortlisted candidates until the queue holds ``size`` (or none are left)."""
        while len(self.queue) < size and self._more is not None:
            card = next(self._more, None)
            if card is None:
                self._more = None
            elif not any(drop(card) for drop in self._dropped):
                self.queue.append(card)
        return len(self.queue)

    def _drop(self, drop: Callable[[ModelCard], bool]) -> None:
        self.queue = [c for c in self.queue if not drop(c)]
        self._dropped.append(drop)

    def _rejected(self, card: ModelCard, exc: Rejected) -> bool:
        if isinstance(exc, ContextTooLong):
            known = card.context_length
            self.queue.pop(0)
            self._drop(
                lambda c: (
                    known is not None and c.context_length is not None and c.context_length <= known
                )
            )
        elif exc.status in (401, 402, 403, 429):  # auth, payment, a spend limit (a 429
            # that is Rejected): nothing at this provider will serve this request
            self._drop(lambda c: c.provider == card.provider)
        elif exc.status in (404, 422) or (exc.code or "") in _DROP_CODES:
            self.queue.pop(0)
        else:
            self.fatal = exc
            return False
        self._same = False
        return self._fill(1) > 0 or self._waits_for_later()

    def _retryable(self, exc: UpstreamError) -> bool:
        allowed = self.config.retry_on
        if isinstance(exc, Timeout):
            # The kind is the router's own ("connect" for a connect timeout): an HTTP 408
            # or an error event says "timeout" whatever code its body gives.
            connect = exc.status is None and exc.code == "connect"
            return ("connect" if connect else "timeout") in allowed
        if isinstance(exc, RateLimited):
            return 429 in allowed
        if isinstance(exc, Unavailable) and exc.status is not None and exc.status >= 500:
            return exc.status in allowed
        return "connect" in allowed  # refused, reset, cut short, unreadable

    def wait(self, _state: RetryCallState | None = None) -> float:
        """No wait when moving on; backoff or Retry-After (the longer, capped) when repeating."""
        left = self._time_left()
        if not self._same:
            return 0.0
        # Exponential in the tries of *this* deployment (tenacity's attempt number also
        # counts the other candidates), plus up to one base step of jitter.
        base = self.config.backoff_seconds
        backoff = base * 2.0 ** (self._same_tries - 1) + random.uniform(0, base)
        wait = min(max(backoff, self._retry_after or 0.0), self.config.max_wait_seconds)
        return wait if left is None else max(0.0, min(wait, left))

    def breakpoints(self, card: ModelCard) -> bool:
        """Whether the request to ``card`` carries prefix-cache breakpoints."""
        outlook = self.context.cache_outlook(card)
        return outlook is not None and outlook.breakpoints


class _FirstAttempt:
    """A request's first attempt: a failure goes through :meth:`Plan.on_failure` as under
    tenacity, and is kept (``failure``) when the plan goes on, raised when it does not."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.failure: BaseException | None = None

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> bool:
        if exc is None or not isinstance(exc, Exception) or not self.plan.on_failure(exc):
            return False
        self.failure = exc
        return True


class _Sending:
    """:meth:`Plan.sending`: the deadline, and the failure the caller gets."""

    __slots__ = ("deadline", "plan")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.deadline = plan.deadline()

    def __enter__(self) -> None:
        self.deadline.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self.deadline.__exit__(kind, exc, tb)  # type: ignore[arg-type]
        if exc is not None:
            failure = self.plan.fail(exc)
            if failure is not exc:
                raise failure from exc
