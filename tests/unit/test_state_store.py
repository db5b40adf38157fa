"""The memory backend's state: tallies, means, and the prefix memory's merge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.config import FallbackConfig
from router.state.prefix import MemoryPrefixes, Prefix
from router.state.settings import StateSettings
from router.state.store import MemoryState, open_state


def test_tallies_are_exact_decimals_to_the_picodollar():
    state = MemoryState()
    for _ in range(10):
        state.tallies.add("spend", "alice", Decimal("0.1"))
    state.tallies.add("spend", "alice", Decimal("0.0000000000004"))  # below 1e-12: rounds away
    state.tallies.add("spend", "bob", Decimal("-0.25"))
    assert state.tallies.value("spend", "alice") == Decimal("1.000000000000")
    assert state.tallies.table("spend") == {"alice": Decimal("1"), "bob": Decimal("-0.25")}
    assert state.tallies.value("spend", "nobody") == Decimal(0)


def test_means_are_exponentially_weighted():
    state = MemoryState()
    assert state.means.mean("ttft_ms", "p:m") is None
    state.means.observe("ttft_ms", "p:m", 100.0, alpha=0.5)
    state.means.observe("ttft_ms", "p:m", 200.0, alpha=0.5)
    assert state.means.mean("ttft_ms", "p:m") == 150.0
    state.means.observe("rate", "p:m", 0.0, alpha=0.25, prior=1.0)
    assert state.means.mean("rate", "p:m") == 0.75


def test_merge_keeps_the_later_time(clock):
    memory = MemoryPrefixes(timer=clock)
    chain = [Prefix(b"a" * 16, 2000), Prefix(b"b" * 16, 3000)]
    memory.merge("p:m", [p.digest for p in chain], clock.now)
    memory.merge("p:m", [chain[1].digest], clock.now - 1000)  # older news changes nothing
    assert memory.longest("p:m", chain, 300) == 3000
    clock.advance(301)
    assert memory.longest("p:m", chain, 300) == 0


def test_memory_is_the_default_state_and_redis_needs_a_url():
    assert open_state(StateSettings(), FallbackConfig()).backend == "memory"
    with pytest.raises(ValueError, match="needs a url"):
        StateSettings(backend="redis")
