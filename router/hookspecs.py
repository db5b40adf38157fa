"""The hooks a plugin implements. Each docstring is the plugin author's manual.

A plugin is any module or object with functions marked ``@router.hookimpl`` whose names
are hook names below. Register it for everyone with an entry point in the plugin
package's ``pyproject.toml``::

    [project.entry-points.router]
    acme = "router_acme"

or for one router only with ``Router.from_yaml(path, plugins=[module])``.

An implementation may take a subset of a hook's arguments: hooks can grow new
arguments without breaking existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import pluggy

if TYPE_CHECKING:
    from router.policy import Policy
    from router.provider import Provider

__all__ = ["RegisterPolicy", "RegisterProvider", "hookimpl", "hookspec"]

RegisterProvider: TypeAlias = "Callable[[str, type[Provider]], None]"
"""The ``register`` callback of :func:`router_register_providers`."""
RegisterPolicy: TypeAlias = "Callable[[str, type[Policy]], None]"
"""The ``register`` callback of :func:`router_register_policies`."""

hookspec = pluggy.HookspecMarker("router")
hookimpl = pluggy.HookimplMarker("router")


@hookspec
def router_register_providers(register: RegisterProvider) -> None:
    """Register provider plugins: call ``register(kind, ProviderClass)`` once per kind.

    :param register: takes the kind, which is the YAML ``providers[].kind`` value (lower
        case, ``-`` allowed, no ``:``), and a :class:`router.provider.Provider` subclass.
        A kind registered twice, by any two plugins, is a ``PluginError``.

    .. versionadded:: 0.1
    """


@hookspec
def router_register_policies(register: RegisterPolicy) -> None:
    """Register routing policies: call ``register(name, PolicyClass)`` once per policy.

    :param register: takes the name used as the key of a ``policy:`` chain item in the
        YAML, and a :class:`router.policy.Policy` subclass. The class is a pydantic model
        whose fields are the policy's options (its YAML block); unknown keys are rejected.
        A name registered twice is a ``PluginError``.

    .. versionadded:: 0.1
    """
