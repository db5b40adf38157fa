"""Budgets without the network: configuration, periods, worst cases, the memory ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import router
from router import BudgetExceeded, ChatRequest, ConfigError, InvalidRequest, RouterError
from router.catalog import ModelCard, PriceTier, Pricing
from router.config import BudgetConfig, resolve
from router.dispatch.budget import UNBOUNDED_OUTPUT, Budgets, Spending, period_start
from router.planning.context import RoutingContext
from router.plugins import Plugins
from router.state.ledger import Bucket, Hold, MemoryLedger, Tally

PROVIDERS = [{"name": "p", "kind": "pinstripes", "api_key": "k"}]


def resolved_budgets(*budgets):
    return resolve(
        {"providers": PROVIDERS, "budgets": list(budgets)}, Plugins(entry_points=False)
    ).budgets


# -- configuration ------------------------------------------------------------------------


def test_a_budget_with_the_defaults():
    (budget,) = resolved_budgets({"name": "b", "key": "user", "limit_usd": 0.1})
    assert budget.limit_usd == Decimal("0.1")  # exact, not the float's noise
    assert (budget.period, budget.on_exceeded) == ("day", "reject")


@pytest.mark.parametrize(
    ("budget", "path", "problem"),
    [
        ({"key": "user", "limit_usd": 0}, "budgets[0].limit_usd", "greater than 0"),
        ({"key": "user", "limit_usd": -5}, "budgets[0].limit_usd", "greater than 0"),
        ({"key": "user", "limit_usd": "nan"}, "budgets[0].limit_usd", "finite"),
        ({"key": "user", "limit_usd": 1, "period": "daily"}, "budgets[0].period", "'hour'"),
        ({"key": "team", "limit_usd": 1}, "budgets[0].key", "user, api_key, all or metadata"),
        ({"key": "metadata.", "limit_usd": 1}, "budgets[0].key", "metadata field name"),
        ({"key": "metadata.a b", "limit_usd": 1}, "budgets[0].key", "metadata field name"),
        ({"key": "metadata." + "x" * 65, "limit_usd": 1}, "budgets[0].key", "field name"),
        ({"key": "user", "limit_usd": 1, "on_exceeded": "warn"}, "budgets[0].on_exceeded", ""),
        ({"limit_usd": 1}, "budgets[0].key", "required key is missing"),
        ({"key": "user", "limit_usd": 1, "limit": 2}, "budgets[0].limit", "unknown key"),
    ],
)
def test_budget_errors_name_the_key_path(budget, path, problem):
    with pytest.raises(ConfigError) as info:
        resolved_budgets({"name": "b", **budget})
    assert info.value.key_path == path
    assert problem in info.value.problem


def test_budget_names_are_unique():
    with pytest.raises(ConfigError) as info:
        resolved_budgets(
            {"name": "b", "key": "user", "limit_usd": 1},
            {"name": "b", "key": "all", "limit_usd": 1},
        )
    assert info.value.key_path == "budgets[1].name"


@pytest.mark.parametrize("key", ["user", "api_key", "all", "metadata.team", "metadata.cost-ctr_1"])
def test_budget_key_kinds(key):
    (budget,) = resolved_budgets({"name": "b", "key": key, "limit_usd": 1})
    assert budget.key == key


def test_client_keys_with_names():
    from router.config import ServerSettings

    settings = ServerSettings.model_validate(
        {"api_keys": ["plain-key-1", {"key": "named-key-2", "name": "team-a", "admin": True}]}
    )
    plain, named = settings.api_keys
    assert (plain.name, plain.admin) == ("api_keys[0]", False)
    assert (named.name, named.admin) == ("team-a", True)
    assert "named-key-2" not in repr(settings)
    with pytest.raises(ValueError, match="same name"):
        ServerSettings.model_validate(
            {"api_keys": [{"key": "k1", "name": "a"}, {"key": "k2", "name": "a"}]}
        )


# -- periods ------------------------------------------------------------------------------

THURSDAY = datetime(2026, 12, 3, 14, 35, 10, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("hour", "2026-12-03T14:00Z"),
        ("day", "2026-12-03T00:00Z"),
        ("week", "2026-11-30T00:00Z"),  # the Monday before
        ("month", "2026-12-01T00:00Z"),
        ("total", "total"),
    ],
)
def test_periods_start_on_utc_boundaries(period, start):
    assert period_start(period, THURSDAY) == start


def test_a_new_period_is_a_new_bucket():
    now = [THURSDAY]
    ledger = MemoryLedger()
    config = BudgetConfig(name="b", key="all", limit_usd=Decimal(1), period="hour")
    budgets = Budgets([config], ledger, clock=lambda: now[0])
    request = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    spending = budgets.for_request(request, None)
    assert spending is not None
    hold = (Hold(spending.budgets[0][1], Decimal(1), Decimal("0.75")),)
    assert ledger.reserve(hold) is None
    ledger.settle(hold, Decimal("0.75"))
    assert [(r.key, r.since, r.spent, r.left) for r in budgets.report()] == [
        ("*", "2026-12-03T14:00Z", Decimal("0.75"), Decimal("0.25"))
    ]
    now[0] += 3600
    assert budgets.report() == []  # nothing spent this hour yet
    fresh = budgets.for_request(request, None)
    assert fresh is not None
    assert fresh.budgets[0][1].period == "2026-12-03T15:00Z"
    assert ledger.reserve((Hold(fresh.budgets[0][1], Decimal(1), Decimal("0.75")),)) is None


# -- worst case ---------------------------------------------------------------------------

PRICING = Pricing(
    prompt=Decimal("0.000001"),
    completion=Decimal("0.000002"),
    cache_write=Decimal("0.00000125"),
    tiers=(
        PriceTier(
            name="over_200", above_prompt_tokens=200, prompt=Decimal("0.000003"),
            completion=Decimal("0.000004"),
        ),
    ),
)  # fmt: skip


def card(**fields):
    return ModelCard(provider="p", id="m", pricing=PRICING, **fields)


CARD = card(max_output_tokens=1000, context_length=8192)


@pytest.mark.parametrize(
    ("target", "chars", "fields", "expected"),
    [
        # 400 chars = 100 tokens + 4 for the message; max_tokens 50
        (CARD, 400, {"max_tokens": 50}, Decimal("0.000104") + Decimal("0.000100")),
        # no max_tokens: the model's max output, 1000
        (CARD, 400, {}, Decimal("0.000104") + Decimal("0.002")),
        # no max output either: what the context leaves (8192 - 104 = 8088)
        (card(context_length=8192), 400, {}, Decimal("0.000104") + 8088 * Decimal("0.000002")),
        # nothing bounds the output
        (card(), 400, {}, Decimal("0.000104") + UNBOUNDED_OUTPUT * Decimal("0.000002")),
        # over 200 prompt tokens (1000 chars = 250 + 4): the tier's rates
        (CARD, 1000, {"max_tokens": 10}, 254 * Decimal("0.000003") + 10 * Decimal("0.000004")),
        # max_completion_tokens counts like max_tokens
        (CARD, 400, {"max_completion_tokens": 7}, Decimal("0.000104") + 7 * Decimal("0.000002")),
    ],
)
def test_worst_case(target, chars, fields, expected):
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "x" * chars}], **fields)
    assert Spending([], MemoryLedger()).worst_case(RoutingContext(req), target, False) == expected


def test_worst_case_with_cache_breakpoints_bills_the_prompt_at_the_write_rate():
    req = ChatRequest(
        model="auto", messages=[{"role": "user", "content": "x" * 400}], max_tokens=50
    )
    need = Spending([], MemoryLedger()).worst_case(RoutingContext(req), CARD, True)
    assert need == 104 * Decimal("0.00000125") + 50 * Decimal("0.000002")


def test_an_unpriced_deployment_has_no_worst_case():
    req = ChatRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
    unpriced = ModelCard(provider="p", id="free")
    assert Spending([], MemoryLedger()).worst_case(RoutingContext(req), unpriced, False) == 0


# -- the memory ledger --------------------------------------------------------------------

A = Bucket("per-user", "ann", "2026-12-03T00:00Z")
ALL = Bucket("all", "*", "2026-12-03T00:00Z")


def test_reserve_is_all_or_nothing():
    ledger = MemoryLedger()
    assert ledger.reserve([Hold(ALL, Decimal(1), Decimal("0.9"))]) is None
    shortfall = ledger.reserve(
        [Hold(A, Decimal(5), Decimal("0.2")), Hold(ALL, Decimal(1), Decimal("0.2"))]
    )
    assert shortfall is not None
    assert shortfall.hold.bucket == ALL
    assert shortfall.tally == Tally(Decimal(0), Decimal("0.9"))
    assert ledger.tallies([A, ALL]) == [Tally(), Tally(Decimal(0), Decimal("0.9"))]  # A untouched


def test_settle_replaces_the_reservation_and_release_gives_it_back():
    ledger = MemoryLedger()
    holds = [Hold(A, Decimal(5), Decimal("0.3")), Hold(ALL, Decimal(1), Decimal("0.3"))]
    assert ledger.reserve(holds) is None
    assert ledger.tallies([A]) == [Tally(Decimal(0), Decimal("0.3"))]
    ledger.settle(holds, Decimal("0.0123"))
    assert ledger.tallies([A, ALL]) == [Tally(Decimal("0.0123"), Decimal(0))] * 2
    assert ledger.reserve(holds) is None
    ledger.release(holds)
    assert ledger.tallies([A]) == [Tally(Decimal("0.0123"), Decimal(0))]
    # the limit counts settled and reserved together, to the cent and exactly
    exact = [Hold(ALL, Decimal(1), Decimal("0.9877"))]
    assert ledger.reserve(exact) is None
    assert ledger.reserve([Hold(ALL, Decimal(1), Decimal("0.0000001"))]) is not None


def test_a_late_settlement_of_a_past_period_prunes_nothing_current():
    ledger = MemoryLedger()
    old = Bucket("b", "ann", "2026-12-02T00:00Z")
    new = Bucket("b", "ann", "2026-12-03T00:00Z")
    in_flight = [Hold(old, Decimal(1), Decimal("0.5"))]
    assert ledger.reserve(in_flight) is None
    assert ledger.reserve([Hold(new, Decimal(1), Decimal("0.1"))]) is None  # old still held
    ledger.settle([Hold(new, Decimal(1), Decimal("0.1"))], Decimal("0.1"))
    ledger.settle(in_flight, Decimal("0.4"))
    assert ledger.tallies([new]) == [Tally(Decimal("0.1"), Decimal(0))]
    ledger.reserve([Hold(Bucket("b", "ann", "2026-12-04T00:00Z"), Decimal(1), Decimal(0))])
    assert old not in ledger.buckets()  # settled and past: dropped when a newer one starts


def test_reservations_from_many_threads_never_pass_the_limit():
    ledger = MemoryLedger()
    limit, amount = Decimal("1.00"), Decimal("0.03")
    granted = []

    def worker():
        for _ in range(50):
            if ledger.reserve([Hold(ALL, limit, amount)]) is None:
                granted.append(amount)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 33  # floor(1.00 / 0.03)
    assert ledger.tallies([ALL]) == [Tally(Decimal(0), Decimal("0.99"))]


# -- the error and the request --------------------------------------------------------------


def test_budget_exceeded_says_what_and_is_exported():
    error = BudgetExceeded(
        "per-user", "ann", Decimal(5), Decimal("4.9"), reserved=Decimal("0.05"),
        needed=Decimal("0.2"), period="day",
    )  # fmt: skip
    assert isinstance(error, RouterError)
    assert router.BudgetExceeded is BudgetExceeded
    assert "BudgetExceeded" in router.__all__
    assert (error.budget, error.key, error.limit, error.spent) == (
        "per-user", "ann", Decimal(5), Decimal("4.9"),
    )  # fmt: skip
    assert str(error) == (
        "budget 'per-user' for 'ann': spent $4.9 of $5 today, $0.05 reserved by requests in"
        " flight; this request may cost up to $0.2, $0.05 is left"
    )


@pytest.mark.parametrize(
    ("metadata", "where"),
    [({"team": 1}, "metadata.team"), (["team"], "metadata"), ({"a": {"b": "c"}}, "metadata.a")],
)
def test_metadata_must_be_a_string_map(metadata, where):
    r = router.Router.from_config({"providers": PROVIDERS})
    with pytest.raises(InvalidRequest, match=rf"^{where}: "):
        r.explain(model="auto", messages=[{"role": "user", "content": "hi"}], metadata=metadata)
