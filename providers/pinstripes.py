"""pinstripes: an OpenAI-compatible API with per-token prices and automatic prefix caching.

Catalog (seed 000): ``GET /v1/models`` with ``Authorization: Bearer``; ``data[]`` entries
carry ``pricing.prompt``, ``pricing.completion`` and ``pricing.cached_tokens`` as **USD
per token, as strings**, plus ``context_length`` and ``max_output_tokens``. Tools and
vision are not stated: unknown.
"""

from __future__ import annotations

from router.catalog import ModelCard, Pricing
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Provider


class Pinstripes(Provider):
    default_base_url = "https://api.pinstripes.io/v1"

    def parse_model(self, entry: Entry) -> ModelCard:
        return self.card(
            entry,
            context_length=entry.opt_int("context_length"),
            max_output_tokens=entry.opt_int("max_output_tokens"),
            pricing=Pricing(
                prompt=entry.price("pricing.prompt"),
                completion=entry.price("pricing.completion"),
                # seed 001: prefix-cache hits billed at the cached_tokens rate; no write premium
                cache_read=entry.opt_price("pricing.cached_tokens"),
            ),
        )


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("pinstripes", Pinstripes)
