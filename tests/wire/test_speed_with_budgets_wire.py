"""Issue 20 beside issue 14: an attempt's start (``Plan.begin``) reserves the budgets,
then starts the speed clock and counts the request in flight against the rate-limit
budget of the deployment actually sent to, with the observation hooks on."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router import Router
from router.state.ratelimits import MemoryRateLimits, Need
from router.testing.simulator import Simulator
from tests.conftest import Recorder
from tests.wire.conftest import FLASH, HELLO, config
from tests.wire.test_budget_wire import SONNET, StaleLedger, budget, need

pytestmark = pytest.mark.wire

PAIR = {"models": {"pair": [SONNET, FLASH]}, "policy": ["capabilities"]}
REQUEST = {"messages": HELLO, "max_tokens": 100}


class Flights(MemoryRateLimits):
    """Records which deployment each flight was taken for and settled on."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, str]] = []

    def take(self, ref: str, need: Need) -> None:
        self.log.append(("take", ref))
        super().take(ref, need)

    def settle(self, ref: str, need: Need) -> None:
        self.log.append(("settle", ref))
        super().settle(ref, need)


def make(sim: Simulator, budgets: list[dict[str, object]], **kwargs: object) -> Router:
    conf = config(sim, "pinstripes", "openrouter", budgets=budgets, **PAIR)
    return Router.from_config(conf, sleep=lambda _: None, **kwargs)  # type: ignore[arg-type]


def test_a_downgrade_at_reservation_flies_and_times_the_deployment_sent_to(
    sim: Simulator,
) -> None:
    with make(sim, []) as probe:
        cheap = need(probe, FLASH, **REQUEST)
    seen, flights = Recorder(), Flights()
    budgets = [budget(key="all", limit=str(cheap * 3), on_exceeded="downgrade")]
    with make(sim, budgets, ledger=StaleLedger(), plugins=[seen], rate_limits=flights) as r:
        reply = r.complete(model="pair", **REQUEST)
        assert reply.route.chosen == FLASH
        assert [(e.ref, e.policy) for e in reply.route.excluded] == [(SONNET, "budget")]
        assert flights.log == [("take", FLASH), ("settle", FLASH)]
        assert set(r.latency.speeds()) == {FLASH}
        assert r.latency.speeds()[FLASH].samples == 1
        assert [a.ref for a in seen.attempts] == [FLASH]
        (row,) = r.spend()
        assert (row.spent, row.reserved) == (reply.route.cost, 0)


def test_a_failed_attempt_lands_before_the_next_one_flies(sim: Simulator) -> None:
    seen, flights = Recorder(), Flights()
    budgets = [budget(key="all", limit="1")]
    with make(sim, budgets, plugins=[seen], rate_limits=flights) as r:
        r.catalog("openrouter")
        sim.set_down("openrouter", True)
        reply = r.complete(model="pair", **REQUEST)
        assert reply.route.chosen == FLASH
        assert flights.log == [
            ("take", SONNET),
            ("settle", SONNET),
            ("take", FLASH),
            ("settle", FLASH),
        ]
        speeds = r.latency.speeds()
        assert speeds[SONNET].error_rate > 0
        assert speeds[SONNET].samples == 0
        assert speeds[FLASH].samples == 1
        assert [(a.ref, a.ok) for a in seen.attempts] == [(SONNET, False), (FLASH, True)]
        (row,) = r.spend()
        assert (row.spent, row.reserved) == (reply.route.cost, 0)


def test_streams_measure_their_first_token_and_a_dropped_one_lands(sim: Simulator) -> None:
    seen, flights = Recorder(), Flights()
    sim.set_latency("pinstripes", ttft=0.2)
    with make(sim, [budget(key="all", limit="1")], plugins=[seen], rate_limits=flights) as r:
        chunks = list(r.stream(model=FLASH, messages=HELLO))
        assert chunks[-1].usage is not None
        speed = r.latency.speeds()[FLASH]
        assert speed.ttft is not None
        assert 0.2 <= speed.ttft < 0.35
        assert flights.log == [("take", FLASH), ("settle", FLASH)]
        stream = r.stream(model=FLASH, messages=[{"role": "user", "content": "a b c d e f"}])
        next(stream)
        assert len(flights._flights(FLASH, flights._timer())) == 1
        stream.close()
        assert flights._flights(FLASH, flights._timer()) == []
        assert flights.log[2:] == [("take", FLASH), ("settle", FLASH)]
        assert [res.ok for res in seen.results] == [True, False]
        (row,) = r.spend()
        assert row.reserved == 0
        assert row.spent > chunks[-1].route.cost > Decimal(0)
