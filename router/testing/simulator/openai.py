"""OpenAI Chat Completions: its frames, the base simulated provider, and the providers that
speak only this dialect (pinstripes, Routstr, OpenRouter, a vLLM-like OpenAI-compatible
server).

:class:`_SimProvider` is every provider's base: OpenAI's error style and the Chat Completions
route are the default that the other dialects' providers (:mod:`.anthropic`,
:mod:`.majestix`) override or extend.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from router.testing.simulator.http import (
    Handler,
    _bearer,
    _Call,
    _compact,
    _json_object,
    _phrase,
    _Response,
)
from router.testing.simulator.model import (
    _Answer,
    _answer,
    _count,
    _fragments,
    _new_id,
    _with_error,
)

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

    def catalog_entry(self, call: _Call, model: str) -> dict[str, Any] | None:
        """The catalog entry of the ``model`` a chat request names, or None."""
        return _catalog_entry(call.sim.catalog(self.name), model)

    def add_to_usage(
        self, usage: dict[str, Any], entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> None:
        """Add this provider's own fields to an answer's OpenAI ``usage`` (none by default)."""
        return

    def chat(self, call: _Call) -> _Response:
        """``POST .../chat/completions``: OpenAI's format, streamed or not."""
        body = _json_object(call.body)
        if body is None:
            return self.error(call, 400, "We could not parse the JSON body of your request.")
        problem = _openai_problem(body)
        if problem is not None:
            return self.error(call, 400, problem)
        model: str = body["model"]
        entry = self.catalog_entry(call, model)
        if entry is None:
            return self.unknown_model(model)
        refusal = self.refuse(call, entry, body)
        if refusal is not None:
            return refusal
        limit = body.get("max_completion_tokens")
        length = call.sim.answer_length(self.name, model)
        limit = limit if limit is not None else body.get("max_tokens")
        answer = _answer(body, limit, length, image_tokens=call.sim.image_tokens)
        cached, _ = call.sim._prompt_cache(self, call, entry, body, explicit=False)
        usage = _openai_usage(answer, cached, top_level_cached=self.top_level_cached)
        self.add_to_usage(usage, entry, body)
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


def _rate(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _openrouter_cost(pricing: Mapping[str, Any], usage: Mapping[str, Any]) -> float | None:
    """What OpenRouter bills for ``usage``: the base prices, with every override whose
    ``min_prompt_tokens`` the prompt meets (in order, later ones winning per key; overrides
    with other conditions are never met here), as a JSON number; None when unpriced."""
    prompt = int(usage["prompt_tokens"])
    rates = {k: _rate(v) for k, v in pricing.items() if k != "overrides"}
    overrides = pricing.get("overrides")
    for override in overrides if isinstance(overrides, list) else []:
        conditions = set(override) - {
            "prompt", "completion", "input_cache_read", "input_cache_write", "min_prompt_tokens"
        }  # fmt: skip
        if not conditions and prompt >= int(override.get("min_prompt_tokens", 0)):
            rates.update({k: _rate(v) for k, v in override.items() if k != "min_prompt_tokens"})
    base, out = rates.get("prompt"), rates.get("completion")
    if base is None or out is None or base < 0:
        return None
    details = usage.get("prompt_tokens_details") or {}
    read = int(details.get("cached_tokens", 0))
    written = int(details.get("cache_write_tokens", 0) or 0)
    read_rate = rates.get("input_cache_read") or base
    write_rate = rates.get("input_cache_write") or base
    cost = (
        (prompt - read - written) * base
        + read * read_rate
        + written * write_rate
        + int(usage["completion_tokens"]) * out
    )
    return float(cost)


class _OpenRouter(_SimProvider):
    # openrouter.ai/api/v1/models; OpenRouter's errors are {"error": {"code": <int>, ...}}.
    # Its answers state what it billed: usage.cost (USD, a number; "Usage Accounting").
    name, mount, api_root, catalog_path = "openrouter", "/openrouter", "/api/v1", "/api/v1/models"
    chat_paths = ("/api/v1/chat/completions",)

    def add_to_usage(
        self, usage: dict[str, Any], entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> None:
        cost = _openrouter_cost(_pricing(entry), usage)
        if cost is not None:
            usage["cost"] = cost

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
