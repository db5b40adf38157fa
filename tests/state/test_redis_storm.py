"""The fault storm of ``tests/wire/test_storm.py`` on a router whose state is on Redis,
with Redis killed a quarter of the way in and restarted at half-way: every request ends
in an answer or a typed error, and file descriptors and Redis connections come back to
where they were."""

from __future__ import annotations

import asyncio
import gc
import logging
import random
import time

import pytest

from router import Router
from router.testing.redis_server import RedisServer
from router.testing.simulator import Reply, Simulator
from tests.wire.test_storm import FAULTS, KINDS, Report, _config, _fds, one_request


async def storm(
    server: RedisServer, requests: int, concurrency: int, seed: int = 1
) -> tuple[Report, float]:
    """The storm's report, and its slowest request in seconds."""
    rng = random.Random(seed)
    report = Report(requests)
    with Simulator() as sim:
        for kind in KINDS:
            sim.script(
                kind,
                [rng.choice(FAULTS) if rng.random() < 0.1 else Reply(200) for _ in range(requests)],
            )
        config = _config(sim)
        config["state"] = {"backend": "redis", "url": server.url, "timeout_seconds": 0.3}
        gc.collect()
        fds_before = _fds()
        clients_before = server.router_clients()
        router = Router.from_config(config)
        await router.amodels()
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        done = 0
        slowest = 0.0

        async def one(i: int) -> None:
            nonlocal done, slowest
            async with gate:
                t0 = time.monotonic()
                messages = [{"role": "user", "content": f"storm {i} " + "x" * rng.randrange(400)}]
                try:
                    await one_request(router, messages, report, stream=i % 5 == 0)
                finally:
                    done += 1
                    slowest = max(slowest, time.monotonic() - t0)

        async def chaos() -> None:
            while done < requests // 4:
                await asyncio.sleep(0.01)
            server.kill()
            while done < requests // 2:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(server.start)

        watcher = asyncio.create_task(chaos())
        await asyncio.gather(*(one(i) for i in range(requests)))
        await watcher
        report.seconds = time.monotonic() - started
        for _ in range(100):  # the state reattaches in the background
            if router.state.available:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.1)
        report.prefixes = len(router.prefixes)  # type: ignore[arg-type]
        assert await asyncio.to_thread(router.state.sync, 5.0)
        await router.aclose()
        for _ in range(50):  # a loaded machine may take a moment to close the last sockets
            gc.collect()
            if _fds() <= fds_before + 2:
                break
            await asyncio.sleep(0.1)
        report.fds_before, report.fds_after = fds_before, _fds()
        assert server.router_clients() == clients_before
    return report, slowest


@pytest.mark.wire
@pytest.mark.slow
def test_a_storm_through_a_redis_outage_loses_nothing_and_leaks_nothing(redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="router.state")
    report, slowest = asyncio.run(storm(redis_server, 2000, 64))
    print(f"{report}; slowest request {slowest:.1f} s")
    assert report.unaccounted == 0
    assert report.answers + sum(report.errors.values()) == report.requests
    assert report.answers > 0
    assert report.fds_after <= report.fds_before + 2
    assert slowest < 7  # the 5 s deadline, plus a read timeout's overrun at most
    outage = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage) == 1  # one warning for the one outage
    assert any("is back" in r.getMessage() for r in caplog.records)
