"""The Anthropic API, directly: Messages on the wire, prices from ``model_info`` or
``genai-prices``.

Catalog: ``GET /v1/models?limit=1000`` with ``x-api-key`` and ``anthropic-version:
2023-06-01`` lists ``data[]`` of ``{"type": "model", "id", "display_name", "created_at",
"max_input_tokens", "max_tokens", "capabilities": {"image_input": {"supported"}, ...}}``,
newest first, paginated (``has_more``, ``last_id``; 1,000 a page is the most). It states no
prices: the YAML ``model_info`` does (USD per 1M tokens), else, with the ``prices`` extra,
the prices ``genai-prices`` lists for the model at Anthropic, 1-hour cache writes and
long-prompt tiers included.

Chat: ``POST /v1/messages`` in Anthropic's format (:mod:`router.wire.anthropic_messages`:
``max_tokens`` filled in, system, tools, images and stop reasons translated both ways);
errors read ``{"type": "error", "error": {"type", "message"}}``, overload is 529. Claude
caches prompts only up to ``cache_control`` breakpoints (``auto_cache_control``), for five
minutes, or an hour with a cache ``lifetime`` over 300 s. ``output_tokens`` includes
extended thinking.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from providers.openai_compat import OpenAICompat
from router.catalog import ModelCard
from router.completion import ChatCompletion, TokenCounts
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Outgoing, StreamDecoder
from router.types import ChatRequest
from router.wire import anthropic_messages

logger = logging.getLogger("router.providers.anthropic")


class Anthropic(OpenAICompat):
    default_base_url = "https://api.anthropic.com"
    catalog_path = "/v1/models?limit=1000"
    requires_key = True
    price_book_provider: ClassVar[str | None] = "anthropic"

    def auth_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": anthropic_messages.ANTHROPIC_VERSION}
        key = self.api_key
        if key:
            headers["x-api-key"] = key
        return headers

    def catalog_entries(self, payload: Any) -> list[Any]:
        entries = super().catalog_entries(payload)
        if payload.get("has_more") is True:
            logger.warning(
                "provider %r: the model list has more than one page; read the first %d",
                self.name,
                len(entries),
            )
        return entries

    def described(self, entry: Entry) -> dict[str, Any]:
        # 0 means "not stated" in Anthropic's schema examples: unknown, not zero.
        return {
            "protocol": "anthropic",
            "name": entry.opt_text("display_name"),
            "context_length": entry.opt_int("max_input_tokens") or None,
            "max_output_tokens": entry.opt_int("max_tokens") or None,
            "supports_tools": True,  # every model the Messages API serves takes tools
            "supports_vision": entry.opt_bool("capabilities.image_input.supported"),
        }

    def chat_request(self, request: ChatRequest, card: ModelCard, *, stream: bool) -> Outgoing:
        body = anthropic_messages.request_body(request, card, stream=stream)
        return Outgoing(self.base_url + "/v1/messages", body, self.auth_headers())

    def add_cache_breakpoints(self, out: Outgoing, card: ModelCard) -> None:
        ttl = "1h" if self.cache_rule(card).one_hour else None
        anthropic_messages.add_breakpoints(out.json, ttl=ttl)

    def parse_completion(
        self, card: ModelCard, request: ChatRequest, payload: Any
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        return anthropic_messages.parse_completion(payload, card)

    def stream_decoder(self, card: ModelCard, request: ChatRequest) -> StreamDecoder:
        return anthropic_messages.AnthropicStream(card)


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("anthropic", Anthropic)
