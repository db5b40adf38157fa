"""Budgets over real HTTP: reserve before sending, settle after, refuse or downgrade."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest
import yaml

from router import AllProvidersFailed, BudgetExceeded, ChatRequest, Router
from router.cli import main
from router.config import ServerSettings
from router.dispatch.budget import Spending
from router.serving.server import create_app
from router.state.ledger import MemoryLedger, Tally
from router.testing.simulator import Reply
from tests.wire.conftest import FLASH, HELLO, config
from tests.wire.test_server import serving

pytestmark = pytest.mark.wire

SONNET = "openrouter:anthropic/claude-sonnet-4.6"


def budget(name="b", key="user", limit="0.001", **more):
    return {"name": name, "key": key, "limit_usd": limit, **more}


def make(sim, budgets, *kinds, ledger=None, **top):
    conf = config(sim, *(kinds or ("pinstripes",)), budgets=budgets, **top)
    return Router.from_config(conf, sleep=lambda _: None, ledger=ledger)


def need(r: Router, ref: str, **request) -> Decimal:
    """The worst case of ``request`` on ``ref`` as the router reserves it now (with the
    prompt estimate calibrated by what the deployment has reported so far)."""
    provider, _, model = ref.partition(":")
    card = r.catalog(provider).card(model)
    req = ChatRequest(model=ref, **request)
    return Spending([], MemoryLedger()).worst_case(r.planner.context(req), card, False)


def test_reject_refuses_once_the_worst_case_no_longer_fits(sim):
    request = {"messages": HELLO, "max_tokens": 20}
    with make(sim, [budget(limit="0.00002")]) as r:
        spent = Decimal(0)
        for _ in range(100):
            try:
                reply = r.complete(model=FLASH, user="ann", **request)
            except BudgetExceeded as exc:
                error = exc
                break
            spent += reply.route.cost
        else:
            pytest.fail("never refused")
        assert (error.budget, error.key, error.limit) == ("b", "ann", Decimal("0.00002"))
        assert error.spent == spent  # the exact costs, settled
        assert error.reserved == 0
        worst = need(r, FLASH, **request)
        assert error.needed == worst
        assert error.limit - error.spent < worst  # refused only when it no longer fits
        assert error.route.chosen is None
        # another user, and a request without a user, are not under ann's budget
        assert r.complete(model=FLASH, user="bob", **request).provider == "pinstripes"
        assert r.complete(model=FLASH, **request).provider == "pinstripes"
        (ann, bob) = r.spend()
        assert (ann.key, ann.spent, ann.reserved, ann.limit) == ("ann", spent, 0, error.limit)
        assert ann.left == error.limit - spent
        assert bob.key == "bob"
        assert bob.spent > 0


def test_the_first_request_is_refused_before_anything_is_sent(sim):
    with make(sim, [budget(limit="0.0000001", key="all")]) as r:
        r.catalog("pinstripes")
        with pytest.raises(BudgetExceeded) as info:
            r.complete(model=FLASH, messages=HELLO, max_tokens=50)
        assert sim.requests("pinstripes") == [] or all(
            "chat" not in str(req) for req in sim.requests("pinstripes")
        )
        assert info.value.key == "*"
        assert r.spend() == []  # nothing reserved or spent


def test_downgrade_routes_to_what_fits_and_says_so(sim):
    request = {"messages": HELLO, "max_tokens": 100}
    chain = {"models": {"pair": [SONNET, FLASH]}, "policy": ["capabilities"]}
    with make(sim, [], "pinstripes", "openrouter", **chain) as probe:
        cheap, dear = need(probe, FLASH, **request), need(probe, SONNET, **request)
    assert dear > 10 * cheap
    limit = str(cheap * 3)
    budgets = [budget(key="metadata.team", limit=limit, on_exceeded="downgrade")]
    with make(sim, budgets, "pinstripes", "openrouter", **chain) as r:
        meta = {"team": "blue"}
        route = r.explain(model="pair", metadata=meta, **request)
        assert [c.ref for c in route.candidates] == [FLASH]
        (excluded,) = route.excluded
        assert (excluded.ref, excluded.policy) == (SONNET, "budget")
        assert "over budget 'b' for 'blue'" in excluded.reason
        assert "downgrade" in excluded.reason
        reply = r.complete(model="pair", metadata=meta, **request)
        assert reply.route.chosen == FLASH
        assert [e.policy for e in reply.route.excluded] == ["budget"]
        # without the metadata field the request is not under the budget
        assert r.complete(model="pair", **request).route.chosen == SONNET
        # spend until even the cheap one no longer fits: then nothing fits
        error = None
        for _ in range(100):
            try:
                r.complete(model="pair", metadata=meta, **request)
            except BudgetExceeded as exc:
                error = exc
                break
        assert error is not None
        assert error.key == "blue"
        assert error.needed == need(r, FLASH, **request)  # the cheapest candidate's
        (row,) = r.spend()
        assert row.spent + cheap > Decimal(limit)


class StaleLedger(MemoryLedger):
    """A ledger whose snapshot for planning says nothing is spent (another router in a
    fleet spent meanwhile): the reservation before sending is what counts."""

    def tallies(self, buckets):
        return [Tally() for _ in buckets]


@pytest.mark.parametrize("on_exceeded", ["downgrade", "reject"])
def test_the_reservation_before_sending_decides(sim, on_exceeded):
    request = {"messages": HELLO, "max_tokens": 100}
    chain = {"models": {"pair": [SONNET, FLASH]}, "policy": ["capabilities"]}
    ledger = StaleLedger()
    with make(sim, [], "pinstripes", "openrouter", **chain) as probe:
        cheap = need(probe, FLASH, **request)
    budgets = [budget(key="all", limit=str(cheap * 3), on_exceeded=on_exceeded)]
    with make(sim, budgets, "pinstripes", "openrouter", ledger=ledger, **chain) as r:
        if on_exceeded == "reject":
            with pytest.raises(BudgetExceeded) as info:
                r.complete(model="pair", **request)
            assert info.value.needed == need(r, SONNET, **request)
            return
        reply = r.complete(model="pair", **request)
        assert reply.route.chosen == FLASH
        (excluded,) = reply.route.excluded
        assert (excluded.ref, excluded.policy) == (SONNET, "budget")
        assert [c.ref for c in reply.route.candidates] == [FLASH]
        (row,) = r.spend()
        assert (row.spent, row.reserved) == (reply.route.cost, 0)


def test_a_failed_request_releases_its_reservation(sim):
    with make(sim, [budget(key="all", limit="1")]) as r:
        r.catalog("pinstripes")
        sim.set_down("pinstripes", True)
        with pytest.raises(AllProvidersFailed):
            r.complete(model=FLASH, messages=HELLO)
        ((bucket, tally),) = r.ledger.buckets().items()
        assert tally == Tally(Decimal(0), Decimal(0))
        assert bucket.key == "*"


def test_streams_settle_their_exact_cost_and_abandoned_ones_an_estimate(sim):
    with make(sim, [budget(key="all", limit="1")]) as r:
        chunks = list(r.stream(model=FLASH, messages=HELLO, max_tokens=50))
        (row,) = r.spend()
        assert (row.spent, row.reserved) == (chunks[-1].route.cost, 0)
        stream = r.stream(model=FLASH, messages=[{"role": "user", "content": "a b c d e f g"}])
        next(stream)
        stream.close()
        (after,) = r.spend()
        assert after.reserved == 0
        assert after.spent > row.spent  # what was produced is charged (estimated)


async def test_async_paths_reserve_and_settle(sim):
    with make(sim, [budget(key="all", limit="1")]) as r:
        reply = await r.acomplete(model=FLASH, messages=HELLO)
        chunks = [c async for c in r.astream(model=FLASH, messages=HELLO)]
        (row,) = r.spend()
        assert row.spent == reply.route.cost + chunks[-1].route.cost
        assert row.reserved == 0
        await r.aclose()


# -- over HTTP ------------------------------------------------------------------------------


def test_transport_answers_402_budget_exceeded(sim):
    with make(sim, [budget(limit="0.0000001")]) as r:
        transport = r.transport()
        with httpx.Client(transport=transport, base_url="http://router/v1") as client:
            body = {"model": FLASH, "messages": HELLO, "user": "ann"}
            for stream in (False, True):
                response = client.post("/chat/completions", json={**body, "stream": stream})
                assert response.status_code == 402
                error = response.json()["error"]
                assert error["code"] == "budget_exceeded"
                assert "budget 'b' for 'ann'" in error["message"]
            bad = client.post("/chat/completions", json={**body, "metadata": {"team": 7}})
            assert bad.status_code == 400
            assert bad.json()["error"]["message"].startswith("metadata.team:")


TEAM_A, TEAM_B, OPS = "ck-team-a-0123456789", "ck-team-b-0123456789", "ck-ops-0123456789"
KEYS = [
    {"key": TEAM_A, "name": "team-a"},
    {"key": TEAM_B, "name": "team-b"},
    {"key": OPS, "name": "ops", "admin": True},
]


def post(url, key, **body):
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": FLASH, "messages": HELLO, "max_tokens": 20, **body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_server_budgets_by_client_key_name_and_reports_spend(sim, capsys):
    with make(sim, []) as probe:
        one = need(probe, FLASH, messages=HELLO, max_tokens=20)
    limit = str(one)  # one request, not two (its cost and the next worst case exceed it)
    with make(sim, [budget(name="per-team", key="api_key", limit=limit)]) as r:
        keys = ServerSettings.model_validate({"api_keys": KEYS}).api_keys
        with serving(create_app(r, api_keys=keys)) as url:
            assert post(url, TEAM_A).status_code == 200
            refused = post(url, TEAM_A)
            assert refused.status_code == 402
            assert refused.json()["error"]["code"] == "budget_exceeded"
            assert "'team-a'" in refused.json()["error"]["message"]
            assert post(url, TEAM_B, stream=True).status_code == 200
            forbidden = httpx.get(
                f"{url}/v1/spend", headers={"Authorization": f"Bearer {TEAM_A}"}, timeout=10
            )
            assert forbidden.status_code == 403
            spend = httpx.get(
                f"{url}/v1/spend", headers={"Authorization": f"Bearer {OPS}"}, timeout=10
            )
            assert spend.status_code == 200
            rows = spend.json()["data"]
            assert [(row["budget"], row["key"]) for row in rows] == [
                ("per-team", "team-a"),
                ("per-team", "team-b"),
            ]
            assert "ck-" not in spend.text  # names, never keys
            assert Decimal(rows[0]["spent_usd"]) == r.spend()[0].spent
            assert main(["spend", "--url", url, "--key", OPS]) == 0
            table = capsys.readouterr().out
            assert main(["spend", "--url", url, "--key", OPS, "--json"]) == 0
            assert json.loads(capsys.readouterr().out) == rows
            assert main(["spend", "--url", url, "--key", TEAM_A]) == 1
            assert "admin" in capsys.readouterr().err
    print(table)
    header, first, second = table.splitlines()
    assert header.split() == [
        "budget", "key", "period", "since", "(UTC)", "spent", "reserved", "limit", "left",
    ]  # fmt: skip
    assert first.split()[:3] == ["per-team", "team-a", "day"]
    assert second.split()[:2] == ["per-team", "team-b"]


def test_router_spend_without_a_server_reads_this_process(sim, tmp_path, capsys):
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config(sim, "pinstripes", budgets=[budget()])))
    assert main(["spend", "--config", str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "--url" in captured.err
    assert main(["spend", "--config", str(path)]) == 0
    assert "(no spend recorded)" in capsys.readouterr().out


# -- the measurement ---------------------------------------------------------------------------


class WatchedLedger(MemoryLedger):
    """Records every reservation decision with what the ledger held when it was taken
    (under the ledger's own lock, so nothing moves in between)."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[tuple[Decimal, Decimal, Decimal, Decimal, bool]] = []
        self.in_flight = 0
        self.peak = 0

    def reserve(self, holds):
        with self._lock:
            ((spent, reserved),) = [(t.spent, t.reserved) for t in self.tallies(buckets(holds))]
            refused = super().reserve(holds)
            (hold,) = holds
            self.decisions.append((spent, reserved, hold.amount, hold.limit, refused is None))
            if refused is None:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            return refused

    def settle(self, holds, cost):
        with self._lock:
            super().settle(holds, cost)
            self.in_flight -= 1


def buckets(holds):
    return [hold.bucket for hold in holds]


async def run_concurrently(sim, requests=200, concurrency=64):
    words = " ".join(f"w{i}" for i in range(40))
    request = {"messages": [{"role": "user", "content": words}], "max_tokens": 8}
    with make(sim, []) as probe:
        worst = need(probe, FLASH, **request)
    limit = worst * requests / 4  # affords about a quarter of them at their worst case
    ledger = WatchedLedger()
    budgets = [budget(name="agent", key="user", limit=str(limit))]
    router = make(sim, budgets, ledger=ledger)
    gate = asyncio.Semaphore(concurrency)
    outcomes: list[object] = []

    async def one():
        async with gate:
            try:
                outcomes.append(await router.acomplete(model=FLASH, user="agent-7", **request))
            except BudgetExceeded as exc:
                outcomes.append(exc)

    await asyncio.gather(*(one() for _ in range(requests)))
    await router.aclose()
    router.close()
    return router, ledger, outcomes, limit, worst


async def test_concurrent_requests_never_overspend(sim):
    router, ledger, outcomes, limit, worst = await run_concurrently(sim)
    answers = [o for o in outcomes if not isinstance(o, BudgetExceeded)]
    refusals = [o for o in outcomes if isinstance(o, BudgetExceeded)]
    settled = sum((a.route.cost for a in answers), Decimal(0))
    (row,) = router.spend()
    assert row.spent == settled
    assert row.reserved == 0
    assert settled <= limit  # never over the limit
    assert len(answers) >= 50  # at least a quarter: settled costs are at most the worst case
    assert refusals
    # No request was refused while the unreserved remainder covered its worst case...
    for spent, reserved, amount, cap, granted in ledger.decisions:
        assert granted == (spent + reserved + amount <= cap)
    for refusal in refusals:
        assert refusal.limit - refusal.spent - refusal.reserved < refusal.needed
    # ...and requests really were in flight together.
    assert ledger.peak > 1
    print(
        f"\n200 requests, concurrency 64, limit ${limit} (~50 worst cases of ${worst}):"
        f" {len(answers)} answered, {len(refusals)} refused (BudgetExceeded);"
        f" settled ${settled} <= limit; peak reservations in flight {ledger.peak};"
        f" {len(ledger.decisions)} reservation decisions, all consistent"
    )


async def test_a_cancelled_request_releases_its_reservation(sim):
    with make(sim, [budget(key="all", limit="1")]) as r:
        await r.acatalog("pinstripes")
        sim.script("pinstripes", [Reply(200, delay=2)])
        task = asyncio.create_task(r.acomplete(model=FLASH, messages=HELLO))
        for _ in range(100):  # until the request is in flight, its worst case held
            await asyncio.sleep(0.01)
            if any(t.reserved for t in r.ledger.buckets().values()):
                break
        else:
            pytest.fail("the reservation was never made")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert list(r.ledger.buckets().values()) == [Tally(Decimal(0), Decimal(0))]
        await r.aclose()
