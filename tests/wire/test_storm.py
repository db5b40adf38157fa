"""A fault storm: many concurrent requests, random faults of every kind, one provider
going down and coming back. Every request must end in an answer or a typed error, none
may hang past its deadline, and no socket, file descriptor or memory may leak.

The CI-sized storm runs with the tests; the full-size one is a command:

    python -m tests.wire.test_storm --requests 10000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from router import Router
from router.errors import RouterError
from router.state.prefix import MemoryPrefixes
from router.testing.simulator import Reply, Simulator

KINDS = ("pinstripes", "routstr", "openrouter", "pipellm")
GROUP = [
    "pinstripes:ps/deepseek-v4-flash",
    "routstr:deepseek/deepseek-v4-flash",
    "openrouter:deepseek/deepseek-v4-flash",
    "pipellm:gpt-5-mini",
]
FAULTS = [
    Reply(429, headers={"Retry-After": "1"}),
    Reply(429),
    Reply(500),
    Reply(502),
    Reply(503),
    Reply(504),
    Reply(529),
    Reply(401),
    Reply(402),
    Reply(403),
    Reply(404),
    Reply(422),
    Reply(400, json={"error": {"message": "Invalid model", "code": "invalid_model"}}),
    Reply(200, body=b"<html><body>502 Bad Gateway</body></html>"),
    Reply(200, body=b""),
    Reply(200, body=b"{not json"),
    Reply(200, cut_after=1),
    Reply(200, cut_after=3),
    Reply(200, error_event="overloaded"),
    Reply(200, delay=1.5),  # beyond the 1 s read timeout: a slow first byte
]

ANSWER_FLOOR = 0.98
"""Share of requests the storm must answer. Full-size runs answer 99.5% or more at
concurrency 64 and 4; what stays unanswered is mostly a stream cut after its first chunk
(``StreamInterrupted``, about 0.3%, never replayed by design). The floor leaves room for
a loaded machine, where cooldowns of one second weigh more against slower requests."""
DEADLINE = 5.0
"""The storm's ``fallback.deadline_seconds``."""


@dataclass
class Report:
    requests: int
    answers: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    unaccounted: int = 0
    fds_before: int = 0
    fds_after: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    prefixes: int = 0
    seconds: float = 0.0
    durations: list[float] = field(default_factory=list)
    """Seconds each request took, from its turn (past the concurrency gate) to its end."""

    @property
    def p99(self) -> float:
        ordered = sorted(self.durations)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0

    def __str__(self) -> str:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.requests} requests in {self.seconds:.1f} s: {self.answers} answers,"
            f" typed errors: {errors}; unaccounted {self.unaccounted};"
            f" p99 {self.p99:.2f} s;"
            f" fds {self.fds_before} -> {self.fds_after};"
            f" RSS {self.rss_before_mb:.0f} -> {self.rss_after_mb:.0f} MB;"
            f" prefix memory {self.prefixes} entries"
        )


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _config(sim: Simulator) -> dict[str, object]:
    return {
        "providers": [
            {
                "name": kind,
                "kind": kind,
                "base_url": sim.base_url(kind),
                "api_key": sim.api_key(kind),
                "read_timeout": 1.0,
            }
            for kind in KINDS
        ],
        "models": {"g": GROUP},
        "fallback": {
            "attempts": 4,
            "deadline_seconds": DEADLINE,
            # a request whose candidates are all cooling down waits up to 2 s in all for
            # the first to come back (the 429s ask for 1 s); backoff waits are capped there
            "max_wait_seconds": 2,
            "backoff_seconds": 0.05,
            "cooldown_seconds": 1,
        },
    }


async def one_request(
    router: Router, messages: list[dict[str, str]], report: Report, *, stream: bool
) -> None:
    """One request to group ``g``, streamed or not; its outcome counted in ``report``."""
    try:
        if stream:
            async for _ in router.astream(model="g", messages=messages):
                pass
        else:
            await asyncio.wait_for(router.acomplete(model="g", messages=messages), 15)
        report.answers += 1
    except RouterError as exc:
        report.errors[type(exc).__name__] += 1
    except Exception as exc:  # anything else is a bug: a request lost
        report.errors[f"UNTYPED {type(exc).__name__}"] += 1
        report.unaccounted += 1


async def storm(
    requests: int, concurrency: int, *, fault_rate: float = 0.1, seed: int = 1
) -> Report:
    rng = random.Random(seed)
    report = Report(requests)
    with Simulator() as sim:
        for kind in KINDS:  # ~fault_rate of each provider's answers are faults
            sim.script(
                kind,
                [
                    rng.choice(FAULTS) if rng.random() < fault_rate else Reply(200)
                    for _ in range(requests)
                ],
            )
        memory = MemoryPrefixes(maxsize=5_000)
        router = Router.from_config(_config(sim), prefixes=memory)
        await router.amodels()  # catalogs first: the storm is about chat
        gc.collect()
        report.fds_before = _fds()
        report.rss_before_mb = _rss_mb()
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        done = 0

        async def one(i: int) -> None:
            nonlocal done
            async with gate:
                messages = [
                    {"role": "user", "content": f"storm request {i} " + "x" * rng.randrange(0, 400)}
                ]
                began = time.monotonic()
                try:
                    await one_request(router, messages, report, stream=i % 5 == 0)
                finally:
                    report.durations.append(time.monotonic() - began)
                    done += 1

        async def outage() -> None:
            # pinstripes goes down a third of the way in and comes back two thirds in
            while done < requests // 3:
                await asyncio.sleep(0.01)
            sim.set_down("pinstripes", True)
            while done < 2 * requests // 3:
                await asyncio.sleep(0.01)
            sim.set_down("pinstripes", False)

        watcher = asyncio.create_task(outage())
        await asyncio.gather(*(one(i) for i in range(requests)))
        await watcher
        report.seconds = time.monotonic() - started
        report.prefixes = len(memory)
        await router.aclose()
        gc.collect()
        report.fds_after = _fds()
        report.rss_after_mb = _rss_mb()
    return report


@pytest.mark.wire
@pytest.mark.slow
@pytest.mark.parametrize(("requests", "concurrency"), [(2000, 64), (600, 4)])
def test_fault_storm_answers_loses_nothing_and_leaks_nothing(requests, concurrency):
    report = asyncio.run(storm(requests, concurrency))
    print(report)
    assert report.unaccounted == 0
    assert report.answers + sum(report.errors.values()) == report.requests
    # capacity a second away is waited for: no instant "no route" while it comes back
    assert report.answers >= ANSWER_FLOOR * report.requests, str(report)
    assert report.p99 < DEADLINE  # (a stream's deadline ends at its first chunk)
    assert report.fds_after <= report.fds_before + 2
    assert report.prefixes <= 5_000
    assert report.rss_after_mb < report.rss_before_mb + 50  # bounded state, no pile-up


def main() -> None:
    parser = argparse.ArgumentParser(description="The full-size fault storm.")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    args = parser.parse_args()
    print(asyncio.run(storm(args.requests, args.concurrency, fault_rate=args.fault_rate)))


if __name__ == "__main__":
    main()
