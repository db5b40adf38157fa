"""Measured speed kept in a :class:`~router.state.store.State`'s tables, so that a fleet
over one Redis shares it (``state: {backend: redis}``; the Router uses it there).

It computes what :class:`~router.state.latency.MemoryLatency` does, from two generic
tables of the state instead of in-process structures:

- the moving averages (TTFT, tokens per second, total time, error rate) are **means**,
  table ``speed:<metric>``, key the deployment ref: Redis folds every router's
  observations into one average, in the order it applies them;
- the answers measured and the :class:`~router.state.latency.LogSketch` buckets are
  **tallies** (additive, exact counts): ``speed:samples`` (ref → answers),
  ``speed:failures`` (ref → failed attempts), and
  ``speed:<ttft|latency>:<ref>`` (bucket index → weight). A sketch is the sum of every
  router's observations, as its fixed buckets were designed for. Fading works as in
  :class:`~router.state.latency.LogSketch`: the router whose observation takes a sketch
  past ``window`` subtracts half of every bucket. Two routers crossing the window in the
  same instant may both halve (the sketch then forgets a little faster); the quantiles
  stay within the sketch's relative error of what was kept.

Reads answer from the state's near copy: no round trip per candidate. A complete
(non-streamed) answer's throughput is measured against the TTFT mean that copy holds at
the time, which may trail the fleet's by a batch (about 0.1 s).
"""

from __future__ import annotations

from decimal import Decimal

from router.state.latency import LatencyState, LogSketch, MemoryLatency, Speed
from router.state.store import Means, State, Tallies

__all__ = ["FAILURES", "SAMPLES", "SharedLatency", "latency_of"]

SAMPLES = "speed:samples"
"""Tally table: ref → answers measured."""
FAILURES = "speed:failures"
"""Tally table: ref → failed attempts (so that :meth:`SharedLatency.speeds` lists a
deployment that only failed, as :class:`~router.state.latency.MemoryLatency` does)."""
_TTFT, _TPS, _LATENCY, _ERROR = "speed:ttft", "speed:tps", "speed:latency", "speed:error"
_ONE = Decimal(1)
_FADED = Decimal("0.01")
"""A halved bucket below this weight is dropped (as in :class:`LogSketch`)."""


class SharedLatency:
    """A :class:`~router.state.latency.LatencyState` over a state's ``tallies`` and
    ``means`` (see the module docstring). ``alpha`` and ``window`` as in
    :class:`~router.state.latency.MemoryLatency`."""

    def __init__(
        self, tallies: Tallies, means: Means, *, alpha: float = 0.2, window: float = 200.0
    ) -> None:
        self._tallies = tallies
        self._means = means
        self._alpha = alpha
        self._window = Decimal(str(window))
        self._cache: dict[str, tuple[dict[str, Decimal], tuple[float | None, float | None]]] = {}
        """Sketch table → (its counts, their p50 and p90) when last read."""
        stamps = getattr(tallies, "stamps", None)
        self._stamps: dict[str, int] | None = (
            stamps if stamps is not None and stamps is getattr(means, "stamps", None) else None
        )
        """The tables' write stamps (:attr:`~router.state.store.MemoryTables.stamps`),
        when both kinds live in one: a speed is then kept until one of its inputs
        changes (every candidate of every request reads it)."""
        self._speeds: dict[str, tuple[tuple[int | None, ...], Speed | None]] = {}
        """ref → (the stamps of its key and sketches when computed, its speed)."""
        self._sketches: dict[str, tuple[str, str]] = {}
        """ref → the names of its TTFT and latency sketch tables."""

    def _add(self, sketch: str, ref: str, value: float) -> None:
        table = f"{sketch}:{ref}"
        self._tallies.add(table, str(LogSketch.bucket(value)), _ONE)
        counts = self._tallies.table(table)
        if sum(counts.values(), Decimal(0)) > self._window:
            for bucket, count in counts.items():
                half = count / 2
                self._tallies.add(table, bucket, -(count if half < _FADED else half))

    def observe(self, ref: str, *, seconds: float, ttft: float | None, output_tokens: int) -> None:
        seconds = max(seconds, 0.0)
        alpha = self._alpha
        self._tallies.add(SAMPLES, ref, _ONE)
        self._means.observe(_ERROR, ref, 0.0, alpha=alpha, prior=0.0)
        self._means.observe(_LATENCY, ref, seconds, alpha=alpha)
        self._add(_LATENCY, ref, seconds)
        if ttft is not None:
            ttft = min(max(ttft, 0.0), seconds)
            self._means.observe(_TTFT, ref, ttft, alpha=alpha)
            self._add(_TTFT, ref, ttft)
        first = ttft if ttft is not None else self._means.mean(_TTFT, ref)
        if first is not None and output_tokens > 0 and seconds - first > 1e-3:
            self._means.observe(_TPS, ref, output_tokens / (seconds - first), alpha=alpha)

    def failed(self, ref: str) -> None:
        self._tallies.add(FAILURES, ref, _ONE)
        self._means.observe(_ERROR, ref, 1.0, alpha=self._alpha, prior=0.0)

    def speed(self, ref: str) -> Speed | None:
        stamps = self._stamps
        if stamps is None:
            return self._speed(ref)
        sketches = self._sketches.get(ref)
        if sketches is None:
            sketches = self._sketches[ref] = (f"{_TTFT}:{ref}", f"{_LATENCY}:{ref}")
        # read before the values: a write after this is seen by the next call
        mark = (stamps.get(ref), stamps.get(sketches[0]), stamps.get(sketches[1]))
        kept = self._speeds.get(ref)
        if kept is not None and kept[0] == mark:
            return kept[1]
        speed = self._speed(ref)
        self._speeds[ref] = (mark, speed)
        return speed

    def _speed(self, ref: str) -> Speed | None:
        """What the tables say of ``ref`` now (its means are keyed by ``ref``, its
        sketches are the two tables named after it)."""
        error = self._means.mean(_ERROR, ref)
        if error is None:  # every observation and failure sets it
            return None
        ttft_p50, ttft_p90 = self._quantiles(_TTFT, ref)
        latency_p50, latency_p90 = self._quantiles(_LATENCY, ref)
        return Speed(
            samples=int(self._tallies.value(SAMPLES, ref)),
            ttft=self._means.mean(_TTFT, ref),
            ttft_p50=ttft_p50,
            ttft_p90=ttft_p90,
            tokens_per_second=self._means.mean(_TPS, ref),
            latency=self._means.mean(_LATENCY, ref),
            latency_p50=latency_p50,
            latency_p90=latency_p90,
            error_rate=error,
        )

    def speeds(self) -> dict[str, Speed]:
        refs = set(self._tallies.table(SAMPLES)) | set(self._tallies.table(FAILURES))
        return {ref: speed for ref in sorted(refs) if (speed := self.speed(ref)) is not None}

    def _quantiles(self, sketch: str, ref: str) -> tuple[float | None, float | None]:
        """p50 and p90 of a sketch, recomputed only when its counts changed (comparing
        them costs a fiftieth of reading them into floats: routing reads every candidate)."""
        table = f"{sketch}:{ref}"
        counts = self._tallies.table(table)
        cached = self._cache.get(table)
        if cached is not None and cached[0] == counts:
            return cached[1]
        kept = LogSketch(float(self._window))
        kept.counts = {int(b): float(c) for b, c in counts.items() if c > 0}
        kept.total = sum(kept.counts.values())
        quantiles = (kept.quantile(0.5), kept.quantile(0.9))
        self._cache[table] = (counts, quantiles)
        return quantiles


def latency_of(state: State) -> LatencyState:
    """Where a router over ``state`` keeps its measured speeds: in process with the
    ``memory`` backend (:class:`MemoryLatency`, LRU-bounded), else in the shared state's
    tables (:class:`SharedLatency`: the fleet's)."""
    if state.backend == "memory":
        return MemoryLatency()
    return SharedLatency(state.tallies, state.means)
