"""Every error the router raises.

The tree::

    RouterError
    ├── ConfigError          a YAML key is wrong: carries the key path and the problem
    ├── PluginError          a plugin registered a duplicate or malformed name
    └── CatalogError         a provider's catalog could not be read: carries provider and status

Messages never contain a secret: API keys and Cashu tokens are held as
``pydantic.SecretStr`` from the moment they are read, and no message here is built
from a raw configuration value.
"""

from __future__ import annotations

__all__ = ["CatalogError", "ConfigError", "PluginError", "RouterError"]


class RouterError(Exception):
    """Base class of every error the router raises."""


class ConfigError(RouterError):
    """The configuration is invalid.

    ``key_path`` is where, in YAML terms (``providers[1].usd_per_credit``);
    ``problem`` is what is wrong with it.
    """

    def __init__(self, key_path: str, problem: str) -> None:
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{key_path}: {problem}" if key_path else problem)


class PluginError(RouterError):
    """A plugin registered something the router cannot accept (a duplicate name, a bad class)."""


class CatalogError(RouterError):
    """A provider's model catalog could not be fetched or read.

    ``status`` is the HTTP status when the provider answered, else ``None``
    (connection refused, timeout, a body that is not JSON).
    """

    def __init__(self, provider: str, problem: str, *, status: int | None = None) -> None:
        self.provider = provider
        self.problem = problem
        self.status = status
        where = f"HTTP {status}" if status is not None else "no usable answer"
        super().__init__(f"catalog of provider {provider!r}: {where}: {problem}")
