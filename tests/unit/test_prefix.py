"""The prefix-cache model as pure units: rules, prefix chains, memory, hit rates, calibration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from policies.cheapest import Cheapest
from router.catalog import ModelCard, Pricing
from router.planning.context import RoutingContext
from router.state.prefix import CacheOutlook, CacheRule, MemoryPrefixes, prefix_chain
from router.types import ChatRequest

SYSTEM = {"role": "system", "content": "You are a careful agent. " * 500}


def request(*turns: str, tools=None) -> ChatRequest:
    messages = [SYSTEM]
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return ChatRequest(model="auto", messages=messages, tools=tools)


@pytest.mark.parametrize(
    ("tokens", "cached"),
    [(0, 0), (1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (5000, 4992)],
)
def test_automatic_rule_rounds_down_in_steps(tokens, cached):
    assert CacheRule().cacheable(tokens) == cached


def test_none_rule_caches_nothing():
    assert CacheRule(mode="none").cacheable(10_000) == 0


def test_chains_share_exactly_the_common_prefix():
    first = prefix_chain(request("hi"))
    second = prefix_chain(request("hi", "hello", "and now?"))
    assert second[: len(first)] == first
    other = prefix_chain(request("bye"))
    shared = [a for a, b in zip(first, other, strict=False) if a == b]
    assert shared
    assert shared[-1].tokens < first[-1].tokens
    assert [p.boundary for p in first].count(True) == 2  # system, user


def test_tools_are_part_of_the_prefix():
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert prefix_chain(request("hi", tools=tools))[0] != prefix_chain(request("hi"))[0]


def test_content_split_differently_is_a_different_prefix():
    a = ChatRequest(
        model="m", messages=[{"role": "user", "content": "ab"}, {"role": "user", "content": "c"}]
    )
    b = ChatRequest(
        model="m", messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "bc"}]
    )
    assert prefix_chain(a)[-1].digest != prefix_chain(b)[-1].digest


def test_memory_finds_the_longest_live_prefix(clock):
    memory = MemoryPrefixes(timer=clock)
    old = prefix_chain(request("hi"))
    memory.remember("p:m", old)
    new = prefix_chain(request("hi", "hello", "more"))
    assert memory.longest("p:m", new, lifetime=300) == old[-1].tokens
    assert memory.longest("q:m", new, lifetime=300) == 0  # per deployment
    clock.advance(301)
    assert memory.longest("p:m", new, lifetime=300) == 0  # expired


def test_memory_is_bounded():
    memory = MemoryPrefixes(maxsize=40)
    for i in range(100):
        memory.remember("p:m", prefix_chain(request(f"question {i}")))
    assert len(memory) <= 40


def test_hit_rate_is_learned_from_reports():
    memory = MemoryPrefixes(prior=0.9, alpha=0.5)
    assert memory.hit_rate("p:m") == 0.9
    memory.observe("p:m", predicted=1000, reported=0)
    assert memory.hit_rate("p:m") == pytest.approx(0.45)
    memory.observe("p:m", predicted=1000, reported=0)
    assert memory.hit_rate("p:m") == pytest.approx(0.225)
    memory.observe("p:m", predicted=0, reported=500)  # no prediction: no evidence
    assert memory.hit_rate("p:m") == pytest.approx(0.225)
    memory.observe("q:m", predicted=1000, reported=4000)  # capped at 1
    assert memory.hit_rate("q:m") == pytest.approx(0.95)


def test_calibration_learns_the_reported_over_estimated_ratio():
    memory = MemoryPrefixes(alpha=0.5)
    assert memory.calibration("p:m") == 1.0
    memory.calibrate("p:m", estimated=1000, reported=1200)
    assert memory.calibration("p:m") == pytest.approx(1.2)
    memory.calibrate("p:m", estimated=1000, reported=1000)
    assert memory.calibration("p:m") == pytest.approx(1.1)
    # a tiny request barely moves it: ratio clamped to 4x, weight 10/1,000
    memory.calibrate("p:m", estimated=10, reported=10_000)
    assert memory.calibration("p:m") == pytest.approx(1.1 + 0.5 * 0.01 * (4 - 1.1))


def test_a_tiny_first_request_cannot_set_the_calibration_outright():
    memory = MemoryPrefixes()
    memory.calibrate("p:m", estimated=6, reported=60)  # ratio 10, clamped to 4
    assert memory.calibration("p:m") == pytest.approx(1 + 0.006 * 3)
    memory.calibrate("q:m", estimated=2000, reported=500)  # a long one counts fully
    assert memory.calibration("q:m") == pytest.approx(0.25)
    memory.calibrate("r:m", estimated=500, reported=1000)  # half weight
    assert memory.calibration("r:m") == pytest.approx(1.5)


class FixedContext(RoutingContext):
    """A routing context with stated outlooks, for the pure policy test."""

    def __init__(self, request, outlooks):
        super().__init__(request)
        self.outlooks = outlooks

    def prompt_tokens(self, card):
        return 10_000

    def cache_outlook(self, card):
        return self.outlooks[card.ref]


def test_cheapest_with_prefix_cache_prefers_the_warm_deployment_while_it_pays():
    D = Decimal
    cheap_cold = ModelCard(
        provider="a",
        id="m",
        pricing=Pricing(prompt=D("0.000001"), completion=D("0"), cache_read=D("0.0000005")),
    )
    pricey_warm = ModelCard(
        provider="b",
        id="m",
        pricing=Pricing(prompt=D("0.0000012"), completion=D("0"), cache_read=D("0.0000001")),
    )
    rule = CacheRule()
    req = ChatRequest(model="g", messages=[{"role": "user", "content": "x"}])
    ctx = FixedContext(
        req, {"a:m": CacheOutlook(rule, 0, 0, 0.9), "b:m": CacheOutlook(rule, 9000, 8960, 0.9)}
    )
    # cold a: 10,000 x 1e-6 = $0.01; warm b: (10,000 - 8,064) x 1.2e-6 + 8,064 x 1e-7 = $0.0031296
    assert [
        c.ref for c in Cheapest(prefix_cache=True).apply(req, [cheap_cold, pricey_warm], ctx).keep
    ] == ["b:m", "a:m"]
    assert [
        c.ref for c in Cheapest(prefix_cache=False).apply(req, [cheap_cold, pricey_warm], ctx).keep
    ] == ["a:m", "b:m"]
    # a hit rate learned down to 0.1 no longer pays: (10,000 - 896) x 1.2e-6 + 896 x 1e-7 > $0.01
    ctx = FixedContext(
        req, {"a:m": CacheOutlook(rule, 0, 0, 0.9), "b:m": CacheOutlook(rule, 9000, 8960, 0.1)}
    )
    assert [
        c.ref for c in Cheapest(prefix_cache=True).apply(req, [cheap_cold, pricey_warm], ctx).keep
    ] == ["a:m", "b:m"]


def test_expected_write_premium_counts_against_explicit_caching():
    D = Decimal
    card = ModelCard(
        provider="a",
        id="m",
        pricing=Pricing(
            prompt=D("0.000003"),
            completion=D("0"),
            cache_read=D("0.0000003"),
            cache_write=D("0.00000375"),
        ),
    )
    plain = ModelCard(
        provider="b", id="m", pricing=Pricing(prompt=D("0.0000032"), completion=D("0"))
    )
    req = ChatRequest(model="g", messages=[{"role": "user", "content": "x"}])
    explicit = CacheRule(mode="explicit")
    # writing 10,000 tokens at the premium: 10,000 x 3.75e-6 = $0.0375 > 10,000 x 3.2e-6
    ctx = FixedContext(
        req,
        {
            "a:m": CacheOutlook(explicit, 0, 0, 0.9, write_tokens=10_000, breakpoints=True),
            "b:m": CacheOutlook(CacheRule(mode="none"), 0, 0, 0.9),
        },
    )
    assert [c.ref for c in Cheapest(prefix_cache=True).apply(req, [card, plain], ctx).keep] == [
        "b:m",
        "a:m",
    ]


def test_expected_reuse_starts_a_conversation_where_staying_is_cheapest():
    D = Decimal
    no_cache = ModelCard(
        provider="c", id="m", pricing=Pricing(prompt=D("0.0000005"), completion=D("0"))
    )
    cache_rich = ModelCard(
        provider="b",
        id="m",
        pricing=Pricing(prompt=D("0.00000055"), completion=D("0"), cache_read=D("0.000000055")),
    )
    req = ChatRequest(model="g", messages=[{"role": "user", "content": "x"}])
    ctx = FixedContext(
        req,
        {
            "c:m": CacheOutlook(CacheRule(mode="none"), 0, 0, 0.9),
            "b:m": CacheOutlook(CacheRule(), 0, 0, 0.9),
        },
    )
    greedy = Cheapest(prefix_cache=True).apply(req, [cache_rich, no_cache], ctx).keep
    assert [c.ref for c in greedy] == ["c:m", "b:m"]  # cold, this request alone: list price
    # one expected reuse: 9,984 cacheable x 0.9 hit rate x $0.495/1M saved = $0.00444 > $0.0005 gap
    ahead = (
        Cheapest(prefix_cache=True, expected_reuse=1).apply(req, [cache_rich, no_cache], ctx).keep
    )
    assert [c.ref for c in ahead] == ["b:m", "c:m"]


def test_cache_control_marks_do_not_change_the_prefix():
    plain = [{"role": "user", "content": [{"type": "text", "text": "long context " * 200}]}]
    marked = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "long context " * 200,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        }
    ]
    a = prefix_chain(ChatRequest(model="m", messages=plain))
    b = prefix_chain(ChatRequest(model="m", messages=marked))
    assert a == b


class SharedPrefix(MemoryPrefixes):
    """A memory that says every request shares ``shared`` tokens with an earlier one."""

    def __init__(self, shared):
        super().__init__()
        self.shared = shared

    def longest(self, ref, chain, lifetime):
        return self.shared


@pytest.mark.parametrize(
    ("shared", "reported", "hit_rate"),
    [
        (1024, 0, 0.9),  # predicted exactly the minimum, nothing served: not evidence
        (1151, 0, 0.9),  # still within one step (128) of it
        (1152, 0, 0.45),  # clear of it: a miss halves the rate (alpha 0.5)
        (1024, 1024, 0.95),  # a hit near the minimum still counts
    ],
)
def test_a_miss_near_the_cache_minimum_is_not_taken_for_a_cold_cache(shared, reported, hit_rate):
    from router.completion import TokenCounts

    card = ModelCard(
        provider="p", id="m", pricing=Pricing(prompt=Decimal(1), completion=Decimal(1))
    )
    memory = SharedPrefix(shared)
    req = ChatRequest(model="g", messages=[{"role": "user", "content": "x" * 8000}])
    ctx = RoutingContext(
        req, prefixes=memory, caching=lambda c: (CacheRule(), False), prefix_cache=True
    )
    assert ctx.cache_outlook(card).predicted_tokens == CacheRule().cacheable(shared)
    ctx.learn(card, TokenCounts(prompt=2004, completion=1, cache_read=reported))
    assert memory.hit_rate(card.ref) == pytest.approx(hit_rate)


def test_a_deployment_not_yet_observed_is_expected_to_hit_as_the_others_do():
    memory = MemoryPrefixes(prior=0.9, alpha=0.5)
    memory.observe("p:m", predicted=1000, reported=1000)
    assert memory.hit_rate("new:m") == pytest.approx(0.95)  # p:m's 0.9 / 2 + 1 / 2
    memory.set_hit_rate("q:m", 0.25)
    assert memory.hit_rate("new:m") == pytest.approx(0.6)  # the mean of 0.95 and 0.25
    memory.observe("p:m", predicted=1000, reported=0)
    assert memory.hit_rate("p:m") == pytest.approx(0.475)
    assert memory.hit_rate("new:m") == pytest.approx(0.3625)
    # a deployment's own average starts at the prior, not at the mean of the others
    memory.observe("new:m", predicted=1000, reported=1000)
    assert memory.hit_rate("new:m") == pytest.approx(0.95)
