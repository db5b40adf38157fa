"""The spend ledger: what each budget's keys have spent, and hold in flight, per period.

A request reserves its worst-case cost before it is sent (:meth:`SpendLedger.reserve`,
all of its budgets at once or none), settles the exact cost after the answer
(:meth:`SpendLedger.settle`), or releases the reservation when it failed
(:meth:`SpendLedger.release`). The three are the whole write interface, so a shared
backend can make each one atomic (one Redis script per call); :class:`MemoryLedger` is
the in-process one, atomic under a lock.

A bucket is (budget name, key, period start): a new period starts a new bucket, so
nothing has to be reset on the hour or at midnight.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

__all__ = ["Bucket", "Hold", "MemoryLedger", "Shortfall", "SpendLedger", "Tally"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Bucket:
    """Where one budget counts one key's spend in one period."""

    budget: str
    """The budget's ``name``."""
    key: str
    """The key value: the user, the client key's name, the metadata value, or ``*``
    (``key: all``)."""
    period: str
    """The period's start, UTC (``2026-12-01T00:00Z``), or ``total``."""


@dataclass(frozen=True, slots=True)
class Hold:
    """An amount reserved (or to reserve) in a bucket that may hold at most ``limit``."""

    bucket: Bucket
    limit: Decimal
    """USD the bucket may reach, settled and reserved together."""
    amount: Decimal
    """USD reserved: the request's worst-case cost."""


@dataclass(frozen=True, slots=True)
class Tally:
    """A bucket's figures."""

    spent: Decimal = _ZERO
    """USD settled (exact costs of answers)."""
    reserved: Decimal = _ZERO
    """USD held by requests in flight (their worst cases)."""


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why a reservation was refused: the first hold that did not fit, and its bucket."""

    hold: Hold
    tally: Tally


class SpendLedger(Protocol):
    """Where spend lives: in-process by default; a shared backend implements the same."""

    def reserve(self, holds: Sequence[Hold]) -> Shortfall | None:
        """Reserve every hold, or none: when some bucket's ``spent + reserved + amount``
        would pass its ``limit``, nothing is reserved and the first such hold is returned."""
        ...

    def settle(self, holds: Sequence[Hold], cost: Decimal) -> None:
        """Replace the reservations ``holds`` by the exact ``cost`` (in every bucket)."""
        ...

    def release(self, holds: Sequence[Hold]) -> None:
        """Drop the reservations ``holds`` (the request failed: nothing was spent)."""
        ...

    def tallies(self, buckets: Sequence[Bucket]) -> list[Tally]:
        """Each bucket's figures (zero for a bucket never used)."""
        ...

    def buckets(self) -> dict[Bucket, Tally]:
        """Every bucket with spend or reservations."""
        ...


class MemoryLedger:
    """The ledger of this process: a dict under a lock.

    A bucket of a past period is dropped once its key has started a newer period and
    nothing is reserved in it; memory grows with the number of keys (users, clients) of
    the current periods.
    """

    def __init__(self) -> None:
        self._figures: dict[Bucket, list[Decimal]] = {}
        self._periods: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.RLock()  # re-entrant: a subclass may wrap a call in it

    def reserve(self, holds: Sequence[Hold]) -> Shortfall | None:
        with self._lock:
            for hold in holds:
                figures = self._figures.get(hold.bucket)
                spent, reserved = figures if figures is not None else (_ZERO, _ZERO)
                if spent + reserved + hold.amount > hold.limit:
                    return Shortfall(hold, Tally(spent, reserved))
            for hold in holds:
                self._figures_of(hold.bucket)[1] += hold.amount
        return None

    def settle(self, holds: Sequence[Hold], cost: Decimal) -> None:
        with self._lock:
            for hold in holds:
                figures = self._figures_of(hold.bucket)
                figures[0] += cost
                figures[1] = max(_ZERO, figures[1] - hold.amount)
                self._drop_if_idle(hold.bucket)

    def release(self, holds: Sequence[Hold]) -> None:
        with self._lock:
            for hold in holds:
                figures = self._figures.get(hold.bucket)
                if figures is not None:
                    figures[1] = max(_ZERO, figures[1] - hold.amount)
                    self._drop_if_idle(hold.bucket)

    def tallies(self, buckets: Sequence[Bucket]) -> list[Tally]:
        with self._lock:
            return [
                Tally(*figures) if (figures := self._figures.get(b)) is not None else Tally()
                for b in buckets
            ]

    def buckets(self) -> dict[Bucket, Tally]:
        with self._lock:
            return {bucket: Tally(*figures) for bucket, figures in self._figures.items()}

    def _figures_of(self, bucket: Bucket) -> list[Decimal]:
        figures = self._figures.get(bucket)
        if figures is None:
            figures = self._figures[bucket] = [_ZERO, _ZERO]
            # A key that starts a new period: its past buckets go, except those a request
            # still holds a reservation in (they go when it settles or is released).
            # Period starts are ISO timestamps: later ones sort after earlier ones.
            owner = (bucket.budget, bucket.key)
            periods = self._periods.setdefault(owner, set())
            periods.add(bucket.period)
            latest = max(periods)
            for period in [p for p in periods if p < latest]:
                self._drop_if_idle(Bucket(bucket.budget, bucket.key, period), latest)
        return figures

    def _drop_if_idle(self, bucket: Bucket, latest: str | None = None) -> None:
        """Drop ``bucket`` when a newer period exists for its key and nothing is held in it."""
        periods = self._periods.get((bucket.budget, bucket.key))
        if not periods:
            return
        latest = latest or max(periods)
        figures = self._figures.get(bucket)
        if bucket.period < latest and (figures is None or figures[1] == 0):
            self._figures.pop(bucket, None)
            periods.discard(bucket.period)
