"""One request's attempt in the air: when it went out, and what it holds of a budget.

An attempt counts against its deployment's rate-limit budget (requests and tokens) from
the moment it is sent until it lands (answered, failed, cut or dropped by its caller);
after that the provider's own headers count it. Its send time is the clock the speed
statistics read (TTFT and total time).
"""

from __future__ import annotations

import time

from router.catalog import ModelCard
from router.planning.context import RoutingContext
from router.state.ratelimits import Need

__all__ = ["Flight"]


class Flight:
    """The current attempt of one request (see the module docstring)."""

    __slots__ = ("_flying", "context", "sent_at")

    def __init__(self, context: RoutingContext) -> None:
        self.context = context
        self.sent_at = time.perf_counter()
        """When the current attempt was sent (``time.perf_counter``)."""
        self._flying: tuple[str, Need] | None = None

    def start(self, card: ModelCard) -> None:
        """The attempt at ``card`` goes out now: its clock starts, and the request counts
        against the deployment's rate-limit budget until it lands (the one before lands)."""
        self.sent_at = time.perf_counter()
        limits = self.context.limits
        if limits is not None:
            self.landed()
            need = Need(self.context.prompt_tokens(card), self.context.expected_output)
            limits.take(card.ref, need)
            self._flying = (card.ref, need)

    def landed(self) -> None:
        """The attempt in flight is over: the provider's headers count it from now on.
        (Idempotent.)"""
        flying, self._flying = self._flying, None
        if flying is not None and self.context.limits is not None:
            self.context.limits.settle(*flying)
