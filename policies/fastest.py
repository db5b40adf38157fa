"""``fastest``: order candidates by how soon *this* request is expected to be answered.

The figure (seconds, lowest first) comes from what each deployment measured
(:class:`router.state.latency.Speed`, read through ``context.speed(card)``):

- ``by: wall_time`` (default): time to first token + expected output ÷ output tokens per
  second, the whole answer of this request (its ``max_tokens`` or the chain's expected
  output); where only complete answers were measured, their mean total time;
- ``by: ttft``: the moving time to first token (what a chat UI waits for);
- ``by: throughput``: seconds per output token, 1 ÷ tokens per second (long outputs).

A deployment not measured yet ranks after every measured one, in the order it was given.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import Ranking
from router.types import ChatRequest


def seconds(value: float) -> Decimal:
    """``value`` seconds as a ranking figure, to the microsecond."""
    return Decimal(f"{value:.6f}")


class Fastest(Ranking):
    rank_unit: ClassVar[str] = "s"
    by: Literal["wall_time", "ttft", "throughput"] = "wall_time"
    """What "fast" means: the whole answer (``wall_time``), the first token (``ttft``), or
    output tokens per second (``throughput``)."""

    def rank(
        self, request: ChatRequest, card: ModelCard, context: RoutingContext
    ) -> Decimal | None:
        if self.by == "wall_time":
            expected = context.expected_seconds(card)
            return None if expected is None else seconds(expected)
        speed = context.speed(card)
        if speed is None:
            return None
        if self.by == "ttft":
            return None if speed.ttft is None else seconds(speed.ttft)
        tps = speed.tokens_per_second
        return None if not tps else seconds(1 / tps)


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("fastest", Fastest)
