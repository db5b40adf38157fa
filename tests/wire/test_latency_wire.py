"""Speed and rate limits over real HTTP: the simulator's latency profiles and enforced
limits, the router's measurements, its exclusions before the 429, and the policies."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from router import Router
from router.errors import NoRouteError
from router.state.latency import LogSketch
from router.state.ratelimits import MemoryRateLimits
from router.testing.simulator import Reply, Simulator
from tests.wire.conftest import config, provider_conf

pytestmark = pytest.mark.wire

# "You said: " + 10 words: 12 completion tokens
WORDS = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]
FLASH = "openrouter:deepseek/deepseek-v4-flash"
ROUTSTR = "routstr:deepseek/deepseek-v4-flash"
CLAUDE = "pipellm:claude-sonnet-4-6"


def chats(sim: Simulator, provider: str) -> int:
    return sum(r.method == "POST" for r in sim.requests(provider))


OPEN: list[Router] = []


@pytest.fixture(autouse=True)
def _close_routers() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def router_for(sim: Simulator, *kinds: str, **top: Any) -> Router:
    router = Router.from_config(config(sim, *kinds, **top), sleep=lambda _s: None)
    OPEN.append(router)
    for name in router.providers:
        router.catalog(name)
    return router


def test_a_streamed_answer_measures_ttft_throughput_and_latency(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.3, tokens_per_second=60)  # 12 tokens: 0.2 s
    router = router_for(sim, "openrouter")
    chunks = list(router.stream(model=FLASH, messages=WORDS))
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12
    speed = router.latency.speeds()[FLASH]
    assert speed.samples == 1
    assert speed.ttft is not None
    assert 0.3 <= speed.ttft < 0.45
    assert speed.latency is not None
    assert 0.5 <= speed.latency < 0.7
    assert speed.tokens_per_second is not None
    # 12 tokens over the time after the first: between 11 and 12 token intervals of 1/60 s
    assert 40 < speed.tokens_per_second <= 70
    assert speed.ttft_p90 is not None
    assert abs(speed.ttft_p90 - speed.ttft) / speed.ttft < 0.05


def test_a_complete_answer_measures_its_total_time(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.2, tokens_per_second=60)
    router = router_for(sim, "openrouter")
    router.complete(model=FLASH, messages=WORDS)
    speed = router.latency.speeds()[FLASH]
    assert (speed.samples, speed.ttft, speed.tokens_per_second) == (1, None, None)
    assert speed.latency is not None
    assert 0.4 <= speed.latency < 0.6


async def test_async_answers_are_measured_too(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.2)
    router = router_for(sim, "openrouter")
    await router.acomplete(model=FLASH, messages=WORDS)
    chunks = [c async for c in router.astream(model=FLASH, messages=WORDS)]
    assert chunks
    speed = router.latency.speeds()[FLASH]
    assert speed.samples == 2
    assert speed.ttft is not None
    assert 0.2 <= speed.ttft < 0.35
    await router.aclose()


def test_a_failed_attempt_counts_in_the_error_rate(sim: Simulator) -> None:
    router = router_for(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]})
    sim.script("openrouter", [Reply(500)])
    answer = router.complete(model="flash", messages=WORDS)
    assert answer.provider == "routstr"
    speeds = router.latency.speeds()
    assert (speeds[FLASH].samples, speeds[FLASH].error_rate) == (0, 0.2)  # alpha 0.2
    assert (speeds[ROUTSTR].samples, speeds[ROUTSTR].error_rate) == (1, 0.0)


def test_explain_shows_the_measured_speed(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.1, tokens_per_second=120)
    router = router_for(sim, "openrouter", policy=["fastest"])
    list(router.stream(model=FLASH, messages=WORDS))
    route = router.explain(model=FLASH, messages=WORDS)
    (candidate,) = route.candidates
    assert candidate.speed is not None
    assert candidate.seconds is not None
    assert candidate.rank_unit == "s"
    text = str(route)
    assert f", ranks at {candidate.rank.normalize():f} s" in text  # type: ignore[union-attr]
    assert "\n       speed: ~" in text
    assert " s expected; ttft 0.1" in text
    assert "tok/s" in text
    assert "1 answers" in text


# -- rate limits --------------------------------------------------------------------------


def test_announced_requests_left_exclude_before_the_429(sim: Simulator) -> None:
    sim.set_rate_limit("openrouter", requests=2, window=60)
    router = router_for(sim, "openrouter")
    for _ in range(2):
        router.complete(model=FLASH, messages=WORDS)
    with pytest.raises(NoRouteError) as failure:
        router.complete(model=FLASH, messages=WORDS)
    reason = failure.value.excluded[FLASH]
    assert reason.startswith(
        "[rate_limit] requests left 0 < 1 needed (announced by the provider, resets in "
    )
    assert chats(sim, "openrouter") == 2  # nothing sent for the third
    assert sim.refused("openrouter") == 0


def test_a_token_budget_that_cannot_take_the_request_falls_to_another(sim: Simulator) -> None:
    # The simulator counts prompt + completion of each answer against 100 tokens and
    # announces what is left; the router needs its prompt estimate + max_tokens (20).
    sim.set_rate_limit("openrouter", tokens=100, window=60)
    router = router_for(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]})
    need = router.explain(model=FLASH, messages=WORDS).candidates[0].prompt_tokens + 20
    used = sim_tokens = 0
    providers = []
    for _ in range(4):
        answer = router.complete(model="flash", messages=WORDS, max_tokens=20)
        providers.append(answer.provider)
        if answer.provider == "openrouter":
            assert answer.usage is not None
            sim_tokens = answer.usage.prompt_tokens + answer.usage.completion_tokens
            used += sim_tokens
    # the router estimates 16 prompt tokens; the simulator counts 12 + 12
    assert (need, sim_tokens, used) == (36, 24, 72)
    # nothing announced yet, then 100 - 24 = 76 >= 36, 52 >= 36, then 28 < 36: the 4th
    # goes elsewhere, and the simulator refused none
    assert providers == ["openrouter", "openrouter", "openrouter", "routstr"]
    route = router.explain(model="flash", messages=WORDS, max_tokens=20)
    assert [(e.ref, e.policy) for e in route.excluded] == [(FLASH, "rate_limit")]
    assert route.excluded[0].reason.startswith(
        "tokens left 28 < 36 needed (announced by the provider, resets in "
    )
    assert sim.refused("openrouter") == 0


def test_anthropic_rate_limit_headers(sim: Simulator) -> None:
    sim.set_rate_limit("pipellm", requests=1, window=60, style="anthropic")
    router = router_for(sim, "pipellm")
    router.complete(model=CLAUDE, messages=WORDS)
    route = router.explain(model=CLAUDE, messages=WORDS)
    assert [(e.ref, e.policy) for e in route.excluded] == [(CLAUDE, "rate_limit")]
    assert route.excluded[0].reason.startswith("requests left 0 < 1 needed (announced by the")
    assert chats(sim, "pipellm") == 1


def test_a_429_announces_the_budget_and_the_next_request_is_not_sent(sim: Simulator) -> None:
    sim.set_rate_limit("openrouter", requests=0, window=60)
    router = router_for(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]})
    answer = router.complete(model="flash", messages=WORDS)
    assert answer.provider == "routstr"
    assert sim.refused("openrouter") == 1
    assert router.complete(model="flash", messages=WORDS).provider == "routstr"
    assert sim.refused("openrouter") == 1  # the announced 0 left: not asked again


def test_yaml_rpm_is_a_window_over_the_provider(sim: Simulator) -> None:
    conf = {
        "providers": [provider_conf(sim, "openrouter", rpm=2), provider_conf(sim, "routstr")],
        "models": {"flash": [FLASH, ROUTSTR]},
    }
    router = Router.from_config(conf)
    OPEN.append(router)
    providers = [router.complete(model="flash", messages=WORDS).provider for _ in range(3)]
    assert providers == ["openrouter", "openrouter", "routstr"]
    assert chats(sim, "openrouter") == 2
    reason = router.explain(model="flash", messages=WORDS).excluded[0].reason
    assert reason.startswith("rpm 2 reached: 0 left < 1 needed (provider openrouter, window")


def test_yaml_model_limits_are_a_window_over_one_deployment(sim: Simulator) -> None:
    model_id = FLASH.partition(":")[2]
    other = "openrouter:openai/gpt-5-mini"
    limited = provider_conf(sim, "openrouter", model_limits={model_id: {"tpm": 1000}})
    conf = {"providers": [limited, provider_conf(sim, "routstr")]}
    router = Router.from_config(conf)
    OPEN.append(router)
    # 16 estimated prompt tokens + max_tokens 300 = 316 a request: 3 fit in 1,000
    for _ in range(3):
        router.complete(model=FLASH, messages=WORDS, max_tokens=300)
    route = router.explain(model=FLASH, messages=WORDS, max_tokens=300)
    assert route.candidates == []
    (excluded,) = route.excluded
    assert excluded.reason.startswith(
        f"tpm 1000 reached: 52 left < 316 needed (deployment {FLASH}, window frees in"
    )
    # the provider's other deployments have no window
    assert router.explain(model=other, messages=WORDS, max_tokens=300).excluded == []


def test_model_limits_keys_are_checked(sim: Simulator) -> None:
    from router.errors import ConfigError

    bad = provider_conf(sim, "openrouter", model_limits={"m": {"rqm": 3}})
    with pytest.raises(ConfigError, match=r"providers\[0\]\.model_limits\.m\.rqm"):
        Router.from_config({"providers": [bad]})


# -- policies on the wire -------------------------------------------------------------------


def test_fastest_goes_where_answers_came_soonest(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.4, tokens_per_second=40)
    sim.set_latency("routstr", ttft=0.05, tokens_per_second=400)
    router = router_for(
        sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]}, policy=["fastest"]
    )
    for ref in (FLASH, ROUTSTR):  # one answer each to measure
        list(router.stream(model=ref, messages=WORDS))
    route = router.explain(model="flash", messages=WORDS)
    assert [c.ref for c in route.candidates] == [ROUTSTR, FLASH]
    assert router.complete(model="flash", messages=WORDS).provider == "routstr"


def test_max_ttft_leaves_out_a_slow_first_token(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.5)
    sim.set_latency("routstr", ttft=0.02)
    router = router_for(
        sim,
        "openrouter",
        "routstr",
        models={"flash": [FLASH, ROUTSTR]},
        policy=[{"max_ttft": {"ms": 300}}, "cheapest"],
    )
    for ref in (FLASH, ROUTSTR):
        list(router.stream(model=ref, messages=WORDS))
    route = router.explain(model="flash", messages=WORDS)
    assert [c.ref for c in route.candidates] == [ROUTSTR]
    (excluded,) = route.excluded
    assert (excluded.ref, excluded.policy) == (FLASH, "max_ttft")
    match = re.fullmatch(r"p90 TTFT (\d+) ms > 300 ms \(1 answers\)", excluded.reason)
    assert match is not None
    assert 470 <= int(match.group(1)) < 600  # 0.5 s, within the sketch's 4.8%


def test_per_request_sort_and_max_ttft_read_the_measured_speed(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.4, tokens_per_second=40)
    sim.set_latency("routstr", ttft=0.02, tokens_per_second=400)
    router = router_for(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]})
    cheap_first = [c.ref for c in router.explain(model="flash", messages=WORDS).candidates]
    assert cheap_first == [FLASH, ROUTSTR]  # openrouter is the cheaper of the two
    # nothing measured yet: the chain's order stands, nothing is excluded
    unmeasured = router.explain(model="flash", messages=WORDS, router={"max_ttft_ms": 100})
    assert [c.ref for c in unmeasured.candidates] == cheap_first
    for ref in (FLASH, ROUTSTR):
        list(router.stream(model=ref, messages=WORDS))
    for sort in ("latency", "throughput"):
        route = router.explain(model="flash", messages=WORDS, router={"sort": sort})
        assert [c.ref for c in route.candidates] == [ROUTSTR, FLASH], sort
    route = router.explain(model="flash", messages=WORDS, router={"max_ttft_ms": 100})
    assert [c.ref for c in route.candidates] == [ROUTSTR]
    (excluded,) = route.excluded
    assert (excluded.ref, excluded.policy) == (FLASH, "request")
    match = re.fullmatch(r"max_ttft_ms: p90 TTFT (\d+) ms > 100 ms", excluded.reason)
    assert match is not None
    assert 380 <= int(match.group(1)) < 480  # 0.4 s, within the sketch's 4.8%
    assert router.complete(model="flash", messages=WORDS, router={"sort": "latency"}).provider == (
        "routstr"
    )


def test_sim_latency_arguments_are_checked(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="ttft must be a number of seconds >= 0"):
        sim.set_latency("openrouter", ttft=-1)
    with pytest.raises(ValueError, match="style must be 'openai' or 'anthropic'"):
        sim.set_rate_limit("openrouter", requests=1, style="google")


def test_async_requests_count_against_the_budget(sim: Simulator) -> None:
    sim.set_rate_limit("openrouter", requests=1, window=60)

    async def run() -> None:
        router = router_for(sim, "openrouter")
        await router.acomplete(model=FLASH, messages=WORDS)
        with pytest.raises(NoRouteError):
            await router.acomplete(model=FLASH, messages=WORDS)
        await router.aclose()

    asyncio.run(run())
    assert chats(sim, "openrouter") == 1


# -- the command line -----------------------------------------------------------------------


def test_router_models_stats_shows_each_deployments_speed(sim: Simulator) -> None:
    import io

    from router import cli

    router = router_for(sim, "openrouter")
    router.latency.observe(FLASH, seconds=2.0, ttft=0.5, output_tokens=150)
    router.latency.failed(FLASH)
    args = cli._parser().parse_args(["models", "--stats"])
    out = io.StringIO()
    assert cli._models(router, args, out) == 0
    header, *rows = out.getvalue().splitlines()
    assert header.split() == [
        "model", "answers", "ttft", "p50", "ttft", "p90", "tok/s", "latency", "p90", "errors"
    ]  # fmt: skip
    flash = next(r for r in rows if r.startswith(FLASH + " ")).split()
    p50 = f"{LogSketch.value(LogSketch.bucket(0.5)):.2f}"
    p90 = f"{LogSketch.value(LogSketch.bucket(2.0)):.2f}"
    # 150 tokens in 1.5 s after the first; one failure after one answer: 0.2
    assert flash[1:] == ["1", p50, "s", p50, "s", "100", p90, "s", "20%"]
    other = next(r for r in rows if r != rows[0] and not r.startswith(FLASH + " ")).split()
    assert other[1:] == ["0", "-", "-", "-", "-", "-"]
    args = cli._parser().parse_args(["models", "--stats", "--json"])
    out = io.StringIO()
    cli._models(router, args, out)
    entry = next(e for e in json.loads(out.getvalue()) if e["ref"] == FLASH)
    assert entry["speed"]["samples"] == 1
    assert entry["speed"]["tokens_per_second"] == 100.0


def test_router_models_stats_in_a_fresh_process_says_nothing_was_measured(
    sim: Simulator, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from router.cli import main

    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config(sim, "openrouter")))
    assert main(["models", "--stats", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "(no answers measured yet in this router's state)"


def test_out_of_budget_everywhere_is_a_no_route_error_with_retry_after(sim: Simulator) -> None:
    import httpx

    sim.set_rate_limit("openrouter", requests=1, window=60)
    router = router_for(sim, "openrouter")
    router.complete(model=FLASH, messages=WORDS)
    with pytest.raises(NoRouteError) as failure:
        router.complete(model=FLASH, messages=WORDS)  # 60 s > the 30 s wait budget
    assert failure.value.retry_after is not None
    assert 55 < failure.value.retry_after <= 60
    with httpx.Client(transport=router.transport(), base_url="http://router/v1") as client:
        response = client.post("/chat/completions", json={"model": FLASH, "messages": WORDS})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_capacity"
    assert 55 < int(response.headers["retry-after"]) <= 60
    assert chats(sim, "openrouter") == 1


def test_a_budget_that_resets_soon_is_waited_for(sim: Simulator) -> None:
    sim.set_rate_limit("openrouter", requests=1, window=1.0)
    router = Router.from_config(config(sim, "openrouter"))  # real sleeps
    OPEN.append(router)
    router.complete(model=FLASH, messages=WORDS)
    answer = router.complete(model=FLASH, messages=WORDS)
    route = answer.route
    assert route is not None
    assert 0.5 < route.waited <= 1.0  # until the announced reset, then sent
    assert chats(sim, "openrouter") == 2
    assert sim.refused("openrouter") == 0


def test_a_stream_dropped_by_its_caller_stops_counting_in_flight(sim: Simulator) -> None:
    # "You said: " + 10 words streams one chunk a word: the caller stops after three
    sim.set_rate_limit("openrouter", requests=5, window=60)
    router = router_for(sim, "openrouter")
    stream = router.stream(model=FLASH, messages=WORDS)
    assert isinstance(stream, Generator)  # the caller may close it
    for _ in range(3):
        next(stream)
    limits = router.rate_limits
    assert isinstance(limits, MemoryRateLimits)
    assert len(limits._flights(FLASH, time.monotonic())) == 1
    stream.close()
    assert limits._flights(FLASH, time.monotonic()) == []
    route = router.explain(model=FLASH, messages=WORDS)
    assert [c.ref for c in route.candidates] == [FLASH]  # 4 left of 5


async def test_concurrent_requests_in_flight_never_overrun_the_announced_budget(
    sim: Simulator,
) -> None:
    sim.set_rate_limit("openrouter", requests=3, window=60)
    sim.set_latency("openrouter", ttft=0.2)  # the answers overlap
    router = router_for(sim, "openrouter", "routstr", models={"flash": [FLASH, ROUTSTR]})
    first = await router.acomplete(model="flash", messages=WORDS)  # announces 2 left
    assert first.provider == "openrouter"
    answers = await asyncio.gather(
        *(router.acomplete(model="flash", messages=WORDS) for _ in range(6))
    )
    assert sorted(a.provider or "" for a in answers) == ["openrouter"] * 2 + ["routstr"] * 4
    assert sim.refused("openrouter") == 0
    assert chats(sim, "openrouter") == 3
    await router.aclose()
