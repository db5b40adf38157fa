"""Any OpenAI-compatible server: OpenAI itself, vLLM, Ollama, llama.cpp, LM Studio, ...

``GET /models`` lists ``data[]`` entries with an ``id``; prices are rarely published. A
server that does publish OpenRouter-style ``pricing`` (USD per token) is read as such;
else the YAML may state them per model (``model_info``, USD per 1M tokens; ``"*"``
applies to every model, a model's own entry wins over it); else, with the ``prices``
extra, the prices ``genai-prices`` lists for the model at OpenAI (``published_prices:
false`` turns that off, for a local server whose model names are OpenAI's). Each card's
``price_source`` says which. Context length comes from ``context_length``, vLLM's
``max_model_len`` or llama.cpp's ``meta.n_ctx`` / ``meta.n_ctx_train``. The key is
optional (Ollama needs none).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.catalog import ModelCard, Pricing
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.price_book import published_pricing
from router.provider import Provider, ProviderOptions

_MTOK = Decimal(1_000_000)
# OpenAI's own list mixes in models that do not chat: never route chat to them.
_NOT_CHAT = ("dall-e", "gpt-image", "tts-", "whisper", "sora", "davinci-002", "babbage-002")
_NOT_CHAT_PARTS = ("embedding", "embed-", "moderation", "-transcribe", "-tts")


class ModelInfo(BaseModel):
    """What the operator states about a model the server does not describe. Prices per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_per_mtok: Decimal | None = Field(default=None, ge=0)
    """USD per 1M prompt tokens."""
    completion_per_mtok: Decimal | None = Field(default=None, ge=0)
    """USD per 1M completion tokens."""
    cache_read_per_mtok: Decimal | None = Field(default=None, ge=0)
    """USD per 1M prompt tokens read from the prefix cache."""
    cache_write_per_mtok: Decimal | None = Field(default=None, ge=0)
    """USD per 1M prompt tokens written to the prefix cache."""
    cache_write_1h_per_mtok: Decimal | None = Field(default=None, ge=0)
    """USD per 1M prompt tokens written to a one-hour cache."""
    context_length: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    supports_tools: bool | None = None
    supports_vision: bool | None = None

    @model_validator(mode="after")
    def _prices_in_pairs(self) -> ModelInfo:
        priced = (self.prompt_per_mtok is not None, self.completion_per_mtok is not None)
        cached = any(
            rate is not None
            for rate in (
                self.cache_read_per_mtok,
                self.cache_write_per_mtok,
                self.cache_write_1h_per_mtok,
            )
        )
        if priced[0] != priced[1] or (cached and not priced[0]):
            msg = "state prompt_per_mtok and completion_per_mtok together (cache rates need both)"
            raise ValueError(msg)
        return self


class OpenAICompatOptions(ProviderOptions):
    model_info: dict[str, ModelInfo] = Field(default_factory=dict)
    """Per model id (or ``"*"`` for all): prices and capabilities the server does not publish."""
    published_prices: bool = True
    """Price models neither the catalog nor ``model_info`` prices from ``genai-prices``
    (extra ``prices``)."""


def _per_token(per_mtok: Decimal | None) -> Decimal | None:
    return None if per_mtok is None else per_mtok / _MTOK


class OpenAICompat(Provider):
    Options = OpenAICompatOptions
    default_base_url = "https://api.openai.com/v1"
    requires_key = False
    price_book_provider: ClassVar[str | None] = "openai"
    """The ``genai-prices`` provider whose published prices price this kind's models."""

    def model_id(self, entry: Entry) -> str:
        """The id requests use for ``entry``'s model."""
        return entry.text("id")

    def parse_model(self, entry: Entry) -> ModelCard:
        assert isinstance(self.options, OpenAICompatOptions)
        model_id = self.model_id(entry)
        fields: dict[str, Any] = {
            "id": model_id,
            "context_length": entry.opt_int("context_length")
            or entry.opt_int("max_model_len")
            or entry.opt_int("meta.n_ctx")
            or entry.opt_int("meta.n_ctx_train"),
            "kind": "generation" if _not_chat(model_id) else "chat",
            **self.described(entry),
        }
        if entry.has("pricing.prompt"):
            fields["pricing"] = Pricing(
                prompt=entry.price("pricing.prompt"),
                completion=entry.price("pricing.completion"),
                cache_read=entry.opt_price("pricing.input_cache_read"),
                cache_write=entry.opt_price("pricing.input_cache_write"),
                cache_write_1h=entry.opt_price("pricing.input_cache_write_1h"),
            )
            fields["price_source"] = "catalog"
        for key in ("*", model_id):  # the model's own entry wins over "*"
            info = self.options.model_info.get(key)
            if info is None:
                continue
            stated = self._stated(info)
            pricing = stated.pop("pricing", None)
            fields.update(stated)
            if pricing is not None and fields.get("price_source") != "catalog":
                fields["pricing"], fields["price_source"] = pricing, "model_info"
        if "pricing" not in fields and fields["kind"] == "chat":
            found = self._published(model_id)
            if found is not None:
                fields["pricing"], fields["price_source"] = found, "genai-prices"
        return self.card(entry, **fields)

    def _published(self, model_id: str) -> Pricing | None:
        assert isinstance(self.options, OpenAICompatOptions)
        book = self.price_book_provider
        if book is None or not self.options.published_prices:
            return None
        return published_pricing(book, model_id)

    def described(self, entry: Entry) -> dict[str, Any]:
        """Card fields the catalog entry states beyond the common ones (none here)."""
        return {}

    @staticmethod
    def _stated(info: ModelInfo) -> dict[str, Any]:
        stated = info.model_dump(
            include={"context_length", "max_output_tokens", "supports_tools", "supports_vision"},
            exclude_none=True,
        )
        if info.prompt_per_mtok is not None and info.completion_per_mtok is not None:
            stated["pricing"] = Pricing(
                prompt=info.prompt_per_mtok / _MTOK,
                completion=info.completion_per_mtok / _MTOK,
                cache_read=_per_token(info.cache_read_per_mtok),
                cache_write=_per_token(info.cache_write_per_mtok),
                cache_write_1h=_per_token(info.cache_write_1h_per_mtok),
            )
        return stated


def _not_chat(model_id: str) -> bool:
    lowered = model_id.lower()
    return lowered.startswith(_NOT_CHAT) or any(part in lowered for part in _NOT_CHAT_PARTS)


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("openai", OpenAICompat)
