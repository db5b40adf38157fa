"""Sending the workload under one strategy, on a fresh simulator, and what came of it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.catalog import ModelCard
from router.core import Router
from router.demo.workload import MAX_TOKENS, Step, Turn
from router.planning.route import Route
from router.testing.simulator import REALISTIC, REALISTIC_IMAGE_TOKENS, AnswerLength, Simulator
from router.types import ChatRequest

__all__ = [
    "ANSWER_LENGTH",
    "FLAGSHIP",
    "LIST_PRICE",
    "PROVIDERS",
    "ROUTER",
    "SAME_MODEL",
    "Run",
    "Sent",
    "SharedClock",
    "Strategy",
    "router_config",
    "run_workload",
]

PROVIDERS: tuple[str, ...] = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter")
"""The simulated providers the demo routes over (the four seed providers and OpenRouter)."""

ANSWER_LENGTH: AnswerLength = REALISTIC
"""How long the simulated providers' written answers are: 225-375 tokens, drawn from the
prompt (so every strategy gets the same answers), as ``router sim``'s. The router's
estimates assume 300 (its default ``expected_output_tokens``)."""

FLAGSHIP = "openrouter:anthropic/claude-sonnet-4.6"
"""The "always the same model" baseline: tools, vision and a 1M context serve every step."""


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
    tool_call: bool = False
    """Whether the answer is a tool call (not a written answer)."""

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
    with Simulator(answer_length=ANSWER_LENGTH, image_tokens=REALISTIC_IMAGE_TOKENS) as sim:
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
                        tool_call=bool(reply.choices[0].message.tool_calls),
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
