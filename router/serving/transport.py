"""The router as an httpx transport that speaks OpenAI's wire format.

Hand it to any OpenAI-compatible client and every request is routed in-process::

    client = openai.OpenAI(
        base_url="http://router/v1",
        api_key="x",
        http_client=httpx.Client(transport=RouterTransport(router)),
    )

Any host and any path prefix are answered:

- ``POST …/chat/completions``: :meth:`Router.complete`, or with ``"stream": true``
  :meth:`Router.stream` as server-sent events (``data: {chunk}`` … ``data: [DONE]``),
  produced lazily as the provider sends them;
- ``POST …/responses``: the OpenAI Responses API, routed as chat completions
  (:mod:`router.serving.responses`; stateless), streamed as Responses events;
- ``GET …/models``: every chat deployment ref, every group name and ``auto``;
- ``GET …/models/{id}``: one of those.

Anything else is a 404. Errors are OpenAI error bodies (``{"error": {"message", "type",
"param", "code"}}``) with the status that makes the OpenAI SDK raise its own typed error;
a stream that breaks after it began ends with a ``data: {"error": …}`` event and no
``[DONE]``, as OpenAI's own streams do. Responses carry ``x-router-provider``,
``x-router-model`` (the deployment ref that answered) and ``x-router-cost`` (exact USD)
when they are known. An error answer to a routed request carries ``x-should-retry:
false``: the router's own fallback has run, and the OpenAI SDK, which obeys the header,
does not multiply it with retries of its own.

A little over 500 lines: the OpenAI wire surface (parsing, chat and Responses answers,
error mapping) and its sync and async transports stay together, since the server speaks
through the same functions.
"""

from __future__ import annotations

import json
import logging
import math
import re
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import ValidationError

from router.catalog import ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk
from router.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    CatalogError,
    ConfigError,
    ContextTooLong,
    InvalidRequest,
    NoRouteError,
    PluginError,
    RateLimited,
    Rejected,
    RouterError,
    StateUnavailable,
    StreamInterrupted,
    Timeout,
    UpstreamError,
)
from router.planning.route import Route
from router.serving import responses, responses_stream

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["CLIENT_EXTENSION", "AsyncRouterTransport", "RouterTransport"]

logger = logging.getLogger("router.serving.transport")

_DONE = b"data: [DONE]\n\n"
_ROUTED = frozenset({"complete", "stream", "responses", "responses_stream"})
_OWNER = "router"
_AUTO = "auto"
_MAX_RETRY_AFTER = 86_400.0  # seconds; anything longer (or inf, NaN) is not repeated
_PLAIN_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Rejected statuses passed through as they are; the SDK maps each to its own class.
_REJECTED_TYPES = {
    401: "authentication_error",
    402: "payment_required",
    403: "permission_error",
    404: "not_found_error",
}


@dataclass(frozen=True, slots=True)
class _Call:
    """What one HTTP request asks of the router."""

    action: Literal["complete", "stream", "responses", "responses_stream", "models", "model"]
    body: dict[str, Any] = field(default_factory=dict)
    """The Chat Completions fields to route (``complete`` and ``stream``)."""
    model_id: str = ""
    """The model asked for (``model``)."""


class _NotFound(Exception):
    """The request names no route of this transport, or no model the router serves."""

    def __init__(self, message: str, code: str | None) -> None:
        self.code = code
        super().__init__(message)


# -- requests ----------------------------------------------------------------------


def _parse(request: httpx.Request, content: bytes) -> _Call:
    """The call ``request`` (with body ``content``) makes; raises ``_NotFound`` or
    ``InvalidRequest``."""
    method = request.method.upper()
    segments = request.url.path.rstrip("/").split("/")
    if method == "POST" and segments[-2:] == ["chat", "completions"]:
        body = _chat_body(content)
        streaming = body.get("stream") is True
        return _Call("stream" if streaming else "complete", body)
    if method == "POST" and segments[-1] == "responses":
        body = _json_object(content)
        streaming = body.get("stream") is True
        return _Call("responses_stream" if streaming else "responses", body)
    if method == "GET" and "models" in segments:
        model_id = "/".join(segments[segments.index("models") + 1 :])
        return _Call("model", model_id=model_id) if model_id else _Call("models")
    raise _NotFound(f"Invalid URL ({method} {request.url.path})", None)


def _no_constant(name: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; JSON has no such numbers.
    raise ValueError(f"{name} is not a JSON number")


def _chat_body(content: bytes) -> dict[str, Any]:
    """The JSON object of a chat request, less what the router decides itself."""
    body = _json_object(content)
    if "self" in body:  # would collide with the bound method's own parameter
        raise InvalidRequest("unknown field 'self'")
    # Every routed stream ends with a usage chunk; the router asks each provider for it.
    body.pop("stream_options", None)
    return body


def _json_object(content: bytes) -> dict[str, Any]:
    """The request body as a JSON object; raises ``InvalidRequest``."""
    try:
        body = json.loads(content, parse_constant=_no_constant)
    except RecursionError:
        raise InvalidRequest("the body is not valid JSON: nested too deep") from None
    except ValueError as exc:  # not UTF-8, not JSON, NaN / Infinity
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    if "self" in body or "client" in body:  # the Router methods' own parameters
        raise InvalidRequest(f"unknown field {'self' if 'self' in body else 'client'!r}")
    # Every routed stream ends with a usage chunk; the router asks each provider for it.
    body.pop("stream_options", None)
    return body


# -- responses ---------------------------------------------------------------------


def _json(status: int, payload: object, headers: Mapping[str, str] | None = None) -> httpx.Response:
    content = json.dumps(payload, separators=(",", ":")).encode()
    return httpx.Response(
        status, headers={"content-type": "application/json", **(headers or {})}, content=content
    )


def _usd(cost: Decimal) -> str:
    """``cost`` as an exact plain decimal string (no exponent)."""
    return format(cost.normalize(), "f")


_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%") + " "


def _header_value(value: str) -> str:
    """``value`` as a header value that cannot fail or split a response: printable ASCII is
    kept as is, anything else (non-ASCII, CR, LF, other controls) and ``%`` are
    percent-encoded (UTF-8), so ``urllib.parse.unquote`` always gives the value back.

    These headers are built after the provider billed the answer: an exception here would
    lose it."""
    if value.isascii() and value.isprintable() and "%" not in value:
        return value
    return urllib.parse.quote(value, safe=_HEADER_SAFE)


def _completion_response(
    completion: ChatCompletion, responses_body: dict[str, Any] | None = None
) -> httpx.Response:
    """The answer as a ``chat.completion``, or as a Responses ``response`` object for the
    Responses request ``responses_body``."""
    headers: dict[str, str] = {}
    if completion.provider:
        headers["x-router-provider"] = _header_value(completion.provider)
    route = completion.route
    if isinstance(route, Route):
        if route.chosen:
            headers["x-router-model"] = _header_value(route.chosen)
        if route.cost is not None:
            headers["x-router-cost"] = _usd(route.cost)
    if responses_body is not None:
        return _json(200, responses.response_object(completion, responses_body), headers)
    return _json(200, completion.model_dump(mode="json", exclude_none=True), headers)


def _stream_response(
    first: ChatCompletionChunk | None, stream: httpx.SyncByteStream | httpx.AsyncByteStream
) -> httpx.Response:
    headers = {"content-type": "text/event-stream", "cache-control": "no-cache"}
    if first is not None and first.provider:
        headers["x-router-provider"] = _header_value(first.provider)
    return httpx.Response(200, headers=headers, stream=stream)


def _frame(chunk: ChatCompletionChunk) -> bytes:
    data = json.dumps(chunk.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def _error_frame(exc: Exception, hosts: Iterable[str]) -> bytes:
    """The last event of a stream that broke: OpenAI's mid-stream error object."""
    _, payload, _ = _error(exc, hosts)
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def _model_list(cards: Iterable[ModelCard], groups: Iterable[str]) -> list[dict[str, Any]]:
    """OpenAI model objects: chat deployment refs, then group names, then ``auto``."""
    owners = {card.ref: card.provider for card in cards if card.kind == "chat"}
    for name in (*groups, _AUTO):
        owners.setdefault(name, _OWNER)
    return [
        {"id": ref, "object": "model", "created": 0, "owned_by": owner}
        for ref, owner in owners.items()
    ]


def _models_response(
    call: _Call, cards: Iterable[ModelCard], groups: Iterable[str]
) -> httpx.Response:
    models = _model_list(cards, groups)
    if call.action == "models":
        return _json(200, {"object": "list", "data": models})
    for model in models:
        if model["id"] == call.model_id:
            return _json(200, model)
    raise _NotFound(f"The model {call.model_id!r} does not exist", "model_not_found")


# -- errors ------------------------------------------------------------------------


_ADDRESS = re.compile(r"\(\s*'<upstream>',\s*\d+[^)]*\)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


def upstream_hosts(router: Router) -> tuple[str, ...]:
    """The providers' ``host:port`` and host names, longest first: what :func:`_scrub`
    takes out of what callers are told."""
    hosts: set[str] = set()
    for provider in router.providers.values():
        try:
            url = httpx.URL(provider.base_url)
        except httpx.InvalidURL:
            continue
        if url.host:
            hosts.add(url.host)
            hosts.add(f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}")
    return tuple(sorted(hosts, key=len, reverse=True))


def _scrub(text: str, hosts: Iterable[str]) -> str:
    """``text`` without upstream URLs and hosts: a client of the router is not told where
    its providers live (a catalog URL, an internal address in a connect error). Logs and
    exceptions keep them."""
    text = _URL.sub("<upstream URL>", text)
    for host in hosts:
        if host in text:
            text = text.replace(host, "<upstream>")
    # the (host, port) a socket error names
    return _ADDRESS.sub("<upstream>", text) if "'<upstream>'" in text else text


def _error(exc: Exception, hosts: Iterable[str] = ()) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, OpenAI error body and extra headers for ``exc``."""
    status, kind, code, retry_after = _classify(exc)
    message = _scrub(_message(exc), hosts)
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    headers = {}
    if retry_after is not None and 0 <= retry_after < _MAX_RETRY_AFTER:
        headers["retry-after"] = str(math.ceil(retry_after))
        headers["retry-after-ms"] = str(round(retry_after * 1000))
    return status, body, headers


def _message(exc: Exception) -> str:
    """What the caller is told: router messages are already redacted; nothing else is quoted."""
    if isinstance(exc, RouterError | _NotFound):
        return str(exc)
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'request'}: {first['msg']}"
    logger.error("unexpected error in the router transport", exc_info=exc)
    return f"internal router error ({type(exc).__name__})"


def _classify(exc: Exception) -> tuple[int, str, str | None, float | None]:
    """Status, error type, error code and Retry-After seconds for ``exc``."""
    match exc:
        case InvalidRequest() | ValidationError():
            return 400, "invalid_request_error", None, None
        case _NotFound(code=code):
            return 404, "invalid_request_error", code, None
        case NoRouteError(retry_after=float(retry_after)):
            # every candidate cooling down, rate limited or its catalog failing: it passes
            return 503, "server_error", "no_capacity", retry_after
        case NoRouteError():
            return 404, "invalid_request_error", "model_not_found", None
        case BudgetExceeded():
            return 402, "payment_required", "budget_exceeded", None
        case ContextTooLong():
            return 400, "invalid_request_error", "context_length_exceeded", None
        case Rejected(status=int(status)) if 400 <= status < 500 and status != 429:
            return status, _REJECTED_TYPES.get(status, "invalid_request_error"), _code(exc), None
        case Rejected():
            return 400, "invalid_request_error", _code(exc), None
        case RateLimited():
            return 429, "rate_limit_error", "rate_limit_exceeded", exc.retry_after
        case Timeout():
            return 504, "upstream_error", "timeout", None
        case UpstreamError():
            return 502, "upstream_error", _code(exc), None
        case AllProvidersFailed(__cause__=UpstreamError() as cause) if _uniform(exc):
            return _classify(cause)  # every attempt failed alike (all 429, all 402, ...)
        case AllProvidersFailed():
            return 502, "upstream_error", "all_providers_failed", None
        case StreamInterrupted():
            return 502, "upstream_error", "stream_interrupted", None
        case StateUnavailable():
            return 503, "server_error", "state_unavailable", 1.0
        case ConfigError() | CatalogError() | PluginError():
            return 503, "server_error", "router_unavailable", None
        case RouterError():
            return 500, "server_error", None, None
    return 500, "server_error", None, None


def _code(exc: UpstreamError) -> str | None:
    """The provider's error code when it is a plain one (``invalid_model``): codes are not
    redacted upstream, so anything else (a key, a token) is not repeated."""
    code = exc.code
    return code if code is not None and _PLAIN_CODE.fullmatch(code) else None


def _uniform(exc: AllProvidersFailed) -> bool:
    """Whether every attempt failed the same way (same error class, same status)."""
    return len({(a.kind, a.status) for a in exc.attempts}) == 1


def _error_response(
    exc: Exception, hosts: Iterable[str], call: _Call | None = None
) -> httpx.Response:
    status, body, headers = _error(exc, hosts)
    if call is not None and call.action in _ROUTED:
        # The router has already tried every candidate its fallback allows: an SDK that
        # retried on its own would multiply those attempts (the OpenAI SDK obeys this).
        headers["x-should-retry"] = "false"
    return _json(status, body, headers)


# -- streams -----------------------------------------------------------------------


class _SSEStream(httpx.SyncByteStream):
    """A routed stream as SSE bytes, pulled from the provider as the client reads."""

    def __init__(
        self,
        first: ChatCompletionChunk | None,
        rest: Iterator[ChatCompletionChunk],
        hosts: tuple[str, ...],
    ) -> None:
        self._first = first
        self._rest = rest
        self._hosts = hosts

    def __iter__(self) -> Iterator[bytes]:
        if self._first is not None:
            yield _frame(self._first)
        try:
            for chunk in self._rest:
                yield _frame(chunk)
        except Exception as exc:
            yield _error_frame(exc, self._hosts)
            return
        yield _DONE

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


class _AsyncSSEStream(httpx.AsyncByteStream):
    """Async :class:`_SSEStream`."""

    def __init__(
        self,
        first: ChatCompletionChunk | None,
        rest: AsyncIterator[ChatCompletionChunk],
        hosts: tuple[str, ...],
    ) -> None:
        self._first = first
        self._rest = rest
        self._hosts = hosts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._first is not None:
            yield _frame(self._first)
        try:
            async for chunk in self._rest:
                yield _frame(chunk)
        except Exception as exc:
            yield _error_frame(exc, self._hosts)
            return
        yield _DONE

    async def aclose(self) -> None:
        aclose = getattr(self._rest, "aclose", None)
        if aclose is not None:
            await aclose()


# -- the transports ----------------------------------------------------------------

CLIENT_EXTENSION = "router.client"
"""The ``httpx.Request`` extension naming who a request is charged to (budgets keyed by
``api_key``): ``router serve`` sets it to the client key's name. Extensions never come
from the wire, so a client cannot name itself."""


def _client(request: httpx.Request) -> str | None:
    client = request.extensions.get(CLIENT_EXTENSION)
    return client if isinstance(client, str) else None


class RouterTransport(httpx.BaseTransport):
    """An httpx transport that answers OpenAI's chat and models routes with ``router``."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.hosts = upstream_hosts(router)

    def _error_payload(self, exc: Exception) -> dict[str, Any]:
        return _error(exc, self.hosts)[1]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Route one request; router errors become OpenAI error responses."""
        call = None
        try:
            call = _parse(request, request.read())
            client = _client(request)
            if call.action == "complete":
                return _completion_response(self.router.complete(client=client, **call.body))
            if call.action == "stream":
                chunks = self.router.stream(client=client, **call.body)
                first = next(chunks, None)  # routing and fallback happen here
                return _stream_response(first, _SSEStream(first, chunks, self.hosts))
            if call.action == "responses":
                chat = responses.chat_request(call.body)
                return _completion_response(self.router.complete(client=client, **chat), call.body)
            if call.action == "responses_stream":
                chunks = self.router.stream(client=client, **responses.chat_request(call.body))
                first = next(chunks, None)
                events = responses_stream.ResponseStream(call.body)
                body = responses_stream.SSEBody(events, first, chunks, self._error_payload)
                return _stream_response(first, body)
            return _models_response(call, self.router.models(), self.router.groups)
        except Exception as exc:
            return _error_response(exc, self.hosts, call)


class AsyncRouterTransport(httpx.AsyncBaseTransport):
    """Async :class:`RouterTransport`, for ``httpx.AsyncClient`` and ``openai.AsyncOpenAI``."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.hosts = upstream_hosts(router)

    def _error_payload(self, exc: Exception) -> dict[str, Any]:
        return _error(exc, self.hosts)[1]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route one request; router errors become OpenAI error responses."""
        call = None
        try:
            call = _parse(request, await request.aread())
            client = _client(request)
            if call.action == "complete":
                return _completion_response(await self.router.acomplete(client=client, **call.body))
            if call.action == "stream":
                chunks = self.router.astream(client=client, **call.body)
                first = await anext(chunks, None)  # routing and fallback happen here
                return _stream_response(first, _AsyncSSEStream(first, chunks, self.hosts))
            if call.action == "responses":
                chat = responses.chat_request(call.body)
                return _completion_response(
                    await self.router.acomplete(client=client, **chat), call.body
                )
            if call.action == "responses_stream":
                achunks = self.router.astream(client=client, **responses.chat_request(call.body))
                first = await anext(achunks, None)
                events = responses_stream.ResponseStream(call.body)
                abody = responses_stream.AsyncSSEBody(events, first, achunks, self._error_payload)
                return _stream_response(first, abody)
            return _models_response(call, await self.router.amodels(), self.router.groups)
        except Exception as exc:
            return _error_response(exc, self.hosts, call)
