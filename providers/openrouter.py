"""OpenRouter: the aggregator's catalog, USD per token as strings.

``GET /api/v1/models`` with ``Authorization: Bearer``: ``data[]`` with ``pricing.prompt``,
``completion``, ``input_cache_read``, ``input_cache_write`` (the default, 5-minute TTL) and
``input_cache_write_1h`` (strings, USD per token; ``"-1"`` marks a variable price, as for the
``openrouter/auto`` router: listed unpriced), ``pricing.overrides`` (see below),
``context_length``, ``top_provider.max_completion_tokens``, ``supported_parameters``
(``tools`` means tool calling) and ``architecture.input_modalities`` / ``output_modalities``.

**Overrides.** OpenRouter's ``PricingOverride`` (its SDK reference): "an entry applies only
when all of its condition fields (e.g. ``min_prompt_tokens``, or the ``utc_start``/``utc_end``
time window) match the request; among applicable entries, later entries win per price key;
price keys absent from an entry inherit the base price". Its provider guide says a tier
applies when the input tokens *meet or exceed* the minimum: ``prompt >= min_prompt_tokens``.
Each distinct ``min_prompt_tokens`` becomes a :class:`PriceTier` holding every override that
applies from there on, resolved in list order, so ``rates_for`` gives exactly OpenRouter's
rates at any prompt size.

An override with a condition the router cannot evaluate (a time window, anything but
``min_prompt_tokens``) is not applied as a tier, with a warning. It is never simply
dropped: wherever it might apply, each of its rates counts as the higher of its own and
the one it would replace, so a request is never priced below what it may be billed. An
override that cannot be read at all (not an object, a price that is not a number) skips
the model: the catalog lists it under ``skipped``.

Usage: OpenRouter states what it billed as ``usage.cost`` (USD); that is the answer's cost
(see :attr:`router.provider.Provider.states_cost`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from router.catalog import ModelCard, PriceTier, Pricing
from router.hookspecs import RegisterProvider, hookimpl
from router.parsing import Entry, EntryError
from router.provider import Provider

logger = logging.getLogger("router.providers.openrouter")

_RATES = {
    "prompt": "prompt",
    "completion": "completion",
    "input_cache_read": "cache_read",
    "input_cache_write": "cache_write",
    "input_cache_write_1h": "cache_write_1h",
}
"""OpenRouter price keys the router bills → :class:`Rates` fields."""
_UNBILLED = frozenset(
    {
        "request",
        "image",
        "image_token",
        "image_output",
        "audio",
        "audio_output",
        "input_audio_cache",
        "web_search",
        "internal_reasoning",
        "discount",
    }
)
"""Price keys OpenRouter states that the router's token cost does not use (also not in the
base price): an override stating only these changes nothing the router bills."""
_CONDITION = "min_prompt_tokens"


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
        "supports_structured_output": None
        if params is None
        else "response_format" in params or "structured_outputs" in params,
        "kind": "generation" if outputs is not None and "text" not in outputs else "chat",
    }


class _Override:
    """One readable entry of ``pricing.overrides``."""

    __slots__ = ("index", "min_tokens", "rates", "unknown")

    def __init__(self, raw: object, index: int) -> None:
        where = f"pricing.overrides.{index}"
        if not isinstance(raw, dict):
            raise EntryError(where, "not an object")
        entry = Entry(raw)
        self.index = index
        self.rates: dict[str, Decimal] = {}
        try:
            self.min_tokens = entry.opt_int(_CONDITION) or 0
            for key, field in _RATES.items():
                if raw.get(key) is not None:
                    self.rates[field] = entry.price(key)
        except EntryError as exc:
            raise EntryError(f"{where}.{exc.field}", exc.problem) from None
        self.unknown = sorted(
            k for k in raw if k not in _RATES and k not in _UNBILLED and k != _CONDITION
        )


def override_tiers(entry: Entry, base: Pricing) -> tuple[tuple[PriceTier, ...], list[_Override]]:
    """The tiers of ``pricing.overrides`` and the overrides not applied as stated (their
    conditions unknown). Raises ``EntryError`` for an override that cannot be read."""
    raw = entry.get("pricing.overrides")
    if raw is None:
        return (), []
    if not isinstance(raw, list):
        raise EntryError("pricing.overrides", "not a list")
    overrides = [_Override(item, i) for i, item in enumerate(raw)]
    tiers = []
    for threshold in sorted({o.min_tokens for o in overrides}):
        rates: dict[str, Decimal] = {}
        for override in overrides:
            if override.min_tokens > threshold:
                continue
            for field, rate in override.rates.items():
                if override.unknown:
                    # It may or may not apply: bill the higher of the two, never less.
                    current = rates.get(field, getattr(base, field))
                    rates[field] = rate if current is None else max(current, rate)
                else:
                    rates[field] = rate  # later entries win per price key
        if rates:  # an override of unbilled prices only changes nothing billed here
            tiers.append(
                PriceTier(
                    name=f"{_CONDITION}>={threshold}",
                    above_prompt_tokens=threshold - 1,  # inclusive: prompt >= min_prompt_tokens
                    **rates,
                )
            )
    return tuple(tiers), [o for o in overrides if o.unknown]


class OpenRouter(Provider):
    default_base_url = "https://openrouter.ai/api/v1"
    states_cost = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._warned: set[tuple[str, int]] = set()

    def parse_model(self, entry: Entry) -> ModelCard:
        variable = str(entry.get("pricing.prompt")).strip() == "-1"
        pricing = None
        if not variable:  # a variable price cannot be known ahead: listed unpriced
            pricing = Pricing(
                prompt=entry.price("pricing.prompt"),
                completion=entry.price("pricing.completion"),
                cache_read=entry.opt_price("pricing.input_cache_read"),
                cache_write=entry.opt_price("pricing.input_cache_write"),
                cache_write_1h=entry.opt_price("pricing.input_cache_write_1h"),
            )
            tiers, unknown = override_tiers(entry, pricing)
            if tiers:
                pricing = pricing.model_copy(update={"tiers": tiers})
            self._warn(entry, unknown)
        return self.card(
            entry,
            name=entry.opt_text("name"),
            context_length=entry.opt_int("context_length"),
            max_output_tokens=entry.opt_int("top_provider.max_completion_tokens"),
            pricing=pricing,
            **capabilities(entry),
        )

    def _warn(self, entry: Entry, unknown: list[_Override]) -> None:
        model = entry.get("id")
        for override in unknown:
            key = (str(model), override.index)
            if key in self._warned:  # once per model and override, not at every refresh
                continue
            self._warned.add(key)
            logger.warning(
                "provider %r: model %r: pricing.overrides.%d has conditions the router cannot"
                " evaluate (%s); not applied as a tier: its rates are billed wherever higher",
                self.name,
                model,
                override.index,
                ", ".join(override.unknown),
            )


@hookimpl
def router_register_providers(register: RegisterProvider) -> None:
    register("openrouter", OpenRouter)
