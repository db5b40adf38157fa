"""Google's Gemini API through its OpenAI-compatible endpoint.

``https://generativelanguage.googleapis.com/v1beta/openai``: ``GET /models`` (Bearer) lists
``data[]`` of ``{"id": "models/gemini-2.5-flash", "object": "model", "owned_by": "google"}``;
the ``models/`` prefix is dropped (requests name ``gemini-2.5-flash``). No prices, no
context length: the YAML ``model_info`` states them, else, with the ``prices`` extra, the
prices ``genai-prices`` lists for the model at Google, long-prompt tiers included.

Chat: ``POST /chat/completions`` in OpenAI's format. Usage: Gemini bills its thinking
tokens as output. Where the answer leaves them out of ``completion_tokens`` but counts them
in ``total_tokens`` (with or without ``completion_tokens_details.reasoning_tokens``), the
gap ``total - prompt - completion`` is added to the completion count.
"""

from __future__ import annotations

from typing import Any, ClassVar

from providers.openai_compat import OpenAICompat
from router.catalog import ModelCard
from router.completion import ChatCompletion, TokenCounts
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import StreamDecoder
from router.types import ChatRequest
from router.wire import openai_chat


class Gemini(OpenAICompat):
    default_base_url = "https://generativelanguage.googleapis.com/v1beta/openai"
    requires_key = True
    price_book_provider: ClassVar[str | None] = "google"

    def model_id(self, entry: Entry) -> str:
        return entry.text("id").removeprefix("models/")

    def described(self, entry: Entry) -> dict[str, Any]:
        return {"protocol": "gemini", "name": entry.opt_text("display_name")}

    def parse_completion(
        self, card: ModelCard, request: ChatRequest, payload: Any
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        return openai_chat.parse_completion(payload, reasoning_in_total=True)

    def stream_decoder(self, card: ModelCard, request: ChatRequest) -> StreamDecoder:
        return openai_chat.OpenAIStream(card, reasoning_in_total=True)


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("gemini", Gemini)
