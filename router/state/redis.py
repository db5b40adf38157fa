"""Shared state on Redis (or Valkey): N routers (threads, processes, hosts) decide as one.

Needs the ``redis`` extra (``pip install 'router[redis]'``: redis-py).

**Reads never touch the network.** Routing asks the state about every candidate of every
request (is it cooling down, how long a prefix it has warm, its hit rate, its token
calibration): a round trip each would cost more than the routing itself. So every
router keeps a *near copy* of the shared state in process (the same structures the
``memory`` backend uses) and answers reads from it. The copy is

- loaded whole when the router attaches (a fresh router on a warm Redis starts with what
  the fleet learned) and again after every reconnect (``resync``);
- kept current by Redis pub/sub: every write publishes what it changed on one channel,
  which every router listens to on a background thread.

**Writes do not wait.** What a router learns is applied to the near copy at once and
queued (:mod:`router.state.redis_views`); a background thread sends the queue in
batches, one round trip per batch: a server-side Lua script applies the batch
atomically, exactly once (each batch carries an id the script remembers for a day, so a
batch retried after a lost reply is not counted twice), and publishes the outcome
(failures are counted fleet-wide, means folded in on the server: every router ends on
the same values). One exception: a
failure or a ``Retry-After`` hold waits (at most ``timeout_seconds``, never past the
request's deadline, not at all while Redis is away) until it is applied and published,
so that the fleet knows before the caller can send its next request: one round trip, on
a path that has just paid for a provider's failure.

**Faults.** Redis down at start, killed, slow (no reply within ``timeout_seconds``) or
answering errors: with ``on_unavailable: local`` the router goes on with its near copy
(what it had, plus what it learns alone), logs one warning per outage, reconnects in
the background with exponential backoff, resynchronises, and sends what it queued
meanwhile (at most ``max_pending`` updates, oldest dropped beyond); with ``fail``,
:meth:`RedisState.check` raises ``StateUnavailable`` (the Router calls it before
planning) until Redis is back. No request can outlive its deadline because of Redis.

Keys: :mod:`router.state.redis_script`. Times: the router's clock (``time.time``
unless given a ``timer``), which a fleet shares.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from router.dispatch.deadline import time_left
from router.errors import StateUnavailable
from router.state.cooldowns import CooldownState
from router.state.ledger import SpendLedger
from router.state.prefix import PrefixState
from router.state.redis_ledger import RedisLedger
from router.state.redis_near import NearCopy
from router.state.redis_script import APPLY
from router.state.redis_views import (
    RedisCooldowns,
    RedisMeans,
    RedisPrefixes,
    RedisTallies,
)
from router.state.settings import StateSettings, redis_location
from router.state.store import Means, Tallies

if TYPE_CHECKING:
    import redis

__all__ = ["MISSING_EXTRA", "SCHEMA", "RedisState"]

logger = logging.getLogger("router.state")

MISSING_EXTRA = "state backend 'redis' needs the 'redis' extra: pip install 'router[redis]'"
SCHEMA = "v1"
"""Schema version, part of every key: a router of another schema never reads these."""

_BATCH_OPS = 500
_BATCH_DIGESTS = 20_000
_LINGER = 0.1
"""Seconds the flusher gathers updates (failures and sync() go at once): learning ~0.1 s."""
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 5.0
_PING_EVERY = 1.0


class RedisState:
    """The ``redis`` state backend (see the module docstring).

    ``cooldown_after`` / ``cooldown_seconds``: the ``fallback:`` settings; ``timer``: the
    clock the fleet shares (default ``time.time``); ``wait_first``: seconds the
    constructor waits for the first load from Redis (default: ``2 * timeout_seconds``).
    """

    backend = "redis"

    def __init__(
        self,
        settings: StateSettings,
        *,
        cooldown_after: int = 3,
        cooldown_seconds: float = 30.0,
        cooldown_max_seconds: float | None = None,
        timer: Callable[[], float] = time.time,
        wait_first: float | None = None,
    ) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise ImportError(MISSING_EXTRA) from exc
        if settings.url is None:
            msg = "state.url is required for backend 'redis'"
            raise ValueError(msg)
        self.settings = settings
        self._clock = timer
        self._prefix = f"{settings.key_prefix}{SCHEMA}:"
        self._channel = self._prefix + "events"
        self._origin = uuid.uuid4().hex
        url = settings.url.get_secret_value()
        self._where = redis_location(url)
        self._secrets = tuple(
            s for s in (url, urlsplit(url).password, urlsplit(url).username) if s and len(s) > 2
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._refused, self._timeout = redis.ResponseError, redis.TimeoutError
        timeout = settings.timeout_seconds
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # we retry, in the background, with backoff
                client_name="router-state",
            )
        except ValueError:  # redis-py quotes the URL: not chained, not repeated
            raise ValueError("state.url: not a valid Redis URL") from None
        self._apply_script = self._client.register_script(APPLY)

        self._copy = copy = NearCopy(
            origin=self._origin,
            clock=timer,
            cooldown_after=cooldown_after,
            cooldown_seconds=cooldown_seconds,
            cooldown_max_seconds=cooldown_max_seconds,
        )
        self.cooldowns: CooldownState = RedisCooldowns(
            copy.cooldowns,
            send=self._enqueue,
            wait=self._await,
            reset=self._succeeded,
            clock=timer,
            after=cooldown_after,
            seconds=cooldown_seconds,
        )
        self.prefixes: PrefixState = RedisPrefixes(
            copy.prefixes, send=self._enqueue, clock=timer, bound=settings.prefixes_per_deployment
        )
        self.tallies: Tallies = RedisTallies(
            copy.tables, send=self._enqueue, pending=copy.pending_tally
        )
        self.means: Means = RedisMeans(copy.tables, send=self._enqueue)
        self.ledger: SpendLedger = RedisLedger(
            self._client,
            self._prefix,
            send=self._enqueue,
            available=lambda: self.available,
            failed=lambda exc: self._update_health(writes_ok=False, exc=exc),
            errors=self._errors,
            fail=settings.on_unavailable == "fail",
        )

        self._lock = threading.Lock()  # per op queued: cheaper than the Condition's __enter__
        self._cond = threading.Condition(self._lock)
        self._queue: deque[list[Any]] = deque()
        self._pending_success: set[str] = set()
        self._inflight = False
        self._urgent = False  # a caller awaits an op: send without lingering
        self._ops_in = 0  # ops ever queued
        self._ops_done = 0  # ops applied or given up (the queue is first in, first out)
        self._batch_size = 0
        self._dropped = 0
        self._markers: dict[str, threading.Event] = {}

        self._health = threading.Lock()
        self._listening = False
        self._writes_ok = True
        self._down_since: float | None = time.monotonic()  # until the first load
        self._warned = False
        self._resync = threading.Event()
        self._attached = threading.Event()  # the listener (re)loaded: the flusher may go on
        self._stopping = threading.Event()
        self._first = threading.Event()
        self._closed = False

        self._listener = threading.Thread(
            target=self._listen_loop, name="router-state-listen", daemon=True
        )
        self._flusher = threading.Thread(
            target=self._flush_loop, name="router-state-flush", daemon=True
        )
        self._listener.start()
        self._flusher.start()
        self._first.wait(2 * timeout if wait_first is None else wait_first)

    def __repr__(self) -> str:
        s = self.settings
        return f"RedisState(key_prefix={s.key_prefix!r}, on_unavailable={s.on_unavailable!r})"

    # -- health --------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether Redis is reachable and this router's copy is in step with it."""
        return self._down_since is None

    def check(self) -> None:
        """Raise ``StateUnavailable`` while Redis is away under ``on_unavailable: fail``."""
        since = self._down_since
        if since is not None and self.settings.on_unavailable == "fail":
            raise StateUnavailable(time.monotonic() - since)

    def _safe(self, exc: BaseException) -> str:
        text = str(exc)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__

    def _update_health(
        self,
        *,
        listening: bool | None = None,
        writes_ok: bool | None = None,
        exc: BaseException | None = None,
    ) -> None:
        with self._health:
            if listening is not None:
                self._listening = listening
            if writes_ok is not None:
                self._writes_ok = writes_ok
            healthy = self._listening and self._writes_ok
            if healthy and self._down_since is not None:
                lasted = time.monotonic() - self._down_since
                self._down_since = None
                if self._warned:
                    logger.warning(
                        "shared state at %s is back after %.1f s: resynchronised%s",
                        self._where,
                        lasted,
                        f"; {self._dropped} learned updates were dropped meanwhile"
                        if self._dropped
                        else "",
                    )
                self._warned = False
                self._dropped = 0
            elif not healthy:
                if self._down_since is None:
                    self._down_since = time.monotonic()
                if not self._warned and exc is not None:
                    self._warned = True
                    then = (
                        "requests fail with StateUnavailable"
                        if self.settings.on_unavailable == "fail"
                        else "routing on this process's state"
                    )
                    logger.warning(
                        "shared state at %s unavailable (%s): %s until it is back; reconnecting",
                        self._where,
                        self._safe(exc),
                        then,
                    )

    # -- writes: the queue and the flusher ----------------------------------------------------

    def _enqueue(self, op: list[Any]) -> int:
        """Queue ``op``; returns its number (see :meth:`_await`)."""
        if self._closed:
            return 0
        with self._lock:
            if len(self._queue) >= self.settings.max_pending:
                dropped = self._queue.popleft()
                self._dropped += 1
                self._ops_done += 1
                if dropped[0] == "s":
                    self._pending_success.discard(dropped[1])
                elif dropped[0] == "t":
                    self._copy.confirm_tally(dropped, applied=True)  # lost: not pending
            self._queue.append(op)
            self._ops_in += 1
            if len(self._queue) in (1, _BATCH_OPS):  # woken to start a batch, or to send it
                self._cond.notify()
            return self._ops_in

    def _await(self, number: int) -> None:
        """Wait until op ``number`` is applied, for at most ``timeout_seconds`` and never past
        the current request's deadline; not at all while Redis is away.

        Only what the fleet must know before this request's caller can send another (a
        deployment just failed) is awaited: one round trip, on a path that already paid a
        provider's failure.
        """
        if number == 0 or self._down_since is not None:
            return
        limit = self.settings.timeout_seconds
        left = time_left()
        if left is not None:
            limit = min(limit, max(0.0, left))
        with self._cond:
            self._urgent = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._ops_done >= number, limit)

    def _succeeded(self, ref: str) -> None:
        with self._lock:
            if ref in self._pending_success:
                return  # one reset per batch is enough
            self._pending_success.add(ref)
        self._enqueue(["s", ref])

    def _take(self) -> list[list[Any]]:
        batch: list[list[Any]] = []
        digests = 0
        with self._cond:
            while self._queue and len(batch) < _BATCH_OPS and digests < _BATCH_DIGESTS:
                op = self._queue.popleft()
                if op[0] == "s":
                    self._pending_success.discard(op[1])
                elif op[0] == "p":
                    digests += len(op) - 5
                batch.append(op)
            self._inflight = bool(batch)
            self._batch_size = len(batch)
        return batch

    def _flush_loop(self) -> None:
        batch: list[list[Any]] = []
        batch_id = ""
        delay = _BACKOFF_FIRST
        while True:
            if not batch:
                with self._cond:
                    while not self._queue and not self._stopping.is_set():
                        self._cond.notify_all()  # sync() waits for an empty queue
                        self._cond.wait(1.0)
                    if not self._queue and self._stopping.is_set():
                        self._cond.notify_all()
                        return
                if not self._listening and not self._stopping.is_set():
                    self._stopping.wait(0.05)  # not attached yet: queue, do not send
                    continue
                with self._cond:
                    if not self._urgent and len(self._queue) < _BATCH_OPS:
                        self._cond.wait_for(
                            lambda: self._urgent or len(self._queue) >= _BATCH_OPS, _LINGER
                        )
                    self._urgent = False
                batch = self._take()
                batch_id = uuid.uuid4().hex
            try:
                applied, _seq = self._apply_script(
                    keys=[self._prefix],
                    args=[batch_id, self._origin, json.dumps(batch, separators=(",", ":"))],
                )
            except self._errors as exc:
                self._update_health(writes_ok=False, exc=exc)
                if self._stopping.is_set():
                    with self._cond:
                        self._queue.clear()
                        self._ops_done = self._ops_in
                        self._inflight = False
                        self._cond.notify_all()
                    return
                if not isinstance(exc, self._refused):
                    self._resync.set()  # the connection is suspect: reattach, resync
                self._attached.clear()
                self._attached.wait(delay * (0.5 + random.random() / 2))  # or reattached
                delay = min(delay * 2, _BACKOFF_MAX)
                continue
            delay = _BACKOFF_FIRST
            for op in batch:
                if op[0] == "t":
                    self._copy.confirm_tally(op, applied=bool(applied))
            with self._cond:
                batch = []
                self._inflight = False
                self._ops_done += self._batch_size
                self._cond.notify_all()
            self._update_health(writes_ok=True)

    # -- reads: the listener keeps the near copy current -----------------------------------

    def _listen_loop(self) -> None:
        delay = _BACKOFF_FIRST
        while not self._stopping.is_set():
            pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                # The subscription must be live before the snapshot, or a write between
                # the two would be missed.
                self._subscribed(pubsub)
                self._copy.load(self._client, self._prefix)
                self._resync.clear()
                self._update_health(listening=True)
                self._attached.set()
                self._first.set()
                delay = _BACKOFF_FIRST
                pinged = time.monotonic()
                while not self._stopping.is_set() and not self._resync.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None and message["type"] == "message":
                        self._on_event(message["data"])
                    if time.monotonic() - pinged > _PING_EVERY:
                        self._client.ping()
                        pinged = time.monotonic()
            except self._errors as exc:
                self._update_health(listening=False, exc=exc)
            except Exception:  # a bug must not end the listener silently
                logger.exception("shared state: unexpected error in the listener")
                self._update_health(listening=False)
            finally:
                with contextlib.suppress(*self._errors):
                    pubsub.close()
            self._first.set()
            if self._stopping.is_set():
                break
            if self._resync.is_set() and self._listening:
                self._update_health(listening=False)
            self._stopping.wait(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, _BACKOFF_MAX)

    def _subscribed(self, pubsub: Any) -> None:
        deadline = time.monotonic() + self.settings.timeout_seconds
        while True:
            message = pubsub.get_message(timeout=self.settings.timeout_seconds)
            if message is not None and message["type"] == "subscribe":
                return
            if time.monotonic() > deadline:
                raise self._timeout("no subscription confirmation")

    def _on_event(self, data: bytes) -> None:
        try:
            event = json.loads(data)
            marker = event.get("k")
            if marker is None:
                self._copy.apply(event)
            elif event["o"] == self._origin and (waiting := self._markers.get(marker)):
                waiting.set()  # a sync() of ours: everything published before it is in
        except (ValueError, KeyError, IndexError, TypeError):
            logger.warning("shared state: ignoring a malformed event on %s", self._channel)

    # -- lifecycle -------------------------------------------------------------------------

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait until this router's queued writes are applied, then until every event
        published before now has reached this router's copy. False on ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._urgent = bool(self._queue)  # send now, not after the linger
            self._cond.notify_all()
            while self._queue or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        token = uuid.uuid4().hex
        seen = self._markers[token] = threading.Event()
        try:
            self._client.publish(
                self._channel, json.dumps({"o": self._origin, "k": token, "q": 0, "e": []})
            )
            return seen.wait(max(0.0, deadline - time.monotonic()))
        except self._errors:
            return False
        finally:
            self._markers.pop(token, None)

    def close(self) -> None:
        """Send what is queued (for at most ``timeout_seconds``), stop the background
        threads, close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._listening:
            self.sync(self.settings.timeout_seconds)
        self._stopping.set()
        self._attached.set()
        with self._cond:
            self._cond.notify_all()
        join = 2 * self.settings.timeout_seconds + 1.0
        self._flusher.join(join)
        self._listener.join(join)
        with contextlib.suppress(*self._errors):
            self._client.close()
        with contextlib.suppress(*self._errors):
            self._client.connection_pool.disconnect()
