"""OpenAI Chat Completions on the wire: request bodies, responses, and stream chunks.

The default transport format of provider plugins (pinstripes, Routstr, OpenRouter, any
OpenAI-compatible server, PipeLLM's ``openai`` family). Usage is read in every dialect
seen: OpenAI's ``prompt_tokens_details.cached_tokens``, pinstripes' top-level
``cached_tokens`` (seed 001), and Anthropic-style ``cache_creation_input_tokens``.
"""

from __future__ import annotations

from typing import Any

from httpx_sse import ServerSentEvent

from router.catalog import ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.types import ChatRequest
from router.wire import safe_json

__all__ = ["OpenAIStream", "read_usage", "request_body"]

# Fields of ChatRequest that are the router's, not the provider's.
_ROUTER_ONLY = frozenset({"model", "stream", "stream_options"})


def request_body(request: ChatRequest, card: ModelCard, *, stream: bool) -> dict[str, Any]:
    """The JSON body for ``card``: the caller's fields, the provider's model id."""
    body = request.model_dump(exclude_none=True, exclude=set(_ROUTER_ONLY))
    body["model"] = card.id
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_usage(usage: Any) -> TokenCounts | None:
    """Normalized counts from an OpenAI-style ``usage`` object, or None if there is none."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _int(usage.get("cached_tokens"))  # pinstripes: top-level
    written = _int(details.get("cache_write_tokens")) if isinstance(details, dict) else 0
    written = written or _int(usage.get("cache_creation_input_tokens"))
    return TokenCounts(
        prompt=_int(usage.get("prompt_tokens")),
        completion=_int(usage.get("completion_tokens")),
        cache_read=cached,
        cache_write=written,
    )


def parse_completion(payload: Any) -> tuple[ChatCompletion, TokenCounts | None]:
    """A ``chat.completion`` body; raises ``ValueError`` when it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        msg = "not a chat.completion object (no 'choices' list)"
        raise ValueError(msg)
    # A 200 that carries an error (OpenRouter: ``"error": {...}`` beside the choices, or a
    # choice ending in ``finish_reason: "error"``), or that has no choice at all, is no
    # answer: unreadable, so another candidate is tried and nothing is billed.
    if payload.get("error") is not None:
        raise ValueError(f"the answer carries an error: {_error_text(payload['error'])}")
    if not payload["choices"]:
        msg = "the answer has no choices"
        raise ValueError(msg)
    for choice in payload["choices"]:
        if isinstance(choice, dict) and (
            choice.get("finish_reason") == "error" or choice.get("error") is not None
        ):
            raise ValueError(f"a choice ended in an error: {_error_text(choice.get('error'))}")
    counts = read_usage(payload.get("usage"))
    completion = ChatCompletion.model_validate({**payload, "object": "chat.completion"})
    return completion, counts


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:200] if message is not None else "no message"


class OpenAIStream:
    """Turns an OpenAI SSE stream into chunks; ``counts`` holds the usage once it arrived."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card
        self.counts: TokenCounts | None = None
        self.done = False
        self.finished = False

    def feed(self, event: ServerSentEvent) -> list[ChatCompletionChunk]:
        """Chunks for one SSE event; raises ``ValueError`` on an event that is not JSON."""
        if event.data == "[DONE]":
            self.done = True
            return []
        if not event.data:
            return []
        payload = safe_json.loads(event.data)
        if not isinstance(payload, dict):
            msg = "stream event is not a JSON object"
            raise ValueError(msg)
        if "error" in payload:
            raise ValueError(f"error event in stream: {_error_text(payload['error'])}")
        if payload.get("usage") is not None:
            self.counts = read_usage(payload["usage"]) or self.counts
        # The payload is ours (just parsed): set the router's fields in place, no copy.
        payload["object"] = "chat.completion.chunk"
        payload["usage"] = None
        payload["provider"] = self.card.provider
        chunk = ChatCompletionChunk.model_validate(payload)
        if any(choice.finish_reason == "error" for choice in chunk.choices):
            msg = "a choice ended in an error (finish_reason 'error')"
            raise ValueError(msg)
        if any(choice.finish_reason for choice in chunk.choices):
            self.finished = True
        return [chunk] if chunk.choices else []

    @property
    def complete(self) -> bool:
        """Whether the stream ended properly (``[DONE]`` or a finish reason was seen)."""
        return self.done or self.finished
