"""A pluggable, cost-aware LLM router.

Quick start::

    from router import Router

    router = Router.from_yaml("router.yaml")
    for card in router.models():
        print(card.ref, card.pricing.prompt if card.pricing else "unpriced")

Write a plugin: see :mod:`router.hookspecs`.

Every name below is imported on first use (PEP 562): ``import router`` loads neither
httpx nor pydantic, and ``from router import Router`` loads only what the Router needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what mypy and IDEs see; keep in step with _EXPORTS (a test checks)
    from router.catalog import Catalog, ModelCard, PriceTier, Pricing, Rates, Skipped
    from router.completion import ChatCompletion, ChatCompletionChunk
    from router.core import Router
    from router.errors import (
        AllProvidersFailed,
        BudgetExceeded,
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
        StateUnavailable,
        StreamInterrupted,
        Timeout,
        Unavailable,
        UpstreamError,
    )
    from router.events import AttemptEvent, ResultEvent
    from router.hookspecs import hookimpl
    from router.parsing import Entry, EntryError
    from router.planning.context import RoutingContext
    from router.planning.route import Route
    from router.policy import CardTraits, Filter, Judgement, Policy, Ranking, Verdict
    from router.provider import Provider, ProviderOptions
    from router.types import ChatRequest

__all__ = [
    "AllProvidersFailed",
    "AttemptEvent",
    "BudgetExceeded",
    "CardTraits",
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
    "Filter",
    "InvalidRequest",
    "Judgement",
    "ModelCard",
    "NoRouteError",
    "PluginError",
    "Policy",
    "PriceTier",
    "Pricing",
    "Provider",
    "ProviderOptions",
    "Ranking",
    "RateLimited",
    "Rates",
    "Rejected",
    "ResultEvent",
    "Route",
    "Router",
    "RouterError",
    "RoutingContext",
    "Skipped",
    "StateUnavailable",
    "StreamInterrupted",
    "Timeout",
    "Unavailable",
    "UpstreamError",
    "Verdict",
    "hookimpl",
]

_ERRORS = (
    "AllProvidersFailed BudgetExceeded CatalogError ConfigError ContextTooLong DeadlineExceeded"
    " InvalidRequest NoRouteError PluginError RateLimited Rejected RouterError"
    " StateUnavailable StreamInterrupted Timeout Unavailable UpstreamError"
)
_EXPORTS: dict[str, str] = {
    name: module
    for module, names in (
        ("router.catalog", "Catalog ModelCard PriceTier Pricing Rates Skipped"),
        ("router.completion", "ChatCompletion ChatCompletionChunk"),
        ("router.core", "Router"),
        ("router.planning.route", "Route"),
        ("router.errors", _ERRORS),
        ("router.events", "AttemptEvent ResultEvent"),
        ("router.hookspecs", "hookimpl"),
        ("router.parsing", "Entry EntryError"),
        ("router.planning.context", "RoutingContext"),
        ("router.policy", "CardTraits Filter Judgement Policy Ranking Verdict"),
        ("router.provider", "Provider ProviderOptions"),
        ("router.types", "ChatRequest"),
    )
    for name in names.split()
}
"""Public name → the module that defines it."""


def _load(name: str) -> object:
    """The export ``name``, imported from its module and kept in the package namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'router' has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip _load
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any router.<typo>
    __getattr__ = _load
