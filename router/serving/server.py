"""An OpenAI-compatible HTTP server over a :class:`~router.core.Router` (``router serve``).

Needs the ``server`` extra (``pip install 'router[server]'``: Starlette and uvicorn),
imported only when an app is built. Routes:

- ``POST /v1/chat/completions``: routed and sent; with ``"stream": true`` the answer is
  server-sent events, passed on as the provider streams them (nothing is buffered);
- ``POST /v1/responses``: the OpenAI Responses API, translated to chat completions
  (:mod:`router.serving.responses`: stateless; streamed as Responses events);
- ``GET /v1/models`` and ``GET /v1/models/{id}``: chat deployment refs, groups, ``auto``;
- ``GET /v1/spend``: ``{"object": "list", "data": [...]}``, spend per budget and key
  (``Router.spend()``); with client keys, only an ``admin: true`` key may read it (403);
- ``GET /health``: ``{"status": "ok", "providers": [...]}`` with each provider's catalog
  state (``fresh``, ``stale``: a refresh failed and the last good copy serves,
  ``expired``: older than its TTL, refreshed on next use, ``not fetched``), without
  fetching anything.

The chat and model routes are answered by :meth:`Router.async_transport`, the same code
that serves the OpenAI SDK in-process: an ``httpx.Request`` is built from the HTTP
request and the transport's ``httpx.Response`` is streamed back with its status and
headers (``x-router-provider``, ``x-router-model``, ``x-router-cost``). Every error is an
OpenAI error body (``{"error": {"message", "type", "param", "code"}}``).

Hardening: with ``api_keys``, every route (``/health`` included) asks for
``Authorization: Bearer <key>``, compared in constant time (401 otherwise); the key's
name (never the key) is what budgets keyed by ``api_key`` count under; a body over
``max_body_bytes`` is refused with 413, before it is read when its ``Content-Length``
says so; malformed JSON is a 400; no response ever carries a stack trace or an
exception's text that is not the router's own (redacted) message: anything unexpected
is logged and answered 500 ``server_error``. The caller's ``Authorization`` header is
never passed on to the router.

Slow clients (:func:`uvicorn_config`, the ``server:`` settings): a header block must
arrive within ``header_timeout_seconds`` of its first byte, a body within
``body_timeout_seconds`` of the header block, however slowly either drips; a client cut
for slowness gets 408 and the connection is closed. ``max_connections`` bounds the
concurrent connections served (uvicorn answers 503 beyond them).

A little over 500 lines: the app, its guards against slow and oversized clients and the
uvicorn settings are one unit, read together when the server's limits change.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from router.serving.clients import client_extension, named_key, spend_answer

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from router.config import ClientKey, ServerSettings
    from router.core import Router

__all__ = ["MISSING_EXTRA", "create_app", "health", "uvicorn_config"]

logger = logging.getLogger("router.serving.server")

MISSING_EXTRA = "the server needs the 'server' extra: pip install 'router[server]'"
"""The message of the ``ImportError`` raised when Starlette or uvicorn is missing."""

DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_BODY_TIMEOUT_SECONDS = 30.0

# Never passed on to the router (credentials), or recomputed on the way (framing).
_REQUEST_DROP = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "expect",
    }
)
_RESPONSE_DROP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


# -- OpenAI-style errors, as raw ASGI messages -------------------------------------------


def _error_body(message: str, kind: str, code: str | None = None) -> bytes:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return json.dumps({"error": error}, separators=(",", ":")).encode()


async def _send_error(
    send: Send,
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    body = _error_body(message, kind, code)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _too_large(limit: int) -> tuple[int, str, str, str]:
    return (
        413,
        f"Request body too large: the limit is {limit} bytes",
        "invalid_request_error",
        "request_too_large",
    )


class _TooLarge(Exception):
    """The request body went over the limit while it was read."""


class _TooSlow(Exception):
    """The request body did not arrive within the body timeout."""


def _timeout_response() -> bytes:
    body = _error_body(
        "Request timeout: the request did not arrive in time",
        "invalid_request_error",
        "request_timeout",
    )
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


# -- the guard: auth, size, catch-all ------------------------------------------------------


class _Guard:
    """ASGI middleware: client keys, the body limit (by ``Content-Length``), and the
    catch-all that keeps exception text and tracebacks out of every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: tuple[tuple[bytes, str, bool], ...],
        max_body_bytes: int,
        body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
        quiet: tuple[type[Exception], ...] = (),
    ) -> None:
        self.app = app
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds
        self.quiet = quiet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.keys and not self._authorized(scope):
            await _send_error(
                send,
                401,
                "Invalid or missing API key: send 'Authorization: Bearer <key>'",
                "invalid_request_error",
                "invalid_api_key",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_error(send, *_too_large(self.max_body_bytes))
            return

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        import anyio  # with the app: the server extra

        body_done = False
        until = anyio.current_time() + self.body_timeout_seconds

        async def timed(receive: Receive = receive) -> Message:
            # The whole body within the timeout, however it drips; after it, receive only
            # waits for the client to go away (a streamed answer), which takes its time.
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(max(0.0, until - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        try:
            await self.app(scope, timed, tracked)
        except _TooSlow:
            if not started:
                await _send_error(
                    send,
                    408,
                    "Request timeout: the body did not arrive in time",
                    "invalid_request_error",
                    "request_timeout",
                    [(b"connection", b"close")],
                )
        except _TooLarge:
            if not started:
                await _send_error(send, *_too_large(self.max_body_bytes))
        except Exception as exc:
            if isinstance(exc, self.quiet):  # the client went away: nobody to answer
                return
            logger.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            if not started:
                await _send_error(send, 500, "Internal server error", "server_error")

    def _authorized(self, scope: Scope) -> bool:
        """Whether ``scope`` presents a client key; its name and rights go into the scope
        (``router.client``, ``router.admin``)."""
        presented = b""
        for name, value in scope["headers"]:
            if name.lower() == b"authorization":
                scheme, _, token = bytes(value).strip().partition(b" ")
                if scheme.lower() == b"bearer":
                    presented = token.strip()
                break
        # Every key is compared, so the time taken does not tell which one came close.
        found: tuple[bytes, str, bool] | None = None
        for entry in self.keys:
            if hmac.compare_digest(presented, entry[0]) and found is None:
                found = entry
        if found is None or not presented:
            return False
        scope["router.client"] = found[1]
        scope["router.admin"] = found[2]
        return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


# -- health --------------------------------------------------------------------------------


def health(router: Router) -> dict[str, Any]:
    """The ``/health`` document: each provider's catalog state, nothing fetched."""
    providers = []
    for name, provider in router.providers.items():
        live = provider.catalog
        current, last = live.fresh(), live.last
        entry: dict[str, Any] = {"name": name, "kind": str(provider.options.kind)}
        if last is None:
            entry["catalog"] = "not fetched"
        else:
            if current is None:
                entry["catalog"] = "expired"
            elif current.stale:
                entry["catalog"] = "stale"
                entry["error"] = current.error
            else:
                entry["catalog"] = "fresh"
            entry["models"] = len(last.models)
            entry["age_seconds"] = round(max(0.0, time.time() - last.fetched_at), 1)
        providers.append(entry)
    return {"status": "ok", "providers": providers}


# -- the app -------------------------------------------------------------------------------


def create_app(
    router: Router,
    *,
    api_keys: Sequence[str | SecretStr | ClientKey] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
) -> Starlette:
    """An ASGI app serving ``router`` over OpenAI's HTTP API (see the module docstring).

    ``api_keys``: client keys (a plain key is named ``api_keys[i]``); when given, every
    request must present one as a Bearer token. ``max_body_bytes``: the largest request
    body accepted. ``body_timeout_seconds``: how long a body may take to arrive (408
    after). On shutdown (the ASGI lifespan) the router's HTTP clients of the server's
    event loop are closed.
    Raises ``ImportError`` (:data:`MISSING_EXTRA`) without the ``server`` extra.
    """
    try:
        import anyio
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.middleware import Middleware
        from starlette.requests import ClientDisconnect, Request
        from starlette.responses import JSONResponse, Response, StreamingResponse
        from starlette.routing import Route
    except ImportError as exc:
        raise ImportError(MISSING_EXTRA) from exc

    keys = tuple(named_key(i, key) for i, key in enumerate(api_keys))
    if max_body_bytes < 1:
        msg = "max_body_bytes must be at least 1"
        raise ValueError(msg)
    transport = router.async_transport()

    class ProxiedStream(StreamingResponse):
        """The transport's SSE response, passed on chunk by chunk; the router's stream is
        closed whatever happens (the client went away, the server shuts down)."""

        def __init__(self, upstream: httpx.Response, headers: dict[str, str]) -> None:
            super().__init__(upstream.aiter_raw(), upstream.status_code, headers)
            self.upstream = upstream

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await super().__call__(scope, receive, send)
            finally:
                with anyio.CancelScope(shield=True):
                    await self.upstream.aclose()

    async def read_body(request: Request) -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise _TooLarge
        return bytes(body)

    async def forward(request: Request) -> Response:
        """Hand the request to the router's transport and pass its answer back."""
        content = await read_body(request)
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        upstream_request = httpx.Request(
            request.method,
            httpx.URL("http://router", raw_path=raw_path + (b"?" + query if query else b"")),
            headers=[
                (name, value)
                for name, value in request.headers.items()
                if name.lower() not in _REQUEST_DROP
            ],
            content=content,
            extensions=client_extension(request.scope),
        )
        upstream = await transport.handle_async_request(upstream_request)
        headers = {
            name: value
            for name, value in upstream.headers.items()
            if name.lower() not in _RESPONSE_DROP
        }
        if upstream.headers.get("content-type", "").startswith("text/event-stream"):
            headers["x-accel-buffering"] = "no"  # and no proxy in between should buffer it
            return ProxiedStream(upstream, headers)
        try:
            body = await upstream.aread()
        finally:
            await upstream.aclose()
        return Response(body, upstream.status_code, headers)

    async def health_route(request: Request) -> Response:
        return JSONResponse(health(router))

    async def spend_route(request: Request) -> Response:
        status, body = spend_answer(router, request.scope, keyed=bool(keys))
        return Response(body, status, {"content-type": "application/json"})

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 400)
        what = {404: "Invalid URL", 405: "Method not allowed"}.get(status, "Bad request")
        return Response(
            _error_body(f"{what} ({request.method} {request.url.path})", "invalid_request_error"),
            status,
            {**(getattr(exc, "headers", None) or {}), "content-type": "application/json"},
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        # Reached only if something escaped the guard; the text of ``exc`` is not shown.
        return Response(
            _error_body("Internal server error", "server_error"),
            500,
            {"content-type": "application/json"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await router.aclose()

    return Starlette(
        debug=False,
        routes=[
            Route("/v1/chat/completions", forward, methods=["POST"]),
            Route("/v1/responses", forward, methods=["POST"]),
            Route("/v1/models", forward, methods=["GET"]),
            Route("/v1/models/{model:path}", forward, methods=["GET"]),
            Route("/v1/spend", spend_route, methods=["GET"]),
            Route("/health", health_route, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                _Guard,
                keys=keys,
                max_body_bytes=max_body_bytes,
                body_timeout_seconds=body_timeout_seconds,
                quiet=(ClientDisconnect,),
            )
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )


def _header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, with a deadline on each request's header block: uvicorn has
    none, so a client that sends a header a byte at a time (or nothing) holds a
    connection for ever. The clock starts when the connection is made, or at the first
    byte of the next request on a kept-alive one; when it runs out before the header
    block is complete, 408 is written and the connection closed."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class Protocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
        _header_timer: asyncio.TimerHandle | None = None
        _header_cycle: object = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._start_header_clock()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            if self._header_timer is None and (cycle is None or cycle.response_complete):
                self._start_header_clock()  # the first byte of the next request
            super().data_received(data)
            if self._header_timer is not None and self.cycle is not self._header_cycle:
                self._header_timer.cancel()  # a new request: its header block is complete
                self._header_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            super().connection_lost(exc)

        def _start_header_clock(self) -> None:
            self._header_cycle = self.cycle
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is not self._header_cycle or self.transport.is_closing():
                return
            self.transport.write(_timeout_response())
            self.transport.close()

    return Protocol


def uvicorn_config(
    app: ASGIApp, settings: ServerSettings, *, host: str, port: int, **kwargs: Any
) -> uvicorn.Config:
    """The uvicorn configuration ``router serve`` runs ``app`` with: ``settings``' slow-client
    limits (header timeout, connection limit), ``host`` and ``port``, and ``kwargs``."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_header_timeout_protocol(settings.header_timeout_seconds),
        # uvicorn counts the connection asking among those open: N + 1 lets N be served
        limit_concurrency=settings.max_connections + 1,
        **kwargs,
    )
