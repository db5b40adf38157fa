"""Who is calling ``router serve``: client keys with names, and the spend they may read.

Each client key has a name (``server.api_keys``: ``{key, name}``; a plain key is named
after its place, ``api_keys[0]``). The server's guard finds the key a request presents
and puts its name and rights in the ASGI scope (``router.client``, ``router.admin``); the
name travels to the router as an ``httpx.Request`` extension, never as a header, so a
client cannot name itself, and it is what budgets keyed by ``api_key`` count under.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from router.serving.transport import CLIENT_EXTENSION

if TYPE_CHECKING:
    from router.config import ClientKey
    from router.core import Router

__all__ = ["client_extension", "key_bytes", "named_key", "spend_answer"]


def key_bytes(key: str | SecretStr) -> bytes:
    """A client key as the bytes of an ``Authorization`` header; ``ValueError`` if it
    cannot be one."""
    value = key.get_secret_value() if isinstance(key, SecretStr) else key
    if not value or value != value.strip():
        msg = "a client key must be non-empty, without surrounding spaces"
        raise ValueError(msg)
    try:
        return value.encode("latin-1")  # as HTTP header bytes arrive
    except UnicodeEncodeError:
        msg = "a client key must be Latin-1 text (it travels in an HTTP header)"
        raise ValueError(msg) from None


def named_key(i: int, key: str | SecretStr | ClientKey) -> tuple[bytes, str, bool]:
    """(key bytes, name, admin) of the ``i``-th client key."""
    if isinstance(key, str | SecretStr):
        return key_bytes(key), f"api_keys[{i}]", False
    return key_bytes(key.key), key.name, key.admin


def client_extension(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    """The ``httpx.Request`` extensions naming the scope's client (none without keys)."""
    client = scope.get("router.client")
    return {CLIENT_EXTENSION: client} if client else {}


def spend_answer(
    router: Router, scope: MutableMapping[str, Any], *, keyed: bool
) -> tuple[int, bytes]:
    """Status and JSON body of ``GET /v1/spend``: the router's spend per budget and key;
    with client keys, for an ``admin`` key only (403 otherwise)."""
    if keyed and not scope.get("router.admin"):
        message = "Only an admin client key may read the spend (server.api_keys[].admin)"
        error = {"message": message, "type": "permission_error", "param": None, "code": "not_admin"}
        return 403, json.dumps({"error": error}, separators=(",", ":")).encode()
    rows = [row.to_dict() for row in router.spend()]
    return 200, json.dumps({"object": "list", "data": rows}, separators=(",", ":")).encode()
