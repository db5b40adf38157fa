"""How conversations go on (router.state.conversations) and the look-ahead that prices
their later requests (router.planning.cost.later_cost, cheapest's expected_reuse)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from policies.cheapest import AUTO_PRIOR, Cheapest
from router.catalog import ModelCard
from router.planning.cost import expected_cost, later_cost, request_cost, reuse_value
from router.state.conversations import MIN_EVIDENCE, Conversations, place
from router.state.prefix import CacheOutlook, CacheRule, prefix_chain
from router.types import ChatRequest
from tests.conftest import FakeClock
from tests.unit.test_money_cost import Context
from tests.unit.test_money_rates import SONNET  # with a one-hour write rate, $6/1M

D = Decimal
AUTOMATIC = CacheRule(mode="automatic")  # min 1,024 tokens, steps of 128, 5 minutes
CARD = ModelCard(provider="p", id="m", pricing=SONNET)


def chat(*turns: str, tools: list[dict[str, Any]] | None = None) -> ChatRequest:
    """A conversation: a system prompt, then user/assistant turns, ending on a user one."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "be brief"}]
    for i, text in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": text})
    return ChatRequest(model="auto", messages=messages, tools=tools)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


# -- place ---------------------------------------------------------------------------------


def test_place_keys_a_conversation_by_its_prompt_up_to_the_first_user_message() -> None:
    first = chat("hello")
    third = chat("hello", "hi", "more", "sure", "again")
    other = chat("goodbye", "hi", "more")
    key1, turn1 = place(first, prefix_chain(first))
    key3, turn3 = place(third, prefix_chain(third))
    key_other, _ = place(other, prefix_chain(other))
    assert (turn1, turn3) == (1, 3)
    assert key1 == key3
    assert key_other != key1
    with_tools = chat("hello", tools=[TOOL])
    assert place(with_tools, prefix_chain(with_tools))[0] != key1


# -- Conversations ---------------------------------------------------------------------------


def observe(memory: Conversations, name: str, turn: int, tokens: int, tools: bool = False):
    return memory.observe(name.encode(), turn=turn, tools=tools, tokens=tokens)


def test_later_requests_are_read_from_the_turn_counts() -> None:
    memory = Conversations(FakeClock())
    for n in range(MIN_EVIDENCE):  # five conversations of three turns, one of five
        for turn in (1, 2, 3):
            observe(memory, f"c{n}", turn, 100 * turn)
    for turn in (1, 2, 3, 4, 5):
        outlook = observe(memory, "long", turn, 100 * turn)
    # turn counts: 6, 6, 6, 1, 1 -> after turn 1: (6 + 6 + 1 + 1) / 6
    assert outlook.stats.later(1) == pytest.approx(14 / 6)
    assert outlook.stats.later(2) == pytest.approx(8 / 6)
    assert outlook.stats.later(3) == pytest.approx(2 / 6)
    assert outlook.later is None  # turn 5: one request seen there, too few
    assert outlook.stats.later(4) is None


def test_too_few_requests_at_a_turn_say_nothing() -> None:
    memory = Conversations(FakeClock())
    for n in range(MIN_EVIDENCE - 1):
        first = observe(memory, f"c{n}", 1, 100)
        observe(memory, f"c{n}", 2, 200)
    assert first.stats.later(1) is None
    assert observe(memory, "last", 1, 100).later == 0.8  # 5 at turn 1, 4 at turn 2


def test_growth_and_pauses_between_consecutive_turns() -> None:
    clock = FakeClock()
    memory = Conversations(clock)
    observe(memory, "a", 1, 1000)
    clock.advance(10)
    observe(memory, "a", 2, 1500)  # +500 after 10 s
    clock.advance(400)
    observe(memory, "a", 3, 2300)  # +800 after 400 s
    clock.advance(90)
    outlook = observe(memory, "a", 4, 2400)  # +100 after 90 s
    assert outlook.growth == (500 + 800 + 100) // 3
    # pauses 10, 90, 400 and one pseudo-observation inside: (2 + 1) / (3 + 1)
    assert outlook.within(300) == 0.75
    assert outlook.within(3600) == 1.0
    assert outlook.within(5) == 0.25
    # the other kind learned nothing
    assert observe(memory, "b", 1, 100, tools=True).growth == 0


def test_the_same_request_planned_again_counts_once_and_explain_counts_nothing() -> None:
    clock = FakeClock()
    memory = Conversations(clock)
    observe(memory, "a", 1, 1000)
    clock.advance(30)
    observe(memory, "a", 1, 1000)  # planned again after a capacity wait
    memory.observe(b"a", turn=2, tools=False, tokens=1600, count=False)  # explained
    outlook = observe(memory, "a", 2, 1600)
    assert outlook.stats.turns[1:3] == [1, 1]
    assert outlook.growth == 600
    assert outlook.within(29) == 0.5  # one pause, of 30 s (from the first sighting)
    assert outlook.within(30) == 1.0


def test_a_turn_that_does_not_follow_the_last_one_counts_no_pause() -> None:
    memory = Conversations(FakeClock())
    observe(memory, "a", 1, 1000)
    outlook = observe(memory, "a", 3, 3000)  # turn 2 never seen (another process)
    assert outlook.growth == 0
    assert outlook.stats.turns[1:4] == [1, 0, 1]


def test_describe_and_to_dict() -> None:
    clock = FakeClock()
    memory = Conversations(clock)
    observe(memory, "a", 1, 1000, tools=True)
    clock.advance(60)
    outlook = observe(memory, "a", 2, 1900, tools=True)
    assert outlook.describe() == (
        "turn 2 (with tools); too few seen to say how many turns follow; the prompt grows"
        " ~900 tokens a turn; next turns within 5 min 100%, within 1 h 100% (of 1)"
    )
    fresh = observe(memory, "b", 1, 100)
    assert fresh.describe() == (
        "turn 1 (without tools); too few seen to say how many turns follow; no next turn seen yet"
    )
    assert outlook.to_dict() == {
        "turn": 2,
        "tools": True,
        "later": None,
        "growth_tokens": 900,
        "within_5m": 1.0,
        "within_1h": 1.0,
    }


# -- later_cost ------------------------------------------------------------------------------


def talking(growth: int, pauses: list[float]) -> Any:
    """A conversation outlook whose kind grew ``growth`` tokens a turn after ``pauses``."""
    clock = FakeClock()
    memory = Conversations(clock)
    tokens = 0
    observe(memory, "a", 1, tokens)
    for turn, pause in enumerate(pauses, 2):
        clock.now += pause
        tokens += growth
        outlook = observe(memory, "a", turn, tokens)
    return outlook


def test_later_cost_grows_the_prompt_and_discounts_pauses_past_the_lifetime() -> None:
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 0, 0, 1.0))
    ctx.conversation = talking(1000, [10, 400, 20])  # within 300 s: (2 + 1) / (3 + 1)
    # later 1: 4,000 in, cacheable(3,000) = 2,944 x 0.75 = 2,208 cached, 100 out
    first = 1792 * D("0.000003") + 2208 * D("0.0000003") + 100 * D("0.000015")
    assert first == D("0.0075384")
    # later 2: 5,000 in, cacheable(4,000) = 3,968 x 0.75 = 2,976 cached
    second = 2024 * D("0.000003") + 2976 * D("0.0000003") + 100 * D("0.000015")
    assert second == D("0.0084648")
    assert later_cost(ctx, CARD, 100, D(2)) == first + second
    # a fraction of a request counts that share of it
    assert later_cost(ctx, CARD, 100, D("1.5")) == first + second / 2
    assert later_cost(ctx, CARD, 100, D("0.5")) == first / 2
    assert later_cost(ctx, CARD, 100, D(0)) == 0


def test_later_cost_without_growth_or_pauses_is_the_warm_price_of_the_same_prompt() -> None:
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 0, 0, 0.9))
    cold = request_cost(ctx, CARD, 100)
    assert cold is not None
    assert later_cost(ctx, CARD, 100, D(3)) == 3 * (cold - reuse_value(ctx, CARD))
    # 2,944 x 0.9 = 2,649 cached of 3,000
    assert later_cost(ctx, CARD, 100, D(1)) == expected_cost(SONNET, 3000, 100, 2649)


def test_later_cost_one_hour_explicit_cache_writes_at_the_one_hour_premium() -> None:
    hour = CacheRule(mode="explicit", lifetime=3600.0)
    ctx = Context(3000, CacheOutlook(hour, 0, 0, 1.0, breakpoints=True))
    ctx.conversation = talking(1000, [1000, 1000])  # pauses past 5 min, within the hour
    # 4,000 in: cacheable(3,000) = 2,944 read (every pause within 1 h: (2 + 1) / (2 + 1));
    # writes cacheable(4,000) - 2,944 = 1,024 tokens at 0.000006 - 0.000003 more
    read = 1056 * D("0.000003") + 2944 * D("0.0000003") + 100 * D("0.000015")
    assert later_cost(ctx, CARD, 100, D(1)) == read + 1024 * D("0.000003")
    # the same pauses at a 5-minute cache: only the pseudo-observation is inside (1/3)
    five = CacheRule(mode="explicit")
    ctx = Context(3000, CacheOutlook(five, 0, 0, 1.0, breakpoints=True))
    ctx.conversation = talking(1000, [1000, 1000])
    cached = int(2944 * (1 / 3))  # 981
    cost = (4000 - cached) * D("0.000003") + cached * D("0.0000003") + 100 * D("0.000015")
    written = 3968 - cached
    assert later_cost(ctx, CARD, 100, D(1)) == cost + written * D("0.00000075")


def test_later_cost_where_nothing_is_cached_bills_the_grown_prompts_in_full() -> None:
    ctx = Context(3000, None)
    ctx.conversation = talking(500, [10])
    cost = later_cost(ctx, CARD, 0, D(2))
    assert cost == (3500 + 4000) * D("0.000003")
    unpriced = ModelCard(provider="p", id="free")
    assert later_cost(ctx, unpriced, 0, D(2)) is None


# -- cheapest with expected_reuse: auto ----------------------------------------------------


def test_cheapest_auto_takes_the_learned_later_requests_else_the_prior() -> None:
    policy = Cheapest(prefix_cache=True, expected_reuse="auto", expected_output_tokens=100)
    ctx = Context(3000, CacheOutlook(AUTOMATIC, 0, 0, 1.0))
    assert policy.later_requests(ctx) == AUTO_PRIOR == 3
    memory = Conversations(FakeClock())
    for n in range(MIN_EVIDENCE):
        for turn in range(1, 5):
            outlook = observe(memory, f"c{n}", turn, 3000)
    ctx.conversation = observe(memory, "new", 1, 3000)
    # turn counts 6, 5, 5, 5: after turn 1, 15 / 6 = 2.5
    assert policy.later_requests(ctx) == D("2.50")
    assert outlook.stats.later(2) == 2.0
    req = chat("hello")
    assert policy.rank_floor(req, ctx) == (req.estimated_prompt_tokens, 350.0)
    # a fixed figure is taken as it is; without prefix_cache nothing is looked ahead
    assert Cheapest(prefix_cache=True, expected_reuse=D(4)).later_requests(ctx) == 4
    assert Cheapest(expected_reuse="auto").later_requests(ctx) == 0


def test_cheapest_expected_reuse_accepts_auto_or_a_number() -> None:
    assert Cheapest(expected_reuse="auto").expected_reuse == "auto"
    assert Cheapest(expected_reuse="1.5").expected_reuse == D("1.5")
    for bad in ("sometimes", -1):
        with pytest.raises(ValidationError):
            Cheapest(expected_reuse=bad)
