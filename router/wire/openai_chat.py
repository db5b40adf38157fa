"""OpenAI Chat Completions on the wire: request bodies, responses, and stream chunks.

The default transport format of provider plugins (pinstripes, Routstr, OpenRouter, any
OpenAI-compatible server, PipeLLM's ``openai`` family). Usage is read in every dialect
seen: OpenAI's ``prompt_tokens_details.cached_tokens``, pinstripes' top-level
``cached_tokens`` (seed 001), OpenRouter's ``prompt_tokens_details.cache_write_tokens``,
Anthropic-style ``cache_creation_input_tokens`` and ``cache_creation.ephemeral_1h_input_tokens``
passed through by compatibility layers.

Reasoning tokens: OpenAI, OpenRouter, DeepSeek and vLLM count them inside
``completion_tokens`` (``completion_tokens_details.reasoning_tokens`` is a part of it).
Some OpenAI-compatible layers over Gemini report them *outside*: ``completion_tokens`` is
the visible answer only, and ``total_tokens = prompt + completion + reasoning``. The answer
says which: when ``total_tokens`` equals that sum (and not ``prompt + completion``), the
reasoning tokens are added to the completion count, which is billed at the completion rate.

Stated cost: OpenRouter states what it billed as ``usage.cost`` (USD; with your own
upstream key, ``is_byok``, OpenRouter's fee, with the upstream's charge in
``cost_details.upstream_inference_cost``). Read only for providers that state a cost
(``stated_cost=True``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from httpx_sse import ServerSentEvent

from router.catalog import ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.types import ChatRequest
from router.wire import safe_json

__all__ = ["OpenAIStream", "read_stated_cost", "read_usage", "request_body"]

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


def _usd(value: Any) -> Decimal | None:
    """A stated amount of USD (a JSON number or numeric string, finite, >= 0), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value).strip())  # str(): a float's shortest repr, not its noise
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_stated_cost(usage: dict[str, Any]) -> Decimal | None:
    """What OpenRouter states it billed for the request (``usage.cost``, USD), or None.

    With the caller's own upstream key (``is_byok``) ``cost`` is OpenRouter's fee alone;
    the upstream's charge, ``cost_details.upstream_inference_cost``, is added to it.
    """
    cost = _usd(usage.get("cost"))
    if cost is not None and usage.get("is_byok") is True:
        upstream = _usd(_dict(usage.get("cost_details")).get("upstream_inference_cost"))
        if upstream is not None:
            cost += upstream
    return cost


def read_usage(
    usage: Any, *, stated_cost: bool = False, reasoning_in_total: bool = False
) -> TokenCounts | None:
    """Normalized counts from an OpenAI-style ``usage`` object, or None if there is none.

    With ``stated_cost``, the provider's ``usage.cost`` is read as what it billed
    (:attr:`TokenCounts.billed_usd`). With ``reasoning_in_total`` (Gemini), any part of
    ``total_tokens`` beyond ``prompt + completion`` is output the completion count left
    out (thinking), and is added to it.
    """
    if not isinstance(usage, dict):
        return None
    details = _dict(usage.get("prompt_tokens_details"))
    cached = _int(details.get("cached_tokens"))
    cached = cached or _int(usage.get("cached_tokens"))  # pinstripes: top-level
    written = _int(details.get("cache_write_tokens"))
    written = written or _int(usage.get("cache_creation_input_tokens"))
    written_1h = _int(_dict(usage.get("cache_creation")).get("ephemeral_1h_input_tokens"))
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    reasoning = _int(_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))
    total = usage.get("total_tokens")
    if reasoning and total == prompt + completion + reasoning:
        completion += reasoning  # reported outside completion_tokens (see the module doc)
    elif reasoning_in_total and isinstance(total, int) and total > prompt + completion:
        gap = total - prompt - completion
        completion += gap
        reasoning = max(reasoning, gap)
    return TokenCounts(
        prompt=prompt,
        completion=completion,
        cache_read=cached,
        cache_write=written,
        cache_write_1h=min(written_1h, written),
        reasoning=min(reasoning, completion),
        billed_usd=read_stated_cost(usage) if stated_cost else None,
    )


def parse_completion(
    payload: Any, *, stated_cost: bool = False, reasoning_in_total: bool = False
) -> tuple[ChatCompletion, TokenCounts | None]:
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
    counts = read_usage(
        payload.get("usage"), stated_cost=stated_cost, reasoning_in_total=reasoning_in_total
    )
    completion = ChatCompletion.model_validate({**payload, "object": "chat.completion"})
    return completion, counts


def _error_text(error: Any) -> str:
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:200] if message is not None else "no message"


class OpenAIStream:
    """Turns an OpenAI SSE stream into chunks; ``counts`` holds the usage once it arrived."""

    def __init__(
        self, card: ModelCard, *, stated_cost: bool = False, reasoning_in_total: bool = False
    ) -> None:
        self.card = card
        self.stated_cost = stated_cost
        self.reasoning_in_total = reasoning_in_total
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
            counts = read_usage(
                payload["usage"],
                stated_cost=self.stated_cost,
                reasoning_in_total=self.reasoning_in_total,
            )
            self.counts = counts or self.counts
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
