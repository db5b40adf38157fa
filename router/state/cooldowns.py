"""Cooldowns: which deployments are left out of routing for a while after failing.

A deployment is a small circuit breaker (Envoy's outlier detection, resilience4j's
circuit breaker):

- **closed**: tried freely; ``after`` consecutive retryable failures open it;
- **open** (cooling down): left out for ``seconds``, or as long as a provider's
  ``Retry-After`` asks;
- **half-open**: once the time is up, one request gets it (:meth:`CooldownState.probe`);
  the others see it still out until that probe's outcome. A success closes it; a
  failure opens it again for twice as long as the last time, capped at ``max_seconds``
  (a deployment that keeps failing is asked less and less often). A probe that never
  reports (its request was cancelled) lets another request probe after ``seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache

__all__ = ["CooldownState", "MemoryCooldowns"]

RECHECK_SECONDS = 0.05
"""While a probe is out, how soon :meth:`MemoryCooldowns.cooling` says to look again: its
outcome is usually known in one round trip, long before its lease ends."""


class CooldownState(Protocol):
    """Where cooldowns live: in-process by default; a shared backend implements the same."""

    def cooling(self, ref: str) -> float | None:
        """Seconds before ``ref`` may be tried (cooling down), or, while another request's
        probe is out, how soon to look again; None when it may be tried now. Reads only."""
        ...

    def probe(self, ref: str) -> bool:
        """Claim ``ref`` for the attempt about to be sent: True when it may be tried (for a
        deployment coming back from a cooldown, the caller is now its one probe), False
        when it is cooling down or another request's probe is out."""
        ...

    def failed(self, ref: str) -> None:
        """``ref`` failed with a retryable error."""
        ...

    def succeeded(self, ref: str) -> None:
        """``ref`` answered."""
        ...

    def hold(self, ref: str, seconds: float) -> None:
        """Leave ``ref`` out for ``seconds`` (a provider's ``Retry-After``)."""
        ...


@dataclass(slots=True)
class _Breaker:
    fails: int = 0
    """Consecutive retryable failures while closed."""
    until: float | None = None
    """When the cooldown ends (None: closed); past it, half-open until an outcome."""
    cooled: float = 0.0
    """Seconds of the last cooldown this deployment served (0: none since it closed)."""
    probe_until: float | None = None
    """While half-open: when the probe that is out may be given up on."""


class MemoryCooldowns:
    """In-process cooldowns: ``after`` consecutive failures cool a deployment for ``seconds``;
    each failed probe after that doubles it, up to ``max_seconds``.

    Bounded: at most ``maxsize`` deployments are tracked (least recently touched dropped).
    """

    def __init__(
        self,
        *,
        after: int,
        seconds: float,
        max_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
        maxsize: int = 10_000,
    ) -> None:
        self._after = after
        self._seconds = seconds
        self._max = max(seconds, max_seconds if max_seconds is not None else 10 * seconds)
        self._timer = timer
        self._breakers: LRUCache[str, _Breaker] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def cooling(self, ref: str) -> float | None:
        if ref not in self._breakers:  # never failed (or forgotten): not cooling
            return None
        with self._lock:  # an LRU read reorders the cache
            breaker = self._breakers.get(ref)
        if breaker is None or breaker.until is None:
            return None
        now = self._timer()
        if breaker.until > now:
            return breaker.until - now
        if breaker.probe_until is not None and breaker.probe_until > now:
            return min(breaker.probe_until - now, RECHECK_SECONDS)
        return None

    def probe(self, ref: str) -> bool:
        with self._lock:
            breaker = self._breakers.get(ref)
            if breaker is None or breaker.until is None:
                return True  # closed: the common case
            now = self._timer()
            if breaker.until > now:
                return False
            if breaker.probe_until is not None and breaker.probe_until > now:
                return False
            breaker.probe_until = now + max(self._seconds, 0.001)
            return True

    def failed(self, ref: str) -> None:
        with self._lock:
            breaker = self._breaker(ref)
            now = self._timer()
            if breaker.until is not None:
                if breaker.until <= now:  # half-open: the deployment is still failing
                    self._open(breaker, now, min(max(2 * breaker.cooled, self._seconds), self._max))
                return  # open: a request sent before it cooled down; changes nothing
            breaker.fails += 1
            if breaker.fails >= self._after:
                self._open(breaker, now, self._seconds)

    def succeeded(self, ref: str) -> None:
        with self._lock:
            breaker = self._breakers.get(ref)
            if breaker is None:
                return
            breaker.fails = 0
            if breaker.until is not None and breaker.until <= self._timer():
                breaker.until = breaker.probe_until = None  # half-open: closed again
                breaker.cooled = 0.0

    def hold(self, ref: str, seconds: float) -> None:
        with self._lock:
            breaker = self._breaker(ref)
            until = self._timer() + seconds
            if breaker.until is None or breaker.until < until:
                breaker.until = until
                breaker.probe_until = None
                breaker.cooled = max(breaker.cooled, seconds)

    def _breaker(self, ref: str) -> _Breaker:
        breaker = self._breakers.get(ref)
        if breaker is None:
            breaker = self._breakers[ref] = _Breaker()
        return breaker

    def _open(self, breaker: _Breaker, now: float, seconds: float) -> None:
        breaker.fails = 0
        if seconds <= 0:  # cooldowns turned off (``cooldown_seconds: 0``)
            breaker.until = breaker.probe_until = None
            return
        breaker.until = max(breaker.until or 0.0, now + seconds)
        breaker.probe_until = None
        breaker.cooled = seconds
