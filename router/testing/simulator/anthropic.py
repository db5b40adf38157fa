"""Anthropic Messages: its frames, errors and route (:class:`_MessagesProvider`), and
PipeLLM, which serves them on ``/v1/messages`` next to its OpenAI-format routes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.testing.simulator.http import _bearer, _Call, _compact, _json_object, _Response
from router.testing.simulator.model import (
    _Answer,
    _answer,
    _count,
    _fragments,
    _new_id,
    _with_error,
)
from router.testing.simulator.openai import _catalog_entry, _pricing, _SimProvider

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


def _anthropic_usage(
    answer: _Answer, read: int, written: int, *, one_hour: bool = False
) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt - read - written,  # Anthropic: excludes the cache
        "output_tokens": answer.completion,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": written,
        # the writes by lifetime (all of them at the one-hour TTL when a breakpoint asks)
        "cache_creation": {
            "ephemeral_5m_input_tokens": 0 if one_hour else written,
            "ephemeral_1h_input_tokens": written if one_hour else 0,
        },
    }


def _asks_one_hour(body: Mapping[str, Any]) -> bool:
    """Whether a ``cache_control`` breakpoint in ``body`` asks for ``"ttl": "1h"``."""
    blocks: list[Any] = []
    for key in ("system", "tools"):
        if isinstance(body.get(key), list):
            blocks.extend(body[key])
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            blocks.extend(message["content"])
    return any(
        isinstance(b, dict)
        and isinstance(b.get("cache_control"), dict)
        and b["cache_control"].get("ttl") == "1h"
        for b in blocks
    )


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


class _MessagesProvider(_SimProvider):
    """A provider serving Anthropic Messages on ``POST /v1/messages`` (``x-api-key``,
    ``anthropic-version: 2023-06-01``, ``max_tokens`` required)."""

    def __init__(self) -> None:
        super().__init__()
        self.routes["POST", "/v1/messages"] = self.messages

    def refuse_messages(self, model: str, entry: Mapping[str, Any]) -> str | None:
        """Why a known ``model`` is refused on the Messages route, or None."""
        return None

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
        problem = self.refuse_messages(model, entry)
        if problem is not None:
            return fail(400, problem)
        length = call.sim.answer_length(self.name, model)
        answer = _answer(body, max_tokens, length, image_tokens=call.sim.image_tokens)
        read, written = call.sim._prompt_cache(self, call, entry, body, explicit=True)
        usage = _anthropic_usage(answer, read, written, one_hour=_asks_one_hour(body))
        if body.get("stream") is True:
            return _Response.sse(_anthropic_frames(answer, model, usage, call.error_event))
        if call.error_event is not None:
            payload = _anthropic_error(529, call.error_event, "overloaded_error")
            return _Response.of_json(200, payload)
        return _Response.of_json(200, _anthropic_message(answer, model, usage))


# The route of each PipeLLM protocol family (DESIGN wire facts).
_PIPELLM_ROUTE = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/openai/v1/chat/completions",
}
_ANTHROPIC_VERSION = "2023-06-01"


class _PipeLLM(_MessagesProvider):
    # 002_*.txt: GET /v1/models, "Authorization: Bearer" or "x-api-key". The base URL
    # has no /v1 because PipeLLM serves both /v1/... and /openai/v1/... routes. A native
    # route serves only its protocol family; the /openai converter takes gemini too.
    name, mount, api_root, catalog_path = "pipellm", "/pipellm", "", "/v1/models"
    chat_paths = ("/v1/chat/completions", "/openai/v1/chat/completions")

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key or _bearer(headers) == key

    def refuse_messages(self, model: str, entry: Mapping[str, Any]) -> str | None:
        return self._mismatch(model, entry, ("anthropic",))

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
