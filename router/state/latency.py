"""Measured speed per deployment: time to first token, output tokens per second, total
latency and error rate, as moving averages plus a small quantile sketch (p50/p90).

Every answer teaches it (:meth:`LatencyState.observe`, streamed or not) and every
failed attempt (:meth:`LatencyState.failed`); policies read :class:`Speed` through the
request's :class:`~router.planning.context.RoutingContext` (``context.speed(card)``).

The quantiles come from :class:`LogSketch`, a fixed-bucket logarithmic histogram (the
idea of DDSketch: bucket ``i`` holds values in ``(gamma^(i-1), gamma^i]``, so a quantile
is known within ``(gamma - 1) / (gamma + 1)`` relative error, 4.8% here). Fixed buckets
rather than a library's sketch or P²: a sketch is then a map of bucket → count that a
shared backend keeps as a hash (``HINCRBYFLOAT`` per observation, merged by addition
across processes), which neither P²'s five moving markers nor ``ddsketch``'s objects
allow. Old observations fade: once the counts sum past ``window``, every count is
halved, so the sketch follows a deployment that got slower.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache

__all__ = ["LatencyState", "LogSketch", "MemoryLatency", "Speed"]

GAMMA = 1.1
"""Bucket ratio of :class:`LogSketch`: relative error (gamma - 1) / (gamma + 1) < 4.8%."""
_LOG_GAMMA = math.log(GAMMA)
_SMALLEST = 1e-4
"""Seconds (or tokens/s) below this share the lowest bucket."""


class LogSketch:
    """A decaying fixed-bucket logarithmic histogram of positive values (see the module
    docstring). Not thread-safe: :class:`MemoryLatency` holds a lock around it."""

    __slots__ = ("counts", "total", "window")

    def __init__(self, window: float = 200.0) -> None:
        self.counts: dict[int, float] = {}
        """Bucket index → weight."""
        self.total = 0.0
        self.window = window

    @staticmethod
    def bucket(value: float) -> int:
        """The bucket of ``value``: ``ceil(log(value) / log(gamma))``."""
        return math.ceil(math.log(max(value, _SMALLEST)) / _LOG_GAMMA)

    @staticmethod
    def value(bucket: int) -> float:
        """The value that stands for ``bucket``: the point of least relative error in
        ``(gamma^(i-1), gamma^i]``, ``2 gamma^i / (gamma + 1)``."""
        return 2 * GAMMA**bucket / (GAMMA + 1)

    def add(self, value: float) -> None:
        index = self.bucket(value)
        self.counts[index] = self.counts.get(index, 0.0) + 1.0
        self.total += 1.0
        if self.total > self.window:
            self.counts = {i: c / 2 for i, c in self.counts.items() if c / 2 >= 0.01}
            self.total = sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) of the values kept, or None when empty."""
        if not self.counts:
            return None
        rank = q * self.total
        seen = 0.0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank - 1e-9:
                return self.value(index)
        return self.value(max(self.counts))


@dataclass(frozen=True, slots=True)
class Speed:
    """What a deployment's answers measured (seconds; None: not measured yet)."""

    samples: int
    """Answers measured (streamed and not)."""
    ttft: float | None
    """Time to first token, moving average (streamed answers only)."""
    ttft_p50: float | None
    ttft_p90: float | None
    tokens_per_second: float | None
    """Output tokens per second after the first token, moving average."""
    latency: float | None
    """Total time of an answer, moving average."""
    latency_p50: float | None
    latency_p90: float | None
    error_rate: float
    """Share of attempts that failed, moving average (0 before any failure)."""

    def expected_seconds(self, output_tokens: int) -> float | None:
        """The wall time of an answer of ``output_tokens``: TTFT + output ÷ throughput;
        without both (only non-streamed answers measured so far), the mean total time;
        None when nothing was measured."""
        if self.ttft is not None and self.tokens_per_second:
            return self.ttft + output_tokens / self.tokens_per_second
        return self.latency

    def describe(self) -> str:
        """One line for ``explain``: ``ttft 0.21 s (p90 0.30), 85 tok/s, 1.9 s total``."""
        parts = []
        if self.ttft is not None:
            p90 = f" (p90 {self.ttft_p90:.2f})" if self.ttft_p90 is not None else ""
            parts.append(f"ttft {self.ttft:.2f} s{p90}")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:.0f} tok/s")
        if self.latency is not None:
            parts.append(f"{self.latency:.2f} s total")
        if self.error_rate:
            parts.append(f"errors {self.error_rate:.0%}")
        parts.append(f"{self.samples} answers")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "samples": self.samples,
            "ttft_s": self.ttft,
            "ttft_p50_s": self.ttft_p50,
            "ttft_p90_s": self.ttft_p90,
            "tokens_per_second": self.tokens_per_second,
            "latency_s": self.latency,
            "latency_p50_s": self.latency_p50,
            "latency_p90_s": self.latency_p90,
            "error_rate": self.error_rate,
        }


class LatencyState(Protocol):
    """Where speed statistics live: in-process by default; a shared backend implements
    the same (issue 13: Redis)."""

    def observe(self, ref: str, *, seconds: float, ttft: float | None, output_tokens: int) -> None:
        """``ref`` answered in ``seconds`` in all, its first token after ``ttft`` seconds
        (None: not streamed), with ``output_tokens`` completion tokens."""
        ...

    def failed(self, ref: str) -> None:
        """An attempt at ``ref`` failed (any provider failure: it counts in the error rate)."""
        ...

    def speed(self, ref: str) -> Speed | None:
        """What ``ref`` measured, or None when nothing was."""
        ...

    def speeds(self) -> Mapping[str, Speed]:
        """Every deployment measured: ref → :class:`Speed`."""
        ...


class _Stats:
    __slots__ = (
        "error",
        "latency",
        "latency_sketch",
        "samples",
        "speed",
        "tps",
        "ttft",
        "ttft_sketch",
    )

    def __init__(self, window: float) -> None:
        self.samples = 0
        self.ttft: float | None = None
        self.tps: float | None = None
        self.latency: float | None = None
        self.error = 0.0
        self.ttft_sketch = LogSketch(window)
        self.latency_sketch = LogSketch(window)
        self.speed: Speed | None = None
        """What :func:`_speed` made of these figures, until they change (every candidate
        of every request reads it: the quantiles are not worked out again each time)."""


def _ewma(old: float | None, new: float, alpha: float) -> float:
    return new if old is None else old + alpha * (new - old)


class MemoryLatency:
    """In-process speed statistics, LRU-bounded to ``maxsize`` deployments.

    Moving averages weigh the newest observation by ``alpha``; the first one sets them.
    Throughput is measured after the first token: ``output / (total - ttft)`` for a
    streamed answer; for a complete one, against the moving TTFT when one is known
    (else only its total time counts).
    """

    def __init__(self, *, alpha: float = 0.2, window: float = 200.0, maxsize: int = 10_000):
        self._alpha = alpha
        self._window = window
        self._stats: LRUCache[str, _Stats] = LRUCache(maxsize)
        self._lock = threading.Lock()

    def _of(self, ref: str) -> _Stats:
        stats = self._stats.get(ref)
        if stats is None:
            stats = self._stats[ref] = _Stats(self._window)
        return stats

    def observe(self, ref: str, *, seconds: float, ttft: float | None, output_tokens: int) -> None:
        seconds = max(seconds, 0.0)
        alpha = self._alpha
        with self._lock:
            stats = self._of(ref)
            stats.speed = None
            stats.samples += 1
            stats.error = _ewma(stats.error, 0.0, alpha)
            stats.latency = _ewma(stats.latency, seconds, alpha)
            stats.latency_sketch.add(seconds)
            if ttft is not None:
                ttft = min(max(ttft, 0.0), seconds)
                stats.ttft = _ewma(stats.ttft, ttft, alpha)
                stats.ttft_sketch.add(ttft)
            first = ttft if ttft is not None else stats.ttft
            if first is not None and output_tokens > 0 and seconds - first > 1e-3:
                stats.tps = _ewma(stats.tps, output_tokens / (seconds - first), alpha)

    def failed(self, ref: str) -> None:
        with self._lock:
            stats = self._of(ref)
            stats.speed = None
            stats.error = _ewma(stats.error, 1.0, self._alpha)

    def speed(self, ref: str) -> Speed | None:
        if ref not in self._stats:  # never measured (or forgotten)
            return None
        with self._lock:
            stats = self._stats.get(ref)
            return None if stats is None else _speed(stats)

    def speeds(self) -> dict[str, Speed]:
        with self._lock:
            return {ref: _speed(stats) for ref, stats in self._stats.items()}


def _speed(stats: _Stats) -> Speed:
    if stats.speed is not None:
        return stats.speed
    stats.speed = Speed(
        samples=stats.samples,
        ttft=stats.ttft,
        ttft_p50=stats.ttft_sketch.quantile(0.5),
        ttft_p90=stats.ttft_sketch.quantile(0.9),
        tokens_per_second=stats.tps,
        latency=stats.latency,
        latency_p50=stats.latency_sketch.quantile(0.5),
        latency_p90=stats.latency_sketch.quantile(0.9),
        error_rate=stats.error,
    )
    return stats.speed
