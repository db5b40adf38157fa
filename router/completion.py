"""OpenAI-shaped responses: ``chat.completion`` and ``chat.completion.chunk``.

``model_dump()`` gives OpenAI's JSON plus two fields in OpenRouter's convention:
top-level ``provider`` (the configured provider name) and ``usage.cost`` (USD, a float
computed from the catalog's Decimal prices). Fields a provider adds pass through. The
router's own record of the decision (``.route``) is not part of the JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "Delta",
    "Message",
    "PromptTokensDetails",
    "TokenCounts",
    "Usage",
    "aggregate_chunks",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class PromptTokensDetails(_Open):
    cached_tokens: int = 0
    """Prompt tokens read from the provider's prefix cache (included in ``prompt_tokens``)."""
    cache_write_tokens: int | None = None
    """Prompt tokens written to the cache at a premium (Anthropic's cache creation)."""


class CompletionTokensDetails(_Open):
    reasoning_tokens: int = 0
    """Reasoning tokens (included in ``completion_tokens``, OpenAI's convention)."""


class Usage(_Open):
    prompt_tokens: int = 0
    """All prompt tokens, cached ones included (OpenAI's convention)."""
    completion_tokens: int = 0
    """All completion tokens, reasoning included (OpenAI's convention)."""
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost: float | None = None
    """USD for this request (OpenRouter's ``usage.cost``): what the provider stated it
    billed when it states it, else computed from the live catalog prices."""


class ToolCallFunction(_Open):
    name: str | None = None
    arguments: str | None = None


class ToolCall(_Open):
    id: str | None = None
    type: Literal["function"] = "function"
    function: ToolCallFunction


class Message(_Open):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Open):
    index: int = 0
    message: Message
    finish_reason: str | None = None


class ChatCompletion(_Open):
    """A ``chat.completion`` with ``provider`` and ``usage.cost``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    provider: str | None = None
    """The configured name of the provider that answered."""
    __slots__ = ("_route",)  # set by the router; a slot is cheaper than a private attribute
    if TYPE_CHECKING:
        _route: Any = None

    @property
    def route(self) -> Any:
        """How the router chose and reached this answer (:class:`router.planning.route.Route`)."""
        return getattr(self, "_route", None)


class Delta(_Open):
    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(_Open):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Open):
    """A ``chat.completion.chunk``; the last one of a routed stream carries ``usage``."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
    provider: str | None = None
    __slots__ = ("_route",)
    if TYPE_CHECKING:
        _route: Any = None

    @property
    def route(self) -> Any:
        """On the last chunk: how the router chose and reached this answer."""
        return getattr(self, "_route", None)


class TokenCounts(BaseModel):
    """A provider's usage in normalized form, before pricing."""

    model_config = ConfigDict(frozen=True)

    prompt: int = 0
    """All prompt tokens, cache reads and writes included."""
    completion: int = 0
    """All completion tokens, reasoning included (where a dialect reports reasoning
    outside its completion count, the reader adds it here)."""
    cache_read: int = 0
    """Prompt tokens read from the cache."""
    cache_write: int = 0
    """Prompt tokens written to the cache, at any lifetime."""
    cache_write_1h: int = 0
    """Of ``cache_write``, the tokens written to a one-hour cache (Anthropic's
    ``cache_creation.ephemeral_1h_input_tokens``); the rest are default-lifetime writes."""
    reasoning: int = 0
    """Of ``completion``, the reasoning tokens the provider reported."""
    estimated: bool = False
    """True when the provider reported no counts and these are the router's estimates."""
    billed_usd: Decimal | None = None
    """What the provider states it billed, in USD, when it states it (Majestix
    ``credits_used`` x ``usd_per_credit``, OpenRouter's ``usage.cost``)."""

    def to_usage(self, cost: Decimal | None) -> Usage:
        """OpenAI ``usage`` with ``cost`` as a float (the only place money becomes a float)."""
        details = PromptTokensDetails(
            cached_tokens=self.cache_read, cache_write_tokens=self.cache_write or None
        )
        reasoning = CompletionTokensDetails(reasoning_tokens=self.reasoning)
        return Usage(
            prompt_tokens=self.prompt,
            completion_tokens=self.completion,
            total_tokens=self.prompt + self.completion,
            prompt_tokens_details=details,
            completion_tokens_details=reasoning if self.reasoning else None,
            cost=None if cost is None else float(cost),
        )


def aggregate_chunks(chunks: Iterable[ChatCompletionChunk]) -> ChatCompletion:
    """The ``chat.completion`` a stream of chunks adds up to.

    Text is concatenated; tool calls are merged by ``index`` (arguments concatenated);
    the id is the last chunk's, ``created`` the first's. Raises ``ValueError`` when there
    are no chunks.
    """
    first: ChatCompletionChunk | None = None
    last: ChatCompletionChunk | None = None
    texts: dict[int, list[str]] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    finish: dict[int, str | None] = {}
    for chunk in chunks:
        first, last = first or chunk, chunk
        for choice in chunk.choices:
            texts.setdefault(choice.index, [])
            calls.setdefault(choice.index, {})
            if choice.delta.content:
                texts[choice.index].append(choice.delta.content)
            for delta in choice.delta.tool_calls or []:
                index = delta.get("index", len(calls[choice.index]))
                call = calls[choice.index].setdefault(
                    index, {"id": None, "function": {"name": None, "arguments": ""}}
                )
                function = delta.get("function") or {}
                call["id"] = delta.get("id") or call["id"]
                call["function"]["name"] = function.get("name") or call["function"]["name"]
                call["function"]["arguments"] += function.get("arguments") or ""
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    if first is None or last is None:
        raise ValueError("no chunks to aggregate")
    choices = []
    for index in sorted(texts):
        tool_calls = [ToolCall.model_validate(calls[index][i]) for i in sorted(calls[index])]
        text = "".join(texts[index])
        message = Message(
            content=text or (None if tool_calls else ""), tool_calls=tool_calls or None
        )
        choices.append(Choice(index=index, message=message, finish_reason=finish.get(index)))
    return ChatCompletion(
        id=last.id, created=first.created, model=last.model, choices=choices, provider=last.provider
    )
