"""The current request's deadline, seen by every provider call made on its behalf.

A context variable, so it follows the request through threads' own contexts and
asyncio tasks alike without being passed through every signature.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

__all__ = ["deadline_at", "time_left"]

_deadline: ContextVar[float | None] = ContextVar("router_deadline", default=None)


def time_left() -> float | None:
    """Seconds left before the current request's deadline (None: no deadline set)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


class deadline_at:  # lower case: used as the function it was, ``with deadline_at(when):``
    """Within this block, the request's deadline is ``when`` (``time.monotonic`` time).

    A class rather than a generator-based context manager: every request enters it twice,
    and this costs a third as much."""

    __slots__ = ("_token", "_when")

    def __init__(self, when: float | None) -> None:
        self._when = when
        self._token: Token[float | None] | None = None

    def __enter__(self) -> None:
        self._token = _deadline.set(self._when)

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _deadline.reset(self._token)
            self._token = None
