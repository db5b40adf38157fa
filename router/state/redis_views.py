"""What a router sees of the Redis state: cooldowns, the prefix memory, tallies and means.

Each reads from the near copy (this process's structures, kept current by
:class:`router.state.redis.RedisState`) and hands what it learns to ``send``, which queues
an op for the next batch and returns its number; ``wait`` (cooldowns only) returns once
that op is applied. They know nothing of Redis itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from router.state.cooldowns import MemoryCooldowns
from router.state.prefix import (
    CALIBRATION_WEIGHT_TOKENS,
    HIT_RATE_PRIOR,
    LEARNING_ALPHA,
    MemoryPrefixes,
    Prefix,
    hit_ratio,
    token_ratio,
)
from router.state.store import MemoryTables, quantize

__all__ = [
    "CALIBRATION",
    "DEFAULT_LIFETIME",
    "HIT_RATE",
    "RedisCooldowns",
    "RedisMeans",
    "RedisPrefixes",
    "RedisTallies",
]

HIT_RATE = "hit_rate"
CALIBRATION = "calibration"
DEFAULT_LIFETIME = 300.0
"""Seconds a prefix is kept when the provider's cache lifetime is not known."""
_MAX_UNITS = 2**63 - 1

Send = Callable[[list[Any]], int]


class RedisCooldowns:
    """Cooldowns shared through Redis: failures are counted fleet-wide (``after`` of them,
    from any routers, cool a deployment for everyone); reads are local.

    This process's circuit breakers are a :class:`MemoryCooldowns` (the near copy): it
    decides half-open probes (one per process: a fleet of N sends at most N when a
    cooldown ends) and how long a failed probe reopens a deployment. Every cooldown it
    or the fleet decides is shared as an end time, put into the others' breakers as a
    hold. :meth:`failed` and :meth:`hold` return once Redis has published them (``wait``).
    """

    def __init__(
        self,
        local: MemoryCooldowns,
        *,
        send: Send,
        wait: Callable[[int], None],
        reset: Callable[[str], None],
        clock: Callable[[], float],
        after: int,
        seconds: float,
    ) -> None:
        self._local = local
        self._send = send
        self._wait = wait
        self._reset = reset
        self._clock = clock
        self._after = after
        self._seconds = seconds

    def cooling(self, ref: str) -> float | None:
        return self._local.cooling(ref)

    def probe(self, ref: str) -> bool:
        return self._local.probe(ref)

    def failed(self, ref: str) -> None:
        before = self._local.cooling(ref) or 0.0
        self._local.failed(ref)
        now = self._clock()
        number = self._send(["f", ref, self._after, self._seconds, now])
        left = self._local.cooling(ref)
        if left is not None and left > before + 0.001:
            # this breaker opened (or reopened, longer, on a failed probe): the fleet's too
            number = self._send(["h", ref, now + left])
        self._wait(number)

    def succeeded(self, ref: str) -> None:
        self._local.succeeded(ref)
        self._reset(ref)

    def hold(self, ref: str, seconds: float) -> None:
        self._local.hold(ref, seconds)
        self._wait(self._send(["h", ref, self._clock() + seconds]))


class RedisPrefixes:
    """The prefix memory shared through Redis; reads from the near copy."""

    def __init__(
        self, near: MemoryPrefixes, *, send: Send, clock: Callable[[], float], bound: int
    ) -> None:
        self._near = near
        self._send = send
        self._clock = clock
        self._bound = bound

    def __len__(self) -> int:
        return len(self._near)

    def learned(self) -> set[str] | None:
        """See :meth:`MemoryPrefixes.learned` (what this router's copy holds)."""
        return self._near.learned()

    def remember(self, ref: str, chain: Sequence[Prefix], lifetime: float | None = None) -> None:
        at = self._clock()
        self._near.merge(ref, (p.digest for p in chain), at)
        if not chain:
            return
        life = lifetime if lifetime is not None and lifetime > 0 else DEFAULT_LIFETIME
        self._send(["p", ref, at, life, self._bound, *(p.digest.hex() for p in chain)])

    def longest(self, ref: str, chain: Sequence[Prefix], lifetime: float) -> int:
        return self._near.longest(ref, chain, lifetime)

    def observe(self, ref: str, predicted: int, reported: int) -> None:
        ratio = hit_ratio(predicted, reported)
        if ratio is None:
            return
        self._near.observe(ref, predicted, reported)
        self._send(["m", HIT_RATE, ref, ratio, LEARNING_ALPHA, HIT_RATE_PRIOR])

    def hit_rate(self, ref: str) -> float:
        return self._near.hit_rate(ref)

    def calibrate(self, key: str, estimated: int, reported: int) -> None:
        ratio = token_ratio(estimated, reported)
        if ratio is None:
            return
        self._near.calibrate(key, estimated, reported)
        # next_calibration's moving average, weighted by the estimate's length: from 1.0
        # by ``weight`` of the way, then by ``alpha x weight``.
        weight = min(1.0, estimated / CALIBRATION_WEIGHT_TOKENS)
        self._send(["m", CALIBRATION, key, ratio, LEARNING_ALPHA * weight, 1.0, weight])

    def calibration(self, key: str) -> float:
        return self._near.calibration(key)


class RedisTallies:
    """Exact sums shared through Redis (picodollars as 64-bit integers there)."""

    def __init__(
        self,
        tables: MemoryTables,
        *,
        send: Send,
        pending: Callable[[str, str, Decimal], None],
    ) -> None:
        self._tables = tables
        self._send = send
        self._pending = pending
        self.stamps = tables.stamps
        """See :attr:`MemoryTables.stamps` (the near copy's)."""

    def add(self, table: str, key: str, amount: Decimal) -> None:
        amount = quantize(amount)
        units = int(amount.scaleb(12))
        if abs(units) > _MAX_UNITS:
            msg = f"tally {table}/{key}: amount out of range"
            raise ValueError(msg)
        if not units:
            return
        self._pending(table, key, amount)
        self._tables.add_quantized(table, key, amount)
        self._send(["t", table, key, str(units)])

    def value(self, table: str, key: str) -> Decimal:
        return self._tables.value(table, key)

    def table(self, table: str) -> dict[str, Decimal]:
        return self._tables.table(table)


class RedisMeans:
    """Moving averages shared through Redis (folded in on the server)."""

    def __init__(self, tables: MemoryTables, *, send: Send) -> None:
        self._tables = tables
        self._send = send
        self.stamps = tables.stamps
        """See :attr:`MemoryTables.stamps` (the near copy's)."""

    def observe(
        self, table: str, key: str, value: float, *, alpha: float, prior: float | None = None
    ) -> None:
        self._tables.observe(table, key, value, alpha=alpha, prior=prior)
        self._send(["m", table, key, value, alpha, "" if prior is None else prior])

    def mean(self, table: str, key: str) -> float | None:
        return self._tables.mean(table, key)
