"""The ``state:`` block: where what the router learns lives (this process, or Redis)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["REDIS_SCHEMES", "StateSettings", "redis_location"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "valkey://", "valkeys://")
"""URL schemes the Redis backend accepts (Valkey speaks the same protocol)."""


class StateSettings(BaseModel):
    """The ``state:`` block. ``memory`` (the default): this process only; ``redis``: every
    router configured with the same ``url`` and ``key_prefix`` decides as one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "redis"] = "memory"
    """``memory``: this process's state only; ``redis``: shared through Redis or Valkey."""
    url: SecretStr | None = None
    """``redis://[user:password@]host:port/db``, ``rediss://`` for TLS, ``unix://`` for a
    socket. A secret like an API key: never printed, logged or put in an error."""
    key_prefix: str = Field(default="router:", max_length=200)
    """Every key (and the pub/sub channel) starts with this, then the schema version."""
    on_unavailable: Literal["local", "fail"] = "local"
    """While Redis cannot be reached: ``local`` routes on this process's state (one warning
    per outage, reconnecting in the background); ``fail`` answers ``StateUnavailable``."""
    timeout_seconds: float = Field(default=0.5, gt=0, le=60)
    """Connect and reply timeout of every Redis call (none is on a request's path)."""
    prefixes_per_deployment: int = Field(default=20_000, ge=100, le=10_000_000)
    """At most this many remembered prefixes per deployment in Redis (newest kept)."""
    max_pending: int = Field(default=10_000, ge=100, le=10_000_000)
    """Learned updates kept while Redis is away; beyond it the oldest are dropped."""

    @field_validator("key_prefix")
    @classmethod
    def _plain_prefix(cls, prefix: str) -> str:
        if any(c.isspace() or not c.isprintable() for c in prefix):
            raise ValueError("a key prefix must be printable, without spaces")
        return prefix

    @field_validator("url")
    @classmethod
    def _redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(REDIS_SCHEMES):
            # the value is not quoted: it may hold a password
            raise ValueError(f"must start with one of {', '.join(REDIS_SCHEMES)}")
        return url

    @model_validator(mode="after")
    def _url_for_redis(self) -> StateSettings:
        if self.backend == "redis" and self.url is None:
            raise ValueError("backend 'redis' needs a url (for example url: ${REDIS_URL})")
        return self


def redis_location(url: str) -> str:
    """``host:port`` (or the socket path) of ``url``: what logs may say, never credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path or "a unix socket"
    host = parts.hostname or "localhost"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{host}:{port}"
