"""Majestix's inference-api dialect: its own SSE events (no token counts), credits, and
FastAPI-style errors, served on ``/chat`` and ``/code``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from router.testing.simulator.http import _Call, _compact, _json_object, _Response
from router.testing.simulator.model import _Answer, _answer, _count, _new_id, _with_error
from router.testing.simulator.openai import _catalog_entry, _SimProvider

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
        length = call.sim.answer_length(self.name, model)
        answer = _answer(scope, max_tokens, length, image_tokens=call.sim.image_tokens)
        frames = _majestix_frames(answer, model, _credits(answer, entry), call.error_event)
        return _Response.sse(frames)
