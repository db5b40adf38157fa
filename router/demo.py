"""``router demo``: the router at work on a mixed workload, offline, in a few seconds.

Starts the built-in provider simulator (:mod:`router.testing.simulator`) on 127.0.0.1,
points a router at five simulated providers (pinstripes, PipeLLM, Majestix's inference-api,
Routstr, OpenRouter), and sends a short mixed workload with ``model="auto"``: a plain question,
a tool-calling turn, an image, a ~300k-token document, a six-turn conversation over a
long system prompt (the prefix cache warms up), and an outage of the provider of the
cheapest deployment. For each request it prints who answered and why: the top
candidates with their expected cost, the notable exclusions, failed attempts, cached
tokens and the exact cost.

Then it replays the same requests twice, each on a fresh simulator, to bill two
baselines: every request sent to one flagship model that can serve them all, and
routing by list price alone (``cheapest`` without ``prefix_cache``). The last table
compares the dollars: every figure is billed from the usage the answers reported, as
an exact ``Decimal``.

The workload is data (:func:`workload`); one runner (:func:`run_workload`) sends it for
every strategy. No key, no network: the simulator's keys never reach the output.

Longer than most modules (~900 lines): the workload, its narration and the baselines'
replay are one script read top to bottom; none of it is on the request path.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from router.catalog import ModelCard
from router.core import Router
from router.errors import RouterError
from router.planning.route import Estimate, Route
from router.testing.simulator import Simulator
from router.types import ChatRequest

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "FLAGSHIP",
    "LIST_PRICE",
    "ROUTER",
    "SAME_MODEL",
    "Run",
    "Sent",
    "SharedClock",
    "Step",
    "Strategy",
    "Turn",
    "router_config",
    "run_demo",
    "run_workload",
    "workload",
]

PROVIDERS: tuple[str, ...] = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter")
"""The simulated providers the demo routes over (the four seed providers and OpenRouter)."""

FLAGSHIP = "openrouter:anthropic/claude-sonnet-4.6"
"""The "always the same model" baseline: tools, vision and a 1M context serve every step."""

MAX_TOKENS = 300
"""``max_tokens`` of every request in the workload."""

_TINY_PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

# -- the workload, as data ------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One request of a step."""

    label: str
    """What the demo prints for this request."""
    content: str | list[dict[str, Any]] = ""
    """The user message: text, or content parts (an ``image_url``)."""
    tool_result: str | None = None
    """Answer the previous assistant tool call with this result instead of a user message."""
    wait: float = 5.0
    """Simulated seconds that pass before this request (router and simulator clocks)."""
    outage: bool | None = None
    """True: the outage starts before this request; False: it ends before it."""


@dataclass(frozen=True)
class Step:
    """One part of the workload: a few requests that show one thing."""

    key: str
    """A short stable name (``chat``, ``tools``, ``vision``, ``long-context``, ...)."""
    title: str
    turns: tuple[Turn, ...]
    system: str | None = None
    tools: tuple[dict[str, Any], ...] = ()
    conversation: bool = True
    """True: the turns build one conversation; False: each turn is a request of its own."""


def _words(rng: random.Random, vocabulary: Sequence[str], count: int) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(count))


_VOCABULARY = (
    "latency", "throughput", "cache", "region", "replica", "budget", "invoice", "token",
    "request", "provider", "fallback", "timeout", "deploy", "rollback", "incident", "review",
    "customer", "refund", "order", "shipment", "policy", "escalate", "ticket", "priority",
)  # fmt: skip


def system_prompt(rng: random.Random, tokens: int = 4_000) -> str:
    """A support agent's long system prompt of about ``tokens`` tokens (4 characters each)."""
    head = "You are the support agent of Acme Logistics. Follow these rules exactly.\n"
    rules: list[str] = []
    size = len(head)
    while size < tokens * 4:
        rule = f"Rule {len(rules) + 1}: {_words(rng, _VOCABULARY, 14)}.\n"
        rules.append(rule)
        size += len(rule)
    return head + "".join(rules)


def long_document(rng: random.Random, tokens: int = 300_000) -> str:
    """A report of about ``tokens`` tokens: one generated paragraph, numbered and repeated."""
    paragraph = _words(rng, _VOCABULARY, 150) + "."
    sections: list[str] = []
    size = 0
    while size < tokens * 4:
        section = f"Section {len(sections) + 1}. {paragraph}\n"
        sections.append(section)
        size += len(section)
    return "".join(sections)


WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "the city"}},
            "required": ["query"],
        },
    },
}


def workload(seed: int = 7) -> tuple[Step, ...]:
    """The demo's requests: six steps, the generated texts drawn from ``seed``."""
    rng = random.Random(seed)
    system = system_prompt(rng)
    document = long_document(rng)
    conversation = (
        "My order 4417 has not arrived. Where is it?",
        "It says delivered, but nothing is at my door.",
        "Can you check with the carrier?",
        "How long will the investigation take?",
        "Can I get a refund instead?",
        "Thanks. Please send me the ticket number.",
    )
    questions = (
        "Quick one: what does HTTP 503 mean?",
        "And HTTP 429?",
        "What is a Retry-After header?",
        "What is exponential backoff?",
        "What is a circuit breaker?",
    )
    return (
        Step(
            "chat",
            "plain chat: a short question",
            (Turn("In one sentence: why send each request to a different model?",
                  "In one sentence: why send each request to a different model?"),),
        ),
        Step(
            "tools",
            "tool calling: tools offered, so only deployments that can call them",
            (
                Turn("What is the weather in Lisbon right now?",
                     "What is the weather in Lisbon right now?"),
                Turn("(the tool's result goes back)",
                     tool_result="Lisbon: 21 C, clear sky, wind 12 km/h"),
            ),
            tools=(WEATHER_TOOL,),
        ),
        Step(
            "vision",
            "vision: an image part, so only deployments that see images",
            (
                Turn(
                    "What is in this picture? [image_url: a 1x1 PNG]",
                    [
                        {"type": "text", "text": "What is in this picture?"},
                        {"type": "image_url", "image_url": {"url": _TINY_PNG}},
                    ],
                ),
            ),
        ),
        Step(
            "long-context",
            f"long context: a ~{len(document) // 4 // 1000}k-token report, then a follow-up",
            (
                Turn(
                    f"Which sections mention rollbacks? [+ the report, {len(document):,} chars]",
                    "Which sections mention rollbacks? The report follows.\n\n" + document,
                ),
                Turn("And which ones mention latency?", "And which ones mention latency?",
                     wait=30.0),
            ),
        ),
        Step(
            "conversation",
            f"multi-turn: {len(conversation)} turns over a ~{len(system) // 4:,}-token"
            " system prompt (the prefix cache warms up)",
            tuple(Turn(text, text, wait=20.0) for text in conversation),
            system=system,
        ),
        Step(
            "outage",
            "an outage: the provider of the cheapest deployment goes down, then comes back",
            (
                Turn(questions[0], questions[0], outage=True),
                Turn(questions[1], questions[1]),
                Turn(questions[2], questions[2]),
                Turn(questions[3], questions[3]),
                Turn(questions[4], questions[4], wait=35.0, outage=False),
            ),
            conversation=False,
        ),
    )  # fmt: skip


# -- strategies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """How a run routes: the ``model`` every request asks for and the policy chain."""

    name: str
    model: str
    policy: tuple[str | dict[str, Any], ...]


ROUTER = Strategy(
    "router",
    "auto",
    ("capabilities", "context_fit", {"cheapest": {"prefix_cache": True, "expected_reuse": 2}}),
)
"""The router as the demo shows it: prefix-cache savings priced into routing."""

SAME_MODEL = Strategy(f"always {FLAGSHIP.partition(':')[2]}", FLAGSHIP, ROUTER.policy)
"""Baseline (a): every request to one flagship deployment."""

LIST_PRICE = Strategy("list-price routing", "auto", ("capabilities", "context_fit", "cheapest"))
"""Baseline (b): the cheapest deployment by list price, caches not counted."""


def router_config(sim: Simulator, policy: Sequence[str | dict[str, Any]]) -> dict[str, Any]:
    """A router configuration over :data:`PROVIDERS` on ``sim``, with ``policy``; fallback
    at its defaults."""
    return {
        "providers": [
            {
                "name": name,
                "kind": name,
                "base_url": sim.base_url(name),
                "api_key": sim.api_key(name),
            }
            for name in PROVIDERS
        ],
        "policy": copy.deepcopy(list(policy)),
    }


class SharedClock:
    """The router's clock, moved together with the simulator's: cache lifetimes and
    cooldowns pass without anyone sleeping."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self.now += seconds
        self._sim.advance(seconds)


# -- running --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request of a run and what came of it."""

    step: Step
    index: int
    """The turn's position in its step."""
    route: Route
    card: ModelCard
    """The deployment that answered."""
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost: Decimal
    answer: str
    """The answer's text, or the tool call it made."""
    ranked: Mapping[str, Decimal] = field(default_factory=dict)
    """Per deployment, the figure a look-ahead ``cheapest`` policy (``expected_reuse``)
    ranked it by, where that differs from this request's estimated cost."""
    reuse: Decimal = Decimal(0)
    """The ``expected_reuse`` of that policy (0: it decides on this request alone)."""
    event: str | None = None
    """What happened to a provider just before this request."""
    cooling: tuple[tuple[str, float], ...] = ()
    """Deployments that failed in this request and now cool down, with seconds left."""
    cooldown_after: int = 3
    """Consecutive failures that make a deployment cool down (``fallback.cooldown_after``)."""

    @property
    def turn(self) -> Turn:
        return self.step.turns[self.index]


@dataclass
class Run:
    """A whole workload sent under one strategy."""

    strategy: Strategy
    sent: list[Sent] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    """Every wait the fallback asked for (recorded, never slept)."""
    outage_provider: str | None = None
    deployments: int = 0
    """Chat deployments in the merged catalog."""
    skipped: list[str] = field(default_factory=list)
    """Catalog entries the providers' plugins could not read, and why."""
    simulated_seconds: float = 0.0

    @property
    def total(self) -> Decimal:
        """USD billed for the whole run (the sum of every ``route.cost``)."""
        return sum((s.cost for s in self.sent), Decimal(0))

    def step_cost(self, key: str) -> Decimal:
        """USD billed for the requests of step ``key``."""
        return sum((s.cost for s in self.sent if s.step.key == key), Decimal(0))


def _last_tool_call(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        calls = message.get("tool_calls")
        if message.get("role") == "assistant" and calls:
            return str(calls[0].get("id") or "call_0")
    msg = "a tool result needs an assistant tool call before it"
    raise ValueError(msg)


def _messages(step: Step, turn: Turn, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request's messages: the conversation so far (or the system prompt), then this turn."""
    if step.conversation and history:
        messages = list(history)
    else:
        messages = [{"role": "system", "content": step.system}] if step.system else []
    if turn.tool_result is not None:
        call = _last_tool_call(messages)
        messages.append({"role": "tool", "tool_call_id": call, "content": turn.tool_result})
    else:
        messages.append({"role": "user", "content": turn.content})
    return messages


def _look_ahead(router: Router) -> Any | None:
    """The policy that ranks with ``expected_reuse`` (a look-ahead ``cheapest``), if any."""
    for _, policy in router.policies:
        prefix_cache: object = getattr(policy, "prefix_cache", False)
        reuse: object = getattr(policy, "expected_reuse", 0)
        if prefix_cache is True and isinstance(reuse, int | Decimal) and reuse > 0:
            return policy
    return None


def _ranking(router: Router, request: Mapping[str, Any]) -> dict[str, Decimal]:
    """The figure the look-ahead policy ranks each chat deployment by, for ``request``.

    Asked of the policy itself before the request is sent, from the same memory the router
    ranks with, so the printed "why" is the policy's own arithmetic.
    """
    policy = _look_ahead(router)
    if policy is None:
        return {}
    req = ChatRequest.model_validate(request)
    context = router.planner.context(req)
    output = policy.output_tokens(req, context)
    figures: dict[str, Decimal] = {}
    for name in router.providers:
        for card in router.catalog(name).models:
            if (
                card.kind == "chat"
                and (figure := policy.cost(req, card, output, context)) is not None
            ):
                figures[card.ref] = figure
    return figures


def _answer_text(reply: Any) -> str:
    message = reply.choices[0].message
    if message.tool_calls:
        call = message.tool_calls[0].function
        return f"calls {call.name}({call.arguments})"
    return str(message.content or "")


def _assistant(reply: Any) -> dict[str, Any]:
    message = reply.choices[0].message
    turn: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        turn["tool_calls"] = [call.model_dump(exclude_none=True) for call in message.tool_calls]
    return turn


def run_workload(
    strategy: Strategy,
    steps: Sequence[Step],
    *,
    outage_provider: str | None = None,
    on_start: Callable[[Run], None] | None = None,
    on_sent: Callable[[Sent], None] | None = None,
) -> Run:
    """Send ``steps`` under ``strategy`` on a fresh simulator. ``on_start`` sees the run
    once the catalogs are read, ``on_sent`` each request once answered.

    The outage takes down ``outage_provider``, or, when None, the provider of the
    cheapest deployment for the request it starts before (as ``explain`` ranks it).
    Raises the router's errors (``NoRouteError``, ``AllProvidersFailed``, ...).
    """
    run = Run(strategy)
    with Simulator() as sim:
        clock = SharedClock(sim)
        config = router_config(sim, strategy.policy)
        with Router.from_config(
            config, timer=clock, sleep=run.waits.append, entry_points=False
        ) as router:
            cards = {card.ref: card for card in router.models()}
            run.deployments = sum(card.kind == "chat" for card in cards.values())
            run.skipped = [f"{n}: {s}" for n in router.providers for s in router.catalog(n).skipped]
            if on_start is not None:
                on_start(run)
            for step in steps:
                history: list[dict[str, Any]] = []
                for index, turn in enumerate(step.turns):
                    clock.advance(turn.wait)
                    messages = _messages(step, turn, history)
                    request: dict[str, Any] = {
                        "model": strategy.model,
                        "messages": messages,
                        "max_tokens": MAX_TOKENS,
                    }
                    if step.tools:
                        request["tools"] = list(step.tools)
                    event = None
                    if turn.outage is not None:
                        if run.outage_provider is None:
                            run.outage_provider = outage_provider or _cheapest_provider(
                                router, request
                            )
                        sim.set_down(run.outage_provider, turn.outage)
                        event = (
                            f"{run.outage_provider} goes down: every request to it gets 503"
                            if turn.outage
                            else f"{run.outage_provider} is back up"
                        )
                    ranked = _ranking(router, request)
                    reply = router.complete(**request)
                    route: Route = reply.route
                    usage = reply.usage
                    details = usage.prompt_tokens_details if usage else None
                    failed = dict.fromkeys(a.ref for a in route.attempts)
                    cooling = tuple(
                        (ref, left)
                        for ref in failed
                        if (left := router.cooldowns.cooling(ref)) is not None
                    )
                    sent = Sent(
                        step=step,
                        index=index,
                        route=route,
                        card=cards[str(route.chosen)],
                        prompt_tokens=usage.prompt_tokens if usage else 0,
                        completion_tokens=usage.completion_tokens if usage else 0,
                        cached_tokens=details.cached_tokens if details else 0,
                        cost=route.cost if route.cost is not None else Decimal(0),
                        answer=_answer_text(reply),
                        ranked=ranked,
                        reuse=Decimal(getattr(_look_ahead(router), "expected_reuse", 0)),
                        event=event,
                        cooling=cooling,
                        cooldown_after=router.fallback.cooldown_after,
                    )
                    run.sent.append(sent)
                    if step.conversation:
                        history = [*messages, _assistant(reply)]
                    if on_sent is not None:
                        on_sent(sent)
            run.simulated_seconds = clock.now
    return run


def _cheapest_provider(router: Router, request: Mapping[str, Any]) -> str:
    route = router.explain(**request)
    if not route.candidates:
        msg = "no candidate to take down"
        raise ValueError(msg)
    return route.candidates[0].ref.partition(":")[0]


# -- describing decisions -------------------------------------------------------------

Line = tuple[str, str]
"""A line of output and its rich style (ignored in plain text)."""


def _usd(value: Decimal, places: int | None = None) -> str:
    """``$`` and the amount in plain notation: exact, or rounded to ``places`` decimals."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    text = format(value.normalize(), "f")
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def _short(text: str, limit: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tokens(sent: Sent) -> str:
    cached = f" ({sent.cached_tokens:,} cached)" if sent.cached_tokens else " (0 cached)"
    return f"{sent.prompt_tokens:,} prompt{cached} + {sent.completion_tokens:,} completion tokens"


def _candidate(i: int, estimate: Estimate, sent: Sent, width: int) -> str:
    cost = "unpriced" if estimate.cost is None else _usd(estimate.cost, 9)
    extra = ""
    if estimate.cached_tokens:
        extra += f", cache ~{estimate.cached_tokens:,} tok"
    figure = sent.ranked.get(estimate.ref)
    if figure is not None and figure != estimate.cost:
        extra += f", ranked as {_usd(figure, 9)} counting {sent.reuse:g} later turns"
    if estimate.unsure:
        extra += ", tried last: " + "; ".join(u.partition("] ")[2] for u in estimate.unsure)
    mark = "  <- answered" if estimate.ref == sent.route.chosen else ""
    return f"       {i}. {estimate.ref:<{width}} est. {cost}{extra}{mark}"


def _why(sent: Sent, *, catalog: bool) -> list[Line]:
    """The decision: top candidates, what was ranked last, the notable exclusions."""
    route = sent.route
    lines: list[Line] = []
    sure = [c for c in route.candidates if not c.unsure]
    shown = sure[:3] or route.candidates[:3]
    if route.chosen not in {c.ref for c in shown}:
        shown += [c for c in route.candidates if c.ref == route.chosen]
    lines.append((f"     why: {len(route.candidates)} candidates, in the order tried:", "dim"))
    width = max(len(c.ref) for c in shown)
    lines.extend((_candidate(route.candidates.index(c) + 1, c, sent, width), "dim") for c in shown)
    unsure = Counter(u.partition("] ")[2] for c in route.candidates for u in c.unsure)
    if unsure:
        ranked = "; ".join(f"{why} ({n})" for why, n in unsure.items())
        lines.append((f"     ranked after the sure ones: {ranked}", "dim"))
    groups: dict[str, list[str]] = {}
    for exclusion in route.excluded:
        if exclusion.policy != "catalog" or catalog:
            groups.setdefault(exclusion.policy, []).append(f"{exclusion.ref} ({exclusion.reason})")
    for policy, refs in groups.items():
        more = f", +{len(refs) - 2} more" if len(refs) > 2 else ""
        style = "yellow" if policy == "cooldown" else "dim"
        lines.append(
            (f"     excluded by {policy} ({len(refs)}): {', '.join(refs[:2])}{more}", style)
        )
    return lines


def describe(sent: Sent, previous: Sent | None, total_steps: int, number: int) -> list[Line]:
    """The lines that tell what happened to one request (and the step's header first)."""
    lines: list[Line] = []
    route = sent.route
    if sent.index == 0:
        lines.append(("", ""))
        lines.append((f"[{number}/{total_steps}] {sent.step.title}", "bold"))
    if sent.event:
        lines.append((f"   ! {sent.event}", "bold yellow"))
    lines.append((f"   > {_short(sent.turn.label)}", ""))
    lines.extend((f"     x failed: {attempt}", "red") for attempt in route.attempts)
    warm = (
        previous is not None
        and previous.step is sent.step
        and previous.route.chosen == route.chosen
        and sent.cached_tokens > 0
    )
    note = "  (stays warm)" if warm else ""
    context = ""
    if sent.prompt_tokens > 100_000:
        context = f" [context {sent.card.context_length or 0:,}]"
    lines.append(
        (f"   -> {route.chosen}{context}: {_tokens(sent)} = {_usd(sent.cost)}{note}", "green")
    )
    lines.append((f"      answer: {_short(sent.answer, 66)}", "dim"))
    limit = sent.card.context_length
    if limit is not None and sent.prompt_tokens > limit:
        lines.append(
            (
                f"     (!) {sent.prompt_tokens:,} prompt tokens exceed its context of {limit:,}",
                "red",
            )
        )
    for ref, left in sent.cooling:
        lines.append(
            (
                f"     {ref}: {sent.cooldown_after} failures in a row,"
                f" cooling down for {left:.0f} s",
                "yellow",
            )
        )
    rerouted = previous is None or previous.route.chosen != route.chosen
    cooldown = any(e.policy == "cooldown" for e in route.excluded)
    if sent.index == 0 or cooldown or (rerouted and not route.attempts):
        lines.extend(_why(sent, catalog=previous is None))
    elif warm:
        costs = [(c.ref, c.cost, c.cached_tokens) for c in route.candidates if c.cost is not None]
        here = [(cost, cached) for ref, cost, cached in costs if ref == route.chosen]
        elsewhere = [(ref, cost) for ref, cost, _ in costs if ref != route.chosen]
        if here and elsewhere:
            (cost, cached), (other, other_cost) = here[0], elsewhere[0]
            lines.append(
                (
                    f"     est. {_usd(cost, 9)} here with ~{cached:,} cached"
                    f" vs {_usd(other_cost, 9)} at {other}",
                    "dim",
                )
            )
    return lines


# -- output: plain text or rich -------------------------------------------------------


class _Writer(Protocol):
    def line(self, text: str = "", style: str = "") -> None: ...

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None: ...

    def progress(
        self, tasks: Sequence[tuple[str, int]]
    ) -> contextlib.AbstractContextManager[Callable[[int, str], None]]: ...


class _Plain:
    """Plain text: no colour, no progress bar (each step prints its own line)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str = "", style: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def cells(row: Sequence[str]) -> str:
            first = row[0].ljust(widths[0])
            return "  ".join(
                [first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
            )

        self.line(title)
        self.line(cells(header))
        self.line("  ".join("-" * w for w in widths))
        for row in rows:
            self.line(cells(row))

    @contextlib.contextmanager
    def progress(self, tasks: Sequence[tuple[str, int]]) -> Iterator[Callable[[int, str], None]]:
        yield lambda task, description: None


class _Rich:
    """rich: styled lines and a live progress bar per run."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def line(self, text: str = "", style: str = "") -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), soft_wrap=True)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for n, row in enumerate(rows):
            table.add_row(*row, style="bold" if n >= len(rows) - 2 else None)
        self.console.print(table)

    @contextlib.contextmanager
    def progress(self, tasks: Sequence[tuple[str, int]]) -> Iterator[Callable[[int, str], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            ids = [progress.add_task(name, total=total) for name, total in tasks]

            def advance(task: int, description: str) -> None:
                progress.update(ids[task], advance=1, description=description)

            yield advance


def _is_terminal(out: TextIO) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def _writer(out: TextIO, plain: bool | None) -> _Writer:
    """rich when asked for (or, by default, on a terminal) and installed; else plain text."""
    if plain is True or (plain is None and not _is_terminal(out)):
        return _Plain(out)
    try:
        from rich.console import Console
    except ImportError:
        return _Plain(out)
    return _Rich(Console(file=out))


@contextlib.contextmanager
def _catalog_warnings_quiet() -> Iterator[None]:
    """The demo reports skipped catalog entries itself; keep their log warnings off stderr."""
    logger = logging.getLogger("router.provider")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# -- the demo -------------------------------------------------------------------------


def _policy_text(strategy: Strategy) -> str:
    parts = []
    for item in strategy.policy:
        if isinstance(item, str):
            parts.append(item)
        else:
            for name, options in item.items():
                opts = ", ".join(f"{k}: {str(v).lower()}" for k, v in options.items())
                parts.append(f"{name} {{{opts}}}")
    return " -> ".join(parts)


def _overflows(run: Run) -> list[str]:
    """Requests of ``run`` answered by a deployment whose context is smaller than the prompt
    (the simulator does not refuse them; a real provider would)."""
    return [
        f"    (!) {sent.step.key}: {sent.prompt_tokens:,} prompt tokens sent to"
        f" {sent.route.chosen}, context {sent.card.context_length:,}"
        for sent in run.sent
        if sent.card.context_length is not None and sent.prompt_tokens > sent.card.context_length
    ]


def _cost_rows(steps: Sequence[Step], runs: Sequence[Run]) -> list[list[str]]:
    ours = runs[0]
    rows = [
        [f"{n}. {step.key}", *(_usd(run.step_cost(step.key)) for run in runs)]
        for n, step in enumerate(steps, 1)
    ]
    rows.append(["total", *(_usd(run.total) for run in runs)])
    saves = ["router saves", "-"]
    for run in runs[1:]:
        share = (run.total - ours.total) / run.total * 100 if run.total else Decimal(0)
        saves.append(f"{share:.1f}%")
    rows.append(saves)
    return rows


def run_demo(out: TextIO | None = None, *, seed: int = 7, plain: bool | None = None) -> int:
    """Run the demo and print it to ``out`` (stdout); returns the exit status (0 ok, 1 a
    request failed).

    ``seed`` draws the generated texts; ``plain`` forces plain text (True) or rich (False);
    by default rich is used when ``out`` is a terminal and rich is installed.
    """
    stream = out if out is not None else sys.stdout
    write = _writer(stream, plain)
    started = time.perf_counter()
    steps = workload(seed)
    requests = sum(len(step.turns) for step in steps)
    write.line(
        f"router demo: {len(PROVIDERS)} simulated providers on 127.0.0.1"
        f" ({', '.join(PROVIDERS)}); no keys, no network",
        "bold",
    )
    write.line(f'policy: {_policy_text(ROUTER)}; fallback: defaults; model="auto"')
    baselines = (SAME_MODEL, LIST_PRICE)
    runs: list[Run] = []
    numbers = {step.key: n for n, step in enumerate(steps, 1)}
    try:
        with (
            _catalog_warnings_quiet(),
            write.progress([(s.name, requests) for s in (ROUTER, *baselines)]) as advance,
        ):
            previous: list[Sent] = []

            def start(run: Run) -> None:
                skipped = "".join(f"\n  skipped {entry}" for entry in run.skipped)
                write.line(f"catalogs: {run.deployments} chat deployments{skipped}")

            def show(sent: Sent) -> None:
                last = previous[-1] if previous else None
                for text, style in describe(sent, last, len(steps), numbers[sent.step.key]):
                    write.line(text, style)
                previous.append(sent)
                advance(0, f"router: {sent.step.key}")

            ours = run_workload(ROUTER, steps, on_start=start, on_sent=show)
            runs.append(ours)
            write.line()
            write.line(
                f"baselines: the same {requests} requests, each run on a fresh simulator"
                f" ({ours.outage_provider} down for the same requests)",
                "bold",
            )
            for task, strategy in enumerate(baselines, 1):

                def tick(sent: Sent, task: int = task, name: str = strategy.name) -> None:
                    advance(task, f"{name}: {sent.step.key}")

                run = run_workload(
                    strategy, steps, outage_provider=ours.outage_provider, on_sent=tick
                )
                runs.append(run)
                how = f"policy {_policy_text(strategy)}" if strategy.model == "auto" else ""
                write.line(
                    f"  {strategy.name} (model={strategy.model}{', ' + how if how else ''}):"
                    f" {len(run.sent)} requests, {_usd(run.total)}"
                )
                for line in _overflows(run):
                    write.line(line, "red")
    except RouterError as exc:
        write.line(f"router demo failed: {exc}", "bold red")
        return 1
    write.line()
    header = ["step", *(run.strategy.name for run in runs)]
    write.table(
        "dollars spent (exact, billed from each answer's usage)", header, _cost_rows(steps, runs)
    )
    waits = runs[0].waits
    write.line()
    write.line(
        f"{requests} requests x 3 strategies in {time.perf_counter() - started:.1f} s wall time;"
        f" {runs[0].simulated_seconds:.0f} s of simulated time;"
        f" the router's fallback asked for {len(waits)} waits, {sum(waits):.1f} s in all"
        " (recorded, not slept)",
        "dim",
    )
    return 0
