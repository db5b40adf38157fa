"""Time is money too: one workload over three deployments of one model, per policy.

    python bench/latency.py            # ~2 minutes: 60 streamed requests per run, 4 workers
    python bench/latency.py --requests 30 --workers 2

The deployments (the simulator on loopback, real sleeps; jitter 0.2 log-normal, seeded):

- ``slow``  (openrouter): cheap but slow, $0.10 / $0.40 per M tokens, TTFT 0.40 s,
  40 tokens/s;
- ``fast``  (routstr): fast but dearer, $1.00 / $4.00 per M, TTFT 0.05 s, 400 tokens/s;
- ``tight`` (pinstripes): the cheapest, $0.08 / $0.30 per M, TTFT 0.10 s, 150 tokens/s,
  with an enforced limit of 6 requests per 5 s (OpenAI-style ``x-ratelimit-*`` headers;
  a 429 with ``Retry-After`` beyond it).

Each request streams (60 words in, ``max_tokens: 40`` out). Every run starts with a fresh
router and one warm-up answer per deployment (not counted), so the speed statistics
start measured. Policies: ``cheapest``; ``fastest``; ``cheapest`` with
``time_value_usd_per_s: 0.0005`` ($1.80 an hour of waiting); each with the router's
rate-limit awareness (the default) and without it (``rate_limits=NoRateLimits()``: the
router as it was, learning of a limit from the 429).

Reported per run: billed dollars (the sum of ``usage.cost``), p50/p90 time to first token
and total time (client-side, per request), the 429s the tight deployment sent, and where
the answers came from.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router import Router
from router.state.ratelimits import NoRateLimits
from router.testing.simulator import Simulator

MODELS = {
    "slow": ("openrouter", "deepseek/deepseek-v4-flash"),
    "fast": ("routstr", "deepseek/deepseek-v4-flash"),
    "tight": ("pinstripes", "ps/deepseek-v4-flash"),
}
REFS = {name: f"{p}:{m}" for name, (p, m) in MODELS.items()}
NAMES = {ref: name for name, ref in REFS.items()}
PROMPT = " ".join(f"word{i}" for i in range(60))
TIME_VALUE = "0.0005"
POLICIES: dict[str, list[Any]] = {
    "cheapest": ["cheapest"],
    "fastest": ["fastest"],
    f"cheapest + time_value {TIME_VALUE} $/s": [{"cheapest": {"time_value_usd_per_s": TIME_VALUE}}],
}


def set_prices(sim: Simulator) -> None:
    """USD per token: openrouter and pinstripes per token (strings), routstr per 1k."""
    for provider, model, prompt, completion in (
        ("openrouter", MODELS["slow"][1], "0.0000001", "0.0000004"),
        ("routstr", MODELS["fast"][1], 0.001, 0.004),
        ("pinstripes", MODELS["tight"][1], "0.00000008", "0.0000003"),
    ):
        catalog: Any = sim.catalog(provider)
        for entry in catalog["data"]:
            if entry["id"] == model:
                entry["pricing"]["prompt"] = prompt
                entry["pricing"]["completion"] = completion
        sim.set_catalog(provider, catalog)


def set_speeds(sim: Simulator) -> None:
    sim.set_latency("openrouter", ttft=0.40, tokens_per_second=40, jitter=0.2, seed=7)
    sim.set_latency("routstr", ttft=0.05, tokens_per_second=400, jitter=0.2)
    sim.set_latency("pinstripes", ttft=0.10, tokens_per_second=150, jitter=0.2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def one_run(
    sim: Simulator,
    policy: list[Any],
    aware: bool,
    requests: int,
    workers: int,
    explain: bool = False,
) -> dict[str, Any]:
    sim.reset()
    set_prices(sim)
    set_speeds(sim)
    conf = sim.config("openrouter", "routstr", "pinstripes")
    conf["models"] = {"flash": list(REFS.values())}
    conf["policy"] = policy
    conf["fallback"] = {"cooldown_seconds": 5}
    kwargs: dict[str, Any] = {} if aware else {"rate_limits": NoRateLimits()}
    router = Router.from_config(conf, **kwargs)
    messages = [{"role": "user", "content": PROMPT}]
    for ref in REFS.values():  # one measured answer each
        list(router.stream(model=ref, messages=messages, max_tokens=40))
    sim.set_rate_limit("pinstripes", requests=6, window=5.0)  # a fresh window

    lock = threading.Lock()
    ttfts: list[float] = []
    totals: list[float] = []
    cost = Decimal(0)
    served: dict[str, int] = {name: 0 for name in REFS}
    failures = 0

    def request(_: int) -> None:
        nonlocal cost, failures
        start = time.perf_counter()
        first = None
        try:
            for chunk in router.stream(model="flash", messages=messages, max_tokens=40):
                if first is None:
                    first = time.perf_counter()
                if chunk.usage is not None:
                    last = chunk
        except Exception:
            with lock:
                failures += 1
            return
        end = time.perf_counter()
        route = last.route
        with lock:
            if route is None or route.cost is None or route.chosen is None:
                failures += 1  # not a routed, priced answer: should not happen
                return
            ttfts.append((first or end) - start)
            totals.append(end - start)
            cost += route.cost
            served[NAMES[route.chosen]] += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(request, range(requests)))
    wall = time.perf_counter() - began
    if explain:  # the decision for one more request, as the run left the router
        print(router.explain(model="flash", messages=messages, max_tokens=40), file=sys.stderr)
    router.close()
    return {
        "cost": cost,
        "ttft_p50": percentile(ttfts, 0.5),
        "ttft_p90": percentile(ttfts, 0.9),
        "total_p50": percentile(totals, 0.5),
        "total_p90": percentile(totals, 0.9),
        "refused": sim.refused("pinstripes"),
        "served": served,
        "failures": failures,
        "wall": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60, help="requests per run")
    parser.add_argument("--workers", type=int, default=4, help="concurrent requests")
    parser.add_argument(
        "--explain", action="store_true", help="print explain after each aware run (stderr)"
    )
    args = parser.parse_args(argv)
    rows = []
    with Simulator() as sim:
        for label, policy in POLICIES.items():
            for aware in (True, False):
                result = one_run(
                    sim, policy, aware, args.requests, args.workers, args.explain and aware
                )
                rows.append((label, aware, result))
                print(f"done: {label}, rate-limit aware={aware}", file=sys.stderr)
    print(
        f"{args.requests} streamed requests per run, {args.workers} workers; answers from"
        " slow / fast / tight\n"
    )
    print(
        "| policy | rate-limit aware | billed $ | TTFT p50 | TTFT p90 | total p50 | total p90"
        " | 429s | slow / fast / tight | failed |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for label, aware, r in rows:
        served = " / ".join(str(r["served"][n]) for n in REFS)
        print(
            f"| {label} | {'yes' if aware else 'no'} | {r['cost']:.6f} |"
            f" {r['ttft_p50']:.2f} s | {r['ttft_p90']:.2f} s | {r['total_p50']:.2f} s |"
            f" {r['total_p90']:.2f} s | {r['refused']} | {served} | {r['failures']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
