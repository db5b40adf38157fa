"""The normalized catalog: one :class:`ModelCard` per (provider, model), and the live cache.

Every price here is a ``Decimal`` in **USD per token**. Providers publish prices in
their own units (USD per token as strings, USD per 1,000 tokens as numbers, credits
per 1,000 tokens with a margin included); each provider plugin converts once, when
it parses its catalog, and nothing downstream ever converts again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal

from cachetools import TLRUCache
from pydantic import BaseModel, ConfigDict, PlainSerializer, computed_field

from router.errors import CatalogError

__all__ = [
    "Catalog",
    "LiveCatalog",
    "ModelCard",
    "Money",
    "PriceSource",
    "PriceTier",
    "Pricing",
    "Protocol",
    "Rates",
    "Skipped",
    "canonical_name",
]

logger = logging.getLogger("router.catalog")


def _plain(value: Decimal) -> str:
    # "0.000000087", never "8.7E-8": per-token prices are read by people too.
    return format(value.normalize(), "f")


Money = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]
"""A Decimal amount of USD; serialized to JSON as a plain decimal string."""

Protocol = Literal["openai", "anthropic", "gemini"]
"""The request-format family a model is served under."""

PriceSource = Literal["catalog", "model_info", "genai-prices"]
"""Where a card's prices come from, in order of precedence."""


class Rates(BaseModel):
    """Token rates, each in USD per token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: Money
    """USD per prompt (input) token that is not read from a cache."""
    completion: Money
    """USD per completion (output) token."""
    cache_read: Money | None = None
    """USD per prompt token read from the provider's prefix cache; None: no rate stated."""
    cache_write: Money | None = None
    """USD per prompt token written to the cache (default lifetime); None: no rate stated."""
    cache_write_1h: Money | None = None
    """USD per prompt token written to a one-hour cache (PipeLLM's ``cache.write_1h``)."""


class PriceTier(BaseModel):
    """Alternate rates that apply when a request's prompt exceeds ``above_prompt_tokens``.

    A rate the tier does not state is the base rate.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """The provider's name for the tier (PipeLLM: ``over_200k``)."""
    above_prompt_tokens: int
    """The tier applies when the prompt has more tokens than this."""
    prompt: Money | None = None
    """USD per prompt token within this tier."""
    completion: Money | None = None
    """USD per completion token within this tier."""
    cache_read: Money | None = None
    """USD per cached prompt token within this tier."""
    cache_write: Money | None = None
    """USD per cache-written prompt token within this tier."""
    cache_write_1h: Money | None = None
    """USD per one-hour-cache-written prompt token within this tier."""


class Pricing(Rates):
    """A model's prices: base rates plus optional prompt-size tiers."""

    tiers: tuple[PriceTier, ...] = ()
    """Tiers by ascending threshold; the highest one the prompt exceeds applies."""

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The rates that apply to a request with ``prompt_tokens`` prompt tokens."""
        tier = None
        for candidate in self.tiers:
            if prompt_tokens > candidate.above_prompt_tokens:
                tier = candidate
        if tier is None:
            return self
        fields = ("prompt", "completion", "cache_read", "cache_write", "cache_write_1h")
        return Rates(
            **{
                f: getattr(tier, f) if getattr(tier, f) is not None else getattr(self, f)
                for f in fields
            }
        )


class ModelCard(BaseModel):
    """One model at one provider, in the router's normalized form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    """The provider's configured name (the YAML ``providers[].name``)."""
    id: str
    """The model id the provider's API takes."""
    protocol: Protocol = "openai"
    """Request-format family this model is served under at this provider."""
    kind: Literal["chat", "generation"] = "chat"
    """``generation`` models (images, video, audio, embeddings) are listed but never routed chat."""
    context_length: int | None = None
    """Total tokens (prompt + output) the model accepts; None: unknown."""
    max_output_tokens: int | None = None
    """Most tokens one response may have; None: unknown."""
    supports_tools: bool | None = None
    """Tool (function) calling; None: the catalog does not say."""
    supports_vision: bool | None = None
    """Image inputs; None: the catalog does not say."""
    supports_structured_output: bool | None = None
    """``response_format`` ``json_object`` / ``json_schema`` honoured (natively, or by a
    translation such as the Anthropic family's forced tool); None: the catalog does not say."""
    pricing: Pricing | None = None
    """Token prices in USD per token; None: the provider publishes none for this model."""
    price_source: PriceSource | None = None
    """Where ``pricing`` comes from: ``catalog`` (the provider's live catalog),
    ``model_info`` (the YAML), ``genai-prices`` (pydantic's price database, extra
    ``prices``); None when unpriced."""
    name: str | None = None
    """Human-readable name, when the catalog gives one."""

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def ref(self) -> str:
        """The deployment reference requests use: ``"<provider>:<id>"``."""
        return f"{self.provider}:{self.id}"

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def canonical(self) -> str:
        """The bare model name this deployment answers to across providers
        (:func:`canonical_name` of its id): ``ps/DeepSeek-V4.Flash`` → ``deepseek-v4-flash``."""
        return canonical_name(self.id)


def canonical_name(model: str) -> str:
    """A model name with provider and vendor prefixes (``ps/``, ``deepseek/``: everything
    up to the last ``/``), case and ``.``/``-`` spelling set aside: the same model at
    different providers has the same canonical name (``claude-sonnet-4.6`` and
    ``anthropic/claude-sonnet-4-6`` are both ``claude-sonnet-4-6``)."""
    return model.rsplit("/", 1)[-1].strip().lower().replace(".", "-")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A catalog entry that could not be read, and why."""

    index: int
    """Position of the entry in the provider's list."""
    model: str | None
    """The entry's model id, when it had a readable one."""
    field: str
    """Dotted path of the offending field inside the entry (``pricing.prompt``)."""
    problem: str

    def __str__(self) -> str:
        who = repr(self.model) if self.model else f"entry #{self.index}"
        return f"{who}: {self.field or 'entry'}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Catalog:
    """One provider's catalog as fetched at ``fetched_at`` (Unix time)."""

    provider: str
    models: tuple[ModelCard, ...]
    skipped: tuple[Skipped, ...] = ()
    fetched_at: float = 0.0
    stale: bool = False
    """True when the last refresh failed and this is the last good copy."""
    error: str | None = None
    """Why the last refresh failed, when ``stale``."""
    _by_id: dict[str, ModelCard] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {card.id: card for card in self.models})

    def card(self, model_id: str) -> ModelCard | None:
        """The card of ``model_id``, or None when the catalog does not list it."""
        return self._by_id.get(model_id)


_KEY = "catalog"


class LiveCatalog:
    """A provider's catalog, fetched lazily and kept fresh.

    A fetched catalog is served for ``ttl`` seconds, then fetched again. When a
    refresh fails, the last good catalog keeps serving, marked stale, and the next
    refresh is tried after ``retry`` seconds. Concurrent callers wait for one fetch:
    threads through a lock, asyncio tasks through a per-event-loop lock.
    """

    def __init__(
        self,
        provider: str,
        fetch: Callable[[], Catalog],
        afetch: Callable[[], Awaitable[Catalog]],
        *,
        ttl: float,
        retry: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._fetch = fetch
        self._afetch = afetch
        self._ttl = ttl
        self._retry = min(retry, ttl)
        self._cache: TLRUCache[str, Catalog] = TLRUCache(maxsize=1, ttu=self._ttu, timer=timer)
        self._timer = timer
        self._hot: tuple[Catalog, float] | None = None
        """The cached catalog and when it expires, read without the lock on every request."""
        self._last_good: Catalog | None = None
        self._fetches = 0
        """Fetches finished so far: a caller that waited for another's fetch sees it here."""
        self._failure: CatalogError | None = None
        """Why the last fetch failed, while there is no good copy to serve instead."""
        self._guard = threading.Lock()  # cachetools caches are not thread-safe
        self._fetching = threading.Lock()
        self._alocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _ttu(self, _key: str, value: Catalog, now: float) -> float:
        expires = now + (self._retry if value.stale else self._ttl)
        self._hot = (value, expires)
        return expires

    def fresh(self) -> Catalog | None:
        """The cached catalog if it is still within its lifetime, without fetching."""
        hot = self._hot  # read once: a refresh replaces the tuple whole
        if hot is not None and self._timer() < hot[1]:
            return hot[0]
        with self._guard:
            return self._cache.get(_KEY)

    @property
    def last(self) -> Catalog | None:
        """The last good catalog, however old, or None before the first successful fetch."""
        return self._last_good

    def get(self) -> Catalog:
        """The catalog, fetching it first if it is missing or expired (sync)."""
        if (cat := self.fresh()) is not None:
            return cat
        seen = self._fetches
        with self._fetching:
            if (cat := self.fresh()) is not None:
                return cat
            self._shared_failure(seen)
            try:
                new = self._fetch()
            except CatalogError as exc:
                return self._failed(exc)
            finally:
                self._fetches += 1
            return self._store(new)

    async def aget(self) -> Catalog:
        """The catalog, fetching it first if it is missing or expired (async)."""
        if (cat := self.fresh()) is not None:
            return cat
        seen = self._fetches
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._alocks.setdefault(loop, asyncio.Lock())
        async with lock:
            if (cat := self.fresh()) is not None:
                return cat
            self._shared_failure(seen)
            try:
                new = await self._afetch()
            except CatalogError as exc:
                return self._failed(exc)
            finally:
                self._fetches += 1
            return self._store(new)

    def _shared_failure(self, seen: int) -> None:
        """Single flight for failures too: a caller that waited while another's fetch failed
        gets that failure rather than asking a failing provider again at once."""
        if self._fetches != seen and self._failure is not None:
            raise self._failure

    def invalidate(self) -> None:
        """Forget the fresh copy so the next read fetches (the last good copy stays)."""
        with self._guard:
            self._hot = None
            self._cache.pop(_KEY, None)

    def _store(self, catalog: Catalog) -> Catalog:
        with self._guard:
            self._failure = None
            self._last_good = catalog
            self._cache[_KEY] = catalog
        return catalog

    def _failed(self, exc: CatalogError) -> Catalog:
        with self._guard:
            good = self._last_good
            if good is None:
                self._failure = exc
                raise exc
            stale = replace(good, stale=True, error=str(exc))
            self._cache[_KEY] = stale
        logger.warning(
            "%s; serving the last good catalog (%d models, fetched %.0f s ago), marked stale",
            exc,
            len(good.models),
            max(0.0, time.time() - good.fetched_at),
        )
        return stale
