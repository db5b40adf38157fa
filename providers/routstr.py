"""Routstr: OpenRouter's models, paid with Cashu ecash (the API key is a Cashu token).

Two catalog shapes are in the wild:

- the seed page (004): ``pricing.prompt`` / ``pricing.completion`` as **USD per 1,000
  tokens, as numbers**;
- live routstr-core: OpenRouter's schema with prices as **USD per token, as numbers**,
  plus ``sats_pricing``, ``architecture`` and ``top_provider``.

``price_unit: auto`` reads an entry per token when it carries any live marker
(``sats_pricing``, ``architecture``, ``top_provider``), else per 1,000 tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from providers.openrouter import capabilities
from router.catalog import ModelCard, Pricing
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry
from router.provider import Provider, ProviderOptions

_LIVE_MARKERS = ("sats_pricing", "architecture", "top_provider")
_PER_1K = Decimal(1) / 1000


def _stated(rate: Decimal | None, prompt: Decimal) -> Decimal | None:
    # routstr-core fills every absent rate with 0.0; a free cache on a paid model means
    # "no cache rate", not "cached tokens cost nothing".
    return None if rate == 0 and prompt > 0 else rate


class RoutstrOptions(ProviderOptions):
    price_unit: Literal["auto", "per_token", "per_1k"] = "auto"
    """Unit of ``pricing.*``: per token, per 1,000 tokens, or ``auto`` (by the entry's shape)."""


class Routstr(Provider):
    Options = RoutstrOptions
    default_base_url = "https://api.routstr.com/v1"

    def scale(self, entry: Entry) -> Decimal:
        """The factor from this entry's price unit to USD per token."""
        assert isinstance(self.options, RoutstrOptions)
        unit = self.options.price_unit
        if unit == "auto":
            unit = "per_token" if any(entry.has(m) for m in _LIVE_MARKERS) else "per_1k"
        return Decimal(1) if unit == "per_token" else _PER_1K

    def parse_model(self, entry: Entry) -> ModelCard:
        scale = self.scale(entry)
        context = entry.opt_int("context_length")
        prompt = entry.price("pricing.prompt", scale)
        return self.card(
            entry,
            name=entry.opt_text("name"),
            context_length=context if context else entry.opt_int("top_provider.context_length"),
            max_output_tokens=entry.opt_int("top_provider.max_completion_tokens"),
            pricing=Pricing(
                prompt=prompt,
                completion=entry.price("pricing.completion", scale),
                cache_read=_stated(entry.opt_price("pricing.input_cache_read", scale), prompt),
                cache_write=_stated(entry.opt_price("pricing.input_cache_write", scale), prompt),
            ),
            **capabilities(entry),
        )


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("routstr", Routstr)
