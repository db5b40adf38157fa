"""Built-in observers on the router's observation hooks (``router_on_attempt``,
``router_on_result``). Nothing on the request path imports this package: a router
registers :class:`router.telemetry.otel.OpenTelemetry` only when the YAML says
``telemetry: {otel: true}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.errors import ConfigError

if TYPE_CHECKING:
    from router.plugins import Plugins

__all__ = ["register_otel"]


def register_otel(plugins: Plugins) -> None:
    """Register the OpenTelemetry plugin (``telemetry: {otel: true}``) unless it already is;
    a ``ConfigError`` at ``telemetry.otel`` without the ``otel`` extra."""
    try:
        from router.telemetry.otel import OpenTelemetry
    except ImportError:
        raise ConfigError(
            "telemetry.otel", "needs the 'otel' extra: pip install 'router[otel]'"
        ) from None
    if not any(isinstance(p, OpenTelemetry) for p in plugins.pm.get_plugins()):
        plugins.pm.register(OpenTelemetry(), "router.telemetry.otel")
