"""The near copy: this process's view of the shared state, answered without a round trip.

:class:`NearCopy` holds what :class:`router.state.redis.RedisState` reads from (the
local cooldowns, the prefix memory with its hit rates and calibration, tallies and
means), loads it whole from Redis (:meth:`NearCopy.load`, on attach and after every
reconnect) and applies the changes other routers publish (:meth:`NearCopy.apply`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from router.state.cooldowns import MemoryCooldowns
from router.state.prefix import MemoryPrefixes
from router.state.redis_views import CALIBRATION, HIT_RATE
from router.state.store import TALLY_QUANTUM, MemoryTables

__all__ = ["NearCopy"]


class NearCopy:
    """This router's copy of the shared state (thread-safe)."""

    def __init__(
        self,
        *,
        origin: str,
        clock: Callable[[], float],
        cooldown_after: int,
        cooldown_seconds: float,
        cooldown_max_seconds: float | None = None,
    ) -> None:
        self.origin = origin
        """This router's id in published events (its own are not applied twice)."""
        self.clock = clock
        self.cooldowns = MemoryCooldowns(
            after=cooldown_after,
            seconds=cooldown_seconds,
            max_seconds=cooldown_max_seconds,
            timer=clock,
        )
        self.prefixes = MemoryPrefixes(timer=clock)
        self.tables = MemoryTables()
        self._lock = threading.Lock()
        self._unconfirmed: dict[tuple[str, str], Decimal] = {}
        self._tally_seq = 0

    # -- tallies this router added, until Redis has them ---------------------------------

    def pending_tally(self, table: str, key: str, amount: Decimal) -> None:
        with self._lock:
            self._unconfirmed[(table, key)] = (
                self._unconfirmed.get((table, key), Decimal(0)) + amount
            )

    def confirm_tally(self, op: list[Any], *, applied: bool) -> None:
        """A queued tally op reached Redis (``applied``), was found already applied (by an
        earlier try whose reply was lost), or was dropped (``applied`` too: not pending)."""
        amount = Decimal(op[3]) * TALLY_QUANTUM
        key = (op[1], op[2])
        with self._lock:
            left = self._unconfirmed.get(key, Decimal(0)) - amount
            if left:
                self._unconfirmed[key] = left
            else:
                self._unconfirmed.pop(key, None)
        if not applied:
            # The resync since the lost reply counted it once already, the local add a
            # second time.
            self.tables.add(op[1], op[2], -amount)

    # -- from Redis ------------------------------------------------------------------------

    def load(self, client: Any, prefix: str) -> None:
        """Take in what Redis holds under ``prefix`` (a resync): cooldowns and prefixes are
        merged (the later wins), means replaced, tallies replaced by Redis's sum plus what
        this router added that Redis does not have yet."""
        first = client.pipeline(transaction=True)
        first.hgetall(prefix + "until")
        first.smembers(prefix + "means")
        first.smembers(prefix + "refs")
        first.smembers(prefix + "tallies")
        until, means, refs, tallies = first.execute()
        means = sorted(m.decode() for m in means)
        refs = sorted(r.decode() for r in refs)
        tallies = sorted(t.decode() for t in tallies)
        second = client.pipeline(transaction=True)
        second.get(prefix + "seq")  # read with the tallies: events up to it are in them
        for table in means:
            second.hgetall(prefix + "mean:" + table)
        for ref in refs:
            second.zrange(prefix + "pfx:" + ref, 0, -1, withscores=True)
        for table in tallies:
            second.hgetall(prefix + "tally:" + table)
        seq, *rest = second.execute()
        for ref, left in until.items():
            self.cool(ref.decode(), float(left))
        for table, values in zip(means, rest, strict=False):
            for key, value in values.items():
                self.set_mean(table, key.decode(), float(value))
        rest = rest[len(means) :]
        for ref, members in zip(refs, rest, strict=False):
            by_time: dict[float, list[bytes]] = {}
            for digest, at in members:
                with contextlib.suppress(ValueError):
                    by_time.setdefault(at, []).append(bytes.fromhex(digest.decode()))
            for at, digests in by_time.items():
                self.prefixes.merge(ref, digests, at)
        rest = rest[len(refs) :]
        with self._lock:
            unconfirmed = dict(self._unconfirmed)
            self._tally_seq = int(seq or 0)
        for table, values in zip(tallies, rest, strict=False):
            for key, units in values.items():
                name = key.decode()
                total = Decimal(units.decode()) * TALLY_QUANTUM
                self.tables.set_sum(table, name, total + unconfirmed.get((table, name), 0))

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one published event (``o``: its origin, ``q``: its batch, ``e``: changes)."""
        own = event["o"] == self.origin
        for change in event["e"]:
            kind = change[0]
            if kind == "c":
                self.cool(change[1], float(change[2]))
            elif kind == "m":
                self.set_mean(change[1], change[2], float(change[3]))
            elif kind == "p" and not own:
                digests = [bytes.fromhex(d) for d in change[5:]]
                self.prefixes.merge(change[1], digests, float(change[2]))
            elif kind == "t" and not own and event["q"] > self._tally_seq:
                self.tables.add(change[1], change[2], Decimal(change[3]) * TALLY_QUANTUM)

    def cool(self, ref: str, until: float) -> None:
        left = until - self.clock()
        if left > 0 and (self.cooldowns.cooling(ref) or 0.0) < left - 0.001:
            self.cooldowns.hold(ref, left)

    def set_mean(self, table: str, key: str, value: float) -> None:
        if table == HIT_RATE:
            self.prefixes.set_hit_rate(key, value)
        elif table == CALIBRATION:
            self.prefixes.set_calibration(key, value)
        else:
            self.tables.set_mean(table, key, value)
