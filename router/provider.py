"""The base class of provider plugins: options, auth, pooled HTTP clients, the live catalog.

A provider plugin subclasses :class:`Provider`, says where its catalog lives and how
its entries read (:meth:`Provider.parse_model`), and registers itself::

    class Acme(Provider):
        default_base_url = "https://api.acme.example/v1"

        def parse_model(self, entry: Entry) -> ModelCard:
            per_token = Decimal(1) / 1000  # Acme prices are USD per 1,000 tokens
            return self.card(
                entry,
                pricing=Pricing(
                    prompt=entry.price("price.in", per_token),
                    completion=entry.price("price.out", per_token),
                ),
            )

    @hookimpl
    def router_register_providers(register):
        register("acme", Acme)

Provider-specific YAML keys go on a subclass of :class:`ProviderOptions` named by the
class attribute ``Options``; unknown keys are rejected there.

Longer than most modules (~650 lines): :class:`Provider` is one base class whose parts
(options, clients, auth, catalog, error reading, send and stream) plugins override one
by one; splitting it would scatter the one class a plugin author reads.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import json
import logging
import ssl
import threading
import time
import urllib.parse
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from router.catalog import Catalog, LiveCatalog, ModelCard, Skipped
from router.completion import ChatCompletion, ChatCompletionChunk, TokenCounts
from router.dispatch.deadline import time_left
from router.errors import (
    CatalogError,
    Rejected,
    Timeout,
    Unavailable,
    UpstreamError,
    error_for_status,
)
from router.parsing import Entry, EntryError
from router.state.prefix import NO_CACHE, CacheRule
from router.state.ratelimits import Budget, Windows
from router.types import ChatRequest
from router.wire import openai_chat, safe_json
from router.wire.deadline_backend import DeadlineAsyncClient, DeadlineClient
from router.wire.ratelimit_headers import parse_rate_limits
from router.wire.retry_after import parse_retry_after

__all__ = [
    "Outgoing",
    "Provider",
    "ProviderOptions",
    "StreamDecoder",
    "encoded_forms",
    "usable_token",
]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One HTTP request to a provider's chat route."""

    url: str
    json: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """Credentials travel here: never part of a repr."""


class StreamDecoder(Protocol):
    """Turns a provider's SSE events into OpenAI chunks, one event at a time."""

    counts: TokenCounts | None
    """The usage, once the stream reported it."""

    def feed(self, event: ServerSentEvent) -> list[ChatCompletionChunk]:
        """Chunks for one event. Raise ``UpstreamError`` for an error event, ``ValueError``
        for one that cannot be read."""
        ...

    @property
    def complete(self) -> bool:
        """Whether the stream ended as the protocol says a stream ends."""
        ...


logger = logging.getLogger("router.provider")


class ModelLimits(BaseModel):
    """One deployment's own rate limits (``model_limits: {<model id>: {rpm, tpm}}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class ProviderOptions(BaseModel):
    """The YAML block of one provider (``providers[i]``). Unknown keys are an error; so is a
    number that is not finite (``.inf``, or ``inf`` from ``${VAR}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str
    """Unique name of this provider in the config; the prefix of its deployment refs."""
    kind: str
    """The provider plugin that serves it (``pinstripes``, ``openrouter``, ...)."""
    base_url: str | None = None
    """API root; defaults to the plugin's public endpoint."""
    api_key: SecretStr | None = None
    """The credential (API key or Cashu token). Held as a secret: never printed."""
    catalog_ttl: float = Field(default=300.0, gt=0)
    """Seconds a fetched catalog stays fresh."""
    catalog_retry: float = Field(default=30.0, gt=0)
    """Seconds to wait, after a failed refresh, before trying again (capped at ``catalog_ttl``)."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds for connect, read and write on this provider's HTTP requests."""
    connect_timeout: float | None = Field(default=None, gt=0)
    """Seconds to connect (default: ``timeout``)."""
    read_timeout: float | None = Field(default=None, gt=0)
    """Seconds to wait for the first byte of an answer, and between bytes after it
    (default: ``timeout``)."""
    cache: CacheRule | None = None
    """How this provider caches prompt prefixes; default: the plugin's rule per model."""
    auto_cache_control: bool = False
    """Explicit-caching models (Anthropic): add ``cache_control`` breakpoints when the
    router expects the prefix to be reused, and count the write premium then."""
    rpm: int | None = Field(default=None, gt=0)
    """Requests per minute this provider allows (over all its deployments): past it, the
    router sends nothing there until the moving window frees (``limits`` package)."""
    tpm: int | None = Field(default=None, gt=0)
    """Tokens (estimated prompt + expected output) per minute, likewise."""
    model_limits: dict[str, ModelLimits] = Field(default_factory=dict)
    """``rpm`` / ``tpm`` of single deployments, by model id (beside the provider's own)."""
    http: Literal["aiohttp", "httpx"] = "aiohttp"
    """The connection pool of async requests: ``aiohttp`` (httpx's API over aiohttp's pool,
    :mod:`router.wire.aiohttp_transport`; about a third of the client CPU and a tenth of the p99
    of httpx's pool at 32 concurrent requests) or ``httpx`` (httpx's own, which also serves
    SOCKS proxies and HTTP/2). Sync requests always use httpx's."""

    @field_validator("rpm", "tpm", "model_limits")
    @classmethod
    def _windows(cls, value: object) -> object:
        if value:
            try:
                import limits  # noqa: F401
            except ImportError:
                msg = "needs the 'limits' package: pip install 'router[ratelimits]'"
                raise ValueError(msg) from None
        return value

    def windows(self) -> dict[str, Windows]:
        """The YAML rate-limit windows: by provider name, and by deployment ref."""
        windows = {self.name: Windows(self.rpm, self.tpm)}
        for model_id, limits in self.model_limits.items():
            windows[f"{self.name}:{model_id}"] = Windows(limits.rpm, limits.tpm)
        return windows

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or value != value.strip():
            msg = "must be a non-empty name without surrounding spaces"
            raise ValueError(msg)
        if not value.isprintable():
            msg = "must not contain control characters"
            raise ValueError(msg)
        if ":" in value:
            msg = "must not contain ':' (deployment refs are '<provider>:<model id>')"
            raise ValueError(msg)
        return value

    @field_validator("api_key")
    @classmethod
    def _api_key(cls, value: SecretStr | None) -> SecretStr | None:
        # It travels in an HTTP header: a newline (a key read from a file, a .env or a
        # Kubernetes secret), a space or a non-ASCII character would be refused there by the
        # HTTP library, whose error quotes the header, key included. Never the value here.
        if value is not None and not usable_token(value.get_secret_value()):
            msg = (
                "must be printable ASCII without spaces or control characters"
                " (a trailing newline from a file or a secret?)"
            )
            raise ValueError(msg)
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            msg = "must be an http:// or https:// URL"
            raise ValueError(msg)
        if url.userinfo:
            # They would show wherever the URL does (errors, logs, explain); and each
            # pool treats them differently. The credential belongs in api_key.
            msg = "must not contain credentials (user:password@); give the key as api_key"
            raise ValueError(msg)
        return value.rstrip("/")


def usable_token(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header credential as it is: printable
    ASCII, no spaces (an empty value sends no header at all)."""
    return all("!" <= c <= "~" for c in value)


@functools.lru_cache(maxsize=64)
def encoded_forms(secret: str) -> tuple[str, ...]:
    """``secret`` and the forms in which libraries print it: Python escapes (the repr of a
    str or of bytes, ``b'Bearer <key>\\n'``), JSON escapes, percent-encoding. Longest
    first, so a form that contains another is replaced whole."""
    forms = {
        secret,
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    }
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class _LoopClient:
    """A provider's async client for one event loop, and the guard that closes it when the
    loop shuts down, for callers who never call ``aclose`` (``asyncio.run(router.acomplete(
    ...))``): ``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio close every async
    generator still suspended before they close the loop. An aiohttp session left open
    would be reported ("Unclosed client session"), and its sockets left for the collector.
    """

    client: httpx.AsyncClient
    guard: AsyncGenerator[None]

    @classmethod
    def start(
        cls,
        client: httpx.AsyncClient,
        clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient],
        loop: asyncio.AbstractEventLoop,
    ) -> _LoopClient:
        guard = _close_at_shutdown(client, clients, loop)
        # Run the guard to its ``yield`` now (nothing there awaits): the running loop
        # registers it at this first step, and an unstarted generator would not run its
        # ``finally`` when closed.
        with contextlib.suppress(StopIteration):
            guard.asend(None).send(None)
        return cls(client, guard)


async def _close_at_shutdown(
    client: httpx.AsyncClient,
    clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient],
    loop: asyncio.AbstractEventLoop,
) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        entry = clients.get(loop)
        if entry is not None and entry.client is client:
            del clients[loop]  # the suspended guard held the loop: let both go
        await client.aclose()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``) for
    every client: building one reads the bundle, 30-50 ms a client here."""
    return httpx.create_ssl_context()


def _explicit_family(card: ModelCard) -> bool:
    # Anthropic models cache only at cache_control breakpoints, whoever serves them.
    return card.protocol == "anthropic" or card.id.startswith("anthropic/")


class Provider(abc.ABC):
    """A configured provider: its options, credentials, HTTP clients and live catalog."""

    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    """The options model of this plugin's YAML block."""
    default_base_url: ClassVar[str | None] = None
    """API root used when the YAML gives no ``base_url``."""
    catalog_path: ClassVar[str] = "/models"
    """Path of the catalog below the base URL."""
    requires_key: ClassVar[bool] = True
    """Whether the provider needs ``api_key`` (self-hosted OpenAI-compatible servers may not)."""
    states_cost: ClassVar[bool] = False
    """Whether its answers state what it billed (OpenRouter's ``usage.cost``): then that is
    the answer's cost, with the catalog's computation beside it in the route."""

    def __init__(self, options: ProviderOptions, *, timer: Callable[[], float] = time.monotonic):
        base_url = options.base_url or self.default_base_url
        if base_url is None:
            msg = f"provider {options.name!r}: no base_url and the plugin has no default"
            raise ValueError(msg)
        self.options = options
        self.name = options.name
        self.base_url = base_url.rstrip("/")
        self.catalog = LiveCatalog(
            self.name,
            self.fetch_catalog,
            self.afetch_catalog,
            ttl=options.catalog_ttl,
            retry=options.catalog_retry,
            timer=timer,
        )
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._urls: dict[str, httpx.URL] = {}
        self.on_budget: Callable[[str, Budget], None] | None = None
        """Told (deployment ref, budget) whenever a chat answer's headers announce a
        rate-limit budget (the Router sets it)."""
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # -- credentials -------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        """The secret credential in clear, for building headers only."""
        key = self.options.api_key
        return key.get_secret_value() if key is not None else None

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a request; ``Authorization: Bearer`` by default."""
        key = self.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def snippet(self, text: str, limit: int) -> str:
        """At most ``limit`` characters of ``text``, redacted *before* cutting (a key cut in
        half would no longer match)."""
        return self.redact(text)[:limit]

    def redact(self, text: str) -> str:
        """``text`` with the credential blanked out, for anything that may be shown: as it
        is, and in every encoded form a library may print it (:func:`encoded_forms`)."""
        key = self.api_key
        if not key:
            return text
        for form in encoded_forms(key):
            if form in text:
                text = text.replace(form, "**********")
        return text

    # -- HTTP clients: one pool per provider, reused ------------------------------

    def client(self) -> httpx.Client:
        """The provider's pooled sync client."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = DeadlineClient(timeout=self.timeouts, verify=_tls())
        return self._client

    def aclient(self) -> httpx.AsyncClient:
        """The provider's pooled async client for the running event loop (``http`` option:
        on aiohttp's pool or httpx's); close it in that loop with :meth:`aclose`."""
        loop = asyncio.get_running_loop()
        entry = self._aclients.get(loop)
        if entry is None:
            client: httpx.AsyncClient
            if self.options.http == "aiohttp":
                from router.wire.aiohttp_transport import AiohttpClient  # imports aiohttp

                client = AiohttpClient(timeout=self.timeouts, verify=_tls())
            else:
                client = DeadlineAsyncClient(timeout=self.timeouts, verify=_tls())
            entry = self._aclients[loop] = _LoopClient.start(client, self._aclients, loop)
        return entry.client

    @property
    def timeouts(self) -> httpx.Timeout:
        """This provider's connect / read / write / pool timeouts."""
        options = self.options
        return httpx.Timeout(
            options.timeout,
            connect=options.connect_timeout or options.timeout,
            read=options.read_timeout or options.timeout,
        )

    def request_timeouts(self, *, stream: bool = False) -> httpx.Timeout:
        """:attr:`timeouts`, capped at the time left before the request's deadline.

        A stream's read timeout is not capped: it also bounds the gaps between chunks
        after the first one reached the caller, where the deadline no longer applies.
        Until then each read is capped at the time left by the pool itself
        (:mod:`router.wire.deadline_backend`, :mod:`router.wire.aiohttp_transport`), which
        also bounds a body or a run of keep-alives trickled within the read timeout.
        """
        left = time_left()
        base = self.timeouts
        if left is None:
            return base
        left = max(left, 0.001)
        return httpx.Timeout(
            connect=min(base.connect or left, left),
            read=base.read if stream else min(base.read or left, left),
            write=min(base.write or left, left),
            pool=min(base.pool or left, left),
        )

    def close(self) -> None:
        """Close the sync client (async clients close with :meth:`aclose`)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async client of the running loop, and the sync client."""
        entry = self._aclients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.guard.aclose()  # closes the client
        self.close()

    # -- catalog ---------------------------------------------------------------------

    def catalog_url(self) -> str:
        """Where the catalog is fetched from."""
        return self.base_url + self.catalog_path

    def catalog_entries(self, payload: Any) -> list[Any]:
        """The list of raw entries in the catalog document (``data`` by default)."""
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            msg = "expected a JSON object with a 'data' list"
            raise CatalogError(self.name, msg, status=200)
        return data

    @abc.abstractmethod
    def parse_model(self, entry: Entry) -> ModelCard:
        """Turn one raw entry into a normalized card; raise ``EntryError`` to skip it."""

    def card(self, entry: Entry, **fields: Any) -> ModelCard:
        """A :class:`ModelCard` for ``entry`` at this provider (``id`` read from the entry)."""
        if "id" not in fields:
            fields["id"] = entry.text("id")
        if fields.get("pricing") is not None:
            fields.setdefault("price_source", "catalog")
        return ModelCard(provider=self.name, **fields)

    def parse_catalog(self, payload: Any) -> tuple[list[ModelCard], list[Skipped]]:
        """Parse a whole catalog document; bad entries are skipped with one warning each."""
        models: list[ModelCard] = []
        skipped: list[Skipped] = []
        seen: set[str] = set()
        for index, raw in enumerate(self.catalog_entries(payload)):
            model_id = raw.get("id") if isinstance(raw, dict) else None
            model_id = model_id if isinstance(model_id, str) else None
            try:
                card = self.parse_model(Entry(raw))
                if card.id in seen:
                    raise EntryError("id", "duplicate of an earlier entry")  # noqa: TRY301
            except EntryError as exc:
                skip = Skipped(index, model_id, exc.field, exc.problem)
                skipped.append(skip)
                logger.warning("provider %r: skipped catalog %s", self.name, skip)
                continue
            seen.add(card.id)
            models.append(card)
        return models, skipped

    def fetch_catalog(self) -> Catalog:
        """Fetch and parse the catalog now (sync). Raises :class:`CatalogError`."""
        try:
            response = self.client().get(
                self.catalog_url(), headers=self.auth_headers(), timeout=self.request_timeouts()
            )
        except httpx.HTTPError as exc:
            raise CatalogError(self.name, self._transport_problem(exc)) from exc
        return self._read_catalog(response)

    async def afetch_catalog(self) -> Catalog:
        """Fetch and parse the catalog now (async). Raises :class:`CatalogError`."""
        try:
            response = await self.aclient().get(
                self.catalog_url(), headers=self.auth_headers(), timeout=self.request_timeouts()
            )
        except httpx.HTTPError as exc:
            raise CatalogError(self.name, self._transport_problem(exc)) from exc
        return self._read_catalog(response)

    def _transport_problem(self, exc: httpx.HTTPError) -> str:
        return self.redact(f"{type(exc).__name__}: {exc} ({self.catalog_url()})")

    def _read_catalog(self, response: httpx.Response) -> Catalog:
        status = response.status_code
        if status >= 400:
            raise CatalogError(
                self.name,
                self._error_text(response),
                status=status,
                retry_after=parse_retry_after(response.headers),
            )
        try:
            payload = safe_json.loads(response.content)
        except ValueError:
            snippet = self.snippet(response.text.strip(), 60)
            raise CatalogError(
                self.name, f"the body is not JSON (starts {snippet!r})", status=status
            ) from None
        models, skipped = self.parse_catalog(payload)
        return Catalog(self.name, tuple(models), tuple(skipped), fetched_at=time.time())

    def _error_text(self, response: httpx.Response) -> str:
        """The provider's own error message, short and redacted, else the reason phrase."""
        message: Any = None
        try:
            body = safe_json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            error = body.get("error", body.get("detail", body.get("message")))
            message = error.get("message") if isinstance(error, dict) else error
        text = message if isinstance(message, str) and message else response.reason_phrase
        return self.snippet(text, 200)

    # -- prefix caching ------------------------------------------------------------

    default_cache_rule: ClassVar[CacheRule] = CacheRule()
    """OpenAI-style automatic caching: from 1,024 tokens, in 128-token steps, 5 minutes."""

    def cache_rule(self, card: ModelCard) -> CacheRule:
        """How ``card`` caches prompt prefixes. No cache-read rate in the catalog: none.

        Anthropic-family models cache explicitly (only up to ``cache_control``
        breakpoints); the YAML ``cache:`` block overrides the plugin's rule.
        """
        if card.pricing is None or card.pricing.cache_read is None:
            return NO_CACHE
        rule = self.options.cache or self.default_cache_rule
        if self.options.cache is None and _explicit_family(card):
            return rule.model_copy(update={"mode": "explicit"})
        return rule

    # -- chat transport: OpenAI Chat Completions by default -------------------------

    chat_path: ClassVar[str] = "/chat/completions"
    """Path of the chat route below the base URL (OpenAI family)."""

    def chat_request(self, request: ChatRequest, card: ModelCard, *, stream: bool) -> Outgoing:
        """The HTTP request that asks ``card`` to answer ``request``."""
        body = openai_chat.request_body(request, card, stream=stream)
        return Outgoing(self.base_url + self.chat_path, body, self.auth_headers())

    def unsupported(self, request: ChatRequest, card: ModelCard) -> str | None:
        """Why this provider cannot send ``request`` to ``card`` as the caller asked (a
        field its format cannot carry and that it does not translate: ``n > 1`` where one
        choice comes back, ``logprobs``, ``seed``, ...), or None. The router excludes such
        a candidate while planning (``[fields]``) rather than drop the field silently.
        Default: OpenAI's format carries every field as sent, but a ``response_format``
        asking for JSON is refused where the catalog says the model has no structured
        output (OpenRouter's ``supported_parameters``: it would be ignored upstream)."""
        if request.needs_structured_output and card.supports_structured_output is False:
            return "response_format: the catalog says this model has no structured output"
        return None

    def add_cache_breakpoints(self, out: Outgoing, card: ModelCard) -> None:
        """Mark ``out``'s prompt for the provider's prefix cache (explicit caching: the
        router decided that the next turn will reuse it). Default: nothing to mark."""
        return

    def parse_completion(
        self, card: ModelCard, request: ChatRequest, payload: Any
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        """A non-streamed answer as an OpenAI completion and its usage.

        Raise ``ValueError`` (or a pydantic ``ValidationError``) when it cannot be read.
        """
        return openai_chat.parse_completion(payload, stated_cost=self.states_cost)

    def stream_decoder(self, card: ModelCard, request: ChatRequest) -> StreamDecoder:
        """A fresh decoder for one streamed answer of ``card``."""
        return openai_chat.OpenAIStream(card, stated_cost=self.states_cost)

    def rate_limit_budget(self, card: ModelCard, headers: httpx.Headers) -> Budget | None:
        """The rate-limit budget a chat answer's headers announce (OpenAI's
        ``x-ratelimit-*``, Anthropic's ``anthropic-ratelimit-*``), or None."""
        return parse_rate_limits(headers)

    def _heard(self, card: ModelCard, response: httpx.Response) -> None:
        if self.on_budget is not None:
            budget = self.rate_limit_budget(card, response.headers)
            if budget is not None:
                self.on_budget(card.ref, budget)

    def upstream_error(
        self, card: ModelCard, status: int, headers: httpx.Headers, body: bytes
    ) -> UpstreamError:
        """The typed error for an HTTP error answer, with the provider's message and code."""
        message, code, payload = self._error_fields(body)
        cls = error_for_status(status, payload)
        return cls(
            self.name,
            card.id,
            self.snippet(message or httpx.codes.get_reason_phrase(status) or "error", 300),
            status=status,
            retry_after=parse_retry_after(headers),
            code=None if code is None else self.snippet(code, 80),
        )

    @staticmethod
    def _error_fields(body: bytes) -> tuple[str | None, str | None, Any]:
        try:
            payload = safe_json.loads(body)
        except ValueError:
            return (body.decode("utf-8", "replace").strip() or None), None, None
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            code = error.get("code") or error.get("type")
            return (
                str(message) if message is not None else None,
                str(code) if code is not None else None,
                payload,
            )
        return (str(error) if error is not None else None), None, payload

    def _outgoing(
        self, card: ModelCard, request: ChatRequest, *, stream: bool, cache_breakpoints: bool
    ) -> Outgoing:
        why = self.unsupported(request, card)
        if why is not None:  # planning excludes these; a direct call must not drop a field
            problem = f"request cannot be sent in this provider's format: {why}"
            raise Rejected(self.name, card.id, problem, code="unsupported_request")
        try:
            out = self.chat_request(request, card, stream=stream)
            if cache_breakpoints:
                self.add_cache_breakpoints(out, card)
        except ValueError as exc:
            # This provider's format cannot express the request (an image for a model
            # without vision, unparsable tool arguments): another candidate may serve it.
            problem = f"request cannot be sent in this provider's format: {exc}"
            raise Rejected(self.name, card.id, problem, code="unsupported_request") from exc
        return out

    def _transport_error(self, card: ModelCard, exc: httpx.HTTPError) -> UpstreamError:
        text = self.snippet(f"{type(exc).__name__}: {exc}", 300)
        if isinstance(exc, httpx.TimeoutException):
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "timeout"
            return Timeout(self.name, card.id, text, code=kind)
        connect = isinstance(exc, httpx.ConnectError)
        return Unavailable(self.name, card.id, text, code="connect" if connect else None)

    def _answer(
        self, card: ModelCard, request: ChatRequest, response: httpx.Response
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        self._heard(card, response)
        if response.status_code >= 400:
            raise self.upstream_error(
                card, response.status_code, response.headers, response.content
            )
        try:
            return self.parse_completion(card, request, safe_json.loads(response.content))
        except (ValueError, ValidationError) as exc:
            problem = f"unreadable answer: {type(exc).__name__}: {self.snippet(str(exc), 200)}"
            raise Unavailable(
                self.name, card.id, self.redact(problem), status=response.status_code
            ) from None

    def send(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        """Ask ``card`` for a complete answer (sync). Raises ``UpstreamError``."""
        out = self._outgoing(card, request, stream=False, cache_breakpoints=cache_breakpoints)
        try:
            response = self.client().post(
                self._url(out.url),
                json=out.json,
                headers=out.headers,
                timeout=self.request_timeouts(),
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(card, exc) from exc
        return self._answer(card, request, response)

    async def asend(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> tuple[ChatCompletion, TokenCounts | None]:
        """Ask ``card`` for a complete answer (async). Raises ``UpstreamError``."""
        out = self._outgoing(card, request, stream=False, cache_breakpoints=cache_breakpoints)
        try:
            response = await self._apost(out, stream=False)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(card, exc) from exc
        return self._answer(card, request, response)

    async def _apost(self, out: Outgoing, *, stream: bool) -> httpx.Response:
        """POST ``out`` with this loop's client; the caller reads the body and closes it.

        ``client.send`` without what the router never uses (auth flows, redirects, which
        are off, event hooks, ``elapsed``): the request is built by the client (headers,
        cookies, the timeouts as the request's ``timeout`` extension) and handed to the
        transport the client would pick (proxy mounts included); the cookie jar reads only
        a response that sets a cookie, where ``send`` parses every response for cookies.
        That is 0.2-0.3 ms of CPU less per request (``bench/transport_micro.py``).
        """
        client = self.aclient()
        built = client.build_request(
            "POST",
            self._url(out.url),
            json=out.json,
            headers=out.headers,
            timeout=self.request_timeouts(stream=stream),
        )
        response = await client._transport_for_url(built.url).handle_async_request(built)
        response.request = built  # as send does: httpx's own transport leaves it unset
        if "set-cookie" in response.headers:  # the cookie jar logs what it cannot parse
            client.cookies.extract_cookies(response)
        return response

    def _url(self, url: str) -> httpx.URL:
        """``url`` parsed once: a provider posts to one or two chat URLs, and httpx's
        parser is a tenth of a request's CPU."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 64:  # a plugin that builds URLs per request: no cache
                return httpx.URL(url)
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def events(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> Generator[ServerSentEvent]:
        """The SSE events of a streamed answer (sync). Raises ``UpstreamError``."""
        out = self._outgoing(card, request, stream=True, cache_breakpoints=cache_breakpoints)
        try:
            with self.client().stream(
                "POST",
                self._url(out.url),
                json=out.json,
                headers=out.headers,
                timeout=self.request_timeouts(stream=True),
            ) as response:
                self._heard(card, response)
                if response.status_code >= 400:
                    response.read()
                    raise self.upstream_error(
                        card, response.status_code, response.headers, response.content
                    )
                yield from EventSource(response).iter_sse()
        except httpx.HTTPError as exc:
            raise self._transport_error(card, exc) from exc
        except SSEError as exc:
            raise Unavailable(self.name, card.id, f"not an event stream: {exc}") from None

    async def aevents(
        self, card: ModelCard, request: ChatRequest, *, cache_breakpoints: bool = False
    ) -> AsyncGenerator[ServerSentEvent]:
        """The SSE events of a streamed answer (async). Raises ``UpstreamError``."""
        out = self._outgoing(card, request, stream=True, cache_breakpoints=cache_breakpoints)
        try:
            response = await self._apost(out, stream=True)
            try:
                self._heard(card, response)
                if response.status_code >= 400:
                    await response.aread()
                    raise self.upstream_error(
                        card, response.status_code, response.headers, response.content
                    )
                async for event in EventSource(response).aiter_sse():
                    yield event
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(card, exc) from exc
        except SSEError as exc:
            raise Unavailable(self.name, card.id, f"not an event stream: {exc}") from None
