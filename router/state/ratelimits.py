"""Rate limits before the 429: what providers announced, and the YAML's own windows.

Two sources say whether a deployment can take a request now:

- the budget a provider announced in its last answer's headers
  (:func:`router.wire.ratelimit_headers.parse_rate_limits`): requests and tokens
  remaining until a reset, per deployment, less what the requests still in flight there
  will take (the headers cannot count them yet), until the reset time passes;
- ``rpm`` / ``tpm`` set on a provider in the YAML: moving one-minute windows over every
  deployment of that provider (``model_limits``: over one deployment), kept by the
  ``limits`` library (optional extra ``ratelimits``; its storages include Redis, which
  the shared state uses).

A request that does not fit is never sent there: the planner excludes the deployment
with a ``[rate_limit]`` reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from cachetools import LRUCache

if TYPE_CHECKING:
    from limits.strategies import RateLimiter

__all__ = [
    "KINDS",
    "Budget",
    "Limited",
    "MemoryRateLimits",
    "Need",
    "NoRateLimits",
    "RateLimitState",
    "Windows",
]

KINDS = ("requests", "tokens", "input_tokens", "output_tokens")
"""What a provider's budget counts."""


@dataclass(frozen=True, slots=True)
class Budget:
    """A provider's announced budget: kind → (remaining, seconds until it resets or None)."""

    left: Mapping[str, tuple[int, float | None]]


class Limited(NamedTuple):
    """Why a deployment cannot take a request now, and in how many seconds its budget
    resets (None: not known to pass)."""

    reason: str
    back_in: float | None


class Need(NamedTuple):
    """What one request takes from a budget: one request, its estimated prompt tokens and
    its expected output tokens."""

    prompt: int
    output: int

    def of(self, kind: str) -> int:
        if kind == "requests":
            return 1
        if kind == "input_tokens":
            return self.prompt
        if kind == "output_tokens":
            return self.output
        return self.prompt + self.output


@dataclass(frozen=True, slots=True)
class Windows:
    """A provider's own YAML limits: requests and tokens per minute (None: no limit)."""

    rpm: int | None = None
    tpm: int | None = None


class RateLimitState(Protocol):
    """Where rate-limit budgets live: in-process by default; a shared backend implements
    the same (issue 13: Redis)."""

    def announce(self, ref: str, budget: Budget) -> None:
        """``ref``'s provider announced ``budget`` (in an answer's headers, a 429's too)."""
        ...

    def check(self, ref: str, need: Need) -> Limited | None:
        """Why ``ref`` cannot take a request needing ``need`` now, or None when it can."""
        ...

    def take(self, ref: str, need: Need) -> None:
        """A request needing ``need`` is being sent to ``ref``: count it."""
        ...

    def settle(self, ref: str, need: Need) -> None:
        """The request :meth:`take` counted got its answer (or failed): the provider's
        headers count it from now on."""
        ...


class NoRateLimits:
    """A state that knows no limit: every deployment may take every request (the router
    as it was before reading rate-limit headers; benchmarks compare against it)."""

    def announce(self, ref: str, budget: Budget) -> None:
        return None

    def check(self, ref: str, need: Need) -> Limited | None:
        return None

    def take(self, ref: str, need: Need) -> None:
        return None

    def settle(self, ref: str, need: Need) -> None:
        return None


_HEADER_NAMES = {
    "requests": "requests",
    "tokens": "tokens",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
}


class MemoryRateLimits:
    """In-process announced budgets (LRU-bounded to ``maxsize`` deployments) and YAML
    windows (``windows``: a provider name, or a deployment ref, → :class:`Windows`), the
    latter in the ``limits`` library's storage at ``storage_uri`` (default ``memory://``).

    A request in flight (taken, not yet settled) counts against the last announced
    budget: the provider's headers cannot count it yet. One not settled within
    ``flight_seconds`` (a stream its caller dropped) stops counting. ``timer`` is the
    monotonic clock of resets and flights (tests move it).
    """

    def __init__(
        self,
        windows: Mapping[str, Windows] | None = None,
        *,
        storage_uri: str = "memory://",
        timer: Callable[[], float] = time.monotonic,
        maxsize: int = 10_000,
        flight_seconds: float = 300.0,
    ) -> None:
        self._timer = timer
        # ref -> kind -> (remaining, monotonic reset time or None)
        self._left: LRUCache[str, dict[str, tuple[int, float | None]]] = LRUCache(maxsize)
        # ref -> [(monotonic send time, need)] of requests in flight
        self._flying: LRUCache[str, list[tuple[float, Need]]] = LRUCache(maxsize)
        self._flight_seconds = flight_seconds
        self._lock = threading.Lock()
        self._windows = {name: w for name, w in (windows or {}).items() if w.rpm or w.tpm}
        self._limiter: RateLimiter | None = None
        if self._windows:
            self._limiter = _limiter(storage_uri)

    def announce(self, ref: str, budget: Budget) -> None:
        now = self._timer()
        entry = {
            kind: (remaining, None if reset is None else now + reset)
            for kind, (remaining, reset) in budget.left.items()
        }
        with self._lock:
            self._left[ref] = entry

    def check(self, ref: str, need: Need) -> Limited | None:
        if ref not in self._left and self._limiter is None:
            return None  # nothing announced for it, no YAML window: nothing can say no
        now = self._timer()
        with self._lock:
            announced = dict(self._left.get(ref) or {})
            flying = self._flights(ref, now)
        for kind, (remaining, until) in announced.items():
            if until is not None and until <= now:
                continue  # reset since it was announced
            left = remaining - sum(n.of(kind) for _, n in flying)
            wanted = need.of(kind)
            if left < wanted:
                resets = "" if until is None else f", resets in {until - now:.0f} s"
                busy = f"; {len(flying)} in flight" if flying else ""
                return Limited(
                    f"{_HEADER_NAMES[kind]} left {max(left, 0)} < {wanted} needed"
                    f" (announced by the provider{busy}{resets})",
                    None if until is None else until - now,
                )
        return self._check_windows(ref, need)

    def _flights(self, ref: str, now: float) -> list[tuple[float, Need]]:
        """``ref``'s requests in flight, the stale ones dropped (lock held)."""
        flying = self._flying.get(ref)
        if not flying:
            return []
        fresh = [f for f in flying if f[0] > now - self._flight_seconds]
        if len(fresh) != len(flying):
            self._flying[ref] = fresh
        return fresh

    def _scopes(self, ref: str) -> list[tuple[str, Windows]]:
        """The YAML windows over ``ref``: its own (``provider:model``), its provider's."""
        if self._limiter is None:
            return []
        keys = (ref, ref.partition(":")[0])
        return [(key, self._windows[key]) for key in keys if key in self._windows]

    def _check_windows(self, ref: str, need: Need) -> Limited | None:
        for key, windows in self._scopes(ref):
            assert self._limiter is not None
            for item, cost, unit in _items(windows, need):
                if not self._limiter.test(item, key, unit, cost=cost):
                    stats = self._limiter.get_window_stats(item, key, unit)
                    left = max(0.0, stats.reset_time - time.time())
                    scope = "deployment" if ":" in key else "provider"
                    return Limited(
                        f"{unit} {item.amount} reached: {stats.remaining} left < {cost} needed"
                        f" ({scope} {key}, window frees in {left:.0f} s)",
                        left,
                    )
        return None

    def take(self, ref: str, need: Need) -> None:
        now = self._timer()
        with self._lock:
            self._flying[ref] = [*self._flights(ref, now), (now, need)]
        for key, windows in self._scopes(ref):
            assert self._limiter is not None
            for item, cost, unit in _items(windows, need):
                self._limiter.hit(item, key, unit, cost=cost)

    def settle(self, ref: str, need: Need) -> None:
        with self._lock:
            flying = self._flying.get(ref)
            if not flying:
                return
            for i, (_, n) in enumerate(flying):
                if n == need:
                    del flying[i]
                    break


def _items(windows: Windows, need: Need) -> list[tuple[_Item, int, str]]:
    from limits import RateLimitItemPerMinute

    items: list[tuple[_Item, int, str]] = []
    if windows.rpm:
        items.append((RateLimitItemPerMinute(windows.rpm), 1, "rpm"))
    if windows.tpm:
        items.append((RateLimitItemPerMinute(windows.tpm), need.prompt + need.output, "tpm"))
    return items


if TYPE_CHECKING:
    from limits import RateLimitItem as _Item


def _limiter(storage_uri: str) -> RateLimiter:
    try:
        from limits import storage, strategies
    except ImportError:  # pragma: no cover - the extra is installed in CI
        msg = "rpm/tpm need the 'limits' package: pip install 'router[ratelimits]'"
        raise ImportError(msg) from None
    return strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))
