"""Calling the observation hooks (``router_on_attempt``, ``router_on_result``) safely.

The implementations are looked up once, when the router is built; with none, the
router does not build events at all (``Observers.active`` is False). Each implementation
is called on its own, so one that raises neither breaks the request nor keeps the
others from seeing the event; its first failure is logged with the traceback, later
ones are only counted (``Observers.failures``).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from router.errors import PluginError

if TYPE_CHECKING:
    import pluggy

    from router.events import AttemptEvent, ResultEvent
    from router.plugins import Plugins

__all__ = ["Observers"]

logger = logging.getLogger("router.hooks")


class Observers:
    """The observation hook implementations of one router, called one by one."""

    def __init__(self, plugins: Plugins, *, otel: bool = False) -> None:
        if otel:  # telemetry: {otel: true}: the built-in OpenTelemetry plugin
            from router.telemetry import register_otel

            register_otel(plugins)
        pm = plugins.pm
        self._attempt = _impls(pm, "router_on_attempt")
        self._result = _impls(pm, "router_on_result")
        self.active = bool(self._attempt or self._result)
        """Whether any implementation is registered (else no event is built)."""
        self.failures: Counter[str] = Counter()
        """Exceptions raised per plugin name (only the first is logged)."""
        self._lock = threading.Lock()

    def attempt(self, event: AttemptEvent) -> None:
        """Call every ``router_on_attempt``."""
        for name, function, takes_event in self._attempt:
            self._call(name, "router_on_attempt", function, takes_event, event)

    def result(self, event: ResultEvent) -> None:
        """Call every ``router_on_result``."""
        for name, function, takes_event in self._result:
            self._call(name, "router_on_result", function, takes_event, event)

    def _call(self, name: str, hook: str, function: Any, takes_event: bool, event: object) -> None:
        try:
            if takes_event:
                function(event)
            else:
                function()
        except Exception:
            with self._lock:
                self.failures[name] += 1
                first = self.failures[name] == 1
            if first:
                logger.exception(
                    "plugin %r raised in %s; the request goes on (later failures of this"
                    " plugin are counted, not logged)",
                    name,
                    hook,
                )


def _impls(pm: pluggy.PluginManager, hook: str) -> tuple[tuple[str, Any, bool], ...]:
    """(plugin name, function, whether it takes ``event``) of each implementation, in
    pluggy's calling order (last registered first)."""
    found = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            msg = f"plugin {impl.plugin_name!r}: {hook} is an observation hook; wrappers are not"
            msg += " supported there (implement it plainly)"
            raise PluginError(msg)
        found.append((impl.plugin_name, impl.function, "event" in impl.argnames))
    return tuple(found)
