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
from router.completion import ChatCompletion, ChatCompletionChunk
from router.core import Router
from router.decision import Route
from router.errors import (
    AllProvidersFailed,
    CatalogError,
    ConfigError,
    ContextTooLong,
    DeadlineExceeded,
    InvalidRequest,
    NoRouteError,
    PluginError,
    RateLimited,
    Rejected,
    RouterError,
    StreamInterrupted,
    Timeout,
    Unavailable,
    UpstreamError,
)
from router.hookspecs import hookimpl
from router.parsing import Entry, EntryError
from router.policy import Policy, Verdict
from router.provider import Provider, ProviderOptions
from router.types import ChatRequest

__all__ = [
    "AllProvidersFailed",
    "Catalog",
    "CatalogError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "ConfigError",
    "ContextTooLong",
    "DeadlineExceeded",
    "Entry",
    "EntryError",
    "InvalidRequest",
    "ModelCard",
    "NoRouteError",
    "PluginError",
    "Policy",
    "PriceTier",
    "Pricing",
    "Provider",
    "ProviderOptions",
    "RateLimited",
    "Rates",
    "Rejected",
    "Route",
    "Router",
    "RouterError",
    "Skipped",
    "StreamInterrupted",
    "Timeout",
    "Unavailable",
    "UpstreamError",
    "Verdict",
    "hookimpl",
]
