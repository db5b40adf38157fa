"""The demo's requests, as data: six steps of a mixed workload."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_TOKENS",
    "WEATHER_TOOL",
    "Step",
    "Turn",
    "long_document",
    "system_prompt",
    "workload",
]

MAX_TOKENS = 1_000
"""``max_tokens`` of every request in the workload: room for every answer (none is cut)."""

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
