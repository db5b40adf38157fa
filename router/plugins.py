"""The plugin manager: built-in and third-party providers and policies, through one set of hooks.

Built-ins are plain modules named in :data:`DEFAULT_PLUGINS`, registered exactly like
entry-point plugins. Environment variables:

- ``ROUTER_NO_ENTRY_POINTS=1``: load no third-party plugins (tests set it).
- ``ROUTER_BLOCK_PLUGINS=a,b``: never register these plugin names (entry-point names
  or built-in module names such as ``providers.openrouter``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from router import hookspecs
from router.errors import PluginError

if TYPE_CHECKING:
    from router.policy import Policy
    from router.provider import Provider

__all__ = ["DEFAULT_PLUGINS", "Plugins"]

DEFAULT_PLUGINS: tuple[str, ...] = (
    "providers.pinstripes",
    "providers.pipellm",
    "providers.inference_api",
    "providers.routstr",
    "providers.openai_compat",
    "providers.openrouter",
    "providers.anthropic",
    "providers.gemini",
    "policies.capabilities",
    "policies.context_fit",
    "policies.max_price",
    "policies.cheapest",
    "policies.fastest",
    "policies.max_ttft",
)


class Plugins:
    """A pluggy ``PluginManager`` for project ``router``, with one typed method per hook."""

    def __init__(self, extra: Iterable[object] = (), *, entry_points: bool | None = None) -> None:
        pm = pluggy.PluginManager("router")
        pm.add_hookspecs(hookspecs)
        for name in filter(None, os.environ.get("ROUTER_BLOCK_PLUGINS", "").split(",")):
            pm.set_blocked(name.strip())
        if entry_points is None:
            entry_points = not os.environ.get("ROUTER_NO_ENTRY_POINTS")
        if entry_points:
            pm.load_setuptools_entrypoints("router")
        for name in DEFAULT_PLUGINS:
            if not pm.is_blocked(name):
                pm.register(importlib.import_module(name), name)
        for plugin in extra:
            if not pm.is_registered(plugin):  # passed in and also installed: once is enough
                pm.register(plugin)
        pm.check_pending()
        self.pm = pm
        self._providers: dict[str, type[Provider]] | None = None
        self._policies: dict[str, type[Policy]] | None = None

    def providers(self) -> dict[str, type[Provider]]:
        """Provider kind → plugin class, from every ``router_register_providers``."""
        if self._providers is None:
            from router.provider import Provider

            self._providers = _collect(
                "provider kind", Provider, self.pm.hook.router_register_providers
            )
        return self._providers

    def policies(self) -> dict[str, type[Policy]]:
        """Policy name → policy class, from every ``router_register_policies``."""
        if self._policies is None:
            from router.policy import Policy

            self._policies = _collect("policy", Policy, self.pm.hook.router_register_policies)
        return self._policies


def _collect(what: str, base: Any, hook: pluggy.HookCaller) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def register(name: str, cls: Any) -> None:
        if not isinstance(name, str) or not name or ":" in name or name != name.strip():
            msg = f"{what} name {name!r} is not a non-empty string without ':' or spaces"
            raise PluginError(msg)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            msg = f"{what} {name!r}: {cls!r} is not a subclass of {base.__qualname__}"
            raise PluginError(msg)
        if name in found:
            first = found[name]
            msg = (
                f"{what} {name!r} is registered twice: by {first.__module__}.{first.__qualname__}"
                f" and by {cls.__module__}.{cls.__qualname__}"
            )
            raise PluginError(msg)
        found[name] = cls

    hook(register=register)
    return found
