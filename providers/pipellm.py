"""PipeLLM: one key for openai, anthropic and gemini families, with tiered prices.

Chat (DESIGN.md, wire facts): a native route serves only models of its own family.
``openai`` models take ``POST /v1/chat/completions`` (Bearer); ``anthropic`` models take
``POST /v1/messages`` (``x-api-key``, ``anthropic-version: 2023-06-01``, ``max_tokens``
required) in Anthropic's format; ``gemini`` models go through the OpenAI converter route
``POST /openai/v1/chat/completions`` (Bearer). Errors on the Anthropic route read
``{"type": "error", "error": {"type", "message"}}``; overload is 529 ``overloaded_error``.

Catalog (seed 002): ``GET /v1/models`` (``x-api-key`` or Bearer) in PipeLLM's unified
schema: ``type_target`` is the protocol family, ``pricing.kind`` is ``token`` or
``generation``; token prices are **USD per token, as strings** under ``pricing.text``,
``pricing.cache`` (``read``, ``write``, ``write_1h``) and ``pricing.tiers.over_200k``.
The catalog states no context length, output limit or capabilities: unknown.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from router.catalog import ModelCard, PriceTier, Pricing, Protocol
from router.completion import ChatCompletion, TokenCounts
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry, EntryError
from router.provider import Outgoing, Provider, StreamDecoder
from router.types import ChatRequest
from router.wire import anthropic_messages, openai_chat

_TIER = re.compile(r"over_(\d{1,9})k")


class PipeLLM(Provider):
    # Routes live at /v1/... (native families) and /openai/v1/... (converter), so the
    # base URL is the host root.
    default_base_url = "https://api.pipellm.ai"
    catalog_path = "/v1/models"

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key
        return {"x-api-key": key} if key else {}

    # -- chat transport: one route per protocol family ----------------------------------

    def chat_request(self, request: ChatRequest, card: ModelCard, *, stream: bool) -> Outgoing:
        key = self.api_key
        if card.protocol == "anthropic":
            headers = {"anthropic-version": anthropic_messages.ANTHROPIC_VERSION}
            if key:
                headers["x-api-key"] = key
            body = anthropic_messages.request_body(request, card, stream=stream)
            return Outgoing(self.base_url + "/v1/messages", body, headers)
        # The native OpenAI route serves only the openai family; gemini models go
        # through the converter, which takes the same OpenAI body.
        path = (
            "/v1/chat/completions" if card.protocol == "openai" else "/openai/v1/chat/completions"
        )
        bearer = {"Authorization": f"Bearer {key}"} if key else {}
        return Outgoing(
            self.base_url + path, openai_chat.request_body(request, card, stream=stream), bearer
        )

    def unsupported(self, request: ChatRequest, card: ModelCard) -> str | None:
        # The anthropic family is translated to Messages; the others take OpenAI's body as is.
        if card.protocol == "anthropic":
            return anthropic_messages.unsupported(request)
        return None

    def add_cache_breakpoints(self, out: Outgoing, card: ModelCard) -> None:
        if card.protocol == "anthropic":
            ttl = "1h" if self.cache_rule(card).one_hour else None
            anthropic_messages.add_breakpoints(out.json, ttl=ttl)

    def parse_completion(
        self, card: ModelCard, request: ChatRequest, payload: Any
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        if card.protocol == "anthropic":
            return anthropic_messages.parse_completion(
                payload, card, structured=_forced_tool(request)
            )
        return super().parse_completion(card, request, payload)

    def stream_decoder(self, card: ModelCard, request: ChatRequest) -> StreamDecoder:
        if card.protocol == "anthropic":
            return anthropic_messages.AnthropicStream(card, structured=_forced_tool(request))
        return super().stream_decoder(card, request)

    def parse_model(self, entry: Entry) -> ModelCard:
        protocol = entry.text("type_target")
        if protocol not in get_args(Protocol):
            raise EntryError("type_target", f"unknown protocol family {protocol!r}")
        kind = entry.text("pricing.kind")
        if kind == "generation":
            # Priced per image / per second: listed, never routed chat.
            return self.card(entry, protocol=protocol, kind="generation")
        if kind != "token":
            raise EntryError("pricing.kind", f"unknown billing shape {kind!r}")
        return self.card(
            entry,
            name=entry.opt_text("display_name"),
            protocol=protocol,
            # the anthropic family answers response_format through a forced tool; the
            # others take OpenAI's body, and PipeLLM's catalog does not say
            supports_structured_output=True if protocol == "anthropic" else None,
            pricing=Pricing(
                prompt=entry.price("pricing.text.prompt"),
                completion=entry.price("pricing.text.completion"),
                cache_read=entry.opt_price("pricing.cache.read"),
                cache_write=entry.opt_price("pricing.cache.write"),
                cache_write_1h=entry.opt_price("pricing.cache.write_1h"),
                tiers=self._tiers(entry),
            ),
        )

    @staticmethod
    def _tiers(entry: Entry) -> tuple[PriceTier, ...]:
        raw = entry.get("pricing.tiers")
        if raw is None:
            return ()
        if not isinstance(raw, dict):
            raise EntryError("pricing.tiers", "not an object")
        tiers = []
        for name in raw:
            where = f"pricing.tiers.{name}"
            match = _TIER.fullmatch(name)
            if match is None:
                # An unknown tier cannot be applied; ignoring it would under-price requests.
                raise EntryError(where, "unknown tier name (expected over_<N>k)")
            tiers.append(
                PriceTier(
                    name=name,
                    above_prompt_tokens=int(match.group(1)) * 1000,
                    prompt=entry.opt_price(f"{where}.text.prompt"),
                    completion=entry.opt_price(f"{where}.text.completion"),
                    cache_read=entry.opt_price(f"{where}.cache.read"),
                    cache_write=entry.opt_price(f"{where}.cache.write"),
                    cache_write_1h=entry.opt_price(f"{where}.cache.write_1h"),
                )
            )
        return tuple(sorted(tiers, key=lambda t: t.above_prompt_tokens))


def _forced_tool(request: ChatRequest) -> str | None:
    tool = anthropic_messages.structured_tool(request)
    return None if tool is None else str(tool["name"])


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("pipellm", PipeLLM)
