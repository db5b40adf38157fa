"""``max_ttft``: a latency SLO. Excludes deployments whose measured time to first token,
at a quantile (``p90`` by default), is over ``ms`` milliseconds.

The figure is the deployment's sketch of streamed answers' first tokens
(:class:`router.state.latency.Speed`, through ``context.speed(card)``). Where no streamed
answer was measured yet, the total time of complete answers bounds it from above: a
deployment whose p90 total time is within the bound is kept. Otherwise the TTFT is
unknown: the deployment is ranked after the measured ones (``unknown: allow``, the
default) or excluded (``unknown: exclude``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import Filter, Judgement
from router.types import ChatRequest


class MaxTtft(Filter):
    ms: float = Field(gt=0)
    """The bound on time to first token, in milliseconds."""
    quantile: Literal["p50", "p90"] = "p90"
    """Which quantile of the measured TTFTs must be within ``ms``."""
    unknown: Literal["allow", "exclude"] = "allow"
    """What to do with a deployment whose TTFT was not measured: rank it after the
    measured ones (``allow``) or leave it out."""

    def judge(self, request: ChatRequest, card: ModelCard, context: RoutingContext) -> Judgement:
        speed = context.speed(card)
        bound = self.ms / 1000
        if speed is not None:
            ttft = speed.ttft_p90 if self.quantile == "p90" else speed.ttft_p50
            if ttft is not None:
                if ttft > bound:
                    return "exclude", (
                        f"{self.quantile} TTFT {ttft * 1000:.0f} ms > {self.ms:g} ms"
                        f" ({speed.samples} answers)"
                    )
                return None
            total = speed.latency_p90 if self.quantile == "p90" else speed.latency_p50
            if total is not None and total <= bound:
                return None  # the whole answer came within the bound: its first token did
        return self.unknown_verdict, "TTFT not measured yet"


@hookimpl
def router_register_policies(register: RegisterPolicy) -> None:
    register("max_ttft", MaxTtft)
