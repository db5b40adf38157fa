"""Waiting for capacity: how long a request may wait for a deployment or a catalog to return.

A request whose every candidate is left out only for a while (cooling down, another
request's probe out, a rate-limit budget until its reset, a catalog fetch that failed in
a way that passes) waits for the earliest to return instead of failing at once, when
that is within both its deadline and ``fallback.max_wait_seconds`` (the most one request
waits for capacity in all).
A catalog fetch that failed that way is fetched again once, after backoff or
``Retry-After`` (the longer), within the same bounds (the next request tries again).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterable

from router.catalog import Catalog
from router.config import FallbackConfig
from router.errors import CatalogError
from router.planning.route import Exclusion

__all__ = ["Waiting", "retry_after_of"]

_MIN_WAIT = 0.001
"""The shortest wait (a deployment back "now" is asked again after this)."""


class Waiting:
    """One request's waits: the deadline and the wait budget they share, and what was waited."""

    def __init__(self, config: FallbackConfig, deadline: float | None) -> None:
        self.config = config
        self.deadline = deadline
        """``time.monotonic`` time the request must end by (None: no deadline)."""
        self.waited = 0.0
        """Seconds waited so far (as asked of ``sleep``: a test's recording sleep counts)."""

    @classmethod
    def starting(cls, config: FallbackConfig) -> Waiting:
        """A new request's deadline (from now: catalog fetches count) and wait budget."""
        seconds = config.deadline_seconds
        return cls(config, None if seconds is None else time.monotonic() + seconds)

    def budget(self, also_waited: float = 0.0) -> float:
        """Seconds the request may still wait (``also_waited``: waits not yet counted)."""
        budget = self.config.max_wait_seconds - self.waited - also_waited
        if self.deadline is not None:
            budget = min(budget, self.deadline - time.monotonic())
        return max(0.0, budget)

    def for_capacity(self, excluded: Iterable[Exclusion]) -> float | None:
        """How long to wait before routing again: when some deployment in ``excluded`` is
        cooling down or out of rate-limit budget until a reset, and the earliest returns
        within the budget; else None.

        (The others are out for good, by a policy or not in a catalog, or their catalog
        failed: its fetch was already retried, :meth:`for_catalog`.)"""
        earliest = retry_after_of(e for e in excluded if e.policy in ("cooldown", "rate_limit"))
        return earliest if earliest is not None and earliest <= self.budget() else None

    def for_catalog(self, exc: CatalogError, tries: int, waited: float = 0.0) -> float | None:
        """How long to wait before fetching a catalog again after its ``tries``-th failure
        (``exc``), or None when it is not to be fetched again for this request. ``waited``:
        what this catalog's earlier retries waited (catalogs are fetched side by side, so
        their waits are counted once they are all in)."""
        if not exc.transient or tries >= min(2, self.config.attempts):
            return None
        base = self.config.backoff_seconds
        backoff = base * 2.0 ** (tries - 1) + random.uniform(0, base)
        wait = max(_MIN_WAIT, backoff, exc.retry_after or 0.0)
        return wait if wait <= self.budget(waited) else None

    def catalogs(
        self,
        names: Iterable[str],
        fetch: Callable[[str], Catalog],
        sleep: Callable[[float], None],
    ) -> dict[str, Catalog | CatalogError]:
        """The catalogs of ``names``, fetched one after another within the deadline (each
        fetch's timeouts are capped at the time left); a fetch that failed in a way that
        passes is tried again after :meth:`for_catalog`. A failure stays as the value."""
        catalogs: dict[str, Catalog | CatalogError] = {}
        for name in names:
            tries = 0
            while True:
                try:
                    catalogs[name] = fetch(name)
                    break
                except CatalogError as exc:
                    tries += 1
                    wait = self.for_catalog(exc, tries)
                    if wait is None:
                        catalogs[name] = exc
                        break
                    self.waited += wait
                    sleep(wait)
        return catalogs

    async def acatalogs(
        self,
        names: list[str],
        fetch: Callable[[str], Awaitable[Catalog]],
        sleep: Callable[[float], Awaitable[None]],
    ) -> dict[str, Catalog | CatalogError]:
        """Async :meth:`catalogs`: fetched (and retried) side by side; the longest of their
        waits is what the request waited."""
        waits = dict.fromkeys(names, 0.0)

        async def one(name: str) -> Catalog | CatalogError:
            tries = 0
            while True:
                try:
                    return await fetch(name)
                except CatalogError as exc:
                    tries += 1
                    wait = self.for_catalog(exc, tries, waits[name])
                    if wait is None:
                        return exc
                    waits[name] += wait
                    await sleep(wait)

        fetched = await asyncio.gather(*(one(name) for name in names))
        self.waited += max(waits.values(), default=0.0)
        return dict(zip(names, fetched, strict=True))


def retry_after_of(excluded: Iterable[Exclusion]) -> float | None:
    """Seconds after which the earliest deployment left out only for a while may be tried
    (a 503's ``Retry-After``); None when every one is out for good."""
    backs = [e.back_in for e in excluded if e.back_in is not None]
    return max(_MIN_WAIT, min(backs)) if backs else None
