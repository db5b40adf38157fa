"""The routing logic shared by the sync and async APIs: choosing candidates, finishing answers.

Nothing here does IO: the Router fetches catalogs and sends; these functions decide
which deployments may serve a request and turn what came back into the caller's answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from router.catalog import Catalog, ModelCard
from router.errors import (
    CatalogError,
    NoRouteError,
)
from router.planning.context import RoutingContext
from router.planning.cost import request_cost
from router.planning.route import Estimate, Exclusion, Route
from router.planning.shortlist import SHORTLIST_MIN_CARDS, CardIndex, shortlist, shortlisted_chain
from router.policy import Filter
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["plan_route", "referenced_providers"]

DEFAULT_EXPECTED_OUTPUT = 300
"""Completion tokens assumed when neither the request nor a policy says."""


def referenced_providers(router: Router, model: str) -> list[str]:
    """The providers whose catalogs a request for ``model`` needs."""
    if model == "auto":
        return list(router.providers)
    if model in router.groups:
        return list(dict.fromkeys(ref.partition(":")[0] for ref in router.groups[model]))
    provider, sep, _ = model.partition(":")
    return [provider] if sep and provider in router.providers else []


def _cards(
    router: Router,
    model: str,
    catalogs: Mapping[str, Catalog | CatalogError],
    excluded: list[Exclusion],
) -> list[ModelCard]:
    """The chat cards ``model`` names that are not cooling down; the rest into ``excluded``."""
    if model == "auto":
        found: Iterable[tuple[str, ModelCard | None]] = (
            (card.ref, card)
            for catalog in catalogs.values()
            if isinstance(catalog, Catalog)
            for card in catalog.models
        )
    elif model in router.groups:
        found = ((ref, _lookup(ref, catalogs)) for ref in router.groups[model])
    elif _is_ref(router, model):
        found = [(model, _lookup(model, catalogs))]
    else:
        groups = ", ".join(router.groups) or "none configured"
        raise NoRouteError(
            model,
            {
                model: "not a deployment ref ('<provider>:<model id>' with a configured"
                f" provider), a group ({groups}), or 'auto'"
            },
        )
    cooling = router.cooldowns.cooling
    cards: list[ModelCard] = []
    for ref, card in found:
        if card is None:
            provider = ref.partition(":")[0]
            failure = catalogs.get(provider)
            if isinstance(failure, CatalogError):
                why = f"catalog unavailable: {failure.problem}"
            else:
                why = f"not in {provider}'s catalog"
            excluded.append(Exclusion(ref, "catalog", why))
        elif card.kind != "chat":
            excluded.append(Exclusion(ref, "catalog", "a generation model: not routed chat"))
        elif (left := cooling(ref)) is not None:
            excluded.append(Exclusion(ref, "cooldown", f"cooling down, {left:.0f} s left"))
        else:
            cards.append(card)
    return cards


def _is_ref(router: Router, model: str) -> bool:
    provider, sep, model_id = model.partition(":")
    return bool(sep and model_id) and provider in router.providers


def _lookup(ref: str, catalogs: Mapping[str, Catalog | CatalogError]) -> ModelCard | None:
    provider, _, model_id = ref.partition(":")
    catalog = catalogs.get(provider)
    return catalog.card(model_id) if isinstance(catalog, Catalog) else None


def plan_route(
    router: Router,
    req: ChatRequest,
    catalogs: Mapping[str, Catalog | CatalogError],
    *,
    first: int | None = None,
) -> tuple[Route, list[ModelCard]]:
    """The route for ``req`` and the candidate cards, best first.

    With ``first`` (a request about to be sent), a large catalog under the built-in
    chain is shortlisted: only the ``first`` best candidates are worked out now, the
    rest on demand (``RoutingContext.more``), and the route lists the candidates and
    exclusions examined, with ``unexamined`` counting the cards never judged. Without
    it (``explain``), every card is judged and every exclusion listed.
    """
    route = Route(model=req.model)
    excluded = route.excluded
    routing = req._routing = RoutingContext(router)
    if req.model == "auto":
        for name, catalog in catalogs.items():
            if isinstance(catalog, CatalogError):
                excluded.append(
                    Exclusion(f"{name}:*", "catalog", f"unavailable: {catalog.problem}")
                )
        if first is not None:
            shortlisted = _shortlisted(router, req, catalogs, route, first)
            if shortlisted is not None:  # [] too: every card was judged, none is left
                return route, shortlisted
    cards = _cards(router, req.model, catalogs, excluded)
    unsure: dict[str, list[str]] = {}
    for name, policy in router.policies:
        if not cards:
            break
        verdict = policy.apply(req, cards)
        excluded.extend(Exclusion(ref, name, why) for ref, why in verdict.excluded.items())
        for ref, why in verdict.demoted.items():
            unsure.setdefault(ref, []).append(f"[{name}] {why}")
        cards = verdict.keep
    if unsure:
        # A candidate some policy was unsure of ranks after every sure one (stable sort).
        cards.sort(key=lambda card: len(unsure.get(card.ref, ())))
    output = _expected_output(router, req)
    route.candidates = [
        _estimate(req, card, output, routing.prefix_cache, unsure) for card in cards
    ]
    return route, cards


def _shortlisted(
    router: Router,
    req: ChatRequest,
    catalogs: Mapping[str, Catalog | CatalogError],
    route: Route,
    first: int,
) -> list[ModelCard] | None:
    """The first candidates from :func:`router.planning.shortlist.shortlist`, or None when the
    whole chain must run (a small catalog, a third-party policy, a prefix memory that
    cannot say which deployments have learned state)."""
    if not shortlisted_chain(router.policies):
        return None
    learned = getattr(router.prefixes, "learned", None)
    refs = learned() if callable(learned) else None
    if refs is None:
        return None
    index = _card_index(router, [c for c in catalogs.values() if isinstance(c, Catalog)])
    if len(index.cards) < SHORTLIST_MIN_CARDS:
        return None
    examined: set[int] = set()
    more = shortlist(router, req, index, refs, route.excluded, examined)
    cards = list(itertools.islice(more, first))
    output = _expected_output(router, req)
    prefix_cache = router.traits.prefix_cache
    for card in cards:
        unsure = [
            f"[{name}] {judgement[1]}"
            for name, policy in router.policies
            if isinstance(policy, Filter) and (judgement := policy.judge(req, card)) is not None
        ]
        route.candidates.append(_estimate(req, card, output, prefix_cache, {card.ref: unsure}))
    route.unexamined = len(index.cards) - len(examined)
    assert isinstance(req._routing, RoutingContext)
    req._routing.more = more
    return cards


def _card_index(router: Router, catalogs: list[Catalog]) -> CardIndex:
    """The chat cards of ``catalogs`` indexed for shortlisting, built once per fetch."""
    key = tuple(id(c) for c in catalogs)
    cached = router._card_indexes.get(key)
    if cached is not None and all(a is b for a, b in zip(cached[0], catalogs, strict=True)):
        return cached[1]
    chat = [card for catalog in catalogs for card in catalog.models if card.kind == "chat"]
    index = CardIndex(chat)
    with router._card_indexes_lock:  # requests in other threads may miss at the same time
        if len(router._card_indexes) >= 8:
            router._card_indexes.pop(next(iter(router._card_indexes)))
        router._card_indexes[key] = (tuple(catalogs), index)
    return index


def _expected_output(router: Router, req: ChatRequest) -> int:
    """Expected output tokens: the first policy's that states them (capped by the
    request's), else the request's cap, else a default."""
    expected = router.traits.expected_output
    limit = req.output_limit
    if expected is None:
        return limit or DEFAULT_EXPECTED_OUTPUT
    return expected if limit is None else min(limit, expected)


def _estimate(
    req: ChatRequest, card: ModelCard, output: int, prefix_cache: bool, unsure: dict[str, list[str]]
) -> Estimate:
    cost = request_cost(req, card, output, prefix_cache=prefix_cache)
    outlook = req.cache_outlook(card) if prefix_cache else None
    cached = outlook.cached_tokens if outlook else 0
    saved = None
    if outlook is not None and cost is not None and outlook.rule.mode != "none":
        cold = request_cost(req, card, output)
        saved = None if cold is None else cold - cost
    return Estimate(
        card.ref,
        req.prompt_tokens(card),
        output,
        cost,
        tuple(unsure.get(card.ref, ())),
        cached_tokens=cached,
        hit_rate=outlook.hit_rate if outlook and outlook.rule.mode != "none" else None,
        saved=saved,
    )
