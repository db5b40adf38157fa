"""One Router shared by many threads, and by many asyncio tasks, against the simulator.

Shared use must give the answers sequential use gives (content, provider, exact cost,
usage), fetch each catalog once per lifetime however many callers wait for it, and keep
cooldown state consistent: every failure counted once, a deployment cooled once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from router import Router
from router.state.cooldowns import MemoryCooldowns
from router.testing.simulator import Reply, Simulator
from tests.wire.conftest import KINDS, config

pytestmark = pytest.mark.wire

THREADS = 16
# One deployment per wire family: OpenAI chat (pinstripes, routstr, openrouter, openai,
# PipeLLM's native and converter routes), Anthropic Messages, Majestix events.
REFS = (
    "pinstripes:ps/deepseek-v4-flash",
    "pipellm:claude-sonnet-4-6",
    "inference-api:gpt-5-mini",
    "routstr:deepseek/deepseek-v4-flash",
    "openrouter:deepseek/deepseek-v4-flash",
    "pipellm:gpt-5-mini",
    "pipellm:gemini-3-flash",
    "openai:Qwen/Qwen3-8B",
)
GROUP = {"g": ["pinstripes:ps/deepseek-v4-flash", "routstr:deepseek/deepseek-v4-flash"]}

Job = tuple[str, str, str]
"""(``complete`` or ``stream``, model, the user's text)."""
Outcome = tuple[Any, ...]


def make_router(sim: Simulator, *kinds: str, **kwargs: Any) -> Router:
    """A router over the simulated ``kinds`` (all six by default); ``models``, ``fallback``
    and ``policy`` go to the YAML top level, ``provider_options`` into every provider block,
    the rest to the Router."""
    top = {k: kwargs.pop(k) for k in ("models", "fallback", "policy") if k in kwargs}
    options = kwargs.pop("provider_options", {})
    conf = config(sim, *kinds, **top)
    for block in conf["providers"]:
        if block["kind"] == "openai":
            block["model_info"] = {"*": {"prompt_per_mtok": "0.02", "completion_per_mtok": "0.08"}}
        block.update(options)
    kwargs.setdefault("sleep", lambda seconds: None)  # retries do not wait
    return Router.from_config(conf, **kwargs)


def jobs(count: int, models: Sequence[str] = REFS, modes: Sequence[str] = ("complete", "stream")):
    """Distinct requests: each text differs, so a crossed answer cannot go unnoticed."""
    return [
        (modes[i % len(modes)], models[i % len(models)], f"request {i} says hello{' x' * (i % 7)}")
        for i in range(count)
    ]


def outcome_of(kind: str, text: str, provider: str | None, route: Any, usage: Any) -> Outcome:
    """What the caller got (compared with sequential use), then the failed attempts."""
    return (
        kind,
        text,
        provider,
        route.chosen,
        route.cost,
        route.usage_estimated,
        usage.prompt_tokens,
        usage.completion_tokens,
        tuple((a.ref, a.status, a.kind) for a in route.attempts),
    )


ANSWER = slice(0, 8)
ATTEMPTS = 8


def assert_same_answers(
    got: dict[Job, Outcome], expected: dict[Job, Outcome], also: tuple[Any, ...] = ()
) -> None:
    """Shared use gave every caller the answer sequential use gave.

    The simulator listens with ``socketserver``'s default backlog of 5, so a burst of new
    connections may see one reset (``ReadError``): the router retries it, as it should,
    and the answer is unchanged. Any other failed attempt (but those in ``also``) is a
    difference.
    """
    assert got.keys() == expected.keys()
    assert {job: o[ANSWER] for job, o in got.items()} == {
        job: o[ANSWER] for job, o in expected.items()
    }
    for job, outcome in got.items():
        for attempt in outcome[ATTEMPTS]:
            reset = attempt[1:] == (None, "Unavailable")
            assert reset or attempt in also, (job, outcome)


def run(router: Router, job: Job) -> Outcome:
    mode, model, text = job
    messages = [{"role": "user", "content": text}]
    if mode == "complete":
        reply = router.complete(model=model, messages=messages)
        content = reply.choices[0].message.content
        return outcome_of(mode, content, reply.provider, reply.route, reply.usage)
    chunks = list(router.stream(model=model, messages=messages))
    content = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    last = chunks[-1]
    assert {chunk.provider for chunk in chunks} == {last.provider}
    return outcome_of(mode, content, last.provider, last.route, last.usage)


async def arun(router: Router, job: Job) -> Outcome:
    mode, model, text = job
    messages = [{"role": "user", "content": text}]
    if mode == "complete":
        reply = await router.acomplete(model=model, messages=messages)
        content = reply.choices[0].message.content
        return outcome_of(mode, content, reply.provider, reply.route, reply.usage)
    chunks = [chunk async for chunk in router.astream(model=model, messages=messages)]
    content = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    last = chunks[-1]
    return outcome_of(mode, content, last.provider, last.route, last.usage)


def sequential(sim: Simulator, work: list[Job], **kwargs: Any) -> dict[Job, Outcome]:
    with make_router(sim, **kwargs) as router:
        return {job: run(router, job) for job in work}


def threaded(
    router: Router, work: list[Job], runner: Callable[[Router, Job], Outcome] = run
) -> dict[Job, Outcome]:
    """``work`` split over THREADS threads that start together on the shared ``router``."""
    start = threading.Barrier(THREADS)

    def worker(share: list[Job]) -> list[tuple[Job, Outcome]]:
        start.wait(timeout=30)
        return [(job, runner(router, job)) for job in share]

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, work[t::THREADS]) for t in range(THREADS)]
        done = [pair for future in futures for pair in future.result(timeout=120)]
    assert len(done) == len(work)
    return dict(done)


def catalog_fetches(sim: Simulator, kind: str) -> int:
    return sum(1 for r in sim.requests(kind) if r.method == "GET")


def chat_posts(sim: Simulator, kind: str) -> int:
    return sum(1 for r in sim.requests(kind) if r.method == "POST")


# -- 16 threads, mixed complete and stream, every wire family ------------------------------


def test_threads_get_the_answers_sequential_use_gets(sim):
    work = jobs(THREADS * 6)
    expected = sequential(sim, work)
    for (_, _, text), outcome in expected.items():
        assert outcome[1] == f"You said: {text}"
        assert isinstance(outcome[4], Decimal)
        assert outcome[4] > 0
    sim.reset()

    with make_router(sim) as router:
        got = threaded(router, work)

    assert_same_answers(got, expected)
    assert all(not outcome[ATTEMPTS] for outcome in expected.values())
    # Sixteen threads asked at once for catalogs nobody had fetched yet: one fetch each.
    assert {kind: catalog_fetches(sim, kind) for kind in KINDS} == dict.fromkeys(KINDS, 1)
    retried = sum(len(outcome[ATTEMPTS]) for outcome in got.values())
    assert sum(chat_posts(sim, kind) for kind in KINDS) == len(work) + retried


def test_threads_share_one_pooled_client_per_provider(sim):
    with make_router(sim) as router:
        threaded(router, jobs(THREADS * 2))
        clients = {name: provider.client() for name, provider in router.providers.items()}
        threaded(router, jobs(THREADS * 2))
        assert {name: p.client() for name, p in router.providers.items()} == clients


# -- cooldowns: every failure counted once, a deployment cooled once ------------------------


class CountingCooldowns(MemoryCooldowns):
    """In-memory cooldowns that count how often each deployment started cooling down."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._count = threading.Lock()

    def failed(self, ref: str) -> None:
        with self._count:
            before = self.cooling(ref)
            super().failed(ref)
            self.failures[ref] += 1
            if before is None and self.cooling(ref) is not None:
                self.started[ref] += 1


def test_a_failing_deployment_cools_down_exactly_once_under_threads(sim, clock):
    after = 20  # more than the threads in flight: a second cooldown would need 20 more failures
    cooldowns = CountingCooldowns(after=after, seconds=30, timer=clock)
    fallback = {"cooldown_after": after, "cooldown_seconds": 30}
    work = jobs(THREADS * 6, models=["g"])
    bad = "pinstripes:ps/deepseek-v4-flash"
    with make_router(
        sim, "pinstripes", "routstr", models=GROUP, fallback=fallback, timer=clock,
        cooldowns=cooldowns,
    ) as router:  # fmt: skip
        router.models()
        sim.set_down("pinstripes", True)
        got = threaded(router, work)

        posts = chat_posts(sim, "pinstripes")
        # every request was answered by routstr, at the cost sequential use paid there
        assert {outcome[3] for outcome in got.values()} == {"routstr:deepseek/deepseek-v4-flash"}
        assert all(outcome[1] == f"You said: {job[2]}" for job, outcome in got.items())
        # each failed POST is one attempt in one answer's route, and one counted failure
        # (or a connection reset by the simulator's small listen backlog, before any POST)
        attempts = [a for outcome in got.values() for a in outcome[ATTEMPTS] if a[0] == bad]
        assert set(attempts) <= {(bad, 503, "Unavailable"), (bad, None, "Unavailable")}
        assert attempts.count((bad, 503, "Unavailable")) == posts
        assert cooldowns.failures[bad] == len(attempts)
        # the threads in flight when it cooled down fail once more each, at most
        assert after <= len(attempts) < after + THREADS
        assert cooldowns.started == {bad: 1}
        assert cooldowns.cooling(bad) == 30

        # the cooldown ends on time, and the recovered deployment serves again
        sim.set_down("pinstripes", False)
        clock.advance(31)
        assert cooldowns.cooling(bad) is None
        assert run(router, ("complete", "g", "back"))[3] == bad


def test_routstr_answers_match_sequential_use_during_an_outage(sim, clock):
    """The answers given while falling over are those routstr gives when asked directly."""
    work = jobs(THREADS * 3, models=["routstr:deepseek/deepseek-v4-flash"])
    expected = sequential(sim, work, models=GROUP)
    sim.reset()
    with make_router(sim, "pinstripes", "routstr", models=GROUP, timer=clock) as router:
        router.models()
        sim.set_down("pinstripes", True)
        got = threaded(router, [(mode, "g", text) for mode, _, text in work])
    assert_same_answers(
        {(mode, model, text): got[(mode, "g", text)] for mode, model, text in work},
        expected,
        also=(("pinstripes:ps/deepseek-v4-flash", 503, "Unavailable"),),
    )


def test_memory_cooldowns_count_every_failure_from_many_threads():
    per_thread = 500
    cooldowns = MemoryCooldowns(after=THREADS * per_thread, seconds=60)
    almost = MemoryCooldowns(after=THREADS * per_thread + 1, seconds=60)
    start = threading.Barrier(THREADS)

    def hammer() -> None:
        start.wait(timeout=30)
        for _ in range(per_thread):
            cooldowns.failed("p:m")
            almost.failed("p:m")

    threads = [threading.Thread(target=hammer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert cooldowns.cooling("p:m") is not None  # the last failure was the threshold
    assert almost.cooling("p:m") is None  # one short: no failure was counted twice


# -- catalog refresh under threads: one fetch per expiry, stale served on failure ----------


def test_catalog_refresh_under_threads_fetches_once_per_expiry(sim, clock):
    ttl, retry = 10, 4
    models = ["pinstripes:ps/deepseek-v4-flash", "inference-api:gpt-5-mini"]
    options = {"catalog_ttl": ttl, "catalog_retry": retry}
    work = jobs(THREADS * 2, models=models)
    expected = sequential(sim, work, provider_options=options)
    sim.reset()

    with make_router(
        sim, "pinstripes", "inference-api", timer=clock, provider_options=options
    ) as router:
        fetches = []
        stale = []
        for round_ in range(6):
            if round_ == 3:
                # this round's refresh fails (the error echoes nothing): the last good
                # catalog serves, marked stale, until catalog_retry has passed
                sim.script("pinstripes", [Reply(500)])
            assert_same_answers(threaded(router, work), expected)
            fetches.append(catalog_fetches(sim, "pinstripes"))
            stale.append(router.catalog("pinstripes").stale)
            clock.advance(retry + 1 if round_ == 3 else ttl + 1)
        # rounds at t = 0, 11, 22, 33, 38, 49: still fresh at 38 (fetched at 33, ttl 10)
        assert catalog_fetches(sim, "inference-api") == 5

    # one fetch per round: round 3 failed, round 4 came after catalog_retry and succeeded
    assert fetches == [1, 2, 3, 4, 5, 6]
    assert stale == [False, False, False, True, False, False]


def test_catalog_refresh_within_ttl_fetches_nothing(sim, clock):
    with make_router(
        sim, "pinstripes", timer=clock, provider_options={"catalog_ttl": 10}
    ) as router:
        for _ in range(3):
            threaded(router, jobs(THREADS, models=["pinstripes:ps/deepseek-v4-flash"]))
            clock.advance(3)
    assert catalog_fetches(sim, "pinstripes") == 1


# -- many asyncio tasks --------------------------------------------------------------------


def test_200_async_tasks_get_the_answers_sequential_use_gets(sim):
    work = jobs(200, modes=["complete"])
    expected = sequential(sim, work)
    sim.reset()

    async def main() -> list[Outcome]:
        async with make_router(sim) as router:
            return await asyncio.gather(*(arun(router, job) for job in work))

    got = dict(zip(work, asyncio.run(main()), strict=True))
    assert_same_answers(got, expected)
    assert {kind: catalog_fetches(sim, kind) for kind in KINDS} == dict.fromkeys(KINDS, 1)


def test_async_tasks_mixing_acomplete_and_astream(sim):
    work = jobs(120)
    expected = sequential(sim, work)
    sim.reset()

    async def main() -> list[Outcome]:
        async with make_router(sim) as router:
            return await asyncio.gather(*(arun(router, job) for job in work))

    assert_same_answers(dict(zip(work, asyncio.run(main()), strict=True)), expected)


def test_async_tasks_cool_a_failing_deployment_down_once(sim, clock):
    after = 30
    cooldowns = CountingCooldowns(after=after, seconds=30, timer=clock)
    fallback = {"cooldown_after": after, "cooldown_seconds": 30}
    bad = "pinstripes:ps/deepseek-v4-flash"

    async def main() -> list[Outcome]:
        async with make_router(
            sim, "pinstripes", "routstr", models=GROUP, fallback=fallback, timer=clock,
            cooldowns=cooldowns,
        ) as router:  # fmt: skip
            await router.amodels()
            sim.set_down("pinstripes", True)
            return await asyncio.gather(*(arun(router, job) for job in jobs(200, models=["g"])))

    got = asyncio.run(main())
    posts = chat_posts(sim, "pinstripes")
    assert {outcome[3] for outcome in got} == {"routstr:deepseek/deepseek-v4-flash"}
    failed_there = [a for outcome in got for a in outcome[ATTEMPTS] if a[0] == bad]
    assert failed_there.count((bad, 503, "Unavailable")) == posts
    assert len(failed_there) == cooldowns.failures[bad]
    assert cooldowns.started == {bad: 1}
    assert posts >= after
