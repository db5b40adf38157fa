"""Propagation: process A cools a deployment down; does process B's next request try it?

Three router processes (``bench/fleet.py``) route one group of two deployments,
pinstripes first (the cheaper). Each trial scripts one 429 with ``Retry-After: 1`` at
pinstripes, sends a request through process A (which fails over to openrouter and holds
pinstripes for a second), then at once sends B's next request and has C watch its own
copy of the cooldowns until pinstripes shows up. With ``state: memory`` nobody else
learns; with ``state: redis`` (a private ``redis-server``) the hold travels by pub/sub.

    python bench/propagation.py [--trials 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from fleet import Fleet

from router.testing.redis_server import RedisServer, find_redis_server
from router.testing.simulator import Reply, Simulator

PIN = "pinstripes:ps/deepseek-v4-flash"
OPEN = "openrouter:deepseek/deepseek-v4-flash"


def trials(sim: Simulator, state: dict[str, Any] | None, count: int) -> dict[str, Any]:
    sim.reset()
    config: dict[str, Any] = {
        "providers": [
            {"name": p, "kind": p, "base_url": sim.base_url(p), "api_key": sim.api_key(p)}
            for p in ("pinstripes", "openrouter")
        ],
        "models": {"flash": [PIN, OPEN]},
        "policy": [{"cheapest": {"expected_output_tokens": 50}}],
        # Only the Retry-After hold cools pinstripes: no failure-count cooldowns between trials
        # (and cooldowns that do not grow on a failed half-open probe: each trial alike)
        "fallback": {"cooldown_after": 100, "cooldown_seconds": 1, "cooldown_max_seconds": 1},
    }
    if state is not None:
        config["state"] = state
    request = {"model": "flash", "messages": [{"role": "user", "content": "hi"}]}
    tried = 0
    delays: list[float] = []
    missed = 0
    with Fleet(config, 3, fake_clock=False) as fleet:
        for _ in range(count):
            sim.script("pinstripes", [Reply(429, headers={"Retry-After": "1"})])
            a = fleet.complete(0, request)
            assert a["tried"] == [PIN], a
            fleet.pipes[1].send(("complete", request, 0.0, False))
            fleet.pipes[2].send(("wait_cooling", PIN, 0.5))
            b, c = fleet.pipes[1].recv(), fleet.pipes[2].recv()
            tried += PIN in b["tried"] or b["chosen"] == PIN
            if c["seen"]:
                delays.append(max(0.0, c["at"] - a["done_at"]) * 1000)
            else:
                missed += 1
            time.sleep(1.2)  # the hold ends before the next trial
    return {"tried": tried, "delays": delays, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    binary = find_redis_server()
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with Simulator() as sim, RedisServer(binary) as server:
        results = {
            "memory": trials(sim, None, args.trials),
            "redis": trials(
                sim, {"backend": "redis", "url": server.url, "key_prefix": "prop:"}, args.trials
            ),
        }
    print(f"{args.trials} trials: A meets a 429 (Retry-After: 1) at pinstripes and fails over\n")
    print(
        "| state | B's next request tried pinstripes | C saw the cooldown |"
        " ms from A's answer to C's sighting (incl. the pipe to C): p50 / p99 / max |"
    )
    print("|---|---:|---:|---|")
    for name, r in results.items():
        delays = sorted(r["delays"])
        if delays:
            p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
            spread = f"{statistics.median(delays):.2f} / {p99:.2f} / {delays[-1]:.2f}"
        else:
            spread = "never (0.5 s watched)"
        print(
            f"| {name} | {r['tried']} of {args.trials} | {args.trials - r['missed']} of"
            f" {args.trials} | {spread} |"
        )


if __name__ == "__main__":
    main()
