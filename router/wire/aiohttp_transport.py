"""httpx's async API over aiohttp's connection pool: the providers' default (``http: aiohttp``).

The transport is httpx-aiohttp's :class:`httpx_aiohttp.AiohttpTransport`: callers keep
``httpx.AsyncClient``, ``httpx.Response``, per-request ``httpx.Timeout`` (connect → aiohttp's
``sock_connect``, read → ``sock_read``, pool + connect → ``connect``, which aiohttp counts
from the wait for a pooled connection, so a pool wait that times out is a
``ConnectTimeout`` here; aiohttp has no write timeout) and httpx's exceptions.
Per request it costs about 60% of the client CPU of httpx's own pool at concurrency 1 and
a third at 32, with a tenth of the p99 (``bench/transport_micro.py``).

One correction, made here: httpx-aiohttp 0.2.0 maps aiohttp's exceptions by walking a
table in which ``ClientConnectionError`` means ``ConnectTimeout``, and lets what its table
does not name escape as aiohttp exceptions. So a refused connection, a server that hangs
up before answering or a reset connection came out as ``ConnectTimeout`` (a timeout to
us, where httpx says ``ConnectError`` / ``RemoteProtocolError`` / ``ReadError``), and a
reply that is not HTTP as ``aiohttp.ClientResponseError``, which nothing above catches.
:class:`AiohttpTransport` re-maps every aiohttp error to the exception httpx's own
transport raises for the same event (:data:`ERRORS`), on the request and on the body.

aiohttp sessions belong to the event loop they were made in: a client is made per loop
(``Provider.aclient``) and closed in that loop: by ``Provider.aclose``, else when the loop
shuts down (``asyncio.run``). aiohttp is imported with this module, only when the first
async client is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport as _Base

from router.dispatch.deadline import time_left

__all__ = ["ERRORS", "AiohttpClient", "AiohttpTransport", "httpx_error"]

ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    # The first row an error is an instance of wins: subclasses before their bases.
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),  # connect, or the pool wait
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),  # no byte within the read timeout
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, DNS, TLS handshake
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),  # hung up, no answer
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # body cut short
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # an answer that is not HTTP
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionResetError, httpx.WriteError),  # writing to a closed socket
    (aiohttp.ClientConnectionError, httpx.ReadError),  # reset, and other socket errors
    (aiohttp.ClientError, httpx.TransportError),
    (TimeoutError, httpx.TimeoutException),
)
"""aiohttp's exception → the one httpx's own transport raises for the same event."""


def _original(exc: BaseException) -> BaseException:
    # httpx-aiohttp raises its own choice of httpx exception from the aiohttp one
    if isinstance(exc, httpx.TransportError) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx exception for an aiohttp one (``None``: not an aiohttp transport error).

    ``exc`` may be what httpx-aiohttp raised: its mapping is undone through ``__cause__``.
    """
    exc = _original(exc)
    for source, target in ERRORS:
        if isinstance(exc, source):
            return target(str(exc) or type(exc).__name__)
    return None


_CAUGHT = (httpx.TransportError, aiohttp.ClientError, TimeoutError)


@contextlib.asynccontextmanager
async def _deadline(left: float) -> AsyncIterator[None]:
    """The wait inside bounded by the ``left`` seconds before the request's deadline
    (aiohttp's timeouts bound each read, not the wall time): a ``ReadTimeout`` after."""
    if left <= 0:
        raise httpx.ReadTimeout("the request's deadline passed")
    try:
        async with asyncio.timeout(left):
            yield
    except TimeoutError as exc:
        if isinstance(exc, aiohttp.ClientError):  # aiohttp's own timeout, mapped as usual
            raise
        raise httpx.ReadTimeout("the request's deadline passed") from None


class _Body(httpx.AsyncByteStream):
    """httpx-aiohttp's response body, with its errors mapped as :data:`ERRORS` says."""

    __slots__ = ("_inner",)

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            chunks = aiter(self._inner)
            while True:
                left = time_left()
                if left is None:
                    chunk = await anext(chunks, None)
                else:
                    async with _deadline(left):
                        chunk = await anext(chunks, None)
                if chunk is None:
                    break
                yield chunk
        except _CAUGHT as exc:
            mapped = httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from _original(exc)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except _CAUGHT as exc:
            mapped = httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from _original(exc)


class AiohttpTransport(_Base):
    """httpx-aiohttp's transport raising the exceptions httpx's own raises."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout")
        if timeout:
            # aiohttp's ``connect`` (httpx-aiohttp passes httpx's pool timeout) bounds the
            # pool wait and the connecting together: give it both httpx budgets, or a
            # connect_timeout longer than the pool timeout is cut short.
            pool, connect = timeout.get("pool"), timeout.get("connect")
            both = None if pool is None or connect is None else pool + connect
            request.extensions["timeout"] = {**timeout, "pool": both}
        try:
            left = time_left()
            if left is None:
                response = await super().handle_async_request(request)
            else:
                async with _deadline(left):
                    response = await super().handle_async_request(request)
        except _CAUGHT as exc:
            mapped = httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from _original(exc)
        response.stream = _Body(response.stream)  # type: ignore[arg-type]
        return response


LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)
"""httpx's default pool limits, but idle connections closed after 4 s, not 5. aiohttp keeps
at most ``max_connections`` (TCPConnector's ``limit``); it has no cap on idle connections,
so a burst's connections stay for the next one instead of 20 of them. Unlike httpcore it
does not look at a socket before reusing it, only at whether the event loop has seen it
close: 4 s stays below the 5 s after which uvicorn and Node servers close an idle
connection, so we are the side that closes it, never the one that writes to it as the
server hangs up."""


class AiohttpClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose transports (proxies from the environment included)
    are :class:`AiohttpTransport`. aiohttp speaks HTTP/1.1 only, and no SOCKS proxy."""

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        **_: Any,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        return AiohttpTransport(verify=verify, cert=cert, trust_env=trust_env, limits=limits)

    def _init_proxy_transport(
        self,
        proxy: httpx.Proxy,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = LIMITS,
        **_: Any,
    ) -> httpx.AsyncBaseTransport:
        return AiohttpTransport(
            verify=verify, cert=cert, trust_env=trust_env, limits=limits, proxy=proxy
        )
