"""The Majestix inference API: prices in credits, with the platform margin included.

Catalog (seed 003): ``GET /models`` with ``X-Api-Key``; entries carry ``context_window``
(input + output), ``max_output_tokens``, ``supports_tools``, ``supports_vision``, the
upstream ``provider``, and ``cost_per_1k_input`` / ``cost_per_1k_output`` in **credits per
1,000 tokens, including the platform's 1.4x margin**. One credit is ``usd_per_credit``
USD ($0.001 by default), so USD per token = credits x usd_per_credit / 1000. The margin
is already in the price: it is never applied again.

Chat (DESIGN wire facts, and the provider's public client): ``POST /chat`` with
``{model, messages: [{role, content}], stream, temperature?, max_tokens?}`` (plain-text
content; images as OpenAI parts, for vision models only), and ``POST /code`` for requests
with tools: Anthropic-style content blocks, a top-level ``system`` and
``tools: [{name, description, input_schema}]``. The answer is always an event stream of
``data: {json}`` lines: ``chunk`` (or ``text``), ``tool_use``, ``done`` (``session_id``,
``credits_used``, maybe ``usage``), ``error``; ``thinking`` events are ignored. So every
request asks for a stream, and :meth:`InferenceAPI.send` aggregates it.

There are no token counts on the wire: the cost is ``credits_used x usd_per_credit``
(:attr:`TokenCounts.billed_usd`), and the counts are estimates (``estimated=True``)
unless ``done`` carries ``usage``. OpenAI fields the wire has no place for (``stop``,
``top_p``, ...) are not sent.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from httpx_sse import ServerSentEvent
from pydantic import Field, ValidationError

from router.catalog import ModelCard, Pricing, Protocol
from router.completion import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    TokenCounts,
    aggregate_chunks,
)
from router.errors import CatalogError, Unavailable, UpstreamError
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Outgoing, Provider, ProviderOptions
from router.types import ChatRequest
from router.wire import anthropic_messages, safe_json

__all__ = [
    "InferenceAPI",
    "InferenceAPIOptions",
    "MajestixStream",
    "chat_body",
    "code_body",
    "credits_to_usd",
]

logger = logging.getLogger("router.providers.inference_api")

# The upstream provider decides the model's protocol family.
_FAMILY: dict[str, Protocol] = {"anthropic": "anthropic", "vertex": "gemini"}


class InferenceAPIOptions(ProviderOptions):
    usd_per_credit: Decimal = Field(default=Decimal("0.001"), gt=0)
    """USD value of one credit."""


class InferenceAPI(Provider):
    Options = InferenceAPIOptions
    default_base_url = "https://inference-api-611798501438.us-central1.run.app"

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key
        return {"X-Api-Key": key} if key else {}

    def catalog_entries(self, payload: Any) -> list[Any]:
        # The documented shape is {"models": [...]}; accept {"data": [...]} and a bare list.
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict):
            for key in ("models", "data"):
                if isinstance(payload.get(key), list):
                    entries: list[Any] = payload[key]
                    return entries
        msg = "expected a JSON object with a 'models' list"
        raise CatalogError(self.name, msg, status=200)

    def parse_model(self, entry: Entry) -> ModelCard:
        assert isinstance(self.options, InferenceAPIOptions)
        per_token = self.options.usd_per_credit / 1000
        upstream = entry.opt_text("provider")
        return self.card(
            entry,
            id=entry.text("id") if entry.has("id") else entry.text("key"),
            name=entry.opt_text("name") or entry.opt_text("display_name"),
            protocol=_FAMILY.get(upstream or "", "openai"),
            context_length=entry.opt_int("context_window"),
            max_output_tokens=entry.opt_int("max_output_tokens"),
            supports_tools=entry.opt_bool("supports_tools"),
            supports_vision=entry.opt_bool("supports_vision"),
            supports_structured_output=False,  # /chat and /code take no response_format
            pricing=Pricing(
                prompt=entry.price("cost_per_1k_input", per_token),
                completion=entry.price("cost_per_1k_output", per_token),
            ),
        )

    # -- chat transport: /chat and /code, answered in Majestix events --------------

    @property
    def usd_per_credit(self) -> Decimal:
        """USD value of one credit (``usd_per_credit`` in the YAML)."""
        assert isinstance(self.options, InferenceAPIOptions)
        return self.options.usd_per_credit

    def chat_request(self, request: ChatRequest, card: ModelCard, *, stream: bool) -> Outgoing:
        """``/code`` when the request offers tools, else ``/chat``; always a stream.

        Majestix answers only in events, so ``stream`` makes no difference. Raises
        ``ValueError`` for what the wire or the model cannot carry.
        """
        if request.needs_tools:
            if card.supports_tools is False:
                raise ValueError(f"{_who(card)} does not support tools (supports_tools: false)")
            return Outgoing(self.base_url + "/code", code_body(request, card), self.auth_headers())
        return Outgoing(self.base_url + "/chat", chat_body(request, card), self.auth_headers())

    def unsupported(self, request: ChatRequest, card: ModelCard) -> str | None:
        return unsupported(request)

    def stream_decoder(self, card: ModelCard, request: ChatRequest) -> MajestixStream:
        return MajestixStream(
            card,
            prompt_tokens=request.estimated_prompt_tokens,
            usd_per_credit=self.usd_per_credit,
            redact=self.redact,
        )

    def upstream_error(
        self, card: ModelCard, status: int, headers: httpx.Headers, body: bytes
    ) -> UpstreamError:
        # FastAPI errors are {"detail": "..."}, which the base reads; a validation error
        # (422) has a list of {"msg": ...} there, made readable first.
        return super().upstream_error(card, status, headers, _readable_detail(body))

    def send(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        """The streamed answer, aggregated (sync). Raises ``UpstreamError``."""
        decoder = self.stream_decoder(card, request)
        chunks: list[ChatCompletionChunk] = []
        events = self.events(card, request, cache_breakpoints=cache_breakpoints)
        try:
            for event in events:
                chunks += self._decode(card, decoder, event)
        finally:
            if isinstance(events, Generator):
                events.close()
        return self._aggregate(card, decoder, chunks)

    async def asend(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        """The streamed answer, aggregated (async). Raises ``UpstreamError``."""
        decoder = self.stream_decoder(card, request)
        chunks: list[ChatCompletionChunk] = []
        events = self.aevents(card, request, cache_breakpoints=cache_breakpoints)
        try:
            async for event in events:
                chunks += self._decode(card, decoder, event)
        finally:
            if isinstance(events, AsyncGenerator):
                await events.aclose()
        return self._aggregate(card, decoder, chunks)

    def _decode(
        self, card: ModelCard, decoder: MajestixStream, event: ServerSentEvent
    ) -> list[ChatCompletionChunk]:
        try:
            return decoder.feed(event)
        except (ValueError, ValidationError) as exc:
            problem = f"unreadable event: {type(exc).__name__}: {str(exc)[:200]}"
            raise Unavailable(self.name, card.id, self.redact(problem)) from None

    def _aggregate(
        self, card: ModelCard, decoder: MajestixStream, chunks: list[ChatCompletionChunk]
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        if not decoder.complete:
            raise Unavailable(self.name, card.id, "the event stream ended before its 'done' event")
        return aggregate_chunks(chunks), decoder.counts


# Fields of a Chat Completions request /chat and /code have no place for, and what
# they would have asked (DESIGN.md, wire facts: /chat takes model, messages, stream,
# temperature, max_tokens; /code adds system and tools).
_NO_PLACE = {
    "response_format": "structured output",
    "n": "several choices",
    "logprobs": "token log probabilities",
    "top_logprobs": "token log probabilities",
    "seed": "a seed",
    "stop": "stop sequences",
    "top_p": "nucleus sampling",
    "frequency_penalty": "a frequency penalty",
    "presence_penalty": "a presence penalty",
    "logit_bias": "logit bias",
}


def unsupported(request: ChatRequest) -> str | None:
    """Why Majestix cannot carry ``request`` as asked, or None: a field that changes the
    answer and has no place in /chat or /code (``response_format`` json, ``n > 1``,
    ``logprobs``, ``seed``, ``stop``, ``top_p``, penalties, ``logit_bias``), or
    ``parallel_tool_calls: false`` with tools (/code cannot be told)."""
    extra = request.model_extra or {}
    asked = {
        "response_format": request.needs_structured_output,
        "n": extra.get("n") not in (None, 1),
        "logprobs": bool(extra.get("logprobs")),
        "top_logprobs": extra.get("top_logprobs") is not None,
        "seed": extra.get("seed") is not None,
        "stop": bool(request.stop),
        "top_p": extra.get("top_p") not in (None, 1),
        "frequency_penalty": bool(extra.get("frequency_penalty")),
        "presence_penalty": bool(extra.get("presence_penalty")),
        "logit_bias": bool(extra.get("logit_bias")),
    }
    for name, used in asked.items():
        if used:
            return f"{name}: Majestix /chat and /code cannot carry {_NO_PLACE[name]}"
    if request.needs_tools and extra.get("parallel_tool_calls") is False:
        return "parallel_tool_calls: false: Majestix /code cannot be asked for one call at a time"
    return None


def _who(card: ModelCard) -> str:
    return f"model {card.id!r} at provider {card.provider!r}"


# -- request bodies ------------------------------------------------------------------

_TEXT_PARTS = frozenset({"text", "input_text"})
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})


def _parts(content: Any, card: ModelCard, role: str) -> list[dict[str, Any]]:
    """OpenAI ``content`` as text and image parts; anything else is a ``ValueError``."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ValueError(f"{_who(card)}: {role} content must be a string or a list of parts")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(part, dict) and kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            parts.append(part)
        elif isinstance(part, dict) and kind in _IMAGE_PARTS:
            if card.supports_vision is not True:
                raise ValueError(f"{_who(card)} does not take images (supports_vision is not true)")
            if role != "user":
                raise ValueError(f"{_who(card)}: images are sent in user messages only, not {role}")
            parts.append(part)
        else:
            raise ValueError(f"{_who(card)}: cannot send a {kind!r} content part ({role})")
    return parts


def _flat(parts: list[dict[str, Any]]) -> str:
    """The text of text-only parts, joined by newlines."""
    return "\n".join(str(part["text"]) for part in parts)


def _has_image(parts: list[dict[str, Any]]) -> bool:
    return any(part["type"] in _IMAGE_PARTS for part in parts)


def chat_body(request: ChatRequest, card: ModelCard) -> dict[str, Any]:
    """The ``/chat`` body: ``{role, content}`` messages, content plain text.

    A message with images keeps its OpenAI parts (vision models only). Tool calls and
    tool results have no place on ``/chat``: offer the tools and the request goes to
    ``/code``.
    """
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.get("role")
        role = "system" if role == "developer" else role
        if role not in ("system", "user", "assistant") or message.get("tool_calls"):
            raise ValueError(
                f"{_who(card)}: /chat carries no tool calls or tool results; "
                "a conversation with them must offer its tools (and goes to /code)"
            )
        parts = _parts(message.get("content"), card, role)
        messages.append({"role": role, "content": parts if _has_image(parts) else _flat(parts)})
    body: dict[str, Any] = {"model": card.id, "stream": True}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.output_limit is not None:
        body["max_tokens"] = request.output_limit
    return {**body, "messages": messages}


_CODE_FIELDS = ("model", "max_tokens", "messages", "system", "tools", "temperature", "stream")


def code_body(request: ChatRequest, card: ModelCard) -> dict[str, Any]:
    """The ``/code`` body: Anthropic Messages (:mod:`router.wire.anthropic_messages`), cut to
    the fields Majestix takes; ``system`` is a string and every tool has a description.

    Only ``tool_choice: auto`` can be sent, and images only to vision models.
    """
    if request.tool_choice not in (None, "auto"):
        raise ValueError(f"{_who(card)}: /code has no tool_choice (only 'auto' can be sent)")
    if request.needs_vision and card.supports_vision is not True:
        raise ValueError(f"{_who(card)} does not take images (supports_vision is not true)")
    try:
        full = anthropic_messages.request_body(request, card, stream=True, fill_max_tokens=False)
    except ValueError as exc:
        raise ValueError(f"{_who(card)}: {exc}") from None
    body = {key: full[key] for key in _CODE_FIELDS if key in full}
    if isinstance(body.get("system"), list):  # blocks when a part had cache_control
        body["system"] = "\n\n".join(block["text"] for block in body["system"])
    body["tools"] = [
        {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "input_schema": {"type": "object", "properties": {}, **tool["input_schema"]},
        }
        for tool in body.get("tools", [])
    ]
    return body


def _readable_detail(body: bytes) -> bytes:
    """A FastAPI validation error's ``detail`` list as one line of its messages."""
    try:
        payload = safe_json.loads(body)
    except ValueError:
        return body
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if not isinstance(detail, list):
        return body
    texts = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail]
    return json.dumps({**payload, "detail": "; ".join(texts)}).encode()


# -- the answer: events -> chunks -> completion ----------------------------------------


def credits_to_usd(credits_used: Any, usd_per_credit: Decimal) -> Decimal | None:
    """``credits_used`` in USD, exact (the number as written, times ``usd_per_credit``).

    None when there is no readable, finite, non-negative number of credits.
    """
    if isinstance(credits_used, bool) or not isinstance(credits_used, int | float | str):
        return None
    try:
        credits = Decimal(str(credits_used))
    except InvalidOperation:
        return None
    if not credits.is_finite() or credits < 0 or credits.adjusted() > 12:
        return None  # a trillion credits for one request is not a bill, it is a bug
    return credits * usd_per_credit


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def _reported_counts(usage: Any) -> TokenCounts | None:
    """Counts from ``done.usage`` (Anthropic names), or None unless both totals are there.

    As Anthropic's, ``input_tokens`` excludes cache reads and writes: they are added.
    """
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    if prompt is None or completion is None:
        return None
    read = _count(usage.get("cache_read_input_tokens")) or 0
    written = _count(usage.get("cache_creation_input_tokens")) or 0
    return TokenCounts(
        prompt=prompt + read + written, completion=completion, cache_read=read, cache_write=written
    )


class MajestixStream:
    """Turns Majestix events into OpenAI chunks (a :class:`router.provider.StreamDecoder`).

    The first chunk has ``role: assistant``; each ``tool_use`` is one chunk with a whole
    tool call; ``done`` gives the last chunk (its ``finish_reason``) and :attr:`counts`.
    Chunk ids are the ``session_id`` once an event gave one, else a ``chatcmpl-`` id.
    """

    def __init__(
        self,
        card: ModelCard,
        *,
        prompt_tokens: int,
        usd_per_credit: Decimal,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.card = card
        self.prompt_tokens = prompt_tokens
        self.usd_per_credit = usd_per_credit
        self.redact = redact
        self.counts: TokenCounts | None = None
        self.session_id: str | None = None
        self.created = int(time.time())
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._started = False
        self._chars = 0  # answer text and tool-call arguments, for the estimate
        self._tool_calls = 0
        self._done = False

    @property
    def complete(self) -> bool:
        """Whether the ``done`` event arrived."""
        return self._done

    def feed(self, event: ServerSentEvent) -> list[ChatCompletionChunk]:
        """Chunks for one event; raises ``Unavailable`` for an error event and
        ``ValueError`` for one that cannot be read."""
        if not event.data.strip() or self._done:
            return []
        payload = safe_json.loads(event.data)
        if not isinstance(payload, dict):
            raise ValueError("event is not a JSON object")
        session_id = payload.get("session_id")
        if isinstance(session_id, str) and session_id:
            self.session_id = session_id
        kind = payload.get("type")
        if kind in ("chunk", "text"):
            return self._text(payload)
        if kind == "tool_use":
            return [self._tool_use(payload)]
        if kind == "done":
            return [self._finish(payload)]
        if kind == "error":
            message = payload.get("message") or payload.get("detail") or "error event"
            text = self.redact(str(message))[:300]
            raise Unavailable(self.card.provider, self.card.id, text)
        if kind not in ("thinking", "thinking_done"):
            logger.debug("%s: ignored a %r event", self.card.ref, kind)
        return []

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None
    ) -> ChatCompletionChunk:
        if not self._started:
            self._started = True
            delta = {"role": "assistant", **delta}
        return ChatCompletionChunk(
            id=self.session_id or self._id,
            created=self.created,
            model=self.card.id,
            choices=[ChunkChoice(delta=Delta(**delta), finish_reason=finish_reason)],
        )

    def _text(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        content = payload.get("content", payload.get("text"))
        if not isinstance(content, str):
            raise ValueError(f"a {payload.get('type')!r} event without text content")
        if not content:
            return []
        self._chars += len(content)
        return [self._chunk({"content": content})]

    def _tool_use(self, payload: dict[str, Any]) -> ChatCompletionChunk:
        call_id, name, arguments = payload.get("id"), payload.get("name"), payload.get("input")
        if not isinstance(call_id, str) or not isinstance(name, str) or not name:
            raise ValueError("a tool_use event without an id or a name")
        if not isinstance(arguments, dict | None):
            raise ValueError("a tool_use event whose input is not an object")
        encoded = json.dumps(arguments or {})
        self._chars += len(encoded)
        call = {
            "index": self._tool_calls,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": encoded},
        }
        self._tool_calls += 1
        return self._chunk({"tool_calls": [call]})

    def _finish(self, payload: dict[str, Any]) -> ChatCompletionChunk:
        billed = None
        if "credits_used" in payload:
            billed = credits_to_usd(payload["credits_used"], self.usd_per_credit)
            if billed is None:
                logger.warning(
                    "%s: unreadable credits_used %r", self.card.ref, payload["credits_used"]
                )
        counts = _reported_counts(payload.get("usage"))
        if counts is None:
            counts = TokenCounts(
                prompt=self.prompt_tokens, completion=math.ceil(self._chars / 4), estimated=True
            )
        self.counts = counts.model_copy(update={"billed_usd": billed})
        self._done = True
        return self._chunk({}, "tool_calls" if self._tool_calls else "stop")


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("inference-api", InferenceAPI)
