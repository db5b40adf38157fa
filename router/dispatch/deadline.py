"""The current request's deadline, seen by every provider call made on its behalf.

A context variable, so it follows the request through threads' own contexts and
asyncio tasks alike without being passed through every signature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["deadline_at", "time_left"]

_deadline: ContextVar[float | None] = ContextVar("router_deadline", default=None)


def time_left() -> float | None:
    """Seconds left before the current request's deadline (None: no deadline set)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def deadline_at(when: float | None) -> Iterator[None]:
    """Within this block, the request's deadline is ``when`` (``time.monotonic`` time)."""
    token = _deadline.set(when)
    try:
        yield
    finally:
        _deadline.reset(token)
