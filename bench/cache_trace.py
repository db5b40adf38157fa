"""Prefix-cache savings in dollars: a multi-turn agent trace replayed four ways.

Several agents, each with a long system prompt and tool definitions, run many sessions
of 5-20 turns; some sessions sit idle past the cache lifetime mid-way. The trace is
replayed through the provider simulator (which caches prefixes the way the providers
do: automatic, from 1,024 tokens, 128-token steps, 5-minute lifetime) over three
deployments of one model whose list prices and cache prices disagree:

    routstr     $0.50/1M in, no prefix cache         (cheapest on the list)
    pinstripes  $0.52/1M in, cache reads $0.45/1M    (a weak cache discount)
    openrouter  $0.60/1M in, cache reads $0.06/1M    (the priciest list, the best cache)

and billed from the usage each answer reports. Strategies:

- list-price: the ``cheapest`` policy on list prices alone;
- pin-to-cached: the first turn by list price, then every turn pinned to that
  deployment (how LiteLLM keeps a cached prompt on its deployment);
- ours, greedy: ``cheapest`` with ``prefix_cache: true``, deciding on each request alone;
- ours: the same with ``expected_reuse`` (later turns' savings count when choosing);
- oracle: for each session, the best single deployment, found by replaying the session
  on each one.

    python bench/cache_trace.py [--sessions 60] [--seed 7]

With ``--processes N`` it measures instead what a fleet loses or keeps: the same trace
under ``ours`` with each session's turns dealt round-robin over N router processes
(``bench/fleet.py``), billed for 1 process, N processes each with its own ``memory``
state, and N processes sharing their state on a private ``redis-server`` (started on a
free loopback port, no persistence):

    python bench/cache_trace.py --processes 4
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from router import Router
from router.testing.simulator import CATALOGS, ROUTSTR_LIVE_CATALOG, Simulator

MODEL = "agent-model"
DEPLOYMENTS = {
    "routstr": f"routstr:{MODEL}",
    "pinstripes": f"pinstripes:{MODEL}",
    "openrouter": f"openrouter:{MODEL}",
}
LIFETIME = 300.0


def catalogs() -> dict[str, Any]:
    """One model at three providers, in each provider's own catalog format and unit."""
    routstr_pricing = ROUTSTR_LIVE_CATALOG["data"][0]["pricing"]
    return {
        "pinstripes": _one_model(
            CATALOGS["pinstripes"],
            {"prompt": "0.00000052", "completion": "0.000002", "cached_tokens": "0.00000045"},
        ),
        "openrouter": _one_model(
            CATALOGS["openrouter"],
            {"prompt": "0.0000006", "completion": "0.000002", "input_cache_read": "0.00000006"},
        ),
        "routstr": _one_model(
            ROUTSTR_LIVE_CATALOG,
            {**routstr_pricing, "prompt": 5e-7, "completion": 2e-6, "input_cache_read": 0.0},
        ),
    }


def _one_model(catalog: Any, pricing: dict[str, Any]) -> dict[str, Any]:
    """``catalog`` with only its first entry, renamed ``MODEL`` and priced ``pricing``."""
    entry = copy.deepcopy(catalog["data"][0])
    entry.update(id=MODEL, context_length=200_000, pricing=copy.deepcopy(pricing))
    return {**copy.deepcopy(catalog), "data": [entry]}


@dataclass
class Session:
    agent: int
    turns: list[str]
    idle_after: int | None
    """Turn index after which the session idles past the cache lifetime."""


def workload(sessions: int, seed: int) -> tuple[list[dict[str, Any]], list[Session]]:
    rng = random.Random(seed)
    words = [
        "plan",
        "search",
        "read",
        "file",
        "patch",
        "test",
        "review",
        "deploy",
        "rollback",
        "query",
        "index",
        "cache",
    ]
    agents = []
    for a in range(4):
        system = f"You are agent {a}. " + " ".join(
            rng.choice(words) for _ in range(rng.randint(3000, 6000))
        )
        tools = [
            {
                "type": "function",
                "function": {
                    "name": f"tool_{a}_{t}",
                    "description": " ".join(rng.choice(words) for _ in range(120)),
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
            for t in range(6)
        ]
        agents.append({"system": system, "tools": tools})
    plan = []
    for _ in range(sessions):
        turns = [
            " ".join(rng.choice(words) for _ in range(rng.randint(30, 200)))
            for _ in range(rng.randint(5, 20))
        ]
        idle = rng.randrange(1, len(turns)) if rng.random() < 0.25 else None
        plan.append(Session(rng.randrange(len(agents)), turns, idle))
    return agents, plan


def cheapest(
    *, prefix_cache: bool = False, expected_reuse: float | None = None
) -> list[dict[str, Any]]:
    """A policy chain of one ``cheapest`` (100 output tokens expected)."""
    options: dict[str, Any] = {"expected_output_tokens": 100}
    if prefix_cache:
        options["prefix_cache"] = True
    if expected_reuse is not None:
        options["expected_reuse"] = expected_reuse
    return [{"cheapest": options}]


def fresh(sim: Simulator, policy: list[Any]) -> dict[str, Any]:
    """The simulator reset (the catalogs, caches that live ``LIFETIME`` s) and a config
    routing ``agent`` over ``DEPLOYMENTS`` with ``policy``."""
    sim.reset()
    for provider, payload in catalogs().items():
        sim.set_catalog(provider, payload)
        sim.set_cache_rule(provider, lifetime=LIFETIME)
    providers = [
        {"name": p, "kind": p, "base_url": sim.base_url(p), "api_key": sim.api_key(p)}
        for p in DEPLOYMENTS
    ]
    return {
        "providers": providers,
        "models": {"agent": list(DEPLOYMENTS.values())},
        "policy": policy,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def replay(
    sim: Simulator,
    agents: list[dict[str, Any]],
    sessions: list[Session],
    policy: list[Any],
    *,
    pin: bool = False,
    only: str | None = None,
) -> tuple[Decimal, dict[str, int]]:
    """Total billed USD for ``sessions`` under ``policy``; fresh caches and router."""
    config = fresh(sim, policy)
    clock = Clock()
    total = Decimal(0)
    served: dict[str, int] = {}
    with Router.from_config(config, timer=clock) as router:
        for session in sessions:
            agent = agents[session.agent]
            history: list[dict[str, Any]] = [{"role": "system", "content": agent["system"]}]
            target = only or "agent"
            for i, text in enumerate(session.turns):
                history.append({"role": "user", "content": text})
                answer = router.complete(
                    model=target, messages=history, tools=agent["tools"], max_tokens=200
                )
                total += answer.route.cost
                served[answer.provider] = served.get(answer.provider, 0) + 1
                if pin:
                    target = answer.route.chosen
                message = answer.choices[0].message
                history.append(
                    {"role": "assistant", "content": message.content or "calling a tool"}
                )
                step = 20.0 if session.idle_after != i else LIFETIME + 60
                clock.now += step
                sim.advance(step)
    return total, served


def replay_fleet(
    sim: Simulator,
    agents: list[dict[str, Any]],
    sessions: list[Session],
    policy: list[Any],
    processes: int,
    state: dict[str, Any] | None = None,
    *,
    failover: bool = False,
) -> tuple[Decimal, dict[str, int], float]:
    """Billed USD, requests per provider and seconds for ``sessions`` replayed over
    ``processes`` router processes (turn ``i`` of session ``s`` to process
    ``(s + i) % processes``); fresh caches and routers. ``failover``: routstr and
    pinstripes answer 503 during the first turn of every other session, so that it
    lands on openrouter (where its cache is then warm)."""
    from fleet import Fleet

    config = fresh(sim, policy)
    if state is not None:
        config["state"] = state
    shared = state is not None and state.get("backend") == "redis"
    now = 0.0
    total = Decimal(0)
    served: dict[str, int] = {}
    with Fleet(config, processes) as fleet:
        started = time.perf_counter()
        for s, session in enumerate(sessions):
            agent = agents[session.agent]
            history: list[dict[str, Any]] = [{"role": "system", "content": agent["system"]}]
            for i, text in enumerate(session.turns):
                history.append({"role": "user", "content": text})
                request = {
                    "model": "agent",
                    "messages": history,
                    "tools": agent["tools"],
                    "max_tokens": 200,
                }
                down = failover and i == 0 and s % 2 == 0
                for provider in ("routstr", "pinstripes") if down else ():
                    sim.set_down(provider, True)
                answer = fleet.complete((s + i) % processes, request, now=now, sync=shared)
                for provider in ("routstr", "pinstripes") if down else ():
                    sim.set_down(provider, False)
                total += Decimal(answer["cost"])
                served[answer["provider"]] = served.get(answer["provider"], 0) + 1
                history.append(
                    {"role": "assistant", "content": answer["content"] or "calling a tool"}
                )
                step = 20.0 if session.idle_after != i else LIFETIME + 60
                now += step
                sim.advance(step)
        elapsed = time.perf_counter() - started
    return total, served, elapsed


def main_fleet(args: argparse.Namespace) -> None:
    from router.testing.redis_server import RedisServer, find_redis_server

    binary = find_redis_server()
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    agents, sessions = workload(args.sessions, args.seed)
    turns = sum(len(s.turns) for s in sessions)
    ours = cheapest(prefix_cache=True, expected_reuse=args.expected_reuse)
    greedy = cheapest(prefix_cache=True)
    n = args.processes
    rows: dict[tuple[str, str], tuple[Decimal, dict[str, int], float]] = {}
    with Simulator() as sim, RedisServer(binary) as redis_server:
        for label, policy, failover in (
            (f"ours (expected_reuse {args.expected_reuse:g})", ours, False),
            ("ours, this request only; first turns fail over to openrouter", greedy, True),
        ):
            redis_state = {
                "backend": "redis",
                "url": redis_server.url,
                "key_prefix": f"bench{len(rows)}:",
            }
            rows[label, "1 process"] = replay_fleet(
                sim, agents, sessions, policy, 1, failover=failover
            )
            rows[label, f"{n} processes, state: memory (each its own)"] = replay_fleet(
                sim, agents, sessions, policy, n, failover=failover
            )
            rows[label, f"{n} processes, state: redis (shared)"] = replay_fleet(
                sim, agents, sessions, policy, n, redis_state, failover=failover
            )
    print(
        f"{len(sessions)} sessions, {turns} requests, 4 agents; each session's turns dealt"
        " round-robin over the processes\n"
    )
    print("| policy | routers | billed USD | vs 1 process | requests per deployment | replay s |")
    print("|---|---|---:|---:|---|---:|")
    for (label, name), (total, served, seconds) in rows.items():
        base = rows[label, "1 process"][0]
        split = ", ".join(f"{p} {k}" for p, k in sorted(served.items()))
        print(
            f"| {label} | {name} | {total:.4f} | {(total / base - 1) * 100:+.2f}% | {split} |"
            f" {seconds:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--expected-reuse", type=float, default=3.0)
    parser.add_argument(
        "--processes", type=int, default=0, help="compare 1 process with N (memory, redis)"
    )
    args = parser.parse_args()
    if args.processes:
        main_fleet(args)
        return
    agents, sessions = workload(args.sessions, args.seed)
    turns = sum(len(s.turns) for s in sessions)
    started = time.perf_counter()
    list_price = cheapest()
    ours = cheapest(prefix_cache=True, expected_reuse=args.expected_reuse)
    greedy = cheapest(prefix_cache=True)
    with Simulator() as sim:
        results = {
            "list-price cheapest": replay(sim, agents, sessions, list_price),
            "pin-to-cached": replay(sim, agents, sessions, list_price, pin=True),
            "ours, this request only (expected_reuse 0)": replay(sim, agents, sessions, greedy),
            f"ours (prefix_cache, expected_reuse {args.expected_reuse:g})": replay(
                sim, agents, sessions, ours
            ),
        }
        oracle = Decimal(0)
        for session in sessions:
            oracle += min(
                replay(sim, agents, [session], list_price, only=ref)[0]
                for ref in DEPLOYMENTS.values()
            )
    elapsed = time.perf_counter() - started
    base = results["list-price cheapest"][0]
    print(f"{len(sessions)} sessions, {turns} requests, 4 agents; replayed in {elapsed:.0f} s\n")
    print("| strategy | billed USD | vs list-price | vs oracle | requests per deployment |")
    print("|---|---:|---:|---:|---|")
    for name, (total, served) in results.items():
        split = ", ".join(f"{p} {n}" for p, n in sorted(served.items()))
        print(
            f"| {name} | {total:.4f} | {(total / base - 1) * 100:+.1f}% |"
            f" {(total / oracle - 1) * 100:+.1f}% | {split} |"
        )
    print(
        f"| hindsight oracle (best single deployment per session) | {oracle:.4f} |"
        f" {(oracle / base - 1) * 100:+.1f}% | 0.0% | |"
    )


if __name__ == "__main__":
    main()
