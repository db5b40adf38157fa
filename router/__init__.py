"""A pluggable, cost-aware LLM router.

Quick start::

    from router import Router

    router = Router.from_yaml("router.yaml")
    for card in router.models():
        print(card.ref, card.pricing.prompt if card.pricing else "unpriced")

Write a plugin: see :mod:`router.hookspecs`.
"""

from __future__ import annotations

from router.catalog import Catalog, ModelCard, PriceTier, Pricing, Rates, Skipped
from router.core import Router
from router.errors import CatalogError, ConfigError, PluginError, RouterError
from router.hookspecs import hookimpl
from router.parsing import Entry, EntryError
from router.policy import Policy, Verdict
from router.provider import Provider, ProviderOptions
from router.types import ChatRequest

__all__ = [
    "Catalog",
    "CatalogError",
    "ChatRequest",
    "ConfigError",
    "Entry",
    "EntryError",
    "ModelCard",
    "PluginError",
    "Policy",
    "PriceTier",
    "Pricing",
    "Provider",
    "ProviderOptions",
    "Rates",
    "Router",
    "RouterError",
    "Skipped",
    "Verdict",
    "hookimpl",
]
