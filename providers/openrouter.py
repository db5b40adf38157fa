"""OpenRouter: the aggregator's catalog, USD per token as strings.

``GET /api/v1/models`` with ``Authorization: Bearer``: ``data[]`` with ``pricing.prompt``,
``completion``, ``input_cache_read``, ``input_cache_write`` (strings, USD per token;
``"-1"`` marks a variable price, as for the ``openrouter/auto`` router: listed unpriced),
``context_length``, ``top_provider.max_completion_tokens``, ``supported_parameters``
(``tools`` means tool calling) and ``architecture.input_modalities`` / ``output_modalities``.
"""

from __future__ import annotations

from router.catalog import ModelCard, Pricing
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Provider


def capabilities(entry: Entry) -> dict[str, object]:
    """Tools, vision and chat-vs-generation from OpenRouter-style ``architecture`` fields.

    Shared with Routstr, whose live catalog is proxied from OpenRouter.
    """
    params = entry.opt_list("supported_parameters")
    inputs = entry.opt_list("architecture.input_modalities")
    outputs = entry.opt_list("architecture.output_modalities")
    return {
        "supports_tools": None if params is None else "tools" in params,
        "supports_vision": None if inputs is None else "image" in inputs,
        "kind": "generation" if outputs is not None and "text" not in outputs else "chat",
    }


class OpenRouter(Provider):
    default_base_url = "https://openrouter.ai/api/v1"

    def parse_model(self, entry: Entry) -> ModelCard:
        variable = str(entry.get("pricing.prompt")).strip() == "-1"
        pricing = None
        if not variable:  # a variable price cannot be known ahead: listed unpriced
            pricing = Pricing(
                prompt=entry.price("pricing.prompt"),
                completion=entry.price("pricing.completion"),
                cache_read=entry.opt_price("pricing.input_cache_read"),
                cache_write=entry.opt_price("pricing.input_cache_write"),
            )
        return self.card(
            entry,
            name=entry.opt_text("name"),
            context_length=entry.opt_int("context_length"),
            max_output_tokens=entry.opt_int("top_provider.max_completion_tokens"),
            pricing=pricing,
            **capabilities(entry),
        )


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("openrouter", OpenRouter)
