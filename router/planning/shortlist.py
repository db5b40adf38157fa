"""The best few candidates of a large catalog, found without judging every entry.

Sending a request needs the candidates in order only as far as the fallback goes: the
first, and the next ones when it fails. For a chain of filters that judge by traits
(:meth:`router.policy.Filter.judge_traits`) and one ranking with a floor
(:meth:`router.policy.Ranking.rank_floor`), whoever wrote them, over many cards,
:func:`shortlist` yields them in exactly the order the whole chain would give, but
examines cards lazily, cheapest-looking first:

- cards are grouped once per catalog by what decides their fate before any arithmetic
  (tools and vision support as stated, whether the context length is known, whether
  they are priced); per request a whole group is excluded, or ranked at a demotion
  level, without looking inside it;
- inside a priced group, cards are sorted once by a lower bound of their cost,
  ``prompt floor + r x completion floor`` (the lowest rates of any tier), for a grid of
  ratios ``r``; a request whose output-to-prompt weight is ``q`` reads the order of the
  grid ratio just below ``q``, where ``prompt tokens x key`` bounds every unread card's
  cost from below (the threshold algorithm);
- a card is judged by the chain's filters and ranked by the ranking policy itself only
  when it is read; it is yielded once no unread card can rank before it.

Deployments with learned state (calibration, warm prefixes, hit rates) are not bound by
the list prices alone: they are judged and priced first, whatever their list price.
:class:`router.planning.plan.Planner` uses this for big catalogs only; ``explain`` always
runs the whole chain and lists every exclusion.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal

from router.catalog import ModelCard, Pricing
from router.planning.context import RoutingContext
from router.planning.lengths import KnownLengths
from router.planning.route import Exclusion, cooldown_exclusion
from router.policy import CardTraits, Filter, Policy, Ranking

__all__ = ["SHORTLIST_MIN_CARDS", "CardIndex", "shortlist", "shortlisted_chain"]

SHORTLIST_MIN_CARDS = 64
"""Below this many candidate cards the whole chain runs: it is as fast, and the route
lists every exclusion."""

# Ratios r of the sorted orders: 0 (prompt floor alone), then 2^-24 .. 2^24, 19% apart.
_GRID = [0.0] + [2.0 ** (j / 4) for j in range(-96, 97)]
_SAFETY = 1 - 1e-9  # float bounds against exact Decimal costs: never yield too early


def _floor(pricing: Pricing, field: str) -> float:
    """The lowest rate of ``field`` across the base and every tier."""
    rates = [getattr(pricing, field)]
    rates.extend(getattr(t, field) for t in pricing.tiers if getattr(t, field) is not None)
    return float(min(rates))


class _Group:
    """Cards that share a fate key, with their cost floors and lazily sorted orders."""

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.prompt: list[float] = []
        self.completion: list[float] = []
        self._orders: dict[int, tuple[list[float], list[int]]] = {}

    def add(self, position: int, card: ModelCard) -> None:
        self.positions.append(position)
        pricing = card.pricing
        if pricing is None:
            return
        # A cache write may be cheaper than a prompt token: the floor takes the lower.
        prompt = _floor(pricing, "prompt")
        if pricing.cache_write is not None:
            prompt = min(prompt, _floor(pricing, "cache_write"))
        self.prompt.append(prompt)
        self.completion.append(_floor(pricing, "completion"))

    def order(self, j: int) -> tuple[list[float], list[int]]:
        """Keys ``prompt + r_j x completion`` ascending, and the positions in that order."""
        if (known := self._orders.get(j)) is None:
            r = _GRID[j]
            keyed = sorted(
                (p + r * c, pos)
                for p, c, pos in zip(self.prompt, self.completion, self.positions, strict=True)
            )
            known = self._orders[j] = ([k for k, _ in keyed], [pos for _, pos in keyed])
        return known


class CardIndex:
    """The chat cards of a set of catalogs, grouped once for :func:`shortlist`; with
    ``lengths``, a card whose context length another catalog states is grouped apart
    (``context_borrowed``): the request's context must lend from the same index."""

    def __init__(self, cards: Sequence[ModelCard], lengths: KnownLengths | None = None) -> None:
        self.cards = list(cards)
        self.lengths = lengths
        self.positions = {card.ref: i for i, card in enumerate(self.cards)}
        self.groups: dict[CardTraits, _Group] = {}
        for i, card in enumerate(self.cards):
            borrowed = lengths is not None and lengths.lend(card) is not None
            traits = CardTraits.of(card, borrowed=borrowed)
            self.groups.setdefault(traits, _Group()).add(i, card)


def _overrides(policy: Policy, base: type, method: str) -> bool:
    return getattr(type(policy), method) is not getattr(base, method)


def shortlisted_chain(policies: Sequence[tuple[str, Policy]]) -> bool:
    """Whether :func:`shortlist` reproduces this chain: filters that judge by traits
    and exactly one ranking with a floor, nothing else."""
    rankings = 0
    for _, policy in policies:
        if isinstance(policy, Filter):
            if not _overrides(policy, Filter, "judge_traits"):
                return False
        elif isinstance(policy, Ranking) and _overrides(policy, Ranking, "rank_floor"):
            rankings += 1
        else:
            return False
    return rankings == 1


def shortlist(
    policies: Sequence[tuple[str, Policy]],
    context: RoutingContext,
    index: CardIndex,
    cooling: Callable[[str], float | None],
    learned: set[str],
    excluded: list[Exclusion],
    examined: set[int],
    *,
    limited: Callable[[ModelCard], Exclusion | None] | None = None,
) -> Iterator[ModelCard]:
    """The candidates of ``index`` for the context's request, best first, examined as
    they are needed (``policies`` pass :func:`shortlisted_chain`).

    ``cooling`` says which deployments cool down; ``learned`` are the refs with learned
    state (judged and ranked first); ``limited`` gives the exclusion of a card out of
    rate-limit budget. Exclusions of the cards examined go to
    ``excluded``; ``examined`` collects their positions.
    """
    req = context.request
    filters = [(name, p) for name, p in policies if isinstance(p, Filter)]
    ranking = next(p for _, p in policies if isinstance(p, Ranking))

    def judge(position: int) -> int | None:
        """The card's demotion level, or None when it is excluded (recorded)."""
        examined.add(position)
        card = index.cards[position]
        if (left := cooling(card.ref)) is not None:
            excluded.append(cooldown_exclusion(card.ref, left))
            return None
        if limited is not None and (exclusion := limited(card)) is not None:
            excluded.append(exclusion)
            return None
        level = 0
        for name, policy in filters:
            judgement = policy.judge(req, card, context)
            if judgement is None:
                continue
            if judgement[0] == "exclude":
                excluded.append(Exclusion(card.ref, name, judgement[1]))
                return None
            level += 1
        return level

    levels: dict[int, list[_Group]] = {}
    for traits, group in index.groups.items():
        level = _group_level(traits, context, filters)
        if level is not None:
            levels.setdefault(level, []).append(group)

    # Cards with learned state first: their cost is not bounded by their list prices.
    early: dict[int, list[tuple[Decimal, int]]] = {}
    for ref in learned:
        position = index.positions.get(ref)
        if position is None or index.cards[position].pricing is None:
            continue  # unpriced cards rank by position alone, learned or not
        if (level := judge(position)) is not None:
            figure = ranking.rank(req, index.cards[position], context)
            assert figure is not None  # priced
            early.setdefault(level, []).append((figure, position))

    # Weights of the bound: figure >= prompt x prompt floor + weight x completion floor.
    prompt, weight = ranking.rank_floor(req, context)
    for level in sorted(levels):
        groups = levels[level]
        priced = [g for g in groups if g.prompt]
        ranked = _by_cost(
            priced,
            prompt,
            weight,
            early.get(level, []),
            lambda pos: judge(pos) is not None,
            lambda pos: ranking.rank(req, index.cards[pos], context),
            examined,
        )
        for position in ranked:
            yield index.cards[position]
        unpriced = heapq.merge(*(g.positions for g in groups if not g.prompt))
        for position in unpriced:
            if position not in examined and judge(position) is not None:
                yield index.cards[position]


def _group_level(
    traits: CardTraits, context: RoutingContext, filters: Sequence[tuple[str, Filter]]
) -> int | None:
    """The demotion level of every card with ``traits`` for ``req``, or None when a
    filter excludes them all (a needed capability stated absent, say)."""
    level = 0
    for _, policy in filters:
        judgement = policy.judge_traits(context.request, traits, context)
        if judgement is not None:
            if judgement[0] == "exclude":
                return None
            level += 1
    return level


def _by_cost(
    groups: list[_Group],
    prompt: int,
    weight: float,
    early: list[tuple[Decimal, int]],
    keep: Callable[[int], object],
    cost: Callable[[int], Decimal | None],
    examined: set[int],
) -> Iterator[int]:
    """Positions in (cost, position) order: the threshold algorithm over ``groups``."""
    # The order of the largest grid ratio r <= q: cost >= prompt x (floor + q x floor)
    # >= prompt x (floor + r x floor) = prompt x key, for every card of the order.
    q = weight / prompt
    j = max(0, min(len(_GRID) - 1, math.floor(math.log2(q) * 4) + 97)) if q > 0 else 0
    r = _GRID[j]
    scale = prompt * (min(1.0, q / r) if r > 0 else 1.0) * _SAFETY
    orders = [g.order(j) for g in groups]
    depth = [0] * len(orders)
    heap = list(early)
    heapq.heapify(heap)
    while True:
        # The lowest cost any unread card can have: the smallest next key of any group.
        bound = math.inf
        which = -1
        for i, (keys, _) in enumerate(orders):
            if depth[i] < len(keys) and keys[depth[i]] < bound:
                bound, which = keys[depth[i]], i
        # Strictly below: an unread card may cost as much and sit earlier (free cards,
        # whose bound the safety factor cannot shrink).
        if heap and (which < 0 or float(heap[0][0]) < bound * scale):
            yield heapq.heappop(heap)[1]
            continue
        if which < 0:
            return
        position = orders[which][1][depth[which]]
        depth[which] += 1
        if position in examined or not keep(position):
            continue
        value = cost(position)
        assert value is not None  # a priced group
        heapq.heappush(heap, (value, position))
