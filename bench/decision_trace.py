"""A trace where no fixed rule wins: the best deployment differs between sessions and within them.

``bench/cache_trace.py`` sends every request to one deployment (the one with the cheapest
cache reads): it shows that caching pays, not that the router decides per request. This
trace is built so that no single rule is right everywhere. Five deployments of four
models at four providers, each with its own prefix-cache rule, in a group ``agent``
(USD per 1M tokens; the simulator caches each provider's prompts by the same rule the
router's ``cache:`` block states):

    deployment              in    out   cache   context  tools    cache: from, step, lifetime
    openrouter:agent-lite   0.25  1.00  -       131,072  no       -
    local:agent-small       0.30  1.20  0.15     32,768  no         256,  16, 5 min
    pinstripes:agent-mid    0.35  1.40  0.07    131,072  unknown  2,048, 256, 5 min
    openrouter:agent-large  0.60  2.40  0.06    200,000  yes      1,024, 128, 5 min
    routstr:agent-large     0.70  2.40  0.10    200,000  yes      4,096, 512, 1 hour
                        ->  0.45  2.40  0.045   (Routstr cuts its prices half-way through)

Sessions arrive over four simulated hours and overlap in time; each has its own system
prompt (no two sessions share a cached prefix, so a session's cost on a deployment
depends on that session alone and the per-session oracle below is exact). Four kinds:

- chat: no tools, a short system prompt, 4-12 turns (prompts from ~200 tokens to a few
  thousand, crossing the cache minimums as they grow);
- doc: no tools, one long document (~30k-80k tokens) and 3-8 questions about it: too
  long for ``local:agent-small``;
- agent: six tools (so only the two ``agent-large`` deployments qualify: tool support is
  not stated for pinstripes, and ``capabilities`` runs with ``unknown: exclude``), a tool
  loop of 8-30 steps whose results make the prompt grow fast; a quarter of them idle
  past 5 minutes once;
- assistant: no tools, a 2k-5k-token system prompt, 5-15 turns, half of them idle
  6-50 minutes (past a 5-minute lifetime, within an hour) and some 70-100 minutes.

Every answer is billed from the usage the simulator reports, at the prices that provider
charged at that moment (the router re-reads catalogs after ``catalog_ttl``, 5 minutes,
so it may rank with a stale price for a while; the bill never is). Strategies, all with
``capabilities`` (``unknown: exclude``) and ``context_fit`` first:

- list-price cheapest: ``cheapest`` on list prices;
- cheapest cache-read rate: always the eligible deployment with the lowest cache-read rate;
- pin-to-first: the first turn by list price, then the whole session pinned there;
- ours, this request only: ``cheapest`` with ``prefix_cache: true`` (``expected_reuse`` 0);
- ours: ``cheapest`` with ``prefix_cache: true`` and ``expected_reuse: auto`` (the
  later requests of a conversation, their growth and its pauses learned from the trace
  as it is replayed; ``--expected-reuse 3`` fixes the count);
- hindsight oracle: for each session, the best single deployment, found by replaying
  the whole trace pinned to each deployment (a session that deployment cannot serve
  counts as infinitely dear there).

    python bench/decision_trace.py [--sessions 48] [--seed 7] [--expected-reuse auto]
    python bench/decision_trace.py --seeds 7,1,2,3     # one summary line per seed

``--fixed-hit-rates`` is a diagnostic: ours keeps every deployment's cache hit rate at
the prior instead of learning it from reported usage.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router import NoRouteError, Router
from router.catalog import ModelCard
from router.hookspecs import RegisterPolicy, hookimpl
from router.planning.context import RoutingContext
from router.policy import Ranking
from router.state.prefix import MemoryPrefixes
from router.testing.simulator import CATALOGS, ROUTSTR_LIVE_CATALOG, Simulator
from router.types import ChatRequest

MTOK = Decimal(1_000_000)
HOUR = 3600.0
SPAN = 4 * HOUR
"""Sessions start uniformly over this many simulated seconds."""
CHANGE_AT = SPAN / 2
"""When Routstr's new prices take effect (its catalog serves them from then on)."""
CATALOG_TTL = 300.0
MAX_TOKENS = 200
EXPECTED_OUTPUT = 120


@dataclass(frozen=True)
class Deployment:
    provider: str
    """The provider's name in the config (the prefix of the ref)."""
    kind: str
    """The plugin kind, which is also the simulated provider it talks to."""
    model: str
    prompt: Decimal
    """USD per 1M tokens."""
    completion: Decimal
    cache_read: Decimal | None
    context: int
    tools: bool | None
    rule: dict[str, Any] | None
    """The provider's cache rule (``set_cache_rule`` and the YAML ``cache:`` block)."""
    after: tuple[Decimal, Decimal, Decimal | None] | None = None
    """(prompt, completion, cache read) from ``CHANGE_AT`` on."""

    @property
    def ref(self) -> str:
        return f"{self.provider}:{self.model}"

    def rates(self, t: float) -> tuple[Decimal, Decimal, Decimal | None]:
        """USD per token (prompt, completion, cache read) charged at simulated time ``t``."""
        prompt, completion, read = (
            self.after
            if self.after is not None and t >= CHANGE_AT
            else (self.prompt, self.completion, self.cache_read)
        )
        return prompt / MTOK, completion / MTOK, None if read is None else read / MTOK


D = Decimal
FIVE_MIN = {"min_tokens": 1024, "step": 128, "lifetime": 300.0}
DEPLOYMENTS: tuple[Deployment, ...] = (
    Deployment("openrouter", "openrouter", "agent-lite", D("0.25"), D("1.00"), None,
               131_072, False, None),
    Deployment("local", "openai", "agent-small", D("0.30"), D("1.20"), D("0.15"),
               32_768, False, {"min_tokens": 256, "step": 16, "lifetime": 300.0}),
    Deployment("pinstripes", "pinstripes", "agent-mid", D("0.35"), D("1.40"), D("0.07"),
               131_072, None, {"min_tokens": 2048, "step": 256, "lifetime": 300.0}),
    Deployment("openrouter", "openrouter", "agent-large", D("0.60"), D("2.40"), D("0.06"),
               200_000, True, FIVE_MIN),
    Deployment("routstr", "routstr", "agent-large", D("0.70"), D("2.40"), D("0.10"),
               200_000, True, {"min_tokens": 4096, "step": 512, "lifetime": HOUR},
               after=(D("0.45"), D("2.40"), D("0.045"))),
)  # fmt: skip
BY_REF = {d.ref: d for d in DEPLOYMENTS}
PROVIDERS = {d.provider: d for d in DEPLOYMENTS}  # one cache rule per provider


def _usd(rate: Decimal | None) -> str | None:
    return None if rate is None else f"{rate / MTOK:f}"


def catalogs(t: float) -> dict[str, Any]:
    """Every simulated provider's catalog payload at simulated time ``t``, in its own format."""
    out: dict[str, Any] = {}
    for d in DEPLOYMENTS:
        prompt, completion, read = (
            d.after
            if d.after is not None and t >= CHANGE_AT
            else (d.prompt, d.completion, d.cache_read)
        )
        if d.kind == "openrouter":
            payload = out.setdefault("openrouter", {"data": []})
            entry = copy.deepcopy(CATALOGS["openrouter"]["data"][0])  # type: ignore[index]
            entry.update(id=d.model, canonical_slug=d.model, name=d.model, context_length=d.context)
            entry["top_provider"]["context_length"] = d.context
            entry["pricing"] = {"prompt": _usd(prompt), "completion": _usd(completion)}
            if read is not None:
                entry["pricing"]["input_cache_read"] = _usd(read)
            params = ["max_tokens", "temperature"]
            entry["supported_parameters"] = ["tools", "tool_choice", *params] if d.tools else params
            payload["data"].append(entry)
        elif d.kind == "routstr":  # routstr-core's live shape: USD per token as numbers
            entry = copy.deepcopy(ROUTSTR_LIVE_CATALOG["data"][0])
            entry.update(id=d.model, name=d.model, context_length=d.context)
            entry["pricing"] = {
                **entry["pricing"],
                "prompt": float(prompt / MTOK),
                "completion": float(completion / MTOK),
                "input_cache_read": float((read or Decimal(0)) / MTOK),
            }
            entry["supported_parameters"] = ["tools", "tool_choice", "max_tokens"]
            out["routstr"] = {"data": [entry]}
        elif d.kind == "pinstripes":  # pinstripes states no tool support
            entry = copy.deepcopy(CATALOGS["pinstripes"]["data"][0])  # type: ignore[index]
            entry.update(id=d.model, context_length=d.context)
            entry["pricing"] = {
                "prompt": _usd(prompt),
                "completion": _usd(completion),
                "cached_tokens": _usd(read),
            }
            out["pinstripes"] = {"object": "list", "data": [entry]}
        else:  # a vLLM-like server: no prices in its catalog; the config states them
            entry = copy.deepcopy(CATALOGS["openai"]["data"][0])  # type: ignore[index]
            entry.update(id=d.model, root=d.model, max_model_len=d.context)
            out["openai"] = {"object": "list", "data": [entry]}
    return out


def provider_configs(sim: Simulator) -> list[dict[str, Any]]:
    """The ``providers:`` of the config: each states the cache rule its simulator applies."""
    configs = []
    for name, d in PROVIDERS.items():
        config: dict[str, Any] = {
            "name": name,
            "kind": d.kind,
            "base_url": sim.base_url(d.kind),
            "api_key": sim.api_key(d.kind),
            "catalog_ttl": CATALOG_TTL,
        }
        if d.rule is not None:
            config["cache"] = {"mode": "automatic", **d.rule}
        if d.kind == "openai":
            config["model_info"] = {
                d.model: {
                    "prompt_per_mtok": str(d.prompt),
                    "completion_per_mtok": str(d.completion),
                    "cache_read_per_mtok": str(d.cache_read),
                    "supports_tools": d.tools,
                }
            }
        configs.append(config)
    return configs


def setup_simulator(sim: Simulator) -> None:
    """Fresh caches, the first catalogs, and each provider's cache rule."""
    sim.reset()
    for provider, payload in catalogs(0.0).items():
        sim.set_catalog(provider, payload)
    for d in PROVIDERS.values():
        if d.rule is not None:
            sim.set_cache_rule(d.kind, all_models=d.kind == "openai", **d.rule)


# -- the "always the cheapest cache-read rate" rule, as a ranking policy ------------------


class CacheReadRate(Ranking):
    """Ranks by the cache-read rate alone (deployments without one last)."""

    def rank(
        self, request: ChatRequest, card: ModelCard, context: RoutingContext
    ) -> Decimal | None:
        if card.pricing is None:
            return None
        return card.pricing.rates_for(context.prompt_tokens(card)).cache_read


class _Plugin:
    @hookimpl
    def router_register_policies(self, register: RegisterPolicy) -> None:
        register("cache_read_rate", CacheReadRate)


PLUGIN = _Plugin()

# -- the workload ------------------------------------------------------------------------

WORDS = (
    "plan", "search", "read", "file", "patch", "test", "review", "deploy", "rollback", "query",
    "index", "cache", "table", "order", "invoice", "client", "region", "shard", "replica",
    "backup", "schema", "column", "report", "latency", "budget", "ledger", "batch", "queue",
    "token", "window", "answer", "summary", "detail", "clause", "section",
)  # fmt: skip


@dataclass
class Session:
    kind: str
    tools: list[dict[str, Any]] | None
    messages: list[dict[str, Any]]
    """The whole conversation, built ahead: answers do not depend on the deployment."""
    ends: list[int]
    """Request i sends ``messages[: ends[i]]``."""
    times: list[float]
    """Simulated time of request i."""


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _gaps(rng: random.Random, turns: int, chance: float, long_chance: float) -> dict[int, float]:
    """Idle gaps after some turns: 6-50 minutes (past 5 minutes, within the hour), or
    70-100 minutes (past both lifetimes)."""
    gaps: dict[int, float] = {}
    if turns > 2 and rng.random() < chance:
        gaps[rng.randrange(1, turns - 1)] = rng.uniform(6, 50) * 60
    if turns > 3 and rng.random() < long_chance:
        gaps[rng.randrange(1, turns - 1)] = rng.uniform(70, 100) * 60
    return gaps


def _session(rng: random.Random, number: int, kind: str, start: float) -> Session:
    head = f"Session {number}. "  # every session's prompt is its own
    tools: list[dict[str, Any]] | None = None
    if kind == "chat":
        system, turns, steps = head + _text(rng, 80, 400), rng.randint(4, 12), (20, 120)
        gaps = _gaps(rng, turns, 0.1, 0.0)
    elif kind == "doc":
        system = head + "Answer from this document.\n" + _text(rng, 17_000, 45_000)
        turns, steps = rng.randint(3, 8), (30, 150)
        gaps = _gaps(rng, turns, 0.2, 0.0)
    elif kind == "agent":
        system, turns, steps = head + _text(rng, 300, 1500), rng.randint(8, 30), (5, 40)
        gaps = _gaps(rng, turns, 0.25, 0.0)
        tools = [
            {
                "type": "function",
                "function": {
                    "name": f"tool_{number}_{t}",
                    "description": _text(rng, 60, 150),
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                },
            }
            for t in range(6)
        ]
    else:  # assistant
        system, turns, steps = head + _text(rng, 1200, 3000), rng.randint(5, 15), (30, 180)
        gaps = _gaps(rng, turns, 0.5, 0.15)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system},
        {"role": "user", "content": _text(rng, 15, 120)},
    ]
    ends, times, t = [], [], start
    for i in range(turns):
        if i:
            if tools is not None:  # the model called a tool; its result comes back
                call = f"call_{i}"
                messages.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": call,
                                "type": "function",
                                "function": {
                                    "name": tools[i % len(tools)]["function"]["name"],
                                    "arguments": json.dumps({"q": _text(rng, 3, 12)}),
                                },
                            }
                        ],
                    }
                )
                messages.append(
                    {"role": "tool", "tool_call_id": call, "content": _text(rng, 40, 1200)}
                )
            else:
                messages.append({"role": "assistant", "content": _text(rng, 20, 120)})
                messages.append({"role": "user", "content": _text(rng, 15, 120)})
            t += gaps.get(i - 1, rng.uniform(*steps))
        ends.append(len(messages))
        times.append(t)
    return Session(kind, tools, messages, ends, times)


KINDS = (("chat", 0.3), ("doc", 0.12), ("agent", 0.33), ("assistant", 0.25))


def workload(sessions: int, seed: int) -> list[Session]:
    rng = random.Random(seed)
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    return [
        _session(rng, n, rng.choices(kinds, weights)[0], rng.uniform(0, SPAN))
        for n in range(sessions)
    ]


# -- replaying ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def bill(ref: str, t: float, prompt: int, cached: int, completion: int) -> Decimal:
    """What ``ref``'s provider charges at time ``t`` for this usage (cached tokens at the
    cache-read rate)."""
    p, c, r = BY_REF[ref].rates(t)
    return (prompt - cached) * p + cached * (p if r is None else r) + completion * c


@dataclass
class Result:
    total: Decimal = Decimal(0)
    per_session: dict[int, Decimal] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    cached_tokens: int = 0
    prompt_tokens: int = 0
    router_total: Decimal = Decimal(0)
    """The sum of ``answer.route.cost``: the router's own bill, from the prices it holds."""
    mismatches: list[tuple[str, float]] = field(default_factory=list)
    """(ref, time) of answers the router priced differently from the provider's bill."""
    infeasible: set[int] = field(default_factory=set)
    """Sessions the strategy could not serve (only when pinned to one deployment)."""
    switches: int = 0
    """Requests served elsewhere than the session's previous request."""


def replay(
    sim: Simulator,
    trace: list[Session],
    policy: list[Any] | None = None,
    *,
    pin: bool = False,
    only: str | None = None,
    learn_hit_rates: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Replay ``trace`` (every session, interleaved in time) with fresh caches and router:
    through ``policy`` on the group, or all to the deployment ``only``.

    ``learn_hit_rates=False`` (a diagnostic) keeps every deployment's cache hit rate at
    the prior instead of learning it from reported usage."""
    setup_simulator(sim)
    clock = Clock()
    config = {
        "providers": provider_configs(sim),
        "models": {"agent": [d.ref for d in DEPLOYMENTS]},
        "policy": policy if policy is not None else POLICIES["list"],
    }
    events = sorted(
        (t, s, i) for s, session in enumerate(trace) for i, t in enumerate(session.times)
    )
    result = Result()
    targets: dict[int, str] = {}
    last: dict[int, str] = {}
    changed = False
    memory = MemoryPrefixes(timer=clock) if learn_hit_rates else _FixedHitRates(timer=clock)
    with Router.from_config(config, timer=clock, plugins=[PLUGIN], prefixes=memory) as router:
        for t, s, i in events:
            if s in result.infeasible:
                continue
            sim.advance(t - clock.now)
            clock.now = t
            if not changed and t >= CHANGE_AT:
                for provider, payload in catalogs(t).items():
                    sim.set_catalog(provider, payload)
                changed = True
            session = trace[s]
            target = only or targets.get(s, "agent")
            try:
                answer = router.complete(
                    model=target,
                    messages=session.messages[: session.ends[i]],
                    tools=session.tools,
                    max_tokens=MAX_TOKENS,
                )
            except NoRouteError:
                if only is None:
                    raise
                result.infeasible.add(s)
                continue
            ref = answer.route.chosen
            usage = answer.usage
            assert ref is not None
            assert usage is not None
            assert answer.route.cost is not None
            details = usage.prompt_tokens_details
            cached = (details.cached_tokens or 0) if details is not None else 0
            cost = bill(ref, t, usage.prompt_tokens, cached, usage.completion_tokens)
            result.total += cost
            result.per_session[s] = result.per_session.get(s, Decimal(0)) + cost
            result.served[ref] = result.served.get(ref, 0) + 1
            result.requests += 1
            result.prompt_tokens += usage.prompt_tokens
            result.cached_tokens += cached
            result.router_total += answer.route.cost
            if answer.route.cost != cost:
                result.mismatches.append((ref, t))
            if s in last and last[s] != ref:
                result.switches += 1
            last[s] = ref
            if pin:
                targets[s] = ref
    for s in result.infeasible:
        result.per_session.pop(s, None)
    if progress is not None:
        progress(f"  {only or 'policy'}: {result.requests} requests")
    return result


class _FixedHitRates(MemoryPrefixes):
    """A prefix memory whose hit rates stay at the prior (``--fixed-hit-rates``)."""

    def observe(self, ref: str, predicted: int, reported: int) -> None:
        return


def _filters() -> list[Any]:
    return [{"capabilities": {"unknown": "exclude"}}, "context_fit"]


POLICIES: dict[str, list[Any]] = {
    "list": [*_filters(), {"cheapest": {"expected_output_tokens": EXPECTED_OUTPUT}}],
    "cache_read": [*_filters(), {"cache_read_rate": {}}],
    "greedy": [
        *_filters(),
        {"cheapest": {"expected_output_tokens": EXPECTED_OUTPUT, "prefix_cache": True}},
    ],
}


def ours(expected_reuse: str) -> list[Any]:
    return [
        *_filters(),
        {
            "cheapest": {
                "expected_output_tokens": EXPECTED_OUTPUT,
                "prefix_cache": True,
                "expected_reuse": expected_reuse,
            }
        },
    ]


@dataclass
class Report:
    strategies: dict[str, Result]
    pinned: dict[str, Result]
    """Per deployment: the trace with every request sent there."""
    oracle: dict[int, tuple[Decimal, str]]
    """Per session: the cheapest single deployment and its cost."""
    ours: str
    """The name of ours in ``strategies``."""

    @property
    def oracle_total(self) -> Decimal:
        return sum((cost for cost, _ in self.oracle.values()), Decimal(0))

    @property
    def best_fixed(self) -> Decimal:
        """The cheapest of the fixed rules (every strategy but ours)."""
        return min(r.total for n, r in self.strategies.items() if not n.startswith("ours"))


def run(
    sessions: int,
    seed: int,
    expected_reuse: str,
    progress: Callable[[str], None] | None = None,
    *,
    learn_hit_rates: bool = True,
) -> tuple[list[Session], Report]:
    trace = workload(sessions, seed)
    ours_name = f"ours (prefix_cache, expected_reuse {expected_reuse})"
    with Simulator() as sim:
        strategies = {
            "list-price cheapest": replay(sim, trace, POLICIES["list"], progress=progress),
            "cheapest cache-read rate": replay(
                sim, trace, POLICIES["cache_read"], progress=progress
            ),
            "pin-to-first (list price)": replay(
                sim, trace, POLICIES["list"], pin=True, progress=progress
            ),
            "ours, this request only (expected_reuse 0)": replay(
                sim, trace, POLICIES["greedy"], learn_hit_rates=learn_hit_rates, progress=progress
            ),
            ours_name: replay(
                sim, trace, ours(expected_reuse), learn_hit_rates=learn_hit_rates, progress=progress
            ),
        }
        pinned = {d.ref: replay(sim, trace, only=d.ref, progress=progress) for d in DEPLOYMENTS}
    oracle: dict[int, tuple[Decimal, str]] = {}
    for s in range(len(trace)):
        options = [(r.per_session[s], ref) for ref, r in pinned.items() if s in r.per_session]
        oracle[s] = min(options)
    return trace, Report(strategies, pinned, oracle, ours_name)


def _pct(value: Decimal, base: Decimal) -> str:
    return f"{(value / base - 1) * 100:+.1f}%"


SHORT = {"openrouter": "or", "local": "lo", "pinstripes": "ps", "routstr": "rs"}


def _short(ref: str) -> str:
    """``or:large`` for ``openrouter:agent-large``."""
    provider, model = ref.split(":", 1)
    return f"{SHORT.get(provider, provider)}:{model.removeprefix('agent-')}"


def render(trace: list[Session], report: Report, elapsed: float) -> str:
    oracle = report.oracle_total
    requests = sum(len(s.times) for s in trace)
    counts = {k: sum(1 for s in trace if s.kind == k) for k, _ in KINDS}
    lines = [
        f"{len(trace)} sessions ({', '.join(f'{n} {k}' for k, n in counts.items())}),"
        f" {requests} requests over {SPAN / HOUR:g} simulated hours, 5 deployments;"
        f" replayed in {elapsed:.0f} s",
        "",
        "| strategy | billed USD | vs ours | vs oracle | cached share of prompt"
        " | switches | requests per deployment |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    ours_total = report.strategies[report.ours].total
    for name, r in report.strategies.items():
        split = ", ".join(f"{_short(p)} {n}" for p, n in sorted(r.served.items()))
        share = r.cached_tokens / r.prompt_tokens if r.prompt_tokens else 0.0
        lines.append(
            f"| {name} | {r.total:.4f} | {_pct(r.total, ours_total)} | {_pct(r.total, oracle)}"
            f" | {share:.0%} | {r.switches} | {split} |"
        )
    picks: dict[str, int] = {}
    for _, ref in report.oracle.values():
        picks[ref] = picks.get(ref, 0) + 1
    split = ", ".join(f"{_short(p)} {n} sessions" for p, n in sorted(picks.items()))
    lines.append(
        f"| hindsight oracle (best single deployment per session) | {oracle:.4f} |"
        f" {_pct(oracle, ours_total)} | 0.0% | | | {split} |"
    )
    lines += [
        "",
        "Per kind of session (billed USD):",
        "",
        "| kind | sessions | requests | "
        + " | ".join(_label(n) for n in report.strategies)
        + " | oracle |",
        "|---|---:|---:|" + "---:|" * (len(report.strategies) + 1),
    ]
    for kind, _ in KINDS:
        members = [s for s, session in enumerate(trace) if session.kind == kind]
        if not members:
            continue
        cells = [
            f"{sum((r.per_session[s] for s in members), Decimal(0)):.4f}"
            for r in report.strategies.values()
        ]
        best = sum((report.oracle[s][0] for s in members), Decimal(0))
        n = sum(len(trace[s].times) for s in members)
        lines.append(f"| {kind} | {len(members)} | {n} | " + " | ".join(cells) + f" | {best:.4f} |")
    answers = sum(r.requests for r in report.strategies.values())
    mismatches = [m for r in report.strategies.values() for m in r.mismatches]
    stale = [
        (ref, t)
        for ref, t in mismatches
        if BY_REF[ref].after is not None and CHANGE_AT <= t < CHANGE_AT + CATALOG_TTL
    ]
    lines += [
        "",
        f"Billed from reported usage at the prices in force. The router's own figure"
        f" (route.cost) agrees on {answers - len(mismatches)} of {answers} answers;"
        f" {len(stale)} differ because they were priced from a catalog read before the"
        f" price change (within catalog_ttl of it), {len(mismatches) - len(stale)} otherwise.",
    ]
    best_fixed = report.best_fixed
    beats = ours_total < best_fixed
    within = ours_total <= oracle * Decimal("1.05")
    lines += [
        "",
        f"ours vs the best fixed rule: {_pct(ours_total, best_fixed)}"
        f" ({'beats every fixed rule' if beats else 'does NOT beat every fixed rule'});"
        f" ours vs the oracle: {_pct(ours_total, oracle)}"
        f" ({'within' if within else 'NOT within'} 5%)",
    ]
    return "\n".join(lines)


def _label(name: str) -> str:
    """A column heading for strategy ``name``."""
    if name.startswith("ours, this request only"):
        return "ours, reuse 0"
    return name.split(" (")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=48)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--expected-reuse", default="auto", help="auto, or a number")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument(
        "--fixed-hit-rates",
        action="store_true",
        help="diagnostic: ours keeps every cache hit rate at the prior instead of learning it",
    )
    parser.add_argument(
        "--seeds",
        type=lambda text: [int(seed) for seed in text.split(",")],
        help="e.g. 7,1,2,3: one summary line per seed instead of the tables",
    )
    args = parser.parse_args()
    started = time.perf_counter()

    def progress(line: str) -> None:
        print(f"{time.perf_counter() - started:6.1f} s {line}", file=sys.stderr)

    summary = [
        "| seed | requests | oracle USD | ours USD | ours vs oracle | best fixed rule"
        " vs oracle | ours vs the best fixed rule |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for seed in args.seeds or [args.seed]:
        trace, report = run(
            args.sessions,
            seed,
            args.expected_reuse,
            None if args.quiet else progress,
            learn_hit_rates=not args.fixed_hit_rates,
        )
        if not args.seeds:
            print(render(trace, report, time.perf_counter() - started))
            return
        ours_total, oracle = report.strategies[report.ours].total, report.oracle_total
        summary.append(
            f"| {seed} | {sum(len(s.times) for s in trace)} | {oracle:.4f} | {ours_total:.4f}"
            f" | {_pct(ours_total, oracle)} | {_pct(report.best_fixed, oracle)}"
            f" | {_pct(ours_total, report.best_fixed)} |"
        )
    print(
        f"{args.sessions} sessions per seed, expected_reuse {args.expected_reuse}; replayed"
        f" in {time.perf_counter() - started:.0f} s\n"
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
