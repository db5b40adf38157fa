"""One router's state, whichever backend holds it, and the small generic tables that
later features (the spend ledger, latency and rate-limit statistics) keep in it.

A :class:`State` bundles the cooldowns and the prefix memory with two kinds of table:

- **tallies**: exact sums of ``Decimal`` amounts per (table, key), e.g. a spend ledger
  (``add("spend:day:2026-12-01", "user:alice", Decimal("0.0042"))``). Kept to 1e-12
  (a picodollar), the unit Redis stores them in as 64-bit integers;
- **means**: exponentially weighted moving averages of floats per (table, key), e.g. a
  deployment's latency (``observe("ttft_ms", ref, 812.0, alpha=0.2)``). The prefix
  memory's hit rates and token calibration are two such tables.

Reads (:meth:`Tallies.value`, :meth:`Means.mean`) never wait on a network: with Redis
they answer from this process's copy, kept current in the background. Writes return at
once; Redis applies them shortly after, exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from router.errors import ConfigError
from router.state.cooldowns import CooldownState, MemoryCooldowns
from router.state.ledger import MemoryLedger, SpendLedger
from router.state.prefix import MemoryPrefixes, PrefixState

if TYPE_CHECKING:
    from router.config import FallbackConfig
    from router.state.settings import StateSettings

__all__ = [
    "TALLY_QUANTUM",
    "Means",
    "MemoryState",
    "MemoryTables",
    "State",
    "Tallies",
    "open_state",
]

TALLY_QUANTUM = Decimal("1e-12")
"""Tallies are kept to this step (1e-12 USD: a picodollar), rounded half-even."""

_ZERO = Decimal(0)


class Tallies(Protocol):
    """Exact running sums, by table and key (a spend ledger is one table per period)."""

    def add(self, table: str, key: str, amount: Decimal) -> None:
        """Add ``amount`` (may be negative: a refund, a settled reservation) to the sum."""
        ...

    def value(self, table: str, key: str) -> Decimal:
        """The sum so far (``Decimal(0)`` before anything was added). No network."""
        ...

    def table(self, table: str) -> dict[str, Decimal]:
        """Every key of ``table`` with its sum. No network."""
        ...


class Means(Protocol):
    """Exponentially weighted moving averages, by table and key."""

    def observe(
        self, table: str, key: str, value: float, *, alpha: float, prior: float | None = None
    ) -> None:
        """Fold ``value`` in: ``mean = (1 - alpha) * mean + alpha * value``, from ``prior``
        (None: the first value is the mean)."""
        ...

    def mean(self, table: str, key: str) -> float | None:
        """The current mean, None before any observation. No network."""
        ...


class State(Protocol):
    """What one router has learned, and where it lives."""

    backend: str
    """``memory`` or ``redis``."""
    cooldowns: CooldownState
    prefixes: PrefixState
    tallies: Tallies
    means: Means
    ledger: SpendLedger
    """The budgets' spend ledger."""

    def check(self) -> None:
        """Raise ``StateUnavailable`` when the shared state is away and the configuration
        says to fail (``on_unavailable: fail``); else nothing. No network."""
        ...

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait until this router's writes are applied and every write the fleet made
        before now has reached this router's copy. False if ``timeout`` ran out first."""
        ...

    def close(self) -> None:
        """Write what is pending (briefly) and release connections and threads."""
        ...


def quantize(amount: Decimal) -> Decimal:
    """``amount`` to the tally step (:data:`TALLY_QUANTUM`)."""
    return amount.quantize(TALLY_QUANTUM)


class MemoryTables:
    """In-process tallies and means (thread-safe).

    Writes take a lock (a read-modify-write); reads do not: one ``dict`` lookup or copy
    is atomic under the GIL, and every request reads several per candidate.

    :attr:`stamps` tells a reader whether what it computed from a table or a key may
    have changed: every write numbers its table and its key (after the value is in, so
    that a reader that saw a stamp before reading the values never keeps them past the
    next change).
    """

    def __init__(self) -> None:
        self._sums: dict[str, dict[str, Decimal]] = {}
        self._means: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._writes = 0
        self.stamps: dict[str, int] = {}
        """Table or key → the number of the last write to it (absent: never written)."""

    def _stamp(self, table: str, key: str) -> None:
        # under self._lock, after the write
        self._writes = n = self._writes + 1
        stamps = self.stamps
        stamps[table] = n
        stamps[key] = n

    def add(self, table: str, key: str, amount: Decimal) -> None:
        self.add_quantized(table, key, quantize(amount))

    def add_quantized(self, table: str, key: str, amount: Decimal) -> None:
        """:meth:`add` of an amount already at the tally step."""
        with self._lock:
            sums = self._sums.get(table)
            if sums is None:
                sums = self._sums[table] = {}
            sums[key] = sums.get(key, _ZERO) + amount
            self._stamp(table, key)

    def set_sum(self, table: str, key: str, amount: Decimal) -> None:
        with self._lock:
            self._sums.setdefault(table, {})[key] = amount
            self._stamp(table, key)

    def value(self, table: str, key: str) -> Decimal:
        sums = self._sums.get(table)
        return _ZERO if sums is None else sums.get(key, _ZERO)

    def table(self, table: str) -> dict[str, Decimal]:
        sums = self._sums.get(table)
        return {} if sums is None else sums.copy()

    def observe(
        self, table: str, key: str, value: float, *, alpha: float, prior: float | None = None
    ) -> None:
        with self._lock:
            means = self._means.get(table)
            if means is None:
                means = self._means[table] = {}
            current = means.get(key, prior)
            means[key] = value if current is None else (1 - alpha) * current + alpha * value
            self._stamp(table, key)

    def set_mean(self, table: str, key: str, value: float) -> None:
        with self._lock:
            self._means.setdefault(table, {})[key] = value
            self._stamp(table, key)

    def mean(self, table: str, key: str) -> float | None:
        means = self._means.get(table)
        return None if means is None else means.get(key)


class MemoryState:
    """This process's state only (the ``memory`` backend)."""

    backend = "memory"

    def __init__(
        self,
        *,
        cooldowns: CooldownState | None = None,
        prefixes: PrefixState | None = None,
        cooldown_after: int = 3,
        cooldown_seconds: float = 30.0,
        cooldown_max_seconds: float | None = None,
        timer: Callable[[], float] | None = None,
    ) -> None:
        clock = time.monotonic if timer is None else timer
        self.cooldowns: CooldownState = cooldowns or MemoryCooldowns(
            after=cooldown_after,
            seconds=cooldown_seconds,
            max_seconds=cooldown_max_seconds,
            timer=clock,
        )
        self.prefixes: PrefixState = prefixes or MemoryPrefixes(timer=clock)
        tables = MemoryTables()
        self.tallies: Tallies = tables
        self.means: Means = tables
        self.ledger: SpendLedger = MemoryLedger()

    def __repr__(self) -> str:
        return "MemoryState()"

    def check(self) -> None:
        return None

    def sync(self, timeout: float = 5.0) -> bool:
        return True

    def close(self) -> None:
        return None


def open_state(
    settings: StateSettings, fallback: FallbackConfig, timer: Callable[[], float] | None = None
) -> State:
    """The state ``settings`` (the ``state:`` block) describe, with ``fallback``'s cooldown
    settings. ``timer``: the clock of cooldowns and the prefix memory (None or
    ``time.monotonic``: that clock in memory, ``time.time`` in Redis, whose routers must
    share one). Raises ``ConfigError`` (a missing extra, a URL redis-py cannot read)."""
    if timer is time.monotonic:
        timer = None
    after, seconds = fallback.cooldown_after, fallback.cooldown_seconds
    longest = fallback.cooldown_max_seconds
    if settings.backend == "memory":
        return MemoryState(
            cooldown_after=after,
            cooldown_seconds=seconds,
            cooldown_max_seconds=longest,
            timer=timer,
        )
    try:
        from router.state.redis import RedisState

        return RedisState(
            settings,
            cooldown_after=after,
            cooldown_seconds=seconds,
            cooldown_max_seconds=longest,
            timer=time.time if timer is None else timer,
        )
    except ImportError as exc:
        raise ConfigError("state.backend", str(exc)) from None
    except ValueError:  # not chained: redis-py's message may quote the URL
        raise ConfigError("state.url", "not a valid Redis URL") from None
