"""Cooldowns: which deployments are left out of routing for a while after failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from cachetools import LRUCache

__all__ = ["CooldownState", "MemoryCooldowns"]


class CooldownState(Protocol):
    """Where cooldowns live: in-process by default; a shared backend implements the same."""

    def cooling(self, ref: str) -> float | None:
        """Seconds ``ref`` still cools down, or None when it may be tried."""
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


class MemoryCooldowns:
    """In-process cooldowns: ``after`` consecutive failures cool a deployment for ``seconds``.

    Bounded: at most ``maxsize`` deployments are tracked (least recently failed dropped).
    """

    def __init__(
        self,
        *,
        after: int,
        seconds: float,
        timer: Callable[[], float] = time.monotonic,
        maxsize: int = 10_000,
    ) -> None:
        self._after = after
        self._seconds = seconds
        self._timer = timer
        self._fails: LRUCache[str, int] = LRUCache(maxsize)
        self._until: LRUCache[str, float] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def cooling(self, ref: str) -> float | None:
        with self._lock:
            until = self._until.get(ref)
        left = None if until is None else until - self._timer()
        return left if left is not None and left > 0 else None

    def failed(self, ref: str) -> None:
        with self._lock:
            fails = self._fails.get(ref, 0) + 1
            self._fails[ref] = fails
            if fails >= self._after and self._seconds > 0:
                self._until[ref] = max(self._until.get(ref, 0.0), self._timer() + self._seconds)
                self._fails[ref] = 0

    def succeeded(self, ref: str) -> None:
        with self._lock:
            self._fails.pop(ref, None)

    def hold(self, ref: str, seconds: float) -> None:
        with self._lock:
            self._until[ref] = max(self._until.get(ref, 0.0), self._timer() + seconds)
