"""Speed statistics, rate-limit budgets and the policies that read them, as pure units."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import httpx
import pytest

from policies.cheapest import Cheapest
from policies.fastest import Fastest
from policies.max_ttft import MaxTtft
from router.catalog import ModelCard, Pricing
from router.planning.context import RoutingContext
from router.planning.route import Estimate, Route
from router.state.latency import GAMMA, LogSketch, MemoryLatency, Speed
from router.state.ratelimits import Budget, Limited, MemoryRateLimits, Need, Windows
from router.types import ChatRequest
from router.wire.ratelimit_headers import parse_duration, parse_rate_limits

D = Decimal
MTOK = D(1_000_000)


def card(model_id: str, prompt: str = "1", completion: str = "2", **fields: Any) -> ModelCard:
    pricing = Pricing(prompt=D(prompt) / MTOK, completion=D(completion) / MTOK)
    return ModelCard(provider="p", id=model_id, pricing=pricing, **fields)


def request(**fields: Any) -> ChatRequest:
    # 4,000 characters: 1,004 estimated prompt tokens
    return ChatRequest(model="auto", messages=[{"role": "user", "content": "a" * 4000}], **fields)


# -- the sketch ---------------------------------------------------------------------------


def test_buckets_are_powers_of_gamma_and_values_within_4_8_percent() -> None:
    assert LogSketch.bucket(1.0) == 0
    assert LogSketch.bucket(1.05) == 1
    assert LogSketch.bucket(2.0) == 8  # log(2) / log(1.1) = 7.27
    assert LogSketch.bucket(0.5) == -7
    assert LogSketch.value(0) == 2 / 2.1
    for x in (0.013, 0.2, 0.77, 1.0, 3.3, 41.0):
        assert (
            abs(LogSketch.value(LogSketch.bucket(x)) - x) / x <= (GAMMA - 1) / (GAMMA + 1) + 1e-12
        )


def test_quantiles_of_ten_values() -> None:
    sketch = LogSketch()
    for x in range(1, 11):  # 1..10 seconds
        sketch.add(float(x))
    v = LogSketch.value
    b = LogSketch.bucket
    assert sketch.quantile(0.5) == v(b(5.0))
    assert sketch.quantile(0.9) == v(b(9.0))
    assert sketch.quantile(1.0) == v(b(10.0))
    assert LogSketch().quantile(0.5) is None


def test_old_values_fade_once_the_window_is_full() -> None:
    sketch = LogSketch(window=10)
    for _ in range(10):
        sketch.add(1.0)
    assert sketch.total == 10
    sketch.add(9.0)  # 11 > 10: every count halved
    assert sketch.counts == {0: 5.0, LogSketch.bucket(9.0): 0.5}
    assert sketch.total == 5.5
    for _ in range(10):
        sketch.add(9.0)
    assert sketch.quantile(0.5) == LogSketch.value(LogSketch.bucket(9.0))


# -- moving averages ------------------------------------------------------------------------


def test_a_streamed_answer_sets_ttft_throughput_and_latency() -> None:
    memory = MemoryLatency(alpha=0.5)
    assert memory.speed("a:m") is None
    memory.observe("a:m", seconds=2.5, ttft=0.5, output_tokens=100)
    speed = memory.speed("a:m")
    assert speed is not None
    assert (speed.samples, speed.ttft, speed.tokens_per_second, speed.latency) == (
        1,
        0.5,
        50.0,
        2.5,
    )
    assert speed.expected_seconds(300) == 0.5 + 300 / 50
    memory.observe("a:m", seconds=1.5, ttft=0.3, output_tokens=60)  # 50 tok/s again
    speed = memory.speed("a:m")
    assert speed is not None
    assert speed.ttft == pytest.approx(0.4)  # 0.5 + 0.5 x (0.3 - 0.5)
    assert speed.tokens_per_second == pytest.approx(50.0)
    assert speed.latency == 2.0
    assert speed.ttft_p90 == LogSketch.value(LogSketch.bucket(0.5))
    assert speed.ttft_p50 == LogSketch.value(LogSketch.bucket(0.3))


def test_a_complete_answer_measures_throughput_against_the_known_ttft() -> None:
    memory = MemoryLatency(alpha=0.5)
    memory.observe("a:m", seconds=3.0, ttft=None, output_tokens=100)
    speed = memory.speed("a:m")
    assert speed is not None
    assert (speed.ttft, speed.tokens_per_second, speed.latency) == (None, None, 3.0)
    assert speed.expected_seconds(500) == 3.0  # only the mean total time is known
    memory.observe("a:m", seconds=1.0, ttft=0.2, output_tokens=80)  # 100 tok/s
    memory.observe("a:m", seconds=2.2, ttft=None, output_tokens=100)  # (2.2 - 0.2) -> 50
    speed = memory.speed("a:m")
    assert speed is not None
    assert speed.tokens_per_second == pytest.approx(75.0)


def test_failures_move_the_error_rate_and_answers_bring_it_back() -> None:
    memory = MemoryLatency(alpha=0.5)
    memory.failed("a:m")
    speed = memory.speed("a:m")
    assert speed is not None
    # from a prior of 0: 0 + 0.5 x (1 - 0)
    assert (speed.error_rate, speed.samples, speed.expected_seconds(10)) == (0.5, 0, None)
    memory.failed("a:m")
    memory.observe("a:m", seconds=1.0, ttft=0.1, output_tokens=9)
    assert memory.speed("a:m").error_rate == 0.375  # type: ignore[union-attr]
    assert set(memory.speeds()) == {"a:m"}


def test_speed_line_for_explain() -> None:
    memory = MemoryLatency()
    memory.observe("a:m", seconds=2.0, ttft=0.25, output_tokens=70)
    speed = memory.speed("a:m")
    assert speed is not None
    p90 = LogSketch.value(LogSketch.bucket(0.25))
    assert speed.describe() == f"ttft 0.25 s (p90 {p90:.2f}), 40 tok/s, 2.00 s total, 1 answers"


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("12", 12.0)],
)
def test_openai_reset_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-3", "s1", "nan"])
def test_unreadable_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_openai_headers() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    budget = parse_rate_limits(headers)
    assert budget == Budget({"requests": (59, 1.0), "tokens": (149984, 360.0)})


def test_anthropic_headers_reset_at_a_time() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "4",
        "anthropic-ratelimit-requests-reset": "2026-12-01T23:00:12Z",
        "anthropic-ratelimit-input-tokens-remaining": "9000",
        "anthropic-ratelimit-input-tokens-reset": "2026-12-01T23:00:42+00:00",
        "anthropic-ratelimit-output-tokens-remaining": "oops",
    }
    now = 1796166000.0  # 2026-12-01T23:00:00Z
    budget = parse_rate_limits(headers, now=lambda: now)
    assert budget == Budget({"requests": (4, 12.0), "input_tokens": (9000, 42.0)})
    assert parse_rate_limits({"content-type": "application/json"}) is None


# -- budgets --------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_announced_budget_excludes_until_it_resets() -> None:
    clock = Clock()
    limits = MemoryRateLimits(timer=clock)
    need = Need(prompt=1004, output=300)
    assert limits.check("a:m", need) is None
    limits.announce("a:m", Budget({"requests": (5, 20.0), "tokens": (1000, 30.0)}))
    assert limits.check("a:m", need) == Limited(
        "tokens left 1000 < 1304 needed (announced by the provider, resets in 30 s)", 30.0
    )
    clock.now += 30.0  # the tokens reset
    assert limits.check("a:m", need) is None


def test_requests_in_flight_count_against_the_announced_budget() -> None:
    clock = Clock()
    limits = MemoryRateLimits(timer=clock, flight_seconds=60)
    need = Need(prompt=10, output=10)
    limits.announce("a:m", Budget({"requests": (2, None)}))
    limits.take("a:m", need)
    assert limits.check("a:m", need) is None
    limits.take("a:m", need)
    assert limits.check("a:m", need) == Limited(
        "requests left 0 < 1 needed (announced by the provider; 2 in flight)", None
    )
    assert limits.check("a:other", need) is None  # per deployment
    limits.settle("a:m", need)  # answered: its headers say 1 left
    limits.announce("a:m", Budget({"requests": (1, None)}))
    assert limits.check("a:m", need) == Limited(
        "requests left 0 < 1 needed (announced by the provider; 1 in flight)", None
    )
    clock.now += 60  # the other one never settled (a dropped stream): it stops counting
    assert limits.check("a:m", need) is None


def test_yaml_windows_count_requests_and_tokens_per_provider() -> None:
    limits = MemoryRateLimits(windows={"a": Windows(rpm=2, tpm=None), "b": Windows(tpm=1000)})
    need = Need(prompt=400, output=200)
    limits.take("a:m1", need)
    limits.take("a:m2", need)  # the same provider's window
    why = limits.check("a:m1", need)
    assert why is not None
    assert why.reason.startswith("rpm 2 reached: 0 left < 1 needed (provider a, window frees in ")
    assert why.back_in is not None
    assert 59 < why.back_in <= 60
    limits.take("b:m", need)  # 600 of 1000
    assert limits.check("b:m", Need(prompt=400, output=0)) is None
    why = limits.check("b:m", need)
    assert why is not None
    assert why.reason.startswith("tpm 1000 reached: 400 left < 600 needed (provider b, window")


# -- policies -------------------------------------------------------------------------------


def context_with(req: ChatRequest, **speeds: tuple[float, float | None, int]) -> RoutingContext:
    """A context whose memory saw one answer per model id: (seconds, ttft, output)."""
    memory = MemoryLatency()
    for model_id, (seconds, ttft, output) in speeds.items():
        memory.observe(f"p:{model_id}", seconds=seconds, ttft=ttft, output_tokens=output)
    return RoutingContext(req, latency=memory)


def test_fastest_orders_by_the_wall_time_of_this_request() -> None:
    req = request(max_tokens=100)
    # slow: ttft 1.0, 20 tok/s -> 1 + 100/20 = 6.0 s; quick: 0.1 + 100/200 = 0.6 s;
    # bursty: ttft 0.05 but 10 tok/s -> 10.05 s; new: never measured
    context = context_with(
        req, slow=(6.0, 1.0, 100), quick=(1.1, 0.1, 200), bursty=(1.05, 0.05, 10)
    )
    cards = [card("new"), card("slow"), card("bursty"), card("quick")]
    verdict = Fastest().apply(req, cards, context)
    assert [c.id for c in verdict.keep] == ["quick", "slow", "bursty", "new"]
    assert Fastest().rank(req, card("quick"), context) == D("0.600000")
    assert Fastest(by="ttft").apply(req, cards, context).keep[0].id == "bursty"
    assert Fastest(by="throughput").rank(req, card("slow"), context) == D("0.050000")


def test_max_ttft_excludes_slow_first_tokens_and_demotes_unknown() -> None:
    req = request()
    memory = MemoryLatency()
    for ttft in (0.2, 0.3, 0.25, 0.2, 0.3, 0.2, 0.25, 0.3, 2.5, 2.5):
        memory.observe("p:spiky", seconds=ttft + 1, ttft=ttft, output_tokens=10)
        memory.observe("p:steady", seconds=ttft + 1, ttft=min(ttft, 0.3), output_tokens=10)
    memory.observe("p:complete", seconds=0.4, ttft=None, output_tokens=10)
    memory.observe("p:complete-slow", seconds=4.0, ttft=None, output_tokens=10)
    context = RoutingContext(req, latency=memory)
    cards = [card(m) for m in ("unknown", "spiky", "steady", "complete", "complete-slow")]
    verdict = MaxTtft(ms=1000).apply(req, cards, context)
    assert [c.id for c in verdict.keep] == ["unknown", "steady", "complete", "complete-slow"]
    p90 = LogSketch.value(LogSketch.bucket(2.5))
    assert verdict.excluded == {"p:spiky": f"p90 TTFT {p90 * 1000:.0f} ms > 1000 ms (10 answers)"}
    assert verdict.demoted == {
        "p:unknown": "TTFT not measured yet",
        "p:complete-slow": "TTFT not measured yet",
    }
    # p50 is under the bound for the spiky one
    assert "p:spiky" not in MaxTtft(ms=1000, quantile="p50").apply(req, cards, context).excluded
    assert "p:unknown" in MaxTtft(ms=1000, unknown="exclude").apply(req, cards, context).excluded


def test_cheapest_with_time_value_weighs_seconds_against_dollars() -> None:
    req = request(max_tokens=100)
    # cheap: $0.10/$0.20 per M, 1004 x 0.1 + 100 x 0.2 = 120.4 uUSD; 4 + 100/10 = 14 s
    # quick: $1/$2 per M: 1004 + 200 = 1204 uUSD; 0.2 + 100/100 = 1.2 s
    context = context_with(req, cheap=(14.0, 4.0, 100), quick=(1.2, 0.2, 100))
    cards = [card("cheap", "0.1", "0.2"), card("quick", "1", "2")]
    money = Cheapest()
    assert [c.id for c in money.apply(req, cards, context).keep] == ["cheap", "quick"]
    timed = Cheapest(time_value_usd_per_s=D("0.0001"))  # a cent per 100 s
    assert timed.rank(req, cards[0], context) == D("0.0001204") + D("0.0014")
    assert timed.rank(req, cards[1], context) == D("0.001204") + D("0.00012")
    assert [c.id for c in timed.apply(req, cards, context).keep] == ["quick", "cheap"]
    # unmeasured: money alone
    assert timed.rank(req, card("new", "1", "2"), context) == D("0.001204")


def test_route_text_shows_speed_and_the_unit_of_the_rank() -> None:
    speed = Speed(3, 0.2, 0.2, 0.3, 50.0, 2.2, 2.0, 2.5, 0.0)
    route = Route(model="auto")
    route.candidates.append(
        Estimate("p:a", 10, 100, D("0.001"), rank=D("2.2"), rank_unit="s", speed=speed, seconds=2.2)
    )
    text = str(route)
    assert "est. $0.001, ranks at 2.2 s" in text
    assert "speed: ~2.20 s expected; ttft 0.20 s (p90 0.30), 50 tok/s, 2.20 s total" in text
    assert route.to_dict()["candidates"][0]["expected_seconds"] == 2.2
    assert math.isclose(route.to_dict()["candidates"][0]["speed"]["ttft_p90_s"], 0.3)


def test_an_answer_admitted_earlier_does_not_forget_the_requests_since() -> None:
    clock = Clock()
    limits = MemoryRateLimits(timer=clock)
    need = Need(prompt=10, output=10)
    limits.announce("a:m", Budget({"requests": (3, 10.0)}))
    for _ in range(3):
        limits.take("a:m", need)
    limits.settle("a:m", need)  # the first answer, written when 2 were left
    limits.announce("a:m", Budget({"requests": (2, 9.0)}))
    assert limits.check("a:m", need) == Limited(
        "requests left 0 < 1 needed (announced by the provider; 2 in flight, resets in 9 s)", 9.0
    )
    clock.now += 9.0  # that window ended
    assert limits.check("a:m", need) is None
