"""The :class:`Router`: providers, live catalogs, groups, the policy chain, and sending."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from router.catalog import Catalog, ModelCard
from router.completion import ChatCompletion, ChatCompletionChunk
from router.config import FallbackConfig, load_yaml, plugin_modules, resolve
from router.dispatch.answer import Answer, StreamSession
from router.dispatch.budget import Budgets, SpendRow, breakpoints_of
from router.dispatch.deadline import deadline_at
from router.dispatch.fallback import Plan
from router.dispatch.observe import Observers
from router.dispatch.waiting import Waiting, retry_after_of
from router.dispatch.watch import Watch, refused
from router.errors import CatalogError, ConfigError, InvalidRequest, NoRouteError
from router.planning.context import RoutingContext
from router.planning.plan import ChainTraits, Planner
from router.planning.route import Route
from router.plugins import Plugins
from router.policy import Policy
from router.state.conversations import Conversations
from router.state.cooldowns import CooldownState
from router.state.latency import LatencyState
from router.state.ledger import SpendLedger
from router.state.prefix import CacheRule, PrefixState
from router.state.ratelimits import MemoryRateLimits, RateLimitState
from router.state.shared_latency import latency_of
from router.state.store import State, open_state
from router.types import ChatRequest

if TYPE_CHECKING:
    import httpx

    from router.provider import Provider


__all__ = ["Router"]

Catalogs = Mapping[str, Catalog | CatalogError]

logger = logging.getLogger("router")


class Router:
    """A cost-aware router over the providers of one configuration.

    Build it with :meth:`from_yaml` or :meth:`from_config`. Nothing is fetched at
    construction: each provider's catalog is fetched on first use and kept fresh for
    its ``catalog_ttl``.

    Keyword arguments (all optional): ``plugins``, plugin objects or modules to register
    for this router only (beside those the YAML's ``plugins:`` list names);
    ``entry_points``, whether to load installed plugins (default: yes unless
    ``ROUTER_NO_ENTRY_POINTS`` is set); ``environ``, the mapping ``${VAR}`` reads
    (default ``os.environ``); ``timer``, the monotonic clock of catalog lifetimes,
    cooldowns and the prefix memory (with ``state: redis``, the wall clock, which a fleet
    shares); ``sleep``, called instead of sleeping between retries (tests record waits with
    it); ``cooldowns``, ``prefixes``, ``latency``, ``rate_limits`` and ``ledger``, state
    backends in place of the configured ones; ``clock``, the wall clock (epoch seconds) that
    budget periods are read from. The request methods also take ``client``: who a request
    is charged to (budgets keyed by ``api_key``).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        plugins: Iterable[object] = (),
        entry_points: bool | None = None,
        environ: Mapping[str, str] | None = None,
        timer: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
        cooldowns: CooldownState | None = None,
        prefixes: PrefixState | None = None,
        latency: LatencyState | None = None,
        rate_limits: RateLimitState | None = None,
        ledger: SpendLedger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The YAML's own plugins: (imported first: a failure is a ConfigError at plugins[i]).
        yaml_plugins = plugin_modules(config)
        self.plugins = Plugins([*plugins, *yaml_plugins], entry_points=entry_points)
        resolved = resolve(config, self.plugins, environ)
        windows = {k: w for _, o in resolved.providers for k, w in o.windows().items()}
        self.rate_limits: RateLimitState = rate_limits or MemoryRateLimits(windows, timer=timer)
        """Announced rate-limit budgets and the YAML's rpm/tpm windows."""
        self.observers = Observers(self.plugins, otel=resolved.telemetry.otel)
        """The observation hooks, looked up once: plugins registered later are not called."""
        self._watch = Watch.starter(self.observers) if self.observers.active else None
        providers: dict[str, Provider] = {}
        for i, (cls, options) in enumerate(resolved.providers):
            try:
                providers[options.name] = cls(options, timer=timer)
                providers[options.name].on_budget = self.rate_limits.announce
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"providers[{i}]", str(exc)) from None
        self.providers: Mapping[str, Provider] = MappingProxyType(providers)
        """Configured providers by name, in YAML order."""
        self.groups: Mapping[str, tuple[str, ...]] = MappingProxyType(resolved.groups)
        """Model groups (the YAML ``models:``): name → deployment refs."""
        self.policies: tuple[tuple[str, Policy], ...] = resolved.policies
        """The policy chain, in order: (name, configured policy)."""
        self.fallback: FallbackConfig = resolved.fallback
        """The ``fallback:`` settings."""
        self.state: State = open_state(resolved.state, self.fallback, timer)
        """Where what this router learns lives (the ``state:`` block): this process or Redis."""
        self.cooldowns: CooldownState = cooldowns if cooldowns is not None else self.state.cooldowns
        """Which deployments are cooling down."""
        self.prefixes: PrefixState = prefixes if prefixes is not None else self.state.prefixes
        """Prefix-cache memory, learned hit rates and token calibration."""
        self.latency: LatencyState = latency if latency is not None else latency_of(self.state)
        """Measured speed per deployment (``.speeds()``: TTFT, tokens/s, p50/p90, errors)."""
        self.ledger: SpendLedger = ledger if ledger is not None else self.state.ledger
        """The spend ledger (the state's: this process's, or Redis)."""
        self.budgets = Budgets(resolved.budgets, self.ledger, clock)
        """The ``budgets:``, over the ledger."""
        self._sleep = sleep
        self.planner = Planner(
            providers=self.providers.keys(),
            groups=self.groups,
            policies=self.policies,
            cooldowns=self.cooldowns,
            prefixes=self.prefixes,
            caching=self._caching,
            latency=self.latency,
            limits=self.rate_limits,
            unsupported=self._unsupported,
            held=lambda: {name: p.catalog.last for name, p in self.providers.items()},
            conversations=Conversations(timer),
        )
        """Decides where requests go, from the chain and what this router has learned."""

    @property
    def traits(self) -> ChainTraits:
        """What the chain implies for every request (expected output, prefix caching)."""
        return self.planner.traits

    def _caching(self, card: ModelCard) -> tuple[CacheRule, bool]:
        provider = self.providers[card.provider]
        return provider.cache_rule(card), provider.options.auto_cache_control

    def _unsupported(self, request: ChatRequest, card: ModelCard) -> str | None:
        return self.providers[card.provider].unsupported(request, card)

    @classmethod
    def from_yaml(cls, source: str | os.PathLike[str], **kwargs: Any) -> Router:
        """A router from a YAML file path or YAML text (``yaml.safe_load`` only)."""
        return cls(load_yaml(source), **kwargs)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **kwargs: Any) -> Router:
        """A router from an already-parsed configuration mapping (same shape as the YAML)."""
        return cls(config, **kwargs)

    def __repr__(self) -> str:
        return f"Router(providers={list(self.providers)!r}, groups={list(self.groups)!r})"

    # -- catalogs ------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        """The configured provider called ``name``."""
        try:
            return self.providers[name]
        except KeyError:
            known = ", ".join(self.providers)
            msg = f"no provider named {name!r}; configured: {known}"
            raise KeyError(msg) from None

    def catalog(self, provider: str) -> Catalog:
        """One provider's catalog, fetched if missing or expired. Raises ``CatalogError``."""
        return self.provider(provider).catalog.get()

    async def acatalog(self, provider: str) -> Catalog:
        """Async :meth:`catalog`."""
        return await self.provider(provider).catalog.aget()

    def models(self) -> list[ModelCard]:
        """The normalized catalog, every provider merged (YAML order, then catalog order).

        A provider whose catalog cannot be fetched, and that has no earlier good copy,
        is left out with a warning; :meth:`catalog` raises its ``CatalogError``.
        """
        catalogs = []
        for name in self.providers:
            try:
                catalogs.append(self.catalog(name))
            except CatalogError as exc:
                _left_out(name, exc)
        return _merge(catalogs)

    async def amodels(self) -> list[ModelCard]:
        """Async :meth:`models`; the providers' catalogs are fetched concurrently."""

        async def one(name: str) -> Catalog | None:
            try:
                return await self.acatalog(name)
            except CatalogError as exc:
                _left_out(name, exc)
                return None

        return _merge(await asyncio.gather(*(one(name) for name in self.providers)))

    # -- routing -------------------------------------------------------------------

    def explain(self, *, client: str | None = None, **request: Any) -> Route:
        """The decision for ``request`` without sending it: candidates in order with
        estimated tokens and cost, and every excluded deployment with the reason."""
        req = _request(request)
        catalogs = {name: self._catalog_or_error(name) for name in self._involved(req)}
        return self._explained(req, catalogs, client)

    async def aexplain(self, *, client: str | None = None, **request: Any) -> Route:
        """Async :meth:`explain`."""
        req = _request(request)
        names = self._involved(req)
        fetched = await asyncio.gather(*(self._acatalog_or_error(n) for n in names))
        return self._explained(req, dict(zip(names, fetched, strict=True)), client)

    def _explained(self, req: ChatRequest, catalogs: Catalogs, client: str | None) -> Route:
        route, cards, context = self.planner.plan(req, catalogs)
        if self.budgets.configs and (spending := self.budgets.for_request(req, client)):
            spending.screen(route, cards, context, breakpoints_of(context), explain=True)
        return route

    def complete(self, *, client: str | None = None, **request: Any) -> ChatCompletion:
        """Route and send an OpenAI Chat Completions request; returns the completion with
        ``provider`` and ``usage.cost``. Raises ``NoRouteError``, ``AllProvidersFailed``,
        ``BudgetExceeded`` or the ``UpstreamError`` of a request the provider rejected."""
        req = _request(request, stream=False)
        watch = self._watch(False, client) if self._watch else None
        plan = self._plan(req, client, watch)
        with plan.sending():
            for attempt in plan.attempts(self._sleep or time.sleep):
                with attempt:
                    card = plan.begin()
                    answer = self.providers[card.provider].send(
                        card, req, cache_breakpoints=plan.breakpoints(card)
                    )
            return Answer(plan, card).completion(*answer)

    async def acomplete(self, *, client: str | None = None, **request: Any) -> ChatCompletion:
        """Async :meth:`complete`."""
        req = _request(request, stream=False)
        watch = self._watch(False, client) if self._watch else None
        plan = await self._aplan(req, client, watch)
        with plan.sending():
            async for attempt in plan.aattempts(self._asleep):
                with attempt:
                    card = plan.begin()
                    answer = await self.providers[card.provider].asend(
                        card, req, cache_breakpoints=plan.breakpoints(card)
                    )
            return Answer(plan, card).completion(*answer)

    def stream(self, *, client: str | None = None, **request: Any) -> Iterator[ChatCompletionChunk]:
        """Route and stream: yields OpenAI ``chat.completion.chunk`` objects, the last with
        ``usage`` (and ``cost``). Falls over only before the first chunk reaches the
        caller; a break after that raises ``StreamInterrupted``."""
        req = _request(request, stream=True)
        watch = self._watch(True, client) if self._watch else None
        plan = self._plan(req, client, watch)
        with plan.sending():
            for attempt in plan.attempts(self._sleep or time.sleep):
                with attempt:
                    session, events = StreamSession.open(plan, self.providers, req)
                    try:
                        first = session.first(events)
                    except BaseException:
                        events.close()
                        raise
                    plan.first_chunk()
        try:
            yield from first
            yield from session.rest(events)
        except BaseException as exc:
            plan.abort(exc, session.received())
            raise
        finally:
            events.close()

    async def astream(
        self, *, client: str | None = None, **request: Any
    ) -> AsyncIterator[ChatCompletionChunk]:
        """Async :meth:`stream`."""
        req = _request(request, stream=True)
        watch = self._watch(True, client) if self._watch else None
        plan = await self._aplan(req, client, watch)
        with plan.sending():
            async for attempt in plan.aattempts(self._asleep):
                with attempt:
                    session, events = StreamSession.aopen(plan, self.providers, req)
                    try:
                        first = await session.afirst(events)
                    except BaseException:
                        await events.aclose()
                        raise
                    plan.first_chunk()
        try:
            for chunk in first:
                yield chunk
            async for chunk in session.arest(events):
                yield chunk
        except BaseException as exc:
            plan.abort(exc, session.received())
            raise
        finally:
            await events.aclose()

    def _plan(self, req: ChatRequest, client: str | None, watch: Watch | None) -> Plan:
        """The plan of a request about to be sent; when every candidate is left out only for
        a while, waits (within the deadline and wait budget) for the earliest to return."""
        self.state.check()  # StateUnavailable while a shared state is away (``fail``)
        waiting = Waiting.starting(self.fallback)
        sleep = self._sleep or time.sleep
        try:
            with deadline_at(waiting.deadline):
                while True:
                    catalogs = self._catalogs(req, waiting, sleep)
                    planned = self.planner.plan(req, catalogs, first=self.fallback.attempts)
                    if planned[1]:
                        return self._new_plan(req, *planned, waiting, catalogs, client, watch)
                    sleep(self._capacity_wait(req, planned[0], waiting))
        except NoRouteError as exc:
            raise refused(exc, req, watch) from None

    async def _aplan(self, req: ChatRequest, client: str | None, watch: Watch | None) -> Plan:
        """Async :meth:`_plan`: waits without blocking the event loop."""
        self.state.check()  # StateUnavailable while a shared state is away (``fail``)
        waiting = Waiting.starting(self.fallback)
        try:
            with deadline_at(waiting.deadline):
                while True:
                    catalogs = await self._acatalogs(req, waiting)
                    planned = self.planner.plan(req, catalogs, first=self.fallback.attempts)
                    if planned[1]:
                        return self._new_plan(req, *planned, waiting, catalogs, client, watch)
                    await self._asleep(self._capacity_wait(req, planned[0], waiting))
        except NoRouteError as exc:
            raise refused(exc, req, watch) from None

    def _new_plan(
        self,
        req: ChatRequest,
        route: Route,
        cards: list[ModelCard],
        context: RoutingContext,
        waiting: Waiting,
        catalogs: Catalogs,
        client: str | None,
        watch: Watch | None,
    ) -> Plan:
        route.waited = waiting.waited
        spending = self.budgets.for_request(req, client) if self.budgets.configs else None
        if spending is not None:  # (never empties the candidates: reservations decide)
            cards = spending.screen(route, cards, context, breakpoints_of(context))
        return Plan(
            cards,
            self.fallback,
            self.cooldowns,
            route,
            context,
            waiting=waiting,
            replan=lambda: self.planner.plan(req, catalogs)[1],
            spending=spending,
            watch=watch,
        )

    def _capacity_wait(self, req: ChatRequest, route: Route, waiting: Waiting) -> float:
        """Seconds to wait before routing again; raises ``NoRouteError`` when nothing comes
        back in time (with ``retry_after`` when something comes back later)."""
        wait = waiting.for_capacity(route.excluded)
        if wait is None:
            error = NoRouteError(
                req.model,
                {e.ref: f"[{e.policy}] {e.reason}" for e in route.excluded},
                retry_after=retry_after_of(route.excluded),
            )
            error.route = route  # type: ignore[attr-defined]
            raise error
        waiting.waited += wait
        return wait

    def _catalogs(
        self, req: ChatRequest, waiting: Waiting, sleep: Callable[[float], None]
    ) -> dict[str, Catalog | CatalogError]:
        return waiting.catalogs(self._involved(req), self.catalog, sleep)

    def spend(self) -> list[SpendRow]:
        """Spend per budget and key this period: limit, spent, reserved, left (USD)."""
        return self.budgets.report()

    def _involved(self, req: ChatRequest) -> list[str]:
        return self.planner.providers_for(req.model)

    def _catalog_or_error(self, name: str) -> Catalog | CatalogError:
        try:
            return self.catalog(name)
        except CatalogError as exc:
            return exc

    async def _acatalog_or_error(self, name: str) -> Catalog | CatalogError:
        try:
            return await self.acatalog(name)
        except CatalogError as exc:
            return exc

    async def _acatalogs(self, req: ChatRequest, waiting: Waiting) -> Catalogs:
        names = self._involved(req)
        catalogs: dict[str, Catalog | CatalogError] = {}
        for name in names:  # the usual case: every catalog fresh, nothing to wait for
            if (fresh := self.providers[name].catalog.fresh()) is None:
                break
            catalogs[name] = fresh
        else:
            return catalogs
        return await waiting.acatalogs(names, self.acatalog, self._asleep)

    async def _asleep(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    # -- OpenAI wire format ------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        """An ``httpx`` transport that answers OpenAI's ``/chat/completions`` and
        ``/models`` with this router: ``openai.OpenAI(base_url="http://router/v1",
        api_key="x", http_client=httpx.Client(transport=router.transport()))``."""
        from router.serving.transport import RouterTransport

        return RouterTransport(self)

    def async_transport(self) -> httpx.AsyncBaseTransport:
        """Async :meth:`transport`, for ``httpx.AsyncClient`` and ``openai.AsyncOpenAI``."""
        from router.serving.transport import AsyncRouterTransport

        return AsyncRouterTransport(self)

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Close every provider's HTTP connections, and the state's."""
        for provider in self.providers.values():
            provider.close()
        self.state.close()

    async def aclose(self) -> None:
        """Close every provider's HTTP connections (async clients of this loop too), and
        the state's (in a thread: it may write what it queued, ``state.timeout_seconds``)."""
        for provider in self.providers.values():
            await provider.aclose()
        if self.state.backend != "memory":
            await asyncio.to_thread(self.state.close)

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Router:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _request(params: Mapping[str, Any], *, stream: bool | None = None) -> ChatRequest:
    if stream is not None and params.get("stream") not in (None, stream):
        verb = "stream()/astream()" if params.get("stream") else "complete()/acomplete()"
        raise InvalidRequest(f"stream={params.get('stream')!r} here: use {verb}")
    try:
        return ChatRequest.model_validate(params)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in error["loc"]) or "request"
        problem = error["msg"].removeprefix("Value error, ")
        raise InvalidRequest(f"{where}: {problem}") from None


def _left_out(name: str, exc: CatalogError) -> None:
    logger.warning("leaving provider %r out of the catalog: %s", name, exc)


def _merge(catalogs: Iterable[Catalog | None]) -> list[ModelCard]:
    return [card for catalog in catalogs if catalog is not None for card in catalog.models]
