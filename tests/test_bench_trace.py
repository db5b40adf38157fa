"""``bench/decision_trace.py`` runs small, and its accounting adds up."""

from __future__ import annotations

from decimal import Decimal
from types import ModuleType

import pytest

from tests.conftest import load_bench


def load() -> ModuleType:
    return load_bench("decision_trace")


@pytest.fixture(scope="module")
def dt() -> ModuleType:
    return load()


def test_bill_uses_the_prices_in_force(dt):
    # Routstr: $0.70 in, $2.40 out, $0.10 cache read per 1M; from CHANGE_AT $0.45 / $0.045.
    before = dt.bill("routstr:agent-large", dt.CHANGE_AT - 1, 10_000, 8_192, 100)
    assert before == Decimal("0.0023248")  # (1808 x 0.70 + 8192 x 0.10 + 100 x 2.40) / 1M
    after = dt.bill("routstr:agent-large", dt.CHANGE_AT, 10_000, 8_192, 100)
    assert after == Decimal("0.00142224")  # (1808 x 0.45 + 8192 x 0.045 + 100 x 2.40) / 1M
    # No cache-read rate: cached tokens are billed as prompt tokens.
    assert dt.bill("openrouter:agent-lite", 0.0, 1_000, 600, 10) == Decimal("0.00026")


def test_the_workload_is_deterministic_and_mixed(dt):
    a, b = dt.workload(12, 3), dt.workload(12, 3)
    assert [s.messages for s in a] == [s.messages for s in b]
    assert [s.times for s in a] == [s.times for s in b]
    assert dt.workload(12, 4)[0].messages != a[0].messages
    for session in a:
        assert session.times == sorted(session.times)
        assert session.ends == sorted(session.ends)
        assert (session.tools is not None) == (session.kind == "agent")


@pytest.mark.wire
@pytest.mark.slow
def test_a_small_trace_completes_and_adds_up(dt):
    sessions = dt.workload(7, 3)
    kinds = {s.kind for s in sessions}
    assert {"chat", "doc", "agent"} <= kinds  # tools on some sessions, a long document
    assert min(s.times[0] for s in sessions) < dt.CHANGE_AT < max(s.times[-1] for s in sessions)
    trace, report = dt.run(7, 3, 3.0)
    requests = sum(len(s.times) for s in trace)
    for name, result in report.strategies.items():
        assert result.requests == requests, name  # every request answered, none twice
        assert sum(result.served.values()) == requests
        assert sum(result.per_session.values()) == result.total
        assert result.total > 0
        assert 0 < result.cached_tokens < result.prompt_tokens
        # The router's own bill agrees with the provider's, except for Routstr answers
        # priced from its catalog before the refresh that follows the price change.
        for ref, t in result.mismatches:
            assert ref == "routstr:agent-large", name
            assert dt.CHANGE_AT <= t < dt.CHANGE_AT + dt.CATALOG_TTL, name
        assert not result.infeasible
    # Tool sessions never reach a deployment without (stated) tool support.
    agents = [s for s, session in enumerate(trace) if session.kind == "agent"]
    for ref in ("openrouter:agent-lite", "local:agent-small", "pinstripes:agent-mid"):
        assert set(agents) <= report.pinned[ref].infeasible
    # A long document does not fit local:agent-small's 32k context.
    docs = [s for s, session in enumerate(trace) if session.kind == "doc"]
    assert set(docs) <= report.pinned["local:agent-small"].infeasible
    # The oracle is the cheapest feasible single deployment per session ...
    for s in range(len(trace)):
        cost, ref = report.oracle[s]
        assert cost == min(r.per_session[s] for r in report.pinned.values() if s in r.per_session)
        assert cost == report.pinned[ref].per_session[s]
    # ... so no single-deployment-per-session strategy beats it, session by session.
    pinned = report.strategies["pin-to-first (list price)"]
    assert pinned.switches == 0
    for s in range(len(trace)):
        assert report.oracle[s][0] <= pinned.per_session[s]
    assert report.oracle_total == sum(cost for cost, _ in report.oracle.values())
    table = dt.render(trace, report, 1.0)
    assert "| hindsight oracle" in table
    assert f"{report.oracle_total:.4f}" in table
