"""Anthropic Messages on the wire: request bodies, responses, and stream events.

The transport format of PipeLLM's ``anthropic`` family (``POST /v1/messages``). The
router speaks OpenAI Chat Completions to its callers, so this module translates a
:class:`ChatRequest` into a Messages body and a Messages answer (whole, or as SSE
events) back into OpenAI completions and chunks. Pure: no IO.

Usage differs from OpenAI's: Anthropic's ``input_tokens`` **excludes**
``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (DESIGN.md, wire facts),
so the prompt count is the sum of the three.

Longer than most modules (~550 lines) on purpose: both directions of one dialect (the
request, the whole answer, the stream events) stay together, since each must agree with
the others about blocks, tool calls and usage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from httpx_sse import ServerSentEvent

from router.catalog import ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.errors import RateLimited, Rejected, Timeout, Unavailable, UpstreamError
from router.types import ChatRequest, structured_output
from router.wire import safe_json

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "FINISH_REASONS",
    "AnthropicStream",
    "add_breakpoints",
    "parse_completion",
    "read_usage",
    "request_body",
    "structured_tool",
    "unsupported",
]

ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header value the request bodies here are written for."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when the caller set no cap: Anthropic requires one on every request."""

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic ``stop_reason`` → OpenAI ``finish_reason``; an unknown reason reads ``stop``."""

# Error types of an ``error`` stream event → the router's error class (others: Rejected).
_STREAM_ERRORS: dict[str, type[UpstreamError]] = {
    "overloaded_error": Unavailable,
    "api_error": Unavailable,
    "rate_limit_error": RateLimited,
    "timeout_error": Timeout,
}


# -- request ------------------------------------------------------------------------------

STRUCTURED_TOOL = "json_response"
"""The forced tool's name when a ``json_schema`` names none (and for ``json_object``)."""


def unsupported(request: ChatRequest) -> str | None:
    """Why Messages cannot carry ``request`` as the caller asked, or None.

    Translated, not refused: ``response_format`` ``json_object`` / ``json_schema`` (a
    forced tool whose input is the JSON, see :func:`structured_tool`),
    ``parallel_tool_calls: false`` (``disable_parallel_tool_use``), ``stop``, ``top_p``,
    ``user``. Refused: what Messages has no equivalent of (``n > 1``, ``logprobs``,
    ``top_logprobs``, ``seed``, the penalties, ``logit_bias``) and structured output
    together with the caller's own tools (the forced tool would keep them from being
    called).
    """
    extra = request.model_extra or {}
    n = extra.get("n")
    if n is not None and n != 1:
        return f"n={n}: Anthropic Messages returns one choice"
    if extra.get("logprobs") or extra.get("top_logprobs") is not None:
        return "logprobs: Anthropic Messages returns no token log probabilities"
    if extra.get("seed") is not None:
        return "seed: Anthropic Messages has no seed"
    for name in ("frequency_penalty", "presence_penalty"):
        if extra.get(name):
            return f"{name}: Anthropic Messages has no equivalent"
    if extra.get("logit_bias"):
        return "logit_bias: Anthropic Messages has no equivalent"
    fmt = extra.get("response_format")
    if fmt is not None and not isinstance(fmt, dict):
        return "response_format: expected an object"
    known = (None, "text", "json_object", "json_schema")
    if isinstance(fmt, dict) and fmt.get("type") not in known:
        return f"response_format type {fmt.get('type')!r} has no Anthropic equivalent"
    if structured_output(request) is not None:
        if request.tools:
            return "response_format with tools: a forced JSON tool would keep them unused"
        try:
            structured_tool(request)
        except ValueError as exc:
            return str(exc)
    return None


def structured_tool(request: ChatRequest) -> dict[str, Any] | None:
    """The forced tool that carries a ``json_object`` / ``json_schema`` answer, or None.

    The model is made to call it (``tool_choice: {"type": "tool"}``) and its ``input`` is
    the JSON answer, handed back as the message's text. Raises ``ValueError`` for a schema
    Messages cannot take as a tool's input (its root must be an object).
    """
    fmt = structured_output(request)
    if fmt is None:
        return None
    if fmt["type"] == "json_object":
        return {
            "name": STRUCTURED_TOOL,
            "description": "Answer with a JSON object.",
            "input_schema": {"type": "object"},
        }
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise ValueError("response_format.json_schema.schema: expected a JSON Schema object")
    if schema.get("type", "object") != "object":
        raise ValueError(
            "response_format.json_schema.schema: Anthropic takes only an object at the root"
            f" (got type {schema.get('type')!r})"
        )
    name = spec.get("name") if isinstance(spec, dict) else None
    description = spec.get("description") if isinstance(spec, dict) else None
    return {
        "name": name if isinstance(name, str) and name else STRUCTURED_TOOL,
        "description": description
        if isinstance(description, str) and description
        else "Answer with JSON matching this schema.",
        "input_schema": {"type": "object", **schema},
    }


def request_body(
    request: ChatRequest, card: ModelCard, *, stream: bool, fill_max_tokens: bool = True
) -> dict[str, Any]:
    """The Messages body asking ``card`` to answer the OpenAI-shaped ``request``.

    Without a cap from the caller, ``max_tokens`` is :data:`DEFAULT_MAX_TOKENS` (or the
    card's smaller limit), as Anthropic requires; ``fill_max_tokens=False`` leaves it out.
    Raises ``ValueError`` for what Messages cannot express (an unknown role or content
    part, tool-call arguments that are not JSON, an unknown ``tool_choice``).
    """
    extra = request.model_extra or {}
    system, messages = _messages(request.messages)
    limit = request.output_limit
    if limit is None and fill_max_tokens:
        limit = min(DEFAULT_MAX_TOKENS, card.max_output_tokens or DEFAULT_MAX_TOKENS)
    body: dict[str, Any] = {"model": card.id}
    if limit is not None:
        body["max_tokens"] = limit
    body["messages"] = messages
    if system is not None:
        body["system"] = system
    forced = structured_tool(request)
    if forced is not None:
        if request.tools:
            raise ValueError("response_format with tools cannot be sent to Anthropic")
        body["tools"] = [forced]
        body["tool_choice"] = {"type": "tool", "name": forced["name"]}
    elif request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        choice = _tool_choice(request.tool_choice)
        if extra.get("parallel_tool_calls") is False:
            choice = choice or {"type": "auto"}
            if choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            body["tool_choice"] = choice
    if request.stop is not None:
        stops = [request.stop] if isinstance(request.stop, str) else list(request.stop)
        if stops:
            body["stop_sequences"] = stops
    if request.temperature is not None:
        body["temperature"] = request.temperature
    for name in ("top_p", "top_k"):
        if extra.get(name) is not None:
            body[name] = extra[name]
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if stream:
        body["stream"] = True
    return body


def _messages(
    openai_messages: Iterable[dict[str, Any]],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Top-level ``system`` and alternating ``messages`` from OpenAI messages."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(openai_messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), where=f"messages[{index}]"))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), where=f"messages[{index}]")
        elif role == "assistant":
            blocks = _assistant_blocks(message, where=f"messages[{index}]")
        elif role == "tool":
            blocks = [_tool_result(message, where=f"messages[{index}]")]
            role = "user"  # Anthropic carries tool results in a user turn
        else:
            raise ValueError(f"messages[{index}]: role {role!r} has no Anthropic equivalent")
        if not blocks:
            continue
        # Anthropic requires user and assistant turns to alternate: merge neighbours.
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return _system(system), turns


def _system(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    """One string (parts joined by blank lines), or blocks when one carries ``cache_control``."""
    if not blocks:
        return None
    if any("cache_control" in block for block in blocks):
        return blocks
    return "\n\n".join(block["text"] for block in blocks)


def _text_blocks(content: Any, *, where: str) -> list[dict[str, Any]]:
    """Text blocks of a string or a list of text parts; empty text is dropped."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise ValueError(f"{where}.content: expected a string or a list of parts")
    blocks = [_text_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
    return [block for block in blocks if block is not None]


def _text_part(part: Any, where: str) -> dict[str, Any] | None:
    """A text block from a text (or refusal) part; None when its text is empty."""
    if isinstance(part, str):
        return {"type": "text", "text": part} if part else None
    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
    if not isinstance(part, dict) or kind not in ("text", "refusal"):
        raise ValueError(f"{where}: a {kind!r} part has no Anthropic equivalent here")
    text = part.get("text") if kind == "text" else part.get("refusal")
    if not isinstance(text, str):
        raise ValueError(f"{where}: {kind} part without its text")
    return _with_cache_control({"type": "text", "text": text}, part) if text else None


def _user_blocks(content: Any, *, where: str) -> list[dict[str, Any]]:
    """Content blocks of a user message: text, images, PDF documents."""
    if not isinstance(content, list):
        return _text_blocks(content, where=where)
    blocks: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}.content[{index}]"
        if kind == "image_url" and isinstance(part, dict):
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise ValueError(f"{at}: image_url without a url")
            blocks.append(_with_cache_control({"type": "image", "source": _source(url, at)}, part))
        elif kind == "file" and isinstance(part, dict):
            blocks.append(_with_cache_control(_document(part.get("file"), at), part))
        elif (block := _text_part(part, at)) is not None:
            blocks.append(block)
    return blocks


def _source(url: str, where: str) -> dict[str, Any]:
    """An image source: inline base64 for a ``data:`` URL, else a URL Anthropic fetches."""
    if not url.startswith("data:"):
        return {"type": "url", "url": url}
    header, sep, data = url[len("data:") :].partition(",")
    media_type, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not media_type:
        raise ValueError(f"{where}: a data: URL must be data:<media type>;base64,<data>")
    return {"type": "base64", "media_type": media_type, "data": data}


def _document(file: Any, where: str) -> dict[str, Any]:
    """A PDF document block from an OpenAI ``file`` part carrying inline ``file_data``."""
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str):
        raise ValueError(f"{where}: only inline file_data files can be sent to Anthropic")
    source = _source(data, where)
    if source["type"] != "base64" or source["media_type"] != "application/pdf":
        raise ValueError(f"{where}: only PDF files (data:application/pdf;base64,...) are accepted")
    return {"type": "document", "source": source}


def _assistant_blocks(message: dict[str, Any], *, where: str) -> list[dict[str, Any]]:
    """Text and ``tool_use`` blocks of an assistant message."""
    blocks = _text_blocks(message.get("content"), where=where)
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ValueError(f"{where}.tool_calls: expected a list")
    for index, call in enumerate(calls):
        at = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ValueError(f"{at}: expected {{'id', 'function': {{'name', 'arguments'}}}}")
        name = function["name"]
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"{at}: tool call {name!r} without an id")
        arguments = function.get("arguments") or "{}"
        try:
            tool_input = safe_json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            raise ValueError(
                f"{at}: arguments of tool call {call_id!r} ({name}) are not JSON"
            ) from None
        if not isinstance(tool_input, dict):
            raise ValueError(
                f"{at}: arguments of tool call {call_id!r} ({name}) are not a JSON object"
            )
        blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": tool_input})
    return blocks


def _tool_result(message: dict[str, Any], *, where: str) -> dict[str, Any]:
    """A ``tool_result`` block from an OpenAI ``role: tool`` message."""
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValueError(f"{where}: tool message without a tool_call_id")
    text = "".join(block["text"] for block in _text_blocks(message.get("content"), where=where))
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if text:
        result["content"] = text
    return result


def _with_cache_control(block: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    # OpenRouter's convention for Anthropic prompt caching: cache_control on a part.
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    """``{name, description, input_schema}`` from an OpenAI function tool."""
    function = tool.get("function") if tool.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ValueError(f"tool {tool.get('type')!r}: only function tools can go to Anthropic")
    out: dict[str, Any] = {"name": function["name"]}
    if isinstance(function.get("description"), str):
        out["description"] = function["description"]
    schema = function.get("parameters")
    out["input_schema"] = schema if isinstance(schema, dict) else {"type": "object"}
    return _with_cache_control(out, tool)


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mapped = {"auto": "auto", "required": "any", "none": "none"}.get(choice)
        if mapped is None:
            raise ValueError(f"tool_choice {choice!r} has no Anthropic equivalent")
        return {"type": mapped}
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return {"type": "tool", "name": function["name"]}
    raise ValueError(f"tool_choice {choice!r} has no Anthropic equivalent")


# -- response -----------------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_usage(usage: Any) -> TokenCounts | None:
    """Normalized counts from an Anthropic ``usage`` object, or None if there is none.

    ``input_tokens`` excludes the cache reads and writes: the prompt is the sum of all three.
    ``cache_creation`` splits the writes by lifetime: ``ephemeral_5m_input_tokens`` and
    ``ephemeral_1h_input_tokens`` (billed at the one-hour write rate); its sum stands in for
    ``cache_creation_input_tokens`` when that is missing. ``output_tokens`` includes
    extended thinking: nothing to add.
    """
    if not isinstance(usage, dict):
        return None
    read = _int(usage.get("cache_read_input_tokens"))
    split = usage.get("cache_creation")
    split = split if isinstance(split, dict) else {}
    written_5m = _int(split.get("ephemeral_5m_input_tokens"))
    written_1h = _int(split.get("ephemeral_1h_input_tokens"))
    written = _int(usage.get("cache_creation_input_tokens")) or written_5m + written_1h
    return TokenCounts(
        prompt=_int(usage.get("input_tokens")) + read + written,
        completion=_int(usage.get("output_tokens")),
        cache_read=read,
        cache_write=written,
        cache_write_1h=min(written_1h, written),
    )


def _finish_reason(stop_reason: Any) -> str | None:
    if not isinstance(stop_reason, str):
        return None
    return FINISH_REASONS.get(stop_reason, "stop")


def parse_completion(
    payload: Any, card: ModelCard, *, structured: str | None = None
) -> tuple[ChatCompletion, TokenCounts]:
    """A Messages answer as an OpenAI completion; raises ``ValueError`` if it is not one.

    With ``structured`` (the forced tool of :func:`structured_tool`), that tool's input is
    the answer's text (JSON) and the finish reason is ``stop``."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        msg = "not an Anthropic message (no 'type': 'message')"
        raise ValueError(msg)
    content = payload.get("content")
    if not isinstance(content, list):
        msg = "Anthropic message without a 'content' list"
        raise ValueError(msg)
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            if structured is None:  # a forced tool's answer is its input alone
                texts.append(block["text"])
        elif block.get("type") == "tool_use" and structured is not None:
            if block.get("name") == structured:
                texts.append(json.dumps(block.get("input") or {}))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": json.dumps(block.get("input") or {}),
                    },
                }
            )
        # thinking, redacted_thinking and server-tool blocks have no OpenAI equivalent.
    counts = read_usage(payload.get("usage")) or TokenCounts()
    model = payload.get("model")
    completion = ChatCompletion.model_validate(
        {
            "id": str(payload.get("id") or ""),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model if isinstance(model, str) and model else card.id,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(texts) if texts else None,
                        "tool_calls": calls or None,
                    },
                    "finish_reason": _structured_finish(
                        _finish_reason(payload.get("stop_reason")), structured
                    ),
                }
            ],
            "usage": counts.to_usage(None).model_dump(),
        }
    )
    return completion, counts


def _structured_finish(reason: str | None, structured: str | None) -> str | None:
    # The forced tool's call is the answer, not a tool call the caller must run.
    return "stop" if structured is not None and reason == "tool_calls" else reason


# -- stream -------------------------------------------------------------------------------


class AnthropicStream:
    """Turns Anthropic SSE events into OpenAI chunks; ``counts`` once ``message_delta`` came.

    Implements :class:`router.provider.StreamDecoder`. Events are named by the SSE
    ``event:`` field (or, failing that, the ``type`` in their data); unknown ones are
    ignored, as Anthropic asks of clients.
    """

    def __init__(
        self,
        card: ModelCard,
        *,
        clock: Callable[[], float] = time.time,
        structured: str | None = None,
    ) -> None:
        self.card = card
        self.structured = structured
        """The forced tool of a structured-output request: its input streams as text."""
        self.counts: TokenCounts | None = None
        self.stopped = False
        self._clock = clock
        self._id: str | None = None
        self._model = card.id
        self._created = 0
        self._usage: dict[str, Any] = {}
        self._tools: dict[int, int] = {}
        """Anthropic content-block index → OpenAI tool-call index (tool blocks from 0)."""

    @property
    def complete(self) -> bool:
        """Whether ``message_stop`` arrived."""
        return self.stopped

    def feed(self, event: ServerSentEvent) -> list[ChatCompletionChunk]:
        """Chunks for one event; raises ``UpstreamError`` on an ``error`` event and
        ``ValueError`` on one that cannot be read."""
        if not event.data:
            return []
        payload = safe_json.loads(event.data)
        if not isinstance(payload, dict):
            msg = "stream event is not a JSON object"
            raise ValueError(msg)
        # Proxies may drop the ``event:`` line (httpx-sse then says "message").
        name = event.event if event.event and event.event != "message" else payload.get("type")
        match name:
            case "message_start":
                return self._message_start(payload)
            case "content_block_start":
                return self._block_start(payload)
            case "content_block_delta":
                return self._block_delta(payload)
            case "message_delta":
                return self._message_delta(payload)
            case "message_stop":
                self.stopped = True
            case "error":
                raise self._error(payload)
        # ping, content_block_stop, and event types added after this was written.
        return []

    def _message_start(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        message = payload.get("message")
        if not isinstance(message, dict):
            msg = "message_start without a message"
            raise ValueError(msg)
        self._id = str(message.get("id") or "")
        model = message.get("model")
        self._model = model if isinstance(model, str) and model else self.card.id
        self._created = int(self._clock())
        self._note_usage(message.get("usage"))
        return [self._chunk({"role": "assistant"})]

    def _block_start(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        block = payload.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "text":
            if self.structured is not None:
                return []
            text = block.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if block.get("type") != "tool_use":
            return []
        if self.structured is not None:
            self._tools[_int(payload.get("index"))] = -1  # its input deltas are the text
            tool_input = block.get("input")
            text = json.dumps(tool_input) if tool_input else ""
            return [self._chunk({"content": text})] if text else []
        index = len(self._tools)
        self._tools[_int(payload.get("index"))] = index
        tool_input = block.get("input")
        call = {
            "index": index,
            "id": block.get("id"),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": json.dumps(tool_input) if tool_input else "",
            },
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        delta = payload.get("delta")
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta":
            if self.structured is not None:
                return []
            text = delta.get("text")
            return [self._chunk({"content": text})] if isinstance(text, str) and text else []
        if delta.get("type") == "input_json_delta":
            partial = delta.get("partial_json")
            index = self._tools.get(_int(payload.get("index")))
            if index is None:
                msg = "input_json_delta for a block that is not a tool_use"
                raise ValueError(msg)
            if not isinstance(partial, str) or not partial:
                return []
            if index == -1:
                return [self._chunk({"content": partial})]
            call = {"index": index, "function": {"arguments": partial}}
            return [self._chunk({"tool_calls": [call]})]
        # thinking_delta, signature_delta, citations_delta: no OpenAI equivalent.
        return []

    def _message_delta(self, payload: dict[str, Any]) -> list[ChatCompletionChunk]:
        self._note_usage(payload.get("usage"))
        self.counts = read_usage(self._usage)
        delta = payload.get("delta")
        reason = _finish_reason(delta.get("stop_reason") if isinstance(delta, dict) else None)
        reason = _structured_finish(reason, self.structured)
        return [self._chunk({}, finish_reason=reason)] if reason is not None else []

    def _error(self, payload: dict[str, Any]) -> UpstreamError:
        error = payload.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        code = kind if isinstance(kind, str) else None
        cls = _STREAM_ERRORS.get(code or "", Rejected)
        return cls(
            self.card.provider,
            self.card.id,
            str(message or code or "error event in stream")[:300],
            code=code,
        )

    def _note_usage(self, usage: Any) -> None:
        # message_start carries input and cache counts; message_delta the cumulative
        # output count (and, on newer API versions, cumulative input counts as well).
        if isinstance(usage, dict):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _chunk(
        self, delta: dict[str, Any], *, finish_reason: str | None = None
    ) -> ChatCompletionChunk:
        if self._id is None:
            msg = "stream event before message_start"
            raise ValueError(msg)
        return ChatCompletionChunk.model_validate(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
        )


_EPHEMERAL = {"type": "ephemeral"}


def add_breakpoints(body: dict[str, Any], *, ttl: str | None = None) -> None:
    """Mark ``body`` for prefix caching: a ``cache_control`` breakpoint after the system
    prompt (tools and system are cached together) and one on the last message, so the
    whole prompt is written and the next turn of the conversation reads it back.

    Anthropic allows four breakpoints; this adds at most two, and none where the caller
    already placed one. ``ttl="1h"`` asks for the one-hour cache (written at its own,
    higher rate); None: the default five minutes.
    """
    marker = dict(_EPHEMERAL) if ttl is None else {**_EPHEMERAL, "ttl": ttl}
    system = body.get("system")
    if isinstance(system, str) and system:
        body["system"] = [{"type": "text", "text": system, "cache_control": dict(marker)}]
    elif isinstance(system, list) and system and "cache_control" not in system[-1]:
        system[-1] = {**system[-1], "cache_control": dict(marker)}
    messages = body.get("messages") or []
    if not messages:
        return
    last = messages[-1]
    content = last.get("content")
    if isinstance(content, str):
        last["content"] = [{"type": "text", "text": content, "cache_control": dict(marker)}]
    elif isinstance(content, list) and content and "cache_control" not in content[-1]:
        content[-1] = {**content[-1], "cache_control": dict(marker)}
