"""Google's Gemini API through its OpenAI-compatible endpoint (``/v1beta/openai``): model ids
listed as ``models/<id>`` and requested without the prefix; thinking tokens counted in
``total_tokens`` but not in ``completion_tokens``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.testing.simulator.http import _Call
from router.testing.simulator.openai import _catalog_entry, _SimProvider

THINKING_TOKENS = 64
"""Thinking tokens of every answer to a request with a ``reasoning_effort`` (not ``none``)."""


class _Gemini(_SimProvider):
    # https://generativelanguage.googleapis.com/v1beta/openai: GET /models, POST
    # /chat/completions, Authorization: Bearer <Gemini API key>.
    name, mount, api_root = "gemini", "/gemini", "/v1beta/openai"
    catalog_path = "/v1beta/openai/models"
    chat_paths = ("/v1beta/openai/chat/completions",)

    def catalog_entry(self, call: _Call, model: str) -> dict[str, Any] | None:
        payload = call.sim.catalog(self.name)
        return _catalog_entry(payload, "models/" + model) or _catalog_entry(payload, model)

    def add_to_usage(
        self, usage: dict[str, Any], entry: Mapping[str, Any], body: Mapping[str, Any]
    ) -> None:
        # The shape some Gemini compatibility answers have: thinking is output, billed as
        # such, counted in total_tokens, absent from completion_tokens.
        if body.get("reasoning_effort") not in (None, "none"):
            usage["total_tokens"] += THINKING_TOKENS
