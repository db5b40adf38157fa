"""How conversations go on: how many later requests follow a turn, how much the prompt
grows per turn, how long the pauses between turns are. Learned from traffic.

A conversation is recognised by the hash of its prompt up to its first user message
(tools, system prompt, first question): every later turn resends that prefix. Its turn
number is one more than the assistant messages it carries, so a request says where in
its conversation it is without any memory. Two kinds are kept apart, conversations with
tools (agent loops: long, fast-growing) and without (chats).

- *Later requests* after turn k: every request at turn j counts one conversation that
  reached turn j, so ``sum(count[j] for j > k) / count[k]`` is the mean number of turns
  that follow a turn k (read from the turn counts alone, no conversation followed to
  its end). Conversations still going count as shorter than they will be: the figure
  errs low.
- *Growth*: prompt tokens added from one turn to the next of the same conversation
  (the mean of the last :data:`WINDOW`).
- *Pauses*: seconds from one turn to the next (the last :data:`WINDOW`, kept sorted),
  so ``within(lifetime)`` is the share of next turns that arrive while a cache of that
  lifetime still holds the prompt.

The ``cheapest`` policy's look-ahead (``expected_reuse``) prices the later requests of a
conversation with these figures. Kept per process (not shared through ``state: redis``).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from router.state.prefix import Prefix
from router.types import ChatRequest

__all__ = ["ConversationOutlook", "Conversations", "TurnStats", "place"]

WINDOW = 1000
"""Pauses and growths remembered per kind of conversation (the latest)."""
MIN_EVIDENCE = 5
"""Requests seen at a turn number before the later requests after it are read from
traffic (until then: unknown, and the policy's prior serves)."""
MAX_TURN = 256
"""Turn numbers above this count as this one."""
MAX_LATER = 64
"""The most later requests a look-ahead counts."""
TRACKED = 50_000
"""Conversations whose latest turn is remembered (the least recent are forgotten)."""


class TurnStats:
    """What conversations of one kind (with tools, or without) have done."""

    def __init__(self) -> None:
        self.turns = [0] * (MAX_TURN + 1)
        """Requests seen per turn number (index 0 unused)."""
        self._total = 0
        self._later: list[float | None] | None = None
        self._pauses: deque[float] = deque()
        self._sorted: list[float] = []
        self._growths: deque[int] = deque()
        self._growth_sum = 0

    def count(self, turn: int) -> None:
        self.turns[turn] += 1
        self._total += 1
        self._later = None
        if self._total > 1_000_000:  # let old traffic fade
            self.turns = [n // 2 for n in self.turns]
            self._total = sum(self.turns)

    def later(self, turn: int) -> float | None:
        """Mean number of requests that follow a request at ``turn`` (at most
        :data:`MAX_LATER`); None with fewer than :data:`MIN_EVIDENCE` requests seen there."""
        if self._later is None:
            later: list[float | None] = [None] * (MAX_TURN + 1)
            after = 0
            for j in range(MAX_TURN, 0, -1):
                seen = self.turns[j]
                later[j] = min(MAX_LATER, after / seen) if seen >= MIN_EVIDENCE else None
                after += seen
            self._later = later
        return self._later[turn]

    def pause(self, seconds: float, growth: int) -> None:
        """One turn followed the previous one of its conversation after ``seconds``,
        its prompt ``growth`` tokens longer."""
        if len(self._pauses) == WINDOW:
            old = self._pauses.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
            self._growth_sum -= self._growths.popleft()
        self._pauses.append(seconds)
        bisect.insort(self._sorted, seconds)
        self._growths.append(growth)
        self._growth_sum += growth

    @property
    def pauses(self) -> int:
        """Next turns seen (at most :data:`WINDOW`)."""
        return len(self._sorted)

    @property
    def growth(self) -> int:
        """Mean prompt tokens added per turn (0 before any evidence)."""
        return self._growth_sum // len(self._growths) if self._growths else 0

    def within(self, seconds: float) -> float:
        """The share of next turns that came within ``seconds`` of the previous one; one
        pseudo-observation inside keeps it at 1 before any evidence."""
        inside = bisect.bisect_right(self._sorted, seconds)
        return (inside + 1) / (len(self._sorted) + 1)


@dataclass(frozen=True, slots=True)
class ConversationOutlook:
    """Where one request stands in its conversation, and what usually follows."""

    turn: int
    """1 + the assistant messages the request carries."""
    tools: bool
    later: float | None
    """Mean later requests after this turn in conversations of this kind (None: too
    little evidence yet)."""
    growth: int
    """Mean estimated prompt tokens a turn adds."""
    stats: TurnStats

    def within(self, seconds: float) -> float:
        """The share of next turns that arrive within ``seconds``."""
        return self.stats.within(seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "tools": self.tools,
            "later": None if self.later is None else round(self.later, 2),
            "growth_tokens": self.growth,
            "within_5m": round(self.within(300), 3),
            "within_1h": round(self.within(3600), 3),
        }

    def describe(self) -> str:
        """One line for ``explain``: ``turn 3 (with tools); 12.4 later turns follow ...``."""
        kind = "with tools" if self.tools else "without tools"
        later = (
            "too few seen to say how many turns follow"
            if self.later is None
            else f"{self.later:.1f} later turns follow a turn {self.turn} here"
        )
        if not self.stats.pauses:
            return f"turn {self.turn} ({kind}); {later}; no next turn seen yet"
        return (
            f"turn {self.turn} ({kind}); {later}; the prompt grows ~{self.growth} tokens a"
            f" turn; next turns within 5 min {self.within(300):.0%}, within 1 h"
            f" {self.within(3600):.0%} (of {self.stats.pauses})"
        )


class Conversations:
    """The per-process memory of conversations (see the module docstring)."""

    def __init__(self, timer: Callable[[], float]) -> None:
        self._timer = timer
        self._kinds = {True: TurnStats(), False: TurnStats()}
        self._last: OrderedDict[bytes, tuple[int, int, float]] = OrderedDict()
        self._lock = threading.Lock()  # requests in several threads learn at once

    def observe(
        self, key: bytes, *, turn: int, tools: bool, tokens: int, count: bool = True
    ) -> ConversationOutlook:
        """Count a request at ``turn`` of conversation ``key`` with ``tokens`` estimated
        prompt tokens (the same request planned again counts once; ``count=False``, a
        request only explained, is not counted), and say what usually follows it."""
        turn = max(1, min(turn, MAX_TURN))
        stats = self._kinds[tools]
        with self._lock:
            later = self._count(key, turn, tools, tokens) if count else stats.later(turn)
        return ConversationOutlook(turn, tools, later, stats.growth, stats)

    def follow(
        self, request: ChatRequest, chain: Sequence[Prefix], *, count: bool = True
    ) -> ConversationOutlook:
        """:meth:`observe` ``request`` (``chain``: its prefixes) in its conversation."""
        key, turn = place(request, chain)
        tokens = request.estimated_prompt_tokens
        return self.observe(key, turn=turn, tools=bool(request.tools), tokens=tokens, count=count)

    def _count(self, key: bytes, turn: int, tools: bool, tokens: int) -> float | None:
        stats = self._kinds[tools]
        last = self._last.get(key)
        if last is None or last[:2] != (turn, tokens):
            now = self._timer()
            stats.count(turn)
            if last is not None and turn == last[0] + 1:
                stats.pause(max(0.0, now - last[2]), max(0, tokens - last[1]))
            self._last[key] = (turn, tokens, now)
            self._last.move_to_end(key)
            if len(self._last) > TRACKED:
                self._last.popitem(last=False)
        return stats.later(turn)


def place(request: ChatRequest, chain: Sequence[Prefix]) -> tuple[bytes, int]:
    """The conversation ``request`` belongs to (the hash of its prompt up to its first
    user message; ``chain`` is its :func:`~router.state.prefix.prefix_chain`) and its
    turn in it (1 + its assistant messages)."""
    messages = request.messages
    first = next((i for i, m in enumerate(messages) if m.get("role") == "user"), 0)
    ends = [p.digest for p in chain if p.boundary]
    element = first + (1 if request.tools else 0)
    key = ends[min(element, len(ends) - 1)] if ends else b""
    turn = 1 + sum(1 for m in messages if m.get("role") == "assistant")
    return key, turn
