"""The Majestix inference API: prices in credits, with the platform margin included.

Catalog (seed 003): ``GET /models`` with ``X-Api-Key``; entries carry ``context_window``
(input + output), ``max_output_tokens``, ``supports_tools``, ``supports_vision``, the
upstream ``provider``, and ``cost_per_1k_input`` / ``cost_per_1k_output`` in **credits per
1,000 tokens, including the platform's 1.4x margin**. One credit is ``usd_per_credit``
USD ($0.001 by default), so USD per token = credits x usd_per_credit / 1000. The margin
is already in the price: it is never applied again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from router.catalog import ModelCard, Pricing, Protocol
from router.errors import CatalogError
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Provider, ProviderOptions

# The upstream provider decides the model's protocol family.
_FAMILY: dict[str, Protocol] = {"anthropic": "anthropic", "vertex": "gemini"}


class InferenceAPIOptions(ProviderOptions):
    usd_per_credit: Decimal = Field(default=Decimal("0.001"), gt=0)
    """USD value of one credit."""


class InferenceAPI(Provider):
    Options = InferenceAPIOptions
    default_base_url = "https://inference-api-611798501438.us-central1.run.app"

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key
        return {"X-Api-Key": key} if key else {}

    def catalog_entries(self, payload: Any) -> list[Any]:
        # The documented shape is {"models": [...]}; accept {"data": [...]} and a bare list.
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict):
            for key in ("models", "data"):
                if isinstance(payload.get(key), list):
                    entries: list[Any] = payload[key]
                    return entries
        msg = "expected a JSON object with a 'models' list"
        raise CatalogError(self.name, msg, status=200)

    def parse_model(self, entry: Entry) -> ModelCard:
        assert isinstance(self.options, InferenceAPIOptions)
        per_token = self.options.usd_per_credit / 1000
        upstream = entry.opt_text("provider")
        return self.card(
            entry,
            id=entry.text("id") if entry.has("id") else entry.text("key"),
            name=entry.opt_text("name") or entry.opt_text("display_name"),
            protocol=_FAMILY.get(upstream or "", "openai"),
            context_length=entry.opt_int("context_window"),
            max_output_tokens=entry.opt_int("max_output_tokens"),
            supports_tools=entry.opt_bool("supports_tools"),
            supports_vision=entry.opt_bool("supports_vision"),
            pricing=Pricing(
                prompt=entry.price("cost_per_1k_input", per_token),
                completion=entry.price("cost_per_1k_output", per_token),
            ),
        )


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("inference-api", InferenceAPI)
