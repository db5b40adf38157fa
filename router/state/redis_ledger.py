"""The budgets' spend ledger on Redis: every router of a fleet reserves against one tally.

:meth:`RedisLedger.reserve` is one round trip to a Lua script that checks every hold's
bucket and reserves all of them or none, atomically for the whole fleet (budgets cannot
be kept by a copy that is a few milliseconds late). :meth:`RedisLedger.settle` and
:meth:`RedisLedger.release` go through the state's batch queue, off the caller's path and
exactly once. Reports (:meth:`RedisLedger.tallies`, :meth:`RedisLedger.buckets`) read
Redis.

Amounts are picodollars in Redis (64-bit integers, exact); the script compares them as
Lua numbers, exact up to 2**53 picodollars (about 9,000 USD in one bucket).

While Redis is away, reservations go to an in-process :class:`MemoryLedger`
(``on_unavailable: local``: each process then keeps the budgets alone until Redis is
back) or raise ``StateUnavailable`` (``fail``). A reservation is settled or released
where it was made.

Keys: ``P ledger`` (a set of bucket ids) and ``P ledger:<bucket id>`` (a hash: ``s``
spent, ``r`` reserved), the bucket id being the JSON of (budget, key, period).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from router.errors import StateUnavailable
from router.state.ledger import Bucket, Hold, MemoryLedger, Shortfall, Tally
from router.state.store import TALLY_QUANTUM, quantize

__all__ = ["RESERVE", "RedisLedger"]

# KEYS[1]: the versioned prefix; ARGV[1]: [[bucket id, limit, amount], ...] (picodollars).
RESERVE = """
local P = KEYS[1]
local holds = cjson.decode(ARGV[1])
for i, h in ipairs(holds) do
  local f = redis.call('HMGET', P .. 'ledger:' .. h[1], 's', 'r')
  local s, r = f[1] or '0', f[2] or '0'
  if tonumber(s) + tonumber(r) + tonumber(h[3]) > tonumber(h[2]) then return {i, s, r} end
end
for _, h in ipairs(holds) do
  redis.call('HINCRBY', P .. 'ledger:' .. h[1], 'r', h[3])
  redis.call('SADD', P .. 'ledger', h[1])
end
return {0}
"""


def _units(amount: Decimal) -> str:
    return str(int(quantize(amount).scaleb(12)))


def _usd(units: Any) -> Decimal:
    text = units.decode() if isinstance(units, bytes) else str(units or 0)
    return Decimal(text) * TALLY_QUANTUM


def _id(bucket: Bucket) -> str:
    return json.dumps([bucket.budget, bucket.key, bucket.period], separators=(",", ":"))


class RedisLedger:
    """A :class:`~router.state.ledger.SpendLedger` shared through Redis (see the module)."""

    def __init__(
        self,
        client: Any,
        prefix: str,
        *,
        send: Callable[[list[Any]], int],
        available: Callable[[], bool],
        failed: Callable[[BaseException], None],
        errors: tuple[type[BaseException], ...],
        fail: bool,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._reserve = client.register_script(RESERVE)
        self._send = send
        self._available = available
        self._failed = failed
        self._errors = errors
        self._fail = fail
        self._local = MemoryLedger()
        self._here: Counter[Hold] = Counter()  # holds reserved in the local ledger
        self._lock = threading.Lock()

    def reserve(self, holds: Sequence[Hold]) -> Shortfall | None:
        if self._available():
            args = [[_id(h.bucket), _units(h.limit), _units(h.amount)] for h in holds]
            try:
                found = self._reserve(keys=[self._prefix], args=[json.dumps(args)])
            except self._errors as exc:
                self._failed(exc)
            else:
                if int(found[0]) == 0:
                    return None
                return Shortfall(holds[int(found[0]) - 1], Tally(_usd(found[1]), _usd(found[2])))
        if self._fail:
            raise StateUnavailable(0.0)
        shortfall = self._local.reserve(holds)
        if shortfall is None:
            with self._lock:
                self._here.update(holds)
        return shortfall

    def _local_part(self, holds: Sequence[Hold]) -> tuple[list[Hold], list[Hold]]:
        here, there = [], []
        with self._lock:
            for hold in holds:
                if self._here[hold] > 0:
                    self._here[hold] -= 1
                    here.append(hold)
                else:
                    there.append(hold)
            self._here += Counter()  # drop the zeros
        return here, there

    def settle(self, holds: Sequence[Hold], cost: Decimal) -> None:
        here, there = self._local_part(holds)
        if here:
            self._local.settle(here, cost)
        for hold in there:
            self._send(["ls", _id(hold.bucket), _units(cost), _units(-hold.amount)])

    def release(self, holds: Sequence[Hold]) -> None:
        here, there = self._local_part(holds)
        if here:
            self._local.release(here)
        for hold in there:
            self._send(["lr", _id(hold.bucket), _units(-hold.amount)])

    def _shared(self, buckets: Sequence[Bucket]) -> list[Tally]:
        pipe = self._client.pipeline(transaction=False)
        for bucket in buckets:
            pipe.hmget(self._prefix + "ledger:" + _id(bucket), "s", "r")
        return [Tally(_usd(s), _usd(r)) for s, r in pipe.execute()]

    def tallies(self, buckets: Sequence[Bucket]) -> list[Tally]:
        """Redis's figures plus what this process reserved while Redis was away."""
        local = self._local.tallies(buckets)
        try:
            shared = self._shared(buckets)
        except self._errors:
            return local
        return [_sum(a, b) for a, b in zip(shared, local, strict=True)]

    def buckets(self) -> dict[Bucket, Tally]:
        found = self._local.buckets()
        try:
            ids = sorted(m.decode() for m in self._client.smembers(self._prefix + "ledger"))
            buckets = [Bucket(*json.loads(i)) for i in ids]
            shared = self._shared(buckets)
        except self._errors:
            return found
        for bucket, tally in zip(buckets, shared, strict=True):
            if tally.spent or tally.reserved:
                found[bucket] = _sum(tally, found.get(bucket, Tally()))
        return found


def _sum(a: Tally, b: Tally) -> Tally:
    return Tally(a.spent + b.spent, a.reserved + b.reserved)
