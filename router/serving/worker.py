"""One process of ``router serve --workers N``.

uvicorn's supervisor binds the socket and spawns N processes; each imports this module by
name (its ``app`` factory and its ``HTTPProtocol``, uvicorn's protocol with the config's
header timeout: a class made at run time cannot be handed to a spawned process, a module
attribute can) and builds a Router of its own from the config file named by
``$ROUTER_SERVE_CONFIG``. The N processes share what they learn when the config's
``state:`` is shared (``backend: redis``); each learns alone otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from router.config import ServerSettings, load_yaml, server_settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["CONFIG", "app"]  # and HTTPProtocol, made on first use

CONFIG = "ROUTER_SERVE_CONFIG"
"""The environment variable naming the config file the workers read."""


def _document() -> Any:
    path = os.environ.get(CONFIG)
    return None if path is None else load_yaml(Path(path))


def _settings() -> ServerSettings:
    document = _document()
    return ServerSettings() if document is None else server_settings(document)


def app() -> Starlette:
    """The worker's app (a uvicorn factory): a Router from ``$ROUTER_SERVE_CONFIG``."""
    from router.core import Router
    from router.serving.server import create_app

    document = _document()
    if document is None:
        msg = f"${CONFIG} names no config file"
        raise RuntimeError(msg)
    settings = server_settings(document)
    return create_app(
        Router.from_config(document),
        api_keys=settings.api_keys,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
    )


def __getattr__(name: str) -> Any:
    # Built on first use, in the worker: it needs uvicorn and the config's header timeout.
    if name == "HTTPProtocol":
        from router.serving.server import _header_timeout_protocol

        protocol = _header_timeout_protocol(_settings().header_timeout_seconds)
        globals()[name] = protocol
        return protocol
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
