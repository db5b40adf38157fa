"""The hooks a plugin implements. Each docstring is the plugin author's manual.

A plugin is any module or object with functions marked ``@router.hookimpl`` whose names
are hook names below. Register it for everyone with an entry point in the plugin
package's ``pyproject.toml``::

    [project.entry-points.router]
    acme = "router_acme"

or for one router only with ``Router.from_yaml(path, plugins=[module])``.

An implementation may take a subset of a hook's arguments: hooks can grow new
arguments without breaking existing plugins.

Two kinds of hooks: *registration* hooks (``router_register_*``), called once when a
router is built, and *observation* hooks (``router_on_*``), called for every attempt and
every result of every request, on the sync, async and streaming paths and through the
httpx transport and ``router serve`` alike. An observation hook:

- runs in the caller's thread (or event loop) right after the event, so it should be
  quick and must not block: hand slow work (a network export) to a queue;
- cannot break a request: an exception it raises is logged (once per plugin, then
  counted silently) and the request goes on;
- is looked up once, when the router is built: with no implementation registered the
  router does not even build the event;
- is a plain implementation: ``@hookimpl(wrapper=True)`` there is a ``PluginError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

import pluggy

if TYPE_CHECKING:
    from router.events import AttemptEvent, ResultEvent
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


@hookspec
def router_on_attempt(event: AttemptEvent) -> None:
    """Observe one try of one deployment: which, how it ended, how long it took.

    Called after each attempt of a routed request, successful or failed, in order; the
    attempts of one request share ``event.request_id`` with its result. A failed attempt
    carries ``status`` (None without an HTTP answer), ``error`` and ``error_kind``; a
    stream's successful attempt ends at its first chunk (``ttft``).

    :param event: a :class:`router.events.AttemptEvent` (``ref``, ``provider``, ``model``,
        ``status``, ``error``, ``latency``, ``ttft``, ``started``, ``stream``).

    .. versionadded:: 0.2
    """


@hookspec
def router_on_result(event: ResultEvent) -> None:
    """Observe the outcome of one routed request: the route, tokens, exact cost, timing.

    Called once per request that reached routing: when the answer is complete (for a
    stream, after its last chunk), when it failed (``event.error``: ``AllProvidersFailed``,
    ``NoRouteError``, ``BudgetExceeded``, a ``Rejected`` 4xx, ``StreamInterrupted``), or
    when the caller stopped reading a stream (``event.complete`` False; the tokens and
    cost are then estimated from what was produced). ``event.attempts`` repeats every
    attempt, so a plugin that wants whole requests (a trace) needs only this hook.

    :param event: a :class:`router.events.ResultEvent` (``route``, ``cost`` in USD as
        ``Decimal``, ``stated_cost``, ``prompt_tokens``, ``completion_tokens``,
        ``cached_tokens``, ``latency``, ``ttft``, ``stream``, ``user``, ``metadata``,
        ``client``, ``error``, ``attempts``).

    .. versionadded:: 0.2
    """
