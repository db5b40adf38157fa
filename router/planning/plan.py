"""Planning a request: which deployments may serve it, in which order, and why not the rest.

Nothing here does I/O: the :class:`~router.core.Router` fetches catalogs and sends; a
:class:`Planner` is handed what it needs (provider names, groups, the policy chain, the
cooldowns and the prefix memory) and decides.
"""

from __future__ import annotations

import difflib
import itertools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from router.catalog import Catalog, ModelCard, canonical_name
from router.errors import CatalogError, ConfigError, NoRouteError, PluginError
from router.planning import options as request_options
from router.planning.context import Caching, RoutingContext
from router.planning.cost import request_cost, write_rate
from router.planning.lengths import KnownLengths, LengthBook
from router.planning.route import Estimate, Exclusion, Route, catalog_exclusion, cooldown_exclusion
from router.planning.shortlist import SHORTLIST_MIN_CARDS, CardIndex, shortlist, shortlisted_chain
from router.policy import Filter, Policy, Ranking, Verdict
from router.state.conversations import Conversations
from router.state.cooldowns import CooldownState
from router.state.latency import LatencyState
from router.state.prefix import PrefixState
from router.state.ratelimits import Need, RateLimitState
from router.types import ChatRequest

__all__ = ["ChainTraits", "Planner", "Unsupported", "chain_traits", "need"]

Unsupported = Callable[[ChatRequest, ModelCard], "str | None"]
"""Why a deployment's provider cannot send ``request`` as asked (a field its format
cannot carry: ``n > 1``, ``logprobs``, ``seed``, ...), or None: asked of its provider."""


def _honours_all(request: ChatRequest, card: ModelCard) -> str | None:
    return None


Chain = tuple[tuple[str, Policy], ...]
"""The policy chain, in order: (name, configured policy)."""


@dataclass(frozen=True, slots=True)
class ChainTraits:
    """What the policy chain as a whole implies for every request, worked out once."""

    expected_output: int | None
    """``expected_output_tokens`` as a policy of the chain sets it (None: the default)."""
    output_source: str
    """Which option set it (``cheapest.expected_output_tokens``), or ``default``."""
    prefix_cache: bool
    """Whether some policy counts prefix-cache savings."""
    look_ahead: bool
    """Whether some policy prices a conversation's later requests (``expected_reuse``):
    then each request is placed in its conversation (``context.conversation``)."""
    shortlisted: bool
    """Whether a large catalog may be shortlisted (:func:`shortlisted_chain`)."""


def chain_traits(policies: Chain) -> ChainTraits:
    """The traits of a policy chain. One expected-output figure serves every policy:
    two policies that set ``expected_output_tokens`` to different values are a
    ``ConfigError`` (the second one's key path)."""
    output: int | None = None
    source = "default"
    prefix_cache = look_ahead = False
    for i, (name, policy) in enumerate(policies):
        expected = getattr(policy, "expected_output_tokens", None)
        if isinstance(expected, int) and "expected_output_tokens" in policy.model_fields_set:
            if output is None:
                output, source = expected, f"{name}.expected_output_tokens"
            elif expected != output:
                raise ConfigError(
                    f"policy[{i}].{name}.expected_output_tokens",
                    f"{expected} differs from {source} ({output}): one figure serves"
                    " every policy; set it once",
                )
        caches = getattr(policy, "prefix_cache", False) is True
        prefix_cache = prefix_cache or caches
        look_ahead = look_ahead or (caches and bool(getattr(policy, "expected_reuse", 0)))
    return ChainTraits(output, source, prefix_cache, look_ahead, shortlisted_chain(policies))


class Planner:
    """Plans requests over one configuration: candidates, the chain, the route."""

    def __init__(
        self,
        *,
        providers: Collection[str],
        groups: Mapping[str, tuple[str, ...]],
        policies: Chain,
        cooldowns: CooldownState,
        prefixes: PrefixState,
        caching: Caching,
        latency: LatencyState | None = None,
        limits: RateLimitState | None = None,
        unsupported: Unsupported = _honours_all,
        held: Callable[[], Mapping[str, Catalog | None]] | None = None,
        conversations: Conversations | None = None,
    ) -> None:
        self.providers = providers
        self.groups = groups
        self.policies = policies
        self.traits = chain_traits(policies)
        self.cooldowns = cooldowns
        self.prefixes = prefixes
        self.caching = caching
        self.latency = latency
        """Measured speed per deployment, handed to every request's context."""
        self.limits = limits
        """Rate-limit budgets: a deployment that cannot take the request is excluded."""
        self._ranking = next(
            (policy for _, policy in reversed(policies) if isinstance(policy, Ranking)), None
        )
        """The chain's last ranking policy: its figure decides the order (stable sorts)."""
        self._rank_unit: str = getattr(self._ranking, "rank_unit", "$")  # as routes show it
        self.chain = tuple(f"{name} ({_role(policy)})" for name, policy in policies)
        """The chain with what each policy does, as ``explain`` shows it."""
        self.unsupported = unsupported
        self.lengths = LengthBook(held)
        """The smallest context length each canonical model has in the catalogs loaded
        (``held``: every provider's last good copy, nothing fetched; and the request's):
        lent to a card whose catalog states none."""
        self.conversations = conversations
        """How conversations go on (for a chain that looks ahead)."""
        self._indexes: dict[tuple[int, ...], tuple[tuple[Catalog, ...], CardIndex]] = {}
        self._indexes_lock = threading.Lock()

    def context(
        self, request: ChatRequest, catalogs: Mapping[str, Catalog | CatalogError] | None = None
    ) -> RoutingContext:
        """A fresh context for ``request``, reading this planner's memory; context lengths
        are lent from the held catalogs and ``catalogs`` (the request's)."""
        options = request.router
        book = self.lengths
        asked = options.expected_output_tokens if options is not None else None
        return RoutingContext(
            request,
            prefixes=self.prefixes,
            caching=self.caching,
            prefix_cache=self.traits.prefix_cache,
            expected_output=self.traits.expected_output if asked is None else asked,
            output_source=self.traits.output_source
            if asked is None
            else "router.expected_output_tokens",
            output_from_request=asked is not None,
            latency=self.latency,
            limits=self.limits,
            lengths=lambda: book.current(catalogs),
        )

    def providers_for(self, model: str) -> list[str]:
        """The providers whose catalogs a request for ``model`` needs (every provider for
        ``auto`` and for a bare model name)."""
        if model in self.groups:
            return list(dict.fromkeys(ref.partition(":")[0] for ref in self.groups[model]))
        if self._is_ref(model):
            return [model.partition(":")[0]]
        return list(self.providers)

    def plan(
        self,
        request: ChatRequest,
        catalogs: Mapping[str, Catalog | CatalogError],
        *,
        first: int | None = None,
    ) -> tuple[Route, list[ModelCard], RoutingContext]:
        """The route for ``request``, the candidate cards best first, and its context.

        With ``first`` (a request about to be sent), a large catalog under a chain that
        allows it is shortlisted: only the ``first`` best candidates are worked out now,
        the rest on demand (``context.more``), and the route lists the candidates and
        exclusions examined, with ``unexamined`` counting the cards never judged.
        Without it (``explain``), every card is judged and every exclusion listed.
        """
        options = request.router
        if options is not None:
            options.check_providers(self.providers)
        context = self.context(request, catalogs)
        if self.conversations is not None and self.traits.look_ahead:  # explain only reads
            follow = self.conversations.follow
            context.conversation = follow(request, context.chain(), count=first is not None)
        route = Route(model=request.model, chain=self.chain, output_source=context.output_source)
        route.conversation = context.conversation
        if options is not None:
            route.options = options.model_dump(mode="json", exclude_defaults=True)
        excluded = route.excluded
        if request.model == "auto":
            for name, catalog in catalogs.items():
                if isinstance(catalog, CatalogError):
                    excluded.append(catalog_exclusion(f"{name}:*", catalog, "unavailable"))
            if first is not None and not (options is not None and options.orders):
                shortlisted = self._shortlisted(context, catalogs, route, first)
                if shortlisted is not None:  # [] too: every card was judged, none is left
                    return route, shortlisted, context
        cards = [
            card
            for card in self._cards(request.model, catalogs, route, context)
            if self._admitted(context, card, excluded)
        ]
        unsure: dict[str, list[str]] = {}
        reasons: dict[str, list[str]] = {}
        for name, policy in self.policies:
            if not cards:
                break
            verdict = policy.apply(request, cards, context)
            _check_verdict(name, cards, verdict)
            excluded.extend(Exclusion(ref, name, why) for ref, why in verdict.excluded.items())
            for ref, why in verdict.demoted.items():
                unsure.setdefault(ref, []).append(f"[{name}] {why}")
            for ref, why in verdict.reasons.items():
                reasons.setdefault(ref, []).append(f"[{name}] {why}")
            cards = verdict.keep
        if unsure:
            # A candidate some policy was unsure of ranks after every sure one (stable sort).
            cards.sort(key=lambda card: len(unsure.get(card.ref, ())))
        estimates = {
            card.ref: self._estimate(
                context, card, unsure.get(card.ref, ()), reasons.get(card.ref, ())
            )
            for card in cards
        }
        if options is not None and options.orders:
            costs = {ref: estimate.cost for ref, estimate in estimates.items()}
            seconds = {card.ref: context.expected_seconds(card) for card in cards}
            speeds = {card.ref: context.speed(card) for card in cards}
            cards = request_options.reorder(options, cards, costs, seconds, speeds)
        route.candidates = [estimates[card.ref] for card in cards]
        return route, cards, context

    def _admitted(
        self, context: RoutingContext, card: ModelCard, excluded: list[Exclusion]
    ) -> bool:
        """Whether ``card`` passes the request's own steps (before the chain): its routing
        options (``[request]``) and the fields its provider can send (``[fields]``)."""
        request = context.request
        if request.router is not None:
            why = request_options.judge(
                request.router, card, context.prompt_tokens(card), context.speed(card)
            )
            if why is not None:
                excluded.append(Exclusion(card.ref, "request", why))
                return False
        why = self.unsupported(request, card)
        if why is not None:
            excluded.append(Exclusion(card.ref, "fields", why))
            return False
        return True

    def _cards(
        self,
        model: str,
        catalogs: Mapping[str, Catalog | CatalogError],
        route: Route,
        context: RoutingContext,
    ) -> list[ModelCard]:
        """The chat cards ``model`` names that are not cooling down nor out of rate-limit
        budget; the rest into ``route.excluded``. A bare model name matches every card of
        that canonical name (YAML groups and refs win); ``route.matched`` lists them."""
        excluded = route.excluded
        if model == "auto":
            found: Iterable[tuple[str, ModelCard | None]] = (
                (card.ref, card)
                for catalog in catalogs.values()
                if isinstance(catalog, Catalog)
                for card in catalog.models
            )
        elif model in self.groups:
            found = ((ref, _lookup(ref, catalogs)) for ref in self.groups[model])
        elif self._is_ref(model):
            found = [(model, _lookup(model, catalogs))]
        else:
            name = canonical_name(model)
            matched = [
                card
                for catalog in catalogs.values()
                if isinstance(catalog, Catalog)
                for card in catalog.models
                if card.canonical == name
            ]
            if not matched:
                names = {
                    card.canonical
                    for catalog in catalogs.values()
                    if isinstance(catalog, Catalog)
                    for card in catalog.models
                }
                close = difflib.get_close_matches(name, sorted(names), n=5, cutoff=0.6)
                near = f"; close: {', '.join(close)}" if close else ""
                groups = ", ".join(self.groups) or "none configured"
                unavailable = [n for n, c in catalogs.items() if isinstance(c, CatalogError)]
                missing = f" (catalogs unavailable: {', '.join(unavailable)})" * bool(unavailable)
                raise NoRouteError(
                    model,
                    {
                        model: "not a deployment ref ('<provider>:<model id>' with a configured"
                        f" provider), a group ({groups}), 'auto', or a model name"
                        f" ({name!r}) any catalog lists{missing}{near}"
                    },
                )
            route.matched = [card.ref for card in matched]
            for failed, catalog in catalogs.items():
                if isinstance(catalog, CatalogError):
                    excluded.append(catalog_exclusion(f"{failed}:*", catalog, "unavailable"))
            found = ((card.ref, card) for card in matched)
        cooling = self.cooldowns.cooling
        cards: list[ModelCard] = []
        for ref, card in found:
            if card is None:
                provider = ref.partition(":")[0]
                failure = catalogs.get(provider)
                if isinstance(failure, CatalogError):
                    excluded.append(catalog_exclusion(ref, failure, "catalog unavailable"))
                else:
                    excluded.append(Exclusion(ref, "catalog", f"not in {provider}'s catalog"))
            elif card.kind != "chat":
                excluded.append(Exclusion(ref, "catalog", "a generation model: not routed chat"))
            elif (left := cooling(ref)) is not None:
                excluded.append(cooldown_exclusion(ref, left))
            elif (limited := self.rate_limited(context, card)) is not None:
                excluded.append(limited)
            else:
                cards.append(card)
        return cards

    def rate_limited(self, context: RoutingContext, card: ModelCard) -> Exclusion | None:
        """``card`` left out because its rate limits cannot take this request (until its
        budget resets), or None."""
        if self.limits is None:
            return None
        limited = self.limits.check(card.ref, need(context, card))
        if limited is None:
            return None
        return Exclusion(card.ref, "rate_limit", limited.reason, back_in=limited.back_in)

    def _is_ref(self, model: str) -> bool:
        provider, sep, model_id = model.partition(":")
        return bool(sep and model_id) and provider in self.providers

    def _shortlisted(
        self,
        context: RoutingContext,
        catalogs: Mapping[str, Catalog | CatalogError],
        route: Route,
        first: int,
    ) -> list[ModelCard] | None:
        """The first candidates from :func:`router.planning.shortlist.shortlist`, or None
        when the whole chain must run (a small catalog, a chain that does not allow it,
        a prefix memory that cannot say which deployments have learned state)."""
        if not self.traits.shortlisted:
            return None
        learned = getattr(self.prefixes, "learned", None)
        refs = learned() if callable(learned) else None
        if refs is None:
            return None
        index = self._card_index(
            [c for c in catalogs.values() if isinstance(c, Catalog)], context.known_lengths()
        )
        if len(index.cards) < SHORTLIST_MIN_CARDS:
            return None
        examined: set[int] = set()
        more: Iterator[ModelCard] = shortlist(
            self.policies,
            context,
            index,
            self.cooldowns.cooling,
            refs,
            route.excluded,
            examined,
            limited=lambda card: self.rate_limited(context, card),
        )
        if context.request.router is not None or self.unsupported is not _honours_all:
            more = (c for c in more if self._admitted(context, c, route.excluded))
        cards = list(itertools.islice(more, first))
        request = context.request
        for card in cards:
            unsure = [
                f"[{name}] {judgement[1]}"
                for name, policy in self.policies
                if isinstance(policy, Filter)
                and (judgement := policy.judge(request, card, context)) is not None
            ]
            route.candidates.append(self._estimate(context, card, unsure))
        route.unexamined = len(index.cards) - len(examined)
        context.more = more
        return cards

    def _card_index(
        self, catalogs: list[Catalog], lengths: KnownLengths | None = None
    ) -> CardIndex:
        """The chat cards of ``catalogs`` indexed for shortlisting, built once per fetch
        (and per index of context lengths: the request's context lends from ``lengths``)."""
        key = (*(id(c) for c in catalogs), id(lengths))
        cached = self._indexes.get(key)
        if (
            cached is not None
            and cached[1].lengths is lengths
            and all(a is b for a, b in zip(cached[0], catalogs, strict=True))
        ):
            return cached[1]
        chat = [card for catalog in catalogs for card in catalog.models if card.kind == "chat"]
        index = CardIndex(chat, lengths)
        with self._indexes_lock:  # requests in other threads may miss at the same time
            if len(self._indexes) >= 8:
                self._indexes.pop(next(iter(self._indexes)))
            self._indexes[key] = (tuple(catalogs), index)
        return index

    def _estimate(
        self,
        context: RoutingContext,
        card: ModelCard,
        unsure: Iterable[str],
        reasons: Iterable[str] = (),
    ) -> Estimate:
        output = context.expected_output
        prefix_cache = context.prefix_cache
        cost = request_cost(context, card, output, prefix_cache=prefix_cache)
        outlook = context.cache_outlook(card) if prefix_cache else None
        cached = outlook.cached_tokens if outlook else 0
        saved = None
        borrowed = context.borrowed.get(card.ref)
        rank = context.ranks.get(card.ref)
        if rank is None and self._ranking is not None:  # a shortlisted card: not applied
            rank = self._ranking.rank(context.request, card, context)
        if outlook is not None and cost is not None and outlook.rule.mode != "none":
            cold = request_cost(context, card, output)
            saved = None if cold is None else cold - cost
        writes: dict[str, Any] = {}
        if outlook is not None and outlook.write_tokens and card.pricing is not None:
            rates = card.pricing.rates_for(context.prompt_tokens(card))
            writes = {
                "write_tokens": outlook.write_tokens,
                "write_rate": write_rate(rates, outlook.rule),
                "write_ttl": "1h" if outlook.rule.one_hour else "5m",
            }
        return Estimate(
            card.ref,
            context.prompt_tokens(card),
            output,
            cost,
            tuple(unsure),
            tuple(reasons),
            cached_tokens=cached,
            hit_rate=outlook.hit_rate if outlook and outlook.rule.mode != "none" else None,
            saved=saved,
            rank=None if rank == cost else rank,
            **writes,
            rank_unit=self._rank_unit,
            speed=context.speed(card),  # read once per request: the context keeps it
            seconds=context.expected_seconds(card),
            context_length=borrowed.tokens if borrowed is not None else None,
            context_from=borrowed.source if borrowed is not None else None,
        )


def need(context: RoutingContext, card: ModelCard) -> Need:
    """What this request takes from ``card``'s rate-limit budget: calibrated prompt
    tokens and the expected output."""
    return Need(context.prompt_tokens(card), context.expected_output)


def _lookup(ref: str, catalogs: Mapping[str, Catalog | CatalogError]) -> ModelCard | None:
    provider, _, model_id = ref.partition(":")
    catalog = catalogs.get(provider)
    return catalog.card(model_id) if isinstance(catalog, Catalog) else None


def _role(policy: Policy) -> str:
    """What a policy does in the chain: a filter keeps the order it was given, a ranking
    orders and excludes nothing; any other policy may do both."""
    if isinstance(policy, Filter):
        return "filters"
    if isinstance(policy, Ranking):
        return "orders"
    return "filters and orders"


def _check_verdict(name: str, given: list[ModelCard], verdict: Verdict) -> None:
    """Every candidate given comes back kept or excluded, and nothing else comes back:
    a policy that loses one (or invents one) is a plugin bug, named."""
    refs = {card.ref for card in given}
    kept = [card.ref for card in verdict.keep]
    lost = refs - set(kept) - set(verdict.excluded)
    added = set(kept) - refs
    if lost or added or len(kept) != len(set(kept)):
        problem = (
            f"lost {sorted(lost)} without excluding them"
            if lost
            else f"returned {sorted(added)}, which it was not given"
            if added
            else "kept a candidate twice"
        )
        raise PluginError(f"policy {name!r}: {problem}; return each in keep or excluded")
