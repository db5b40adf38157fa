"""Prefix-cache savings in dollars, over real HTTP against a simulator that caches prefixes."""

from __future__ import annotations

import pytest

from router import Router
from router.state.prefix import MemoryPrefixes
from router.testing.simulator import Reply
from router.types import ChatRequest
from tests.wire.conftest import config, provider_conf

pytestmark = pytest.mark.wire

# ~3,000 tokens of system prompt: well above every provider's 1,024-token minimum.
SYSTEM = {"role": "system", "content": "You are a meticulous research agent. " * 330}
# pinstripes lists deepseek-v4-flash at $0.087/1M in, cached $0.05; OpenRouter's copy is
# pricier on the list ($0.09) but its cache reads cost $0.018.
GROUP = {"flash": ["pinstripes:ps/deepseek-v4-flash", "openrouter:deepseek/deepseek-v4-flash"]}
CHEAPEST = [{"cheapest": {"expected_output_tokens": 50, "prefix_cache": True}}]


def turn(history: list[dict], text: str) -> list[dict]:
    return [SYSTEM, *history, {"role": "user", "content": text}]


@pytest.fixture
def router(sim, clock):
    conf = config(sim, "pinstripes", "openrouter", models=GROUP, policy=CHEAPEST)
    with Router.from_config(conf, timer=clock) as r:
        r.models()  # catalogs now, so scripted faults hit chat routes
        yield r


def converse(router, turns: int, start: str = "q") -> list:
    """``turns`` turns of one conversation; returns the answers."""
    history: list[dict] = []
    answers = []
    for i in range(turns):
        messages = turn(history, f"{start} {i}")
        answer = router.complete(model="flash", messages=messages)
        answers.append(answer)
        history = [
            *messages[1:],
            {"role": "assistant", "content": answer.choices[0].message.content},
        ]
    return answers


def test_a_warm_pricier_deployment_wins_over_a_cold_cheaper_one(sim, router):
    cold = router.explain(model="flash", messages=turn([], "q 0"))
    assert cold.candidates[0].ref == "pinstripes:ps/deepseek-v4-flash"  # list price decides
    sim.script("pinstripes", [Reply(503)])  # the first turn lands on OpenRouter
    first = router.complete(model="flash", messages=turn([], "q 0"))
    assert first.provider == "openrouter"

    history = [
        turn([], "q 0")[1],
        {"role": "assistant", "content": first.choices[0].message.content},
    ]
    decision = router.explain(model="flash", messages=turn(history, "q 1"))
    warm = decision.candidates[0]
    assert warm.ref == "openrouter:deepseek/deepseek-v4-flash"
    assert warm.cached_tokens > 2000
    assert warm.saved is not None
    assert warm.saved > 0
    assert "cache ~" in str(decision)

    second = router.complete(model="flash", messages=turn(history, "q 1"))
    assert second.provider == "openrouter"
    assert second.usage.prompt_tokens_details.cached_tokens > 2000
    # billed at the cache rate: cheaper than the same prompt cold at pinstripes' list price
    assert second.route.cost < cold.candidates[0].cost


def test_a_cold_deployment_wins_once_the_warm_one_has_expired(sim, router, clock):
    sim.script("pinstripes", [Reply(503)])
    converse(router, 2)  # OpenRouter warm
    history_msgs = turn([], "later")
    assert (
        router.explain(model="flash", messages=history_msgs)
        .candidates[0]
        .ref.startswith("openrouter:")
    )
    clock.advance(301)
    sim.advance(301)
    decision = router.explain(model="flash", messages=history_msgs)
    assert decision.candidates[0].ref == "pinstripes:ps/deepseek-v4-flash"
    assert all(c.cached_tokens == 0 for c in decision.candidates)


def test_a_deployment_that_never_reports_hits_loses_its_advantage(sim, router):
    sim.set_cache_rule("openrouter", enabled=False)
    sim.script("pinstripes", [Reply(503)])
    answers = converse(router, 10)
    providers = [a.provider for a in answers]
    # OpenRouter first (pinstripes failed), kept while its cache looked warm, then the
    # learned hit rate drops and the list-cheaper pinstripes takes over.
    assert providers[0] == "openrouter"
    assert providers[-1] == "pinstripes"
    assert router.prefixes.hit_rate("openrouter:deepseek/deepseek-v4-flash") < 0.5


def test_the_learned_hit_rate_stays_high_where_hits_are_real(sim, router):
    answers = converse(router, 4)
    assert {a.provider for a in answers} == {"pinstripes"}
    assert router.prefixes.hit_rate("pinstripes:ps/deepseek-v4-flash") > 0.8
    assert answers[-1].usage.prompt_tokens_details.cached_tokens > 2000


def test_prompt_estimates_are_calibrated_by_reported_usage(sim, router):
    before = router.explain(model="flash", messages=turn([], "x")).candidates[0].prompt_tokens
    answer = router.complete(model="flash", messages=turn([], "x"))
    after = router.explain(model="flash", messages=turn([], "x")).candidates[0].prompt_tokens
    reported = answer.usage.prompt_tokens
    assert abs(after - reported) < abs(before - reported) or before == reported


def test_memory_stays_within_its_cap(sim, clock):
    one = {"one": ["pinstripes:ps/deepseek-v4-flash"]}
    conf = config(sim, "pinstripes", models=one, policy=CHEAPEST)
    memory = MemoryPrefixes(maxsize=60, timer=clock)
    with Router.from_config(conf, timer=clock, prefixes=memory) as r:
        for i in range(30):
            r.complete(model="one", messages=turn([], f"distinct question {i}"))
    assert 0 < len(memory) <= 60


def test_without_a_prefix_cache_policy_nothing_is_remembered_but_calibration(sim, clock):
    ref = "pinstripes:ps/deepseek-v4-flash"
    conf = config(sim, "pinstripes", models={"one": [ref]})
    memory = MemoryPrefixes(timer=clock)
    with Router.from_config(conf, timer=clock, prefixes=memory) as r:
        answer = r.complete(model="one", messages=turn([], "q"))
        decision = r.explain(model="one", messages=turn([], "q"))
    assert len(memory) == 0  # no prompt hashed: no policy would read it
    assert memory.calibration(ref) != 1.0  # estimates still learn from reported usage
    assert decision.candidates[0].prompt_tokens == answer.usage.prompt_tokens


def test_explicit_caching_adds_breakpoints_and_bills_reads_and_writes(sim, clock):
    conf = config(sim, "pipellm", policy=[{"cheapest": {"prefix_cache": True}}])
    conf["providers"][0] = provider_conf(sim, "pipellm", auto_cache_control=True)
    with Router.from_config(conf, timer=clock) as r:
        first = r.complete(model="pipellm:claude-sonnet-4-6", messages=turn([], "q 0"))
        sent = [x for x in sim.requests("pipellm") if x.method == "POST"][-1].json()
        assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
        written = first.usage.prompt_tokens_details.cache_write_tokens
        assert written is not None
        assert written > 2000
        history = [turn([], "q 0")[1], {"role": "assistant", "content": "ok"}]
        second = r.complete(model="pipellm:claude-sonnet-4-6", messages=turn(history, "q 1"))
    assert second.usage.prompt_tokens_details.cached_tokens > 2000
    card = next(c for c in r.catalog("pipellm").models if c.id == "claude-sonnet-4-6")
    rates = card.pricing
    usage = second.usage
    cached = usage.prompt_tokens_details.cached_tokens
    written = usage.prompt_tokens_details.cache_write_tokens or 0
    expected = (
        (usage.prompt_tokens - cached - written) * rates.prompt
        + cached * rates.cache_read
        + written * rates.cache_write
        + usage.completion_tokens * rates.completion
    )
    assert second.route.cost == expected


def test_without_auto_cache_control_nothing_is_marked(sim):
    conf = config(sim, "pipellm", policy=[{"cheapest": {"prefix_cache": True}}])
    with Router.from_config(conf) as r:
        r.complete(model="pipellm:claude-sonnet-4-6", messages=turn([], "q 0"))
    sent = [x for x in sim.requests("pipellm") if x.method == "POST"][-1].json()
    assert isinstance(sent["system"], str)


LOOK_AHEAD = [
    {"cheapest": {"expected_output_tokens": 50, "prefix_cache": True, "expected_reuse": "auto"}}
]


def talk(router, clock, sim, conversations: int, pause: float) -> list[int]:
    """``conversations`` conversations of three turns, ``pause`` seconds apart; returns
    the growth of the estimated prompt from each turn to the next."""
    growths = []
    for n in range(conversations):
        history: list[dict] = []
        previous = None
        for i in range(3):
            messages = turn(history, f"conversation {n}, question {i}")
            answer = router.complete(model="flash", messages=messages)
            tokens = ChatRequest(model="flash", messages=messages).estimated_prompt_tokens
            if previous is not None:
                growths.append(tokens - previous)
            previous = tokens
            text = answer.choices[0].message.content
            history = [*messages[1:], {"role": "assistant", "content": text}]
            clock.advance(pause)
            sim.advance(pause)
    return growths


@pytest.mark.parametrize(("pause", "first"), [(5.0, "openrouter"), (600.0, "pinstripes")])
def test_the_look_ahead_learns_how_conversations_go_on(sim, clock, pause, first):
    # OpenRouter's copy is dearer on the list but its cache reads cost $0.018 to
    # pinstripes' $0.05: worth starting there when the next turns come while the cache is
    # warm (5 minutes), not when they come ten minutes apart.
    conf = config(sim, "pinstripes", "openrouter", models=GROUP, policy=LOOK_AHEAD)
    with Router.from_config(conf, timer=clock) as router:
        new = turn([], "a new conversation")
        before = router.explain(model="flash", messages=new)
        assert before.conversation is not None
        assert before.conversation.later is None  # nothing seen: the prior, 3
        growths = talk(router, clock, sim, 5, pause)
        route = router.explain(model="flash", messages=new)
    talked = route.conversation
    assert talked is not None
    assert talked.turn == 1
    assert talked.later == 2.0  # five conversations seen at turns 1, 2 and 3
    assert talked.growth == sum(growths) // len(growths)
    inside = 10 if pause < 300 else 0  # ten pauses; one pseudo-observation inside
    assert route.candidates[0].ref.startswith(first)
    assert talked.within(300) == (inside + 1) / 11
    assert "conversation: turn 1 (without tools); 2.0 later turns follow" in str(route)
    assert route.to_dict()["conversation"]["later"] == 2.0
