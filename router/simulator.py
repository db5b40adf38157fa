"""A provider simulator: real HTTP on 127.0.0.1 in each provider's real wire format.

One :class:`Simulator` runs one ``ThreadingHTTPServer`` on a random loopback port and
mounts every simulated provider under its own path prefix (``/pinstripes/v1/models``,
``/pipellm/v1/models``, ...). Each provider serves its model catalog exactly as the
provider's API page (``/work/shared/seeds``) shows it, and checks that provider's auth.

Each provider also serves chat in its real format: OpenAI Chat Completions (pinstripes,
Routstr, OpenRouter, an OpenAI-compatible server, PipeLLM's ``openai`` family and its
converter route), Anthropic Messages (PipeLLM ``/v1/messages``) and Majestix's own SSE
events (``/inference-api/chat`` and ``/code``), streamed or not. The "model" behind them
is deterministic so that tests can predict every number:

- prompt tokens = :func:`prompt_tokens_of` the request body (4 characters per token);
- the answer is ``"You said: " + <last user text>`` cut to ``max_tokens`` words, one
  completion token per word;
- with tools and a user message last, the answer is one call to the first tool with
  arguments ``{"query": <last user text>}`` (completion tokens =
  ``count_tokens(json.dumps(arguments))``); with a tool result last it is
  ``"Tool said: " + <the result's text>``;
- cached prompt tokens come from a prefix cache per (provider, model) that behaves like
  the real providers' (see "Prefix caching" below), unless
  :meth:`Simulator.set_cached_tokens` / :meth:`Simulator.set_cache_write_tokens` fix them.

Prefix caching. A prompt is the ordered list of its *elements*: ``tools`` (if any), a
top-level ``system`` (Anthropic, Majestix ``/code``; if any), then each message. Two prompts
share a prefix of k elements when their first k elements serialize the same
(``json.dumps(..., sort_keys=True)``, ``cache_control`` markers left out, as a provider's
cache key ignores where the breakpoints sit); a prefix's tokens are its elements' tokens,
counted as :func:`prompt_tokens_of` counts them. Only models whose served catalog entry
has a cache-read rate cache (pinstripes ``pricing.cached_tokens``, OpenRouter and Routstr
``pricing.input_cache_read``, PipeLLM ``pricing.cache.read``; the vLLM-like ``openai``
server only with ``set_cache_rule("openai", all_models=True)``); Majestix reports no tokens.

- Automatic caching (every OpenAI Chat Completions route): after each successful answer
  every prefix of the prompt of at least ``min_tokens`` tokens is remembered with the
  simulator's time; a request's cached tokens are the tokens of its longest remembered
  prefix still within ``lifetime`` seconds of its last use, rounded down by the rule
  (0 below ``min_tokens``, else ``min_tokens + (t - min_tokens) // step * step``).
- Explicit caching (PipeLLM's Anthropic route ``/v1/messages``): only prefixes ending at an
  element that carries ``"cache_control": {"type": "ephemeral"}`` (a tool, a system block,
  a content block) are written and read. ``cache_read_input_tokens`` = tokens of the
  longest remembered breakpoint prefix shared (up to the request's last breakpoint),
  ``cache_creation_input_tokens`` = tokens from there to the request's last breakpoint,
  ``input_tokens`` = the rest. No breakpoint, no caching.

The rule per provider is :meth:`Simulator.set_cache_rule` (defaults: ``min_tokens=1024``,
``step=128``, ``lifetime=300``); time is the simulator's own clock, moved by
:meth:`Simulator.advance`. A failed request (an error status, a cut answer, an error
event) leaves the cache as it was.

Faults are scripted per provider: a queue of :class:`Reply` objects (429 with
``Retry-After``, 5xx, an HTML page, malformed JSON, a slow first byte, a cut stream or
body, an error event mid-stream) consumed one per request, and a "down" switch that
answers 503 to everything.

The module uses only the standard library and imports nothing from ``router`` so that it
can run while the rest of the package is broken.

Adding a route means adding one ``(method, path) -> handler`` entry to a provider's
``routes``; a handler takes a :class:`_Call` and returns a :class:`_Response` (a JSON
body, or SSE frames that are sent as one HTTP chunk each).
"""

from __future__ import annotations

import contextlib
import copy
import enum
import hashlib
import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

__all__ = [
    "API_KEYS",
    "CATALOGS",
    "PROVIDERS",
    "ROUTSTR_LIVE_CATALOG",
    "Recorded",
    "Reply",
    "Simulator",
    "count_tokens",
    "prompt_tokens_of",
]


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


@dataclass(frozen=True)
class Reply:
    """One scripted answer: ``status``, then ``json`` or raw ``body``, extra ``headers``.

    With neither ``json`` nor ``body``: a 200 serves the provider's normal response (so
    ``Reply(200, delay=0.5)`` is the normal catalog or chat answer with a slow first
    byte) and any other status serves a generated error body in the provider's style
    (Anthropic's on PipeLLM's ``/v1/messages``). ``delay`` seconds are slept before
    anything is sent. A raw ``body`` defaults to ``text/html`` when it starts with ``<``
    and ``application/json`` otherwise; a ``Content-Type`` in ``headers`` overrides
    either.

    ``cut_after=N`` breaks the response: a streamed answer sends its first ``N`` events
    and the server closes the connection without ending the chunked body (the client
    sees an incomplete read, never ``[DONE]`` nor the final events); any other response
    announces its full ``Content-Length``, sends the first half of the body and closes.

    ``error_event=message`` (200 only, normal answer) makes a streamed answer send one
    content event, then the provider's error event with ``message``, then end; a
    non-streamed answer is then a 200 whose body is that error object.
    """

    status: int = 200
    json: object = _UNSET
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_after: int | None = None
    error_event: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            msg = f"Reply.status must be an HTTP status (100-599), not {self.status}"
            raise ValueError(msg)
        if self.json is not _UNSET and self.body is not None:
            msg = "Reply takes json or body, not both"
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"Reply.delay must be >= 0, not {self.delay}"
            raise ValueError(msg)
        if self.cut_after is not None and (
            not isinstance(self.cut_after, int) or self.cut_after < 0
        ):
            msg = f"Reply.cut_after must be an int >= 0, not {self.cut_after!r}"
            raise ValueError(msg)
        if self.error_event is not None and (
            self.status != 200 or self.json is not _UNSET or self.body is not None
        ):
            msg = "Reply.error_event goes with a normal answer: status 200, no json or body"
            raise ValueError(msg)

    @property
    def scripted_body(self) -> bool:
        """Whether this reply replaces the normal answer (its own status, json or body)."""
        return self.json is not _UNSET or self.body is not None or self.status != 200


@dataclass(frozen=True)
class Recorded:
    """One request a simulated provider received; ``path`` is the raw request target."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    events: tuple[bytes, ...] | None = None  # an event stream: one HTTP chunk per frame
    cut: bool = False  # close the connection before the body is complete

    @classmethod
    def of_json(cls, status: int, payload: object, headers: Mapping[str, str] = {}) -> _Response:
        return cls(status, _compact(payload), _merge({"Content-Type": "application/json"}, headers))

    @classmethod
    def sse(cls, frames: Iterable[bytes]) -> _Response:
        return cls(200, b"", dict(_SSE_HEADERS), tuple(frames))

    def broken(self, after: int) -> _Response:
        """This response cut: the first ``after`` events of a stream, else half the body."""
        events = None if self.events is None else self.events[:after]
        return replace(self, events=events, cut=True)


def _compact(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _merge(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``, header names compared case-insensitively."""
    taken = {k.lower() for k in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in taken}, **extra}


@dataclass(frozen=True)
class _Call:
    """What a route handler sees: the request, relative to the provider's mount."""

    sim: Simulator
    method: str
    path: str  # relative to the mount, without the query string
    query: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    key: str = ""  # the key the provider accepts now
    reply: Reply | None = None  # the scripted reply this request consumed, if any

    @property
    def error_event(self) -> str | None:
        """The message of a scripted mid-stream error, if one was asked for."""
        return self.reply.error_event if self.reply is not None else None

    @property
    def completes(self) -> bool:
        """Whether a normal answer to this call arrives whole (no error event, no cut)."""
        return self.reply is None or (
            self.reply.error_event is None and self.reply.cut_after is None
        )


Handler = Callable[[_Call], _Response]


def _phrase(status: int) -> str:
    if status == 529:  # Anthropic / PipeLLM "overloaded", not in http.HTTPStatus
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


# -- chat: a deterministic model ---------------------------------------------------------


def count_tokens(text: str) -> int:
    """The simulator's token count of ``text``: ``max(1, ceil(len(text) / 4))``."""
    return max(1, -(-len(text) // 4))


def _texts(content: object) -> list[str]:
    """The text pieces of a message's ``content`` or of an Anthropic ``system``.

    A string is one piece; in a list of parts, each part's ``text`` is one, and a
    ``tool_result`` block gives the pieces of its own ``content``.
    """
    if isinstance(content, str):
        return [content]
    pieces: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif part.get("type") == "tool_result":
                pieces.extend(_texts(part.get("content")))
    return pieces


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def prompt_tokens_of(body: Mapping[str, Any]) -> int:
    """The prompt tokens the simulator reports for a chat request ``body``.

    The sum of :func:`count_tokens` over every text piece (see :func:`_texts`: a string
    ``content``, each content part's ``text``, each text of a ``tool_result`` block) of
    every message and of a top-level ``system`` (Anthropic, Majestix ``/code``), plus
    ``count_tokens(json.dumps(tools))`` when ``tools`` is a non-empty list. One rule for
    OpenAI, Anthropic and Majestix bodies; a message without text counts 0. It is the
    sum of the tokens of the prompt's elements (the prefix cache's unit).
    """
    return sum(element.tokens for element in _elements(body))


@dataclass(frozen=True)
class _Element:
    """One element of a prompt: the tools, the system, or one message."""

    identity: str  # canonical serialization, cache_control markers left out
    tokens: int
    breakpoint: bool  # carries an ephemeral cache_control (explicit caching)


def _text_tokens(content: object) -> int:
    return sum(count_tokens(piece) for piece in _texts(content))


def _marked(block: object) -> bool:
    """Whether ``block`` carries ``"cache_control": {"type": "ephemeral"}``."""
    if not isinstance(block, dict):
        return False
    control = block.get("cache_control")
    return isinstance(control, dict) and control.get("type") == "ephemeral"


def _unmarked(blocks: object) -> object:
    """``blocks`` (a list of tools or content blocks) without their ``cache_control``."""
    if not isinstance(blocks, list):
        return blocks
    return [
        {k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, dict) else b
        for b in blocks
    ]


def _element(kind: str, value: object, blocks: object, tokens: int) -> _Element:
    marked = isinstance(blocks, list) and any(_marked(b) for b in blocks)
    return _Element(kind + "\x00" + json.dumps(value, sort_keys=True), tokens, marked)


def _elements(body: Mapping[str, Any]) -> list[_Element]:
    """The prompt's elements in order: ``[tools, system, message 0, message 1, ...]``.

    ``tools`` only when a non-empty list, ``system`` only when present (not None).
    """
    elements: list[_Element] = []
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        tokens = count_tokens(json.dumps(tools))
        elements.append(_element("tools", _unmarked(tools), tools, tokens))
    system = body.get("system")
    if system is not None:
        elements.append(_element("system", _unmarked(system), system, _text_tokens(system)))
    for message in _messages(body):
        content = message.get("content")
        value = {**message, "content": _unmarked(content)} if "content" in message else message
        elements.append(_element("message", value, content, _text_tokens(content)))
    return elements


def _tool_result(message: Mapping[str, Any]) -> str | None:
    """The text of the tool result ``message`` carries (its last one), or None."""
    if message.get("role") == "tool":  # OpenAI
        return " ".join(_texts(message.get("content")))
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list):  # Anthropic, Majestix
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return " ".join(_texts(results[-1].get("content")))
    return None


def _user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message that has text (tool results left out)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = [p for p in content if isinstance(p, dict) and p.get("type") != "tool_result"]
        pieces = _texts(content)
        if pieces:
            return " ".join(pieces)
    return ""


def _tool_name(tool: object) -> str:
    """The name of an OpenAI (``function.name``) or Anthropic (``name``) tool."""
    if isinstance(tool, dict):
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str):
            return name
    return "tool"


@dataclass(frozen=True)
class _Answer:
    """What the simulated model answers, before any wire format."""

    prompt: int
    completion: int
    words: tuple[str, ...] = ()
    tool: str | None = None  # the tool called; then ``words`` is empty
    arguments: dict[str, Any] = field(default_factory=dict)
    finish: str = "stop"  # OpenAI's finish_reason: stop, length or tool_calls

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)

    def pieces(self) -> list[str]:
        """The streamed pieces of the text: the first word, then ``" word"`` each."""
        return [word if i == 0 else " " + word for i, word in enumerate(self.words)]


def _answer(body: Mapping[str, Any], max_tokens: int | None) -> _Answer:
    messages = _messages(body)
    last = messages[-1] if messages else {}
    tools = body.get("tools")
    prompt = prompt_tokens_of(body)
    result = _tool_result(last)
    if result is not None:
        text = "Tool said: " + result
    elif isinstance(tools, list) and tools and last.get("role") == "user":
        arguments = {"query": _user_text(messages)}
        completion = count_tokens(json.dumps(arguments))
        return _Answer(prompt, completion, (), _tool_name(tools[0]), arguments, "tool_calls")
    else:
        text = "You said: " + _user_text(messages)
    words = text.split()
    finish = "stop"
    if max_tokens is not None and len(words) > max_tokens:
        words, finish = words[:max_tokens], "length"
    return _Answer(prompt, len(words), tuple(words), finish=finish)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _fragments(text: str, size: int = 8) -> list[str]:
    """``text`` in pieces of ``size`` characters, as tool arguments are streamed."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _with_error(events: list[Any], first_content: int, error: object) -> list[Any]:
    """The events up to and including the first content event, then ``error``."""
    return [*events[: first_content + 1], error]


def _count(value: object) -> int | None:
    """``value`` if it is a token count (an int >= 0, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# OpenAI Chat Completions


def _openai_usage(answer: _Answer, cached: int, *, top_level_cached: bool) -> dict[str, Any]:
    total = answer.prompt + answer.completion
    if top_level_cached:  # pinstripes, seed 001
        return {
            "prompt_tokens": answer.prompt,
            "completion_tokens": answer.completion,
            "cached_tokens": cached,
            "total_tokens": total,
        }
    return {
        "prompt_tokens": answer.prompt,
        "completion_tokens": answer.completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _openai_completion(answer: _Answer, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.tool is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": _new_id("call_"),
                "type": "function",
                "function": {"name": answer.tool, "arguments": answer.arguments_json},
            }
        ]
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish}],
        "usage": usage,
    }


def _openai_frames(
    answer: _Answer, model: str, usage: dict[str, Any] | None, error: str | None
) -> list[bytes]:
    head = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events: list[dict[str, Any]] = []
    if answer.tool is not None:
        call = {
            "index": 0,
            "id": _new_id("call_"),
            "type": "function",
            "function": {"name": answer.tool, "arguments": ""},
        }
        events.append(chunk({"role": "assistant", "content": None, "tool_calls": [call]}))
        for fragment in _fragments(answer.arguments_json):
            events.append(
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
            )
    else:
        first, *rest = answer.pieces() or [""]
        events.append(chunk({"role": "assistant", "content": first}))
        events.extend(chunk({"content": piece}) for piece in rest)
    if error is not None:
        events = _with_error(events, 0, {"error": {"message": error}})
        return [b"data: " + _compact(e) + b"\n\n" for e in events]
    events.append(chunk({}, answer.finish))
    if usage is not None:
        events.append({**head, "choices": [], "usage": usage})
    return [b"data: " + _compact(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]


# Anthropic Messages

_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _anthropic_error(status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    if kind is None:
        default = "api_error" if status >= 500 else "invalid_request_error"
        kind = _ANTHROPIC_ERROR_TYPES.get(status, default)
    return {"type": "error", "error": {"type": kind, "message": message}}


def _anthropic_usage(answer: _Answer, read: int, written: int) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt - read - written,  # Anthropic: excludes the cache
        "output_tokens": answer.completion,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
    }


def _anthropic_block(answer: _Answer, *, streamed: bool) -> dict[str, Any]:
    if answer.tool is None:
        return {"type": "text", "text": "" if streamed else answer.text}
    tool_input = {} if streamed else answer.arguments
    return {"type": "tool_use", "id": _new_id("toolu_"), "name": answer.tool, "input": tool_input}


def _anthropic_message(answer: _Answer, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_anthropic_block(answer, streamed=False)],
        "stop_reason": _ANTHROPIC_STOP[answer.finish],
        "stop_sequence": None,
        "usage": usage,
    }


def _anthropic_frames(
    answer: _Answer, model: str, usage: dict[str, Any], error: str | None
) -> list[bytes]:
    start = {
        **_anthropic_message(answer, model, {**usage, "output_tokens": 1}),
        "content": [],
        "stop_reason": None,
    }
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": _anthropic_block(answer, streamed=True),
        },
        {"type": "ping"},
    ]
    first_content = len(events)
    if answer.tool is None:
        deltas = [{"type": "text_delta", "text": piece} for piece in answer.pieces()]
    else:
        deltas = [
            {"type": "input_json_delta", "partial_json": fragment}
            for fragment in _fragments(answer.arguments_json)
        ]
    events.extend({"type": "content_block_delta", "index": 0, "delta": d} for d in deltas)
    if error is not None:
        events = _with_error(
            events, first_content, _anthropic_error(529, error, "overloaded_error")
        )
    else:
        events += [
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": _ANTHROPIC_STOP[answer.finish], "stop_sequence": None},
                "usage": {"output_tokens": answer.completion},
            },
            {"type": "message_stop"},
        ]
    return [f"event: {e['type']}\ndata: ".encode() + _compact(e) + b"\n\n" for e in events]


# Majestix (inference-api): its own SSE events, no token counts


def _majestix_frames(answer: _Answer, model: str, credits: float, error: str | None) -> list[bytes]:
    events: list[dict[str, Any]]
    if answer.tool is not None:
        events = [
            {
                "type": "tool_use",
                "id": _new_id("toolu_"),
                "name": answer.tool,
                "input": answer.arguments,
            }
        ]
    else:
        events = [{"type": "chunk", "content": piece} for piece in answer.pieces()]
    if error is not None:
        events = _with_error(events, 0, {"type": "error", "message": error})
    else:
        session = _new_id("sess_")
        events.append(
            {"type": "done", "model": model, "session_id": session, "credits_used": credits}
        )
    return [b"data: " + _compact(e) + b"\n\n" for e in events]


def _credits(answer: _Answer, entry: Mapping[str, Any]) -> float:
    """Majestix credits for ``answer``: tokens x credits per 1k / 1000, to 6 decimals."""

    def rate(key: str) -> Decimal:
        value = entry.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return Decimal(str(value)) if ok else Decimal(0)

    used = (
        answer.prompt * rate("cost_per_1k_input") + answer.completion * rate("cost_per_1k_output")
    ) / 1000
    return float(used.quantize(Decimal("0.000001"), ROUND_HALF_EVEN))


def _catalog_entry(payload: object, model: str) -> dict[str, Any] | None:
    """The entry for ``model`` in a catalog document (its ``data`` or ``models`` list)."""
    if isinstance(payload, dict):
        for key in ("data", "models"):
            entries = payload.get(key)
            if isinstance(entries, list):
                for entry in entries:
                    if isinstance(entry, dict) and entry.get("id") == model:
                        return entry
    return None


def _pricing(entry: Mapping[str, Any]) -> dict[str, Any]:
    pricing = entry.get("pricing")
    return pricing if isinstance(pricing, dict) else {}


def _positive_rate(value: object) -> bool:
    """Whether ``value`` is a price above zero (a number or a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return Decimal(str(value)) > 0
    except (InvalidOperation, ValueError):
        return False


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# -- providers -----------------------------------------------------------------------

_OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _openai_problem(body: Mapping[str, Any]) -> str | None:
    """What makes ``body`` an invalid Chat Completions request, or None."""
    if not isinstance(body.get("model"), str):
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    if not all(isinstance(m, dict) for m in messages):
        return "each message must be an object"
    for name in ("max_tokens", "max_completion_tokens"):
        if name in body and body[name] is not None and _count(body[name]) is None:
            return f"'{name}' must be an integer >= 0"
    return None


class _SimProvider:
    """One simulated provider: its mount, its auth rule, its error style, its routes."""

    name: ClassVar[str]
    mount: ClassVar[str]  # path prefix on the shared server
    api_root: ClassVar[str]  # mount + api_root = base_url's path
    catalog_path: ClassVar[str]  # relative to the mount, as on the real API
    chat_paths: ClassVar[tuple[str, ...]] = ()  # OpenAI Chat Completions routes
    top_level_cached: ClassVar[bool] = False  # usage.cached_tokens, not prompt_tokens_details

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {("GET", self.catalog_path): self.models}
        for path in self.chat_paths:
            self.routes["POST", path] = self.chat

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        """Whether the request carries ``key`` the way this provider wants it."""
        return _bearer(headers) == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        """The JSON error body this provider sends (OpenAI style by default)."""
        kind = _OPENAI_ERROR_TYPES.get(status)
        if kind is None:
            kind = "server_error" if status >= 500 else "invalid_request_error"
        code = _phrase(status).lower().replace(" ", "_").replace("-", "_")
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def error(self, call: _Call, status: int, message: str) -> _Response:
        return _Response.of_json(status, self.error_payload(status, message, call.path))

    def models(self, call: _Call) -> _Response:
        """The catalog route: the current catalog payload, as set on the simulator."""
        return _Response.of_json(200, call.sim.catalog(self.name))

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        """The cache-read price ``entry`` lists in this provider's catalog, or None.

        A model caches prefixes only when it is above zero (or the rule says
        ``all_models``); by default a provider lists none.
        """
        return None

    # OpenAI Chat Completions

    def unknown_model(self, model: str) -> _Response:
        """The provider's answer to a model that is not in its catalog (OpenAI's 404)."""
        error = {
            "message": f"The model `{model}` does not exist",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
        return _Response.of_json(404, {"error": error})

    def refuse(
        self, call: _Call, entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> _Response | None:
        """A refusal of a known model on this route (e.g. the wrong protocol), or None."""
        return None

    def chat(self, call: _Call) -> _Response:
        """``POST .../chat/completions``: OpenAI's format, streamed or not."""
        body = _json_object(call.body)
        if body is None:
            return self.error(call, 400, "We could not parse the JSON body of your request.")
        problem = _openai_problem(body)
        if problem is not None:
            return self.error(call, 400, problem)
        model: str = body["model"]
        entry = _catalog_entry(call.sim.catalog(self.name), model)
        if entry is None:
            return self.unknown_model(model)
        refusal = self.refuse(call, entry, body)
        if refusal is not None:
            return refusal
        limit = body.get("max_completion_tokens")
        answer = _answer(body, limit if limit is not None else body.get("max_tokens"))
        cached, _ = call.sim._prompt_cache(self, call, entry, body, explicit=False)
        usage = _openai_usage(answer, cached, top_level_cached=self.top_level_cached)
        if body.get("stream") is True:
            options = body.get("stream_options")
            include = isinstance(options, dict) and options.get("include_usage") is True
            frames = _openai_frames(answer, model, usage if include else None, call.error_event)
            return _Response.sse(frames)
        if call.error_event is not None:
            return _Response.of_json(200, {"error": {"message": call.error_event}})
        return _Response.of_json(200, _openai_completion(answer, model, usage))


class _Pinstripes(_SimProvider):
    # 000_*.txt: GET /v1/models, "Authorization: Bearer sk-ps-..."; 001_*.txt: chat with
    # usage.cached_tokens top-level; DESIGN wire facts: unknown model -> 422.
    name, mount, api_root, catalog_path = "pinstripes", "/pinstripes", "/v1", "/v1/models"
    chat_paths = ("/v1/chat/completions",)
    top_level_cached = True

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        return _pricing(entry).get("cached_tokens")  # 000_*.txt: "cached_tokens" price

    def unknown_model(self, model: str) -> _Response:
        error = {
            "message": f"Model '{model}' not found",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
        return _Response.of_json(422, {"error": error})


# The route of each PipeLLM protocol family (DESIGN wire facts).
_PIPELLM_ROUTE = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/openai/v1/chat/completions",
}
_ANTHROPIC_VERSION = "2023-06-01"


class _PipeLLM(_SimProvider):
    # 002_*.txt: GET /v1/models, "Authorization: Bearer" or "x-api-key". The base URL
    # has no /v1 because PipeLLM serves both /v1/... and /openai/v1/... routes. A native
    # route serves only its protocol family; the /openai converter takes gemini too.
    name, mount, api_root, catalog_path = "pipellm", "/pipellm", "", "/v1/models"
    chat_paths = ("/v1/chat/completions", "/openai/v1/chat/completions")

    def __init__(self) -> None:
        super().__init__()
        self.routes["POST", "/v1/messages"] = self.messages

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key or _bearer(headers) == key

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        cache = _pricing(entry).get("cache")  # 002_*.txt: pricing.cache.read
        return cache.get("read") if isinstance(cache, dict) else None

    def error_payload(self, status: int, message: str, path: str) -> object:
        if path.startswith("/v1/messages"):  # the native Anthropic route (DESIGN wire facts)
            return _anthropic_error(status, message)
        return super().error_payload(status, message, path)

    @staticmethod
    def _mismatch(model: str, entry: Mapping[str, Any], families: tuple[str, ...]) -> str | None:
        pricing = entry.get("pricing")
        if isinstance(pricing, dict) and pricing.get("kind") == "generation":
            return f"model {model} is a generation model; it does not serve chat"
        family = entry.get("type_target")
        if family in families:
            return None
        route = _PIPELLM_ROUTE.get(str(family))
        where = f"; use {route}" if route else ""
        return f"model {model} is served under the {family} protocol{where}"

    def refuse(
        self, call: _Call, entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> _Response | None:
        families = ("openai",) if call.path == "/v1/chat/completions" else ("openai", "gemini")
        problem = self._mismatch(body["model"], entry, families)
        if problem is None:
            return None
        return _Response.of_json(
            400, {"error": {"message": problem, "type": "invalid_request_error"}}
        )

    def messages(self, call: _Call) -> _Response:
        """``POST /v1/messages``: Anthropic Messages for the ``anthropic`` family."""

        def fail(status: int, message: str, kind: str | None = None) -> _Response:
            return _Response.of_json(status, _anthropic_error(status, message, kind))

        if call.headers.get("x-api-key") != call.key:
            return fail(401, "invalid x-api-key")
        version = call.headers.get("anthropic-version")
        if version is None:
            return fail(400, "anthropic-version: header is required")
        if version != _ANTHROPIC_VERSION:
            return fail(400, f"anthropic-version: unsupported version {version!r}")
        body = _json_object(call.body)
        if body is None:
            return fail(400, "There was an error parsing the body of your request as JSON")
        if not isinstance(body.get("model"), str):
            return fail(400, "model: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return fail(400, "messages: Field required")
        if "max_tokens" not in body:
            return fail(400, "max_tokens: Field required")
        max_tokens = _count(body["max_tokens"])
        if max_tokens is None:
            return fail(400, "max_tokens: Input should be a valid integer >= 0")
        model: str = body["model"]
        entry = _catalog_entry(call.sim.catalog(self.name), model)
        if entry is None:
            return fail(404, f"model: {model}")
        problem = self._mismatch(model, entry, ("anthropic",))
        if problem is not None:
            return fail(400, problem)
        answer = _answer(body, max_tokens)
        read, written = call.sim._prompt_cache(self, call, entry, body, explicit=True)
        usage = _anthropic_usage(answer, read, written)
        if body.get("stream") is True:
            return _Response.sse(_anthropic_frames(answer, model, usage, call.error_event))
        if call.error_event is not None:
            payload = _anthropic_error(529, call.error_event, "overloaded_error")
            return _Response.of_json(200, payload)
        return _Response.of_json(200, _anthropic_message(answer, model, usage))


def _fastapi_missing(*names: str) -> _Response:
    detail = [
        {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}
        for name in names
    ]
    return _Response.of_json(422, {"detail": detail})


class _InferenceAPI(_SimProvider):
    # 003_*.txt: GET /models with "X-Api-Key"; a FastAPI service, errors are {"detail"}.
    # DESIGN wire facts: POST /chat and /code answer in Majestix's own SSE events.
    name, mount, api_root, catalog_path = "inference-api", "/inference-api", "", "/models"

    def __init__(self) -> None:
        super().__init__()
        self.routes["POST", "/chat"] = self.chat
        self.routes["POST", "/code"] = self.code

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        return {"detail": message}

    def chat(self, call: _Call) -> _Response:
        """``POST /chat``: ``{model, messages:[{role, content}], ...}``; no tools."""
        return self._answer(call, code=False)

    def code(self, call: _Call) -> _Response:
        """``POST /code``: Anthropic-style blocks, ``system`` and ``tools``."""
        return self._answer(call, code=True)

    def _answer(self, call: _Call, *, code: bool) -> _Response:
        body = _json_object(call.body)
        if body is None:
            return _Response.of_json(
                422,
                {"detail": [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}]},
            )
        missing = [n for n in ("model", "messages") if n not in body]
        if missing:
            return _fastapi_missing(*missing)
        model = body["model"]
        max_tokens = body.get("max_tokens")
        if not isinstance(model, str) or not isinstance(body["messages"], list):
            return self.error(call, 422, "model must be a string and messages a list")
        if max_tokens is not None and _count(max_tokens) is None:
            return self.error(call, 422, "max_tokens must be an integer >= 0")
        entry = _catalog_entry(call.sim.catalog(self.name), model)
        if entry is None:
            return self.error(call, 400, f"Unknown model: {model}")
        if code and entry.get("supports_tools") is False:
            return self.error(call, 400, f"Model {model} does not support tools")
        # /chat takes {role, content} messages only: system and tools are not its fields.
        fields = ("messages", "system", "tools") if code else ("messages",)
        scope: dict[str, Any] = {k: body[k] for k in fields if k in body}
        answer = _answer(scope, max_tokens)
        frames = _majestix_frames(answer, model, _credits(answer, entry), call.error_event)
        return _Response.sse(frames)


class _Routstr(_SimProvider):
    # 004_*.txt: GET /v1/models, "Authorization: Bearer <Cashu token>"; DESIGN wire facts:
    # the token is "cashuA..." or an "sk-..." key; unknown model -> 400 invalid_model.
    name, mount, api_root, catalog_path = "routstr", "/routstr", "/v1", "/v1/models"
    chat_paths = ("/v1/chat/completions",)

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        token = _bearer(headers)
        return token is not None and token.startswith(("cashuA", "sk-")) and token == key

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        return _pricing(entry).get("input_cache_read")  # the live routstr-core schema

    def unknown_model(self, model: str) -> _Response:
        error = {
            "message": f"Invalid model: {model}",
            "type": "invalid_request_error",
            "code": "invalid_model",
        }
        return _Response.of_json(400, {"error": error})


class _OpenRouter(_SimProvider):
    # openrouter.ai/api/v1/models; OpenRouter's errors are {"error": {"code": <int>, ...}}.
    name, mount, api_root, catalog_path = "openrouter", "/openrouter", "/api/v1", "/api/v1/models"
    chat_paths = ("/api/v1/chat/completions",)

    def error_payload(self, status: int, message: str, path: str) -> object:
        return {"error": {"message": message, "code": status}}

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object:
        return _pricing(entry).get("input_cache_read")

    def unknown_model(self, model: str) -> _Response:
        return _Response.of_json(
            400, {"error": {"message": f"{model} is not a valid model ID", "code": 400}}
        )

    def refuse(
        self, call: _Call, entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> _Response | None:
        # OpenRouter routes a tool request only to endpoints that support tools.
        params = entry.get("supported_parameters")
        if body.get("tools") and isinstance(params, list) and params and "tools" not in params:
            message = "No endpoints found that support tool use."
            return _Response.of_json(404, {"error": {"message": message, "code": 404}})
        return None


class _OpenAICompatible(_SimProvider):
    # A vLLM-like OpenAI-compatible server (vllm serve --api-key ...).
    name, mount, api_root, catalog_path = "openai", "/openai", "/v1", "/v1/models"
    chat_paths = ("/v1/chat/completions",)


_PROVIDERS: dict[str, _SimProvider] = {
    p.name: p
    for p in (
        _Pinstripes(),
        _PipeLLM(),
        _InferenceAPI(),
        _Routstr(),
        _OpenRouter(),
        _OpenAICompatible(),
    )
}
PROVIDERS: tuple[str, ...] = tuple(_PROVIDERS)
"""The simulated providers' keys, in a fixed order."""

API_KEYS: dict[str, str] = {
    "pinstripes": "sk-ps-sim-0123456789abcdef",
    "pipellm": "sk-pipellm-sim-0123456789abcdef",
    "inference-api": "inf_sim_0123456789abcdef",  # 003: "inf_your_api_key_here"
    "routstr": "cashuAeyJ0b2tlbiI6W3sibWludCI6Imh0dHBzOi8vbWludC5leGFtcGxlIn1dfQ",
    "openrouter": "sk-or-v1-sim-0123456789abcdef",
    "openai": "sk-vllm-sim-0123456789abcdef",
}
"""The fake key each simulated provider accepts by default."""

# -- default catalogs ----------------------------------------------------------------

# 000_*.txt reference table; USD per token = the table's $/1M / 1,000,000, as strings.
# Only ps/qwen3.6-35b-a3b's max_output_tokens (32768) is given by the seed; 16384 elsewhere.
_PINSTRIPES_TABLE = (
    ("ps/deepseek-v4-flash", 1_000_000, 16384, "0.000000087", "0.000000173"),  # $0.087 / $0.173
    ("ps/deepseek-v4-pro", 1_000_000, 16384, "0.00000039", "0.00000078"),  # $0.390 / $0.780
    ("ps/llama-4-maverick", 1_000_000, 16384, "0.00000013", "0.00000053"),  # $0.130 / $0.530
    ("ps/llama-4-scout", 10_000_000, 16384, "0.000000071", "0.000000265"),  # $0.071 / $0.265
    ("ps/qwen3.6-35b-a3b", 262_144, 32768, "0.00000012", "0.00000085"),  # $0.120 / $0.850
    ("ps/qwen3.5-35b-a3b", 262_144, 16384, "0.00000012", "0.00000085"),  # $0.120 / $0.850
    ("ps/kimi-k2", 131_072, 16384, "0.00000051", "0.000002"),  # $0.510 / $2.000
    ("ps/step-3.7-flash", 256_000, 16384, "0.000000175", "0.000001"),  # $0.175 / $1.000
    ("ps/glm-4.5-air", 131_072, 16384, "0.00000011", "0.00000075"),  # $0.110 / $0.750
    ("ps/gpt-oss-120b", 131_072, 16384, "0.000000033", "0.000000153"),  # $0.033 / $0.153
    ("ps/qwen3-coder-30b-a3b", 160_000, 16384, "0.000000061", "0.000000235"),  # $0.061 / $0.235
)

_PINSTRIPES: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": model_id,
            "object": "model",
            "created": 1748995200,
            "owned_by": "pinstripes",
            "context_length": context,
            "max_output_tokens": max_out,
            "pricing": {"prompt": prompt, "completion": completion, "cached_tokens": "0.00000005"},
        }
        for model_id, context, max_out, prompt, completion in _PINSTRIPES_TABLE
    ],
}

# 002_*.txt unified schema: USD per token as strings, sorted by id, with "total".
# gpt-5 and sora-2 are the seed's entries verbatim.
_PIPELLM_MODELS: list[dict[str, Any]] = [
    {
        "id": "claude-sonnet-4-6",
        "display_name": "Claude Sonnet 4 6",
        "type_target": "anthropic",
        "created_at": "2026-02-17T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {"prompt": "0.000003", "completion": "0.000015"},
            "cache": {"read": "0.0000003", "write": "0.00000375", "write_1h": "0.000006"},
            "tiers": {
                "over_200k": {
                    "text": {"prompt": "0.000006", "completion": "0.0000225"},
                    "cache": {"read": "0.0000006", "write": "0.0000075", "write_1h": "0.000012"},
                }
            },
        },
    },
    {
        "id": "gemini-3-flash",
        "display_name": "Gemini 3 Flash",
        "type_target": "gemini",
        "created_at": "2025-12-17T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {"prompt": "0.0000005", "completion": "0.000003"},
            "cache": {"read": "0.00000005"},
        },
    },
    {
        "id": "gpt-5",
        "display_name": "Gpt 5",
        "type_target": "openai",
        "created_at": "2025-05-14T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {
                "prompt": "0.000003",
                "completion": "0.000015",
                "internal_reasoning": "0.000015",
            },
            "cache": {"read": "0.000001", "write": "0.00000375", "write_1h": "0.0000075"},
            "tiers": {
                "over_200k": {
                    "text": {
                        "prompt": "0.0000055",
                        "completion": "0.000022",
                        "internal_reasoning": "0.000022",
                    },
                    "cache": {"read": "0.0000009", "write": "0.0000033", "write_1h": "0.0000066"},
                }
            },
        },
    },
    {
        "id": "gpt-5-mini",
        "display_name": "Gpt 5 Mini",
        "type_target": "openai",
        "created_at": "2025-08-07T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {
                "prompt": "0.00000025",
                "completion": "0.000002",
                "internal_reasoning": "0.000002",
            },
            "cache": {"read": "0.000000025"},
        },
    },
    {
        "id": "sora-2",
        "display_name": "Sora 2",
        "type_target": "openai",
        "created_at": "2025-03-01T00:00:00Z",
        "pricing": {
            "kind": "generation",
            "generation": {"video": {"per_second": "0.1", "per_second_with_audio": "0.2"}},
        },
    },
]
_PIPELLM: dict[str, Any] = {
    "object": "list",
    "data": _PIPELLM_MODELS,
    "total": len(_PIPELLM_MODELS),
}


def _majestix(
    model_id: str,
    name: str,
    provider: str,
    window: int,
    max_out: int,
    usd_in_per_mtok: str,
    usd_out_per_mtok: str,
    tools: bool,
    vision: bool,
) -> dict[str, Any]:
    # 003_*.txt: credits per 1k tokens including the 1.4x margin, 1 credit = $0.001:
    #   credits/1k = USD/1M / 1e6 * 1.4 * 1000 / 0.001 = USD/1M * 1.4
    # e.g. $3 / $15 per 1M -> 3e-6 * 1.4 * 1000 / 0.001 = 4.2 and 21.0 credits per 1k.
    def credits(usd_per_mtok: str) -> float:
        return float(Decimal(usd_per_mtok) * Decimal("1.4"))

    return {
        "id": model_id,
        "name": name,
        "provider": provider,
        "context_window": window,
        "max_output_tokens": max_out,
        "cost_per_1k_input": credits(usd_in_per_mtok),
        "cost_per_1k_output": credits(usd_out_per_mtok),
        "supports_tools": tools,
        "supports_vision": vision,
    }


# 003_*.txt gives the fields, not the envelope: {"models": [...]} is our choice.
# Columns: id, name, upstream, context_window, max_output_tokens, upstream USD per 1M in/out,
# supports_tools, supports_vision.
_INFERENCE_API: dict[str, Any] = {
    "models": [
        _majestix("gpt-5.2", "GPT-5.2", "openai", 400_000, 128_000, "1.75", "14", True, True),
        _majestix("gpt-5-mini", "GPT-5 Mini", "openai", 400_000, 128_000, "0.25", "2", True, True),
        _majestix("claude-sonnet-4.6", "Claude Sonnet 4.6", "anthropic", 200_000, 64_000,
                  "3", "15", True, True),
        _majestix("claude-haiku-4.5", "Claude Haiku 4.5", "anthropic", 200_000, 64_000,
                  "1", "5", True, True),
        _majestix("gemini-3-flash", "Gemini 3 Flash", "vertex", 1_048_576, 65_536,
                  "0.5", "3", True, True),
        _majestix("llama-4-maverick", "Llama 4 Maverick", "openrouter", 1_048_576, 16_384,
                  "0.15", "0.6", False, True),
    ]
}  # fmt: skip


def _routstr_seed(
    model_id: str, created: int, owner: str, prompt: float, completion: float, context: int
) -> dict[str, Any]:
    # 004_*.txt: pricing in USD per 1,000 tokens, as JSON numbers.
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": owner,
        "permission": [],
        "pricing": {"prompt": prompt, "completion": completion},
        "context_length": context,
    }


_ROUTSTR: dict[str, Any] = {
    "object": "list",
    "data": [
        _routstr_seed("gpt-4", 1686935002, "openai", 0.03, 0.06, 8192),
        _routstr_seed("claude-3-opus", 1708473090, "anthropic", 0.015, 0.075, 200000),
        _routstr_seed("llama-3-70b-chat", 1714475790, "meta", 0.0007, 0.0014, 8192),
        # $0.10 / $0.20 and $0.13 / $0.90 per 1M
        _routstr_seed("deepseek/deepseek-v4-flash", 1776902400, "deepseek", 0.0001, 0.0002,
                      1_000_000),
        _routstr_seed("qwen/qwen3.6-35b-a3b", 1776124800, "qwen", 0.00013, 0.0009, 262_144),
    ],
}  # fmt: skip

# routstr-core's live /v1/models: OpenRouter's schema with pricing as numbers in USD per
# token, plus "sats_pricing" (sats per token at $0.001 per sat, i.e. BTC at $100k).
_USD_PER_SAT = Decimal("0.001")
_PRICE_KEYS = (
    "prompt",
    "completion",
    "request",
    "image",
    "web_search",
    "internal_reasoning",
    "input_cache_read",
    "input_cache_write",
)


def _routstr_live(
    model_id: str,
    name: str,
    created: int,
    context: int,
    max_out: int,
    inputs: list[str],
    tokenizer: str,
    prices: dict[str, str],
) -> dict[str, Any]:
    usd = {k: Decimal(prices.get(k, "0")) for k in _PRICE_KEYS}
    # routstr-core also states the most one request can cost, from the limits below.
    usd["max_prompt_cost"] = usd["prompt"] * context
    usd["max_completion_cost"] = usd["completion"] * max_out
    usd["max_cost"] = usd["max_prompt_cost"] + usd["max_completion_cost"] + usd["request"]
    return {
        "id": model_id,
        "name": name,
        "created": created,
        "description": f"{name}, proxied through Routstr.",
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": {k: float(v) for k, v in usd.items()},
        "sats_pricing": {k: float(v / _USD_PER_SAT) for k, v in usd.items()},
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_out,
            "is_moderated": False,
        },
    }


ROUTSTR_LIVE_CATALOG: dict[str, Any] = {
    "data": [
        _routstr_live(
            "deepseek/deepseek-v4-flash", "DeepSeek: DeepSeek V4 Flash", 1776902400, 1_000_000,
            65_536, ["text"], "DeepSeek",
            {"prompt": "0.0000001", "completion": "0.0000002", "input_cache_read": "0.00000002"},
        ),
        _routstr_live(
            "openai/gpt-5-mini", "OpenAI: GPT-5 Mini", 1754587413, 400_000, 128_000,
            ["text", "image"], "GPT",
            {"prompt": "0.00000025", "completion": "0.000002", "input_cache_read": "0.000000025"},
        ),
        _routstr_live(
            "qwen/qwen3.6-35b-a3b", "Qwen: Qwen3.6 35B A3B", 1776124800, 262_144, 32_768,
            ["text"], "Qwen3", {"prompt": "0.00000013", "completion": "0.0000009"},
        ),
    ]
}  # fmt: skip
"""Routstr's live routstr-core catalog shape (USD per *token*); set it with set_catalog."""


def _openrouter(
    model_id: str,
    name: str,
    created: int,
    context: int,
    max_out: int | None,
    inputs: list[str],
    tokenizer: str,
    pricing: dict[str, str],
    params: list[str],
) -> dict[str, Any]:
    # OpenRouter's GET /api/v1/models entry; prices are USD per token, as strings.
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": created,
        "description": f"{name}.",
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_out,
            "is_moderated": model_id.startswith("openai/"),
        },
        "per_request_limits": None,
        "supported_parameters": params,
    }


_SAMPLING = ["max_tokens", "temperature", "top_p", "stop", "seed", "response_format"]
_TOOLS = ["tools", "tool_choice"]
_ZERO = {"request": "0", "image": "0", "web_search": "0", "internal_reasoning": "0"}

_OPENROUTER: dict[str, Any] = {
    "data": [
        _openrouter(
            "deepseek/deepseek-v4-flash", "DeepSeek: DeepSeek V4 Flash", 1776902400, 1_000_000,
            65_536, ["text"], "DeepSeek",
            {"prompt": "0.00000009", "completion": "0.00000018", **_ZERO,
             "input_cache_read": "0.000000018"},
            _TOOLS + _SAMPLING,
        ),
        _openrouter(
            "openai/gpt-5-mini", "OpenAI: GPT-5 Mini", 1754587413, 400_000, 128_000,
            ["text", "image", "file"], "GPT",
            {"prompt": "0.00000025", "completion": "0.000002", **_ZERO,
             "input_cache_read": "0.000000025"},
            [*_TOOLS, "reasoning", "include_reasoning", "structured_outputs", *_SAMPLING],
        ),
        _openrouter(
            "anthropic/claude-sonnet-4.6", "Anthropic: Claude Sonnet 4.6", 1771286400, 1_000_000,
            64_000, ["text", "image", "file"], "Claude",
            {"prompt": "0.000003", "completion": "0.000015", **_ZERO, "image": "0.0048",
             "input_cache_read": "0.0000003", "input_cache_write": "0.00000375"},
            [*_TOOLS, "reasoning", "include_reasoning", *_SAMPLING],
        ),
        # No "tools" in supported_parameters: a model that cannot take a tool request.
        _openrouter(
            "google/gemma-3-27b-it", "Google: Gemma 3 27B", 1741756800, 131_072, 16_384,
            ["text", "image"], "Gemini",
            {"prompt": "0.000000067", "completion": "0.000000267", **_ZERO},
            [*_SAMPLING],
        ),
        # OpenRouter's router pseudo-model really lists its prices as "-1" (variable).
        _openrouter(
            "openrouter/auto", "Auto Router", 1699401600, 2_000_000, None,
            ["text", "image"], "Router", {"prompt": "-1", "completion": "-1"}, [],
        ),
    ]
}  # fmt: skip

_VLLM_PERMISSION = {
    "id": "modelperm-0f4c8a9e2b7d4c31",
    "object": "model_permission",
    "created": 1767225600,
    "allow_create_engine": False,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}

# vLLM's /v1/models: no pricing; a LoRA adapter is listed with its base as "parent"
# and (as vLLM does for adapters) no max_model_len.
_OPENAI: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": "Qwen/Qwen3-8B",
            "object": "model",
            "created": 1767225600,
            "owned_by": "vllm",
            "root": "Qwen/Qwen3-8B",
            "parent": None,
            "max_model_len": 32768,
            "permission": [_VLLM_PERMISSION],
        },
        {
            "id": "qwen3-8b-sql-lora",
            "object": "model",
            "created": 1767225600,
            "owned_by": "vllm",
            "root": "/adapters/qwen3-8b-sql-lora",
            "parent": "Qwen/Qwen3-8B",
            "max_model_len": None,
            "permission": [_VLLM_PERMISSION],
        },
    ],
}

CATALOGS: dict[str, object] = {
    "pinstripes": _PINSTRIPES,
    "pipellm": _PIPELLM,
    "inference-api": _INFERENCE_API,
    "routstr": _ROUTSTR,
    "openrouter": _OPENROUTER,
    "openai": _OPENAI,
}
"""The JSON each provider's catalog route serves by default (never mutated by a Simulator)."""


# -- the server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets bursts of connections

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    # Track connections so that stop() can end kept-alive ones: otherwise their handler
    # threads would go on answering after the simulator was stopped.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, a closed stream) is routine for a fault
        # simulator: say nothing. Anything else is a simulator bug: print it.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            response = _Response.of_json(400, {"error": "send a Content-Length"})
        else:
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            sim = cast(_Server, self.server).sim
            response = sim._handle(self.command, self.path, headers, body)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def _send(self, response: _Response) -> None:
        self.send_response(response.status, _phrase(response.status))
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding"):  # set below
                self.send_header(name, value)
        if response.events is not None:  # an event stream: one chunk per frame
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for frame in response.events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            if response.cut:  # no last chunk: the client sees an incomplete body
                self.close_connection = True
            else:
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.cut:  # the full length announced, half of it sent
            self.wfile.write(response.body[: len(response.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@dataclass(frozen=True)
class _CacheRule:
    """A provider's prefix-caching rule (see :meth:`Simulator.set_cache_rule`)."""

    min_tokens: int = 1024
    step: int = 128
    lifetime: float = 300.0
    enabled: bool = True
    all_models: bool = False

    def rounded(self, tokens: int) -> int:
        """Cached tokens for a shared prefix of ``tokens``: 0 below the minimum, else
        the minimum plus whole steps."""
        if tokens < self.min_tokens or tokens <= 0:
            return 0
        return self.min_tokens + (tokens - self.min_tokens) // self.step * self.step


_DEFAULT_RULE = _CacheRule()


def _prefix_keys(elements: list[_Element]) -> list[bytes]:
    """One key per prefix of ``elements`` (k = 1..n): a hash chained over the identities."""
    keys: list[bytes] = []
    digest = b""
    for element in elements:
        digest = hashlib.blake2b(digest + element.identity.encode(), digest_size=16).digest()
        keys.append(digest)
    return keys


class Simulator:
    """The simulated providers on one loopback HTTP server (see the module docstring).

    ``with Simulator() as sim:`` starts and stops it; all methods are thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._scripts: dict[str, deque[Reply]] = {}
        self._records: dict[str, list[Recorded]] = {}
        self._down: set[str] = set()
        self._catalogs: dict[str, object] = {}
        self._keys: dict[str, str] = {}
        self._cache_read: dict[str, int] = {}
        self._cache_write: dict[str, int] = {}
        self._rules: dict[str, _CacheRule] = {}
        # provider -> (model, prefix key) -> the simulator time of its last use
        self._prefixes: dict[str, dict[tuple[str, bytes], float]] = {}
        self._clock = 0.0
        self.reset()

    # lifecycle

    def start(self) -> Simulator:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
                name="router-simulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a no-op when not running."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only once started)."""
        if self._server is None:
            msg = "the simulator is not running: call start() first"
            raise RuntimeError(msg)
        return self._server.server_port

    def base_url(self, provider: str) -> str:
        """The base URL a router config should use for ``provider``."""
        p = _provider(provider)
        return f"http://127.0.0.1:{self.port}{p.mount}{p.api_root}"

    # scripting and inspection

    def api_key(self, provider: str) -> str:
        """The key ``provider`` currently accepts (``API_KEYS`` unless changed)."""
        with self._lock:
            return self._keys[_provider(provider).name]

    def set_api_key(self, provider: str, key: str) -> None:
        """Make ``provider`` accept ``key`` instead (until :meth:`reset`)."""
        with self._lock:
            self._keys[_provider(provider).name] = key

    def script(self, provider: str, replies: Iterable[Reply]) -> None:
        """Append ``replies`` to ``provider``'s queue: one per request, any route."""
        queued = list(replies)
        if not all(isinstance(r, Reply) for r in queued):
            msg = "script() takes Reply objects"
            raise TypeError(msg)
        with self._lock:
            self._scripts[_provider(provider).name].extend(queued)

    def catalog(self, provider: str) -> object:
        """A deep copy of the payload ``provider``'s catalog route serves now."""
        with self._lock:
            return copy.deepcopy(self._catalogs[_provider(provider).name])

    def set_catalog(self, provider: str, payload: object) -> None:
        """Serve ``payload`` (any JSON-able object, deep-copied) on the catalog route."""
        json.dumps(payload)  # fail here, not in the server thread
        with self._lock:
            self._catalogs[_provider(provider).name] = copy.deepcopy(payload)

    def set_down(self, provider: str, down: bool) -> None:
        """While down, every request to ``provider`` not answered by the script gets 503."""
        name = _provider(provider).name
        with self._lock:
            if down:
                self._down.add(name)
            else:
                self._down.discard(name)

    def set_cached_tokens(self, provider: str, tokens: int) -> None:
        """Make every chat answer of ``provider`` report ``min(tokens, prompt)`` cached
        prompt tokens (until :meth:`reset`). Majestix reports no tokens.

        This override wins over the prefix cache: while it (or
        :meth:`set_cache_write_tokens`) is set, ``provider``'s answers report exactly the
        overrides (0 for one not set) and its prefix cache is neither read nor written.
        """
        name = _provider(provider).name
        with self._lock:
            self._cache_read[name] = _tokens_arg(tokens)

    def set_cache_write_tokens(self, provider: str, tokens: int) -> None:
        """Make PipeLLM's Anthropic route (``/v1/messages``) report
        ``min(tokens, prompt - cached)`` as ``cache_creation_input_tokens``."""
        name = _provider(provider).name
        if name != "pipellm":
            msg = f"cache-write tokens are reported by pipellm's /v1/messages only, not {name!r}"
            raise ValueError(msg)
        with self._lock:
            self._cache_write[name] = _tokens_arg(tokens)

    def set_cache_rule(
        self,
        provider: str,
        *,
        min_tokens: int = 1024,
        step: int = 128,
        lifetime: float = 300.0,
        enabled: bool = True,
        all_models: bool = False,
    ) -> None:
        """Set how ``provider`` caches prompt prefixes (until :meth:`reset`).

        ``min_tokens``: shortest prefix cached; ``step``: automatic caching rounds the
        cached tokens above ``min_tokens`` down to whole steps (the Anthropic route does
        not); ``lifetime``: seconds a prefix stays cached after its last use, on the
        simulator's clock (:meth:`advance`); ``enabled=False``: a deployment that never
        reports cache hits; ``all_models=True``: cache every model, whatever its catalog
        lists (how to make the vLLM-like ``openai`` server cache). Every argument left
        out takes its default; the cached prefixes are kept.
        """
        name = _provider(provider).name
        if _count(min_tokens) is None:
            msg = f"min_tokens must be an int >= 0, not {min_tokens!r}"
            raise ValueError(msg)
        if _count(step) is None or step < 1:
            msg = f"step must be an int >= 1, not {step!r}"
            raise ValueError(msg)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            msg = f"lifetime must be a number of seconds > 0, not {lifetime!r}"
            raise ValueError(msg)
        rule = _CacheRule(min_tokens, step, float(lifetime), bool(enabled), bool(all_models))
        with self._lock:
            self._rules[name] = rule

    def now(self) -> float:
        """The simulator's clock, in seconds (starts at 0; only :meth:`advance` moves it)."""
        with self._lock:
            return self._clock

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward by ``seconds`` (>= 0): cached prefixes age
        without the test sleeping. :meth:`reset` does not turn it back."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            msg = f"seconds must be a number >= 0, not {seconds!r}"
            raise ValueError(msg)
        with self._lock:
            self._clock += seconds

    def cache_size(self, provider: str) -> int:
        """How many prefixes ``provider``'s caches hold now (all models, expired ones
        dropped)."""
        name = _provider(provider).name
        with self._lock:
            self._expire(name)
            return len(self._prefixes[name])

    def _expire(self, name: str) -> dict[tuple[str, bytes], float]:
        """``name``'s cached prefixes, those past their lifetime dropped (lock held)."""
        held = self._prefixes[name]
        oldest = self._clock - self._rules.get(name, _DEFAULT_RULE).lifetime
        for key in [k for k, used in held.items() if used < oldest]:
            del held[key]
        return held

    def _prompt_cache(
        self,
        provider: _SimProvider,
        call: _Call,
        entry: Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        explicit: bool,
    ) -> tuple[int, int]:
        """Cache-read and cache-write tokens of an answer to ``body`` on ``provider``.

        Reads ``provider``'s prefix cache for the model (``entry`` is its catalog
        entry) and, when the answer completes, writes the prompt's prefixes to it:
        automatically, or at ``cache_control`` breakpoints when ``explicit``.
        """
        name, model = provider.name, str(body.get("model"))
        elements = _elements(body)
        totals = [0]  # totals[k] = tokens of the first k elements
        for element in elements:
            totals.append(totals[-1] + element.tokens)
        prompt = totals[-1]
        keys = _prefix_keys(elements)
        with self._lock:
            if name in self._cache_read or name in self._cache_write:
                read = min(self._cache_read.get(name, 0), prompt)
                return read, min(self._cache_write.get(name, 0), prompt - read)
            rule = self._rules.get(name, _DEFAULT_RULE)
            if not rule.enabled:
                return 0, 0
            if not rule.all_models and not _positive_rate(provider.cache_read_rate(entry)):
                return 0, 0
            held = self._expire(name)
            now = self._clock
            if explicit:
                ends = [k for k, element in enumerate(elements, 1) if element.breakpoint]
                if not ends:
                    return 0, 0
                last = ends[-1]
            else:
                ends, last = list(range(1, len(elements) + 1)), len(elements)
            hit = max(
                (k for k in range(1, last + 1) if (model, keys[k - 1]) in held),
                default=0,
            )
            read = totals[hit] if totals[hit] >= rule.min_tokens else 0
            if call.completes:
                for k in range(1, hit + 1):  # using a prefix refreshes it
                    if (model, keys[k - 1]) in held:
                        held[model, keys[k - 1]] = now
                for k in ends:
                    if totals[k] >= rule.min_tokens and totals[k] > 0:
                        held[model, keys[k - 1]] = now
        if explicit:
            written = totals[last] - read if totals[last] >= rule.min_tokens else 0
            return read, max(written, 0)
        return min(rule.rounded(read), prompt), 0

    def requests(self, provider: str) -> list[Recorded]:
        """Every request ``provider`` received (401s included), oldest first."""
        with self._lock:
            return list(self._records[_provider(provider).name])

    def reset(self) -> None:
        """Clear scripts, records, down flags and cache-token settings; restore the
        default catalogs, keys and cache rules; empty every prefix cache (the clock
        keeps its time)."""
        with self._lock:
            self._scripts = {name: deque() for name in _PROVIDERS}
            self._records = {name: [] for name in _PROVIDERS}
            self._down = set()
            self._catalogs = {name: copy.deepcopy(CATALOGS[name]) for name in _PROVIDERS}
            self._keys = dict(API_KEYS)
            self._cache_read = {}
            self._cache_write = {}
            self._rules = {}
            self._prefixes = {name: {} for name in _PROVIDERS}

    # dispatch (called from the server's threads)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Response:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        provider = next(
            (p for p in _PROVIDERS.values() if path == p.mount or path.startswith(p.mount + "/")),
            None,
        )
        if provider is None:
            return _Response.of_json(404, {"error": f"no simulated provider at {path}"})
        rest = path[len(provider.mount) :] or "/"
        with self._lock:
            self._records[provider.name].append(Recorded(method, target, headers, body))
            queue = self._scripts[provider.name]
            reply = queue.popleft() if queue else None
            down = provider.name in self._down
            key = self._keys[provider.name]
        if reply is not None and reply.delay:
            time.sleep(reply.delay)
        if reply is not None and reply.scripted_body:
            response = self._scripted(provider, rest, reply)
        else:
            call = _Call(self, method, rest, query, headers, body, key, reply)
            response = self._normal(provider, call, down, key)
            if reply is not None and reply.headers:
                response = replace(response, headers=_merge(response.headers, reply.headers))
        if reply is not None and reply.cut_after is not None:
            response = response.broken(reply.cut_after)
        return response

    @staticmethod
    def _scripted(provider: _SimProvider, path: str, reply: Reply) -> _Response:
        if reply.json is not _UNSET:
            return _Response.of_json(reply.status, reply.json, reply.headers)
        if reply.body is not None:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            html = data.lstrip().startswith(b"<")
            kind = "text/html; charset=utf-8" if html else "application/json"
            return _Response(reply.status, data, _merge({"Content-Type": kind}, reply.headers))
        message = f"{_phrase(reply.status)} (simulated)"
        payload = provider.error_payload(reply.status, message, path)
        return _Response.of_json(reply.status, payload, reply.headers)

    @staticmethod
    def _normal(provider: _SimProvider, call: _Call, down: bool, key: str) -> _Response:
        def error(status: int, message: str, headers: Mapping[str, str] = {}) -> _Response:
            payload = provider.error_payload(status, message, call.path)
            return _Response.of_json(status, payload, headers)

        if down:
            return error(503, f"{provider.name} is temporarily unavailable (simulated outage)")
        if not provider.authorized(call.headers, key):
            return error(401, "Invalid or missing API key")
        handler = provider.routes.get((call.method, call.path))
        if handler is not None:
            return handler(call)
        allowed = sorted(m for m, p in provider.routes if p == call.path)
        if allowed:
            return error(405, "Method not allowed", {"Allow": ", ".join(allowed)})
        return error(404, f"Not found: {call.method} {call.path}")


def _tokens_arg(tokens: int) -> int:
    if _count(tokens) is None:
        msg = f"tokens must be an int >= 0, not {tokens!r}"
        raise ValueError(msg)
    return tokens


def _provider(name: str) -> _SimProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        msg = f"unknown simulated provider {name!r}; known: {', '.join(_PROVIDERS)}"
        raise ValueError(msg) from None
