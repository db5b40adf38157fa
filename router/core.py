"""The :class:`Router`: configured providers, their live catalogs, groups and the policy chain."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from router.catalog import Catalog, ModelCard
from router.config import FallbackConfig, load_yaml, resolve
from router.errors import CatalogError, ConfigError
from router.plugins import Plugins
from router.policy import Policy
from router.provider import Provider

__all__ = ["Router"]

logger = logging.getLogger("router")


class Router:
    """A cost-aware router over the providers of one configuration.

    Build it with :meth:`from_yaml` or :meth:`from_config`. Nothing is fetched at
    construction: each provider's catalog is fetched on first use and kept fresh for
    its ``catalog_ttl``.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        plugins: Iterable[object] = (),
        entry_points: bool | None = None,
        environ: Mapping[str, str] | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.plugins = Plugins(plugins, entry_points=entry_points)
        resolved = resolve(config, self.plugins, environ)
        providers: dict[str, Provider] = {}
        for i, (cls, options) in enumerate(resolved.providers):
            try:
                providers[options.name] = cls(options, timer=timer)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"providers[{i}]", str(exc)) from None
        self.providers: Mapping[str, Provider] = MappingProxyType(providers)
        """Configured providers by name, in YAML order."""
        self.groups: Mapping[str, tuple[str, ...]] = MappingProxyType(resolved.groups)
        """Model groups (the YAML ``models:``): name → deployment refs."""
        self.policies: tuple[tuple[str, Policy], ...] = resolved.policies
        """The policy chain, in order: (name, configured policy)."""
        self.fallback: FallbackConfig = resolved.fallback
        """The ``fallback:`` settings."""

    @classmethod
    def from_yaml(cls, source: str | os.PathLike[str], **kwargs: Any) -> Router:
        """A router from a YAML file path or YAML text (``yaml.safe_load`` only)."""
        return cls(load_yaml(source), **kwargs)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Router:
        """A router from an already-parsed configuration mapping (same shape as the YAML)."""
        return cls(config, **kwargs)

    def __repr__(self) -> str:
        return f"Router(providers={list(self.providers)!r}, groups={list(self.groups)!r})"

    # -- catalogs ------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        """The configured provider called ``name``."""
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(self.providers)
            msg = f"no provider named {name!r}; configured: {known}"
            raise KeyError(msg) from None

    def catalog(self, provider: str) -> Catalog:
        """One provider's catalog, fetched if missing or expired. Raises ``CatalogError``."""
        return self.provider(provider).catalog.get()

    async def acatalog(self, provider: str) -> Catalog:
        """Async :meth:`catalog`."""
        return await self.provider(provider).catalog.aget()

    def models(self) -> list[ModelCard]:
        """The normalized catalog, every provider merged (YAML order, then catalog order).

        A provider whose catalog cannot be fetched, and that has no earlier good copy,
        is left out with a warning; :meth:`catalog` raises its ``CatalogError``.
        """
        catalogs = []
        for name in self.providers:
            try:
                catalogs.append(self.catalog(name))
            except CatalogError as exc:
                _left_out(name, exc)
        return _merge(catalogs)

    async def amodels(self) -> list[ModelCard]:
        """Async :meth:`models`; the providers' catalogs are fetched concurrently."""

        async def one(name: str) -> Catalog | None:
            try:
                return await self.acatalog(name)
            except CatalogError as exc:
                _left_out(name, exc)
                return None

        return _merge(await asyncio.gather(*(one(name) for name in self.providers)))

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Close every provider's HTTP connections."""
        for provider in self.providers.values():
            provider.close()

    async def aclose(self) -> None:
        """Close every provider's HTTP connections (async clients of this loop too)."""
        for provider in self.providers.values():
            await provider.aclose()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _left_out(name: str, exc: CatalogError) -> None:
    logger.warning("leaving provider %r out of the catalog: %s", name, exc)


def _merge(catalogs: Iterable[Catalog | None]) -> list[ModelCard]:
    return [card for catalog in catalogs if catalog is not None for card in catalog.models]
