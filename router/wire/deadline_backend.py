"""httpx's own pools (sync, and async with ``http: httpx``) with the request's deadline on
every socket operation.

httpx's timeouts are per operation: ``read`` bounds each wait for bytes, so an answer
trickled a byte at a time, or a stream that sends keep-alive comments and never a chunk,
outlives any deadline however the timeouts are capped when the request starts. Here the
network backend under httpcore's pool caps each connect, TLS handshake, read and write at
the time left before the current request's deadline (:func:`router.dispatch.deadline.
time_left`, a context variable: set while a request waits for its answer or a stream's
first chunk, unset after it), and fails the operation at once when none is left. So a
request's wall time is bounded on every path: connect, headers, body, keep-alives.

The timeout errors raised are httpcore's, which httpx maps to its own (``ConnectTimeout``,
``ReadTimeout``, ``WriteTimeout``), as for any other timeout.
"""

from __future__ import annotations

import ssl
import typing
from typing import Any

import httpcore
import httpx

from router.dispatch.deadline import time_left

__all__ = ["DeadlineAsyncClient", "DeadlineClient", "install"]

_Options = typing.Iterable[httpcore.SOCKET_OPTION] | None


def _capped(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout``, capped at the time left before the deadline; ``error`` when none is."""
    left = time_left()
    if left is None:
        return timeout
    if left <= 0:
        msg = "the request's deadline passed"
        raise error(msg)
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _Stream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: _Options = None,
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: _Options = None
    ) -> httpcore.NetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(
            ssl_context, server_hostname, _capped(timeout, httpcore.ConnectTimeout)
        )
        return _AsyncStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: _Options = None,
    ) -> httpcore.AsyncNetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        inner = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _AsyncStream(inner)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: _Options = None
    ) -> httpcore.AsyncNetworkStream:
        timeout = _capped(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def install(transport: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
    """Put the deadline under ``transport``'s pool (an ``httpx.HTTPTransport`` or
    ``httpx.AsyncHTTPTransport``, proxied or not). httpx has no parameter for httpcore's
    ``network_backend``: the pool's is wrapped in place, before any connection is made."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    elif isinstance(backend, httpcore.AsyncNetworkBackend):
        pool._network_backend = _AsyncBackend(backend)  # type: ignore[union-attr]
    else:  # a new httpx or httpcore that keeps its backend elsewhere: fail loudly
        msg = f"cannot bound {type(transport).__name__} by deadlines: no httpcore pool found"
        raise TypeError(msg)


class DeadlineClient(httpx.Client):
    """``httpx.Client`` whose pools (proxy mounts included) obey the request's deadline."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        transport = super()._init_transport(*args, **kwargs)
        if kwargs.get("transport") is None:
            install(transport)
        return transport

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        transport = super()._init_proxy_transport(*args, **kwargs)
        install(transport)
        return transport


class DeadlineAsyncClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose pools (proxy mounts included) obey the request's deadline."""

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        transport = super()._init_transport(*args, **kwargs)
        if kwargs.get("transport") is None:
            install(transport)
        return transport

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.AsyncBaseTransport:
        transport = super()._init_proxy_transport(*args, **kwargs)
        install(transport)
        return transport
