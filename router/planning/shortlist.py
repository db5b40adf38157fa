"""The best few candidates of a large catalog, found without judging every entry.

Sending a request needs the candidates in order only as far as the fallback goes: the
first, and the next ones when it fails. For the built-in chain (``capabilities``,
``context_fit``, ``max_price`` and one ``cheapest``) over many cards, :func:`shortlist`
yields them in exactly the order the whole chain would give, but examines cards lazily,
cheapest-looking first:

- cards are grouped once per catalog by what decides their fate before any arithmetic
  (tools and vision support as stated, whether the context length is known, whether
  they are priced); per request a whole group is excluded, or ranked at a demotion
  level, without looking inside it;
- inside a priced group, cards are sorted once by a lower bound of their cost,
  ``prompt floor + r x completion floor`` (the lowest rates of any tier), for a grid of
  ratios ``r``; a request whose output-to-prompt weight is ``q`` reads the order of the
  grid ratio just below ``q``, where ``prompt tokens x key`` bounds every unread card's
  cost from below (the threshold algorithm);
- a card is judged by the chain's filters and priced by ``cheapest`` itself only when
  it is read; it is yielded once no unread card can rank before it.

Deployments with learned state (calibration, warm prefixes, hit rates) are not bound by
the list prices alone: they are judged and priced first, whatever their list price.
:func:`router.planning.plan.plan_route` uses this for big catalogs only; ``explain`` always
runs the whole chain and lists every exclusion.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from policies.capabilities import Capabilities
from policies.cheapest import Cheapest
from policies.context_fit import ContextFit
from policies.max_price import MaxPrice
from router.catalog import ModelCard, Pricing
from router.planning.route import Exclusion
from router.policy import Filter, Policy
from router.types import ChatRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["SHORTLIST_MIN_CARDS", "CardIndex", "shortlist", "shortlisted_chain"]

SHORTLIST_MIN_CARDS = 64
"""Below this many candidate cards the whole chain runs: it is as fast, and the route
lists every exclusion."""

# Ratios r of the sorted orders: 0 (prompt floor alone), then 2^-24 .. 2^24, 19% apart.
_GRID = [0.0] + [2.0 ** (j / 4) for j in range(-96, 97)]
_SAFETY = 1 - 1e-9  # float bounds against exact Decimal costs: never yield too early

_UNPRICED = ModelCard(provider="-", id="-")

# (supports_tools, supports_vision, context length unknown, priced)
_Key = tuple[bool | None, bool | None, bool, bool]


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
    """The chat cards of a set of catalogs, grouped once for :func:`shortlist`."""

    def __init__(self, cards: Sequence[ModelCard]) -> None:
        self.cards = list(cards)
        self.positions = {card.ref: i for i, card in enumerate(self.cards)}
        self.groups: dict[_Key, _Group] = {}
        for i, card in enumerate(self.cards):
            key = (
                card.supports_tools,
                card.supports_vision,
                card.context_length is None,
                card.pricing is not None,
            )
            self.groups.setdefault(key, _Group()).add(i, card)


def shortlisted_chain(policies: Sequence[tuple[str, Policy]]) -> bool:
    """Whether :func:`shortlist` reproduces this chain: built-in policies only, exactly
    one ``cheapest`` (a subclass may judge or price differently, so it does not count)."""
    known = (Capabilities, ContextFit, MaxPrice, Cheapest)
    kinds = [type(policy) for _, policy in policies]
    return all(kind in known for kind in kinds) and kinds.count(Cheapest) == 1


def shortlist(
    router: Router,
    req: ChatRequest,
    index: CardIndex,
    learned: set[str],
    excluded: list[Exclusion],
    examined: set[int],
) -> Iterator[ModelCard]:
    """The candidates of ``index`` for ``req``, best first, examined as they are needed.

    ``learned`` are the refs with learned state (judged and priced first). Exclusions of
    the cards examined go to ``excluded``; ``examined`` collects their positions.
    """
    filters = [(name, p) for name, p in router.policies if isinstance(p, Filter)]
    cheapest = next(p for _, p in router.policies if isinstance(p, Cheapest))
    output = cheapest.output_tokens(req)
    cooling = router.cooldowns.cooling

    def judge(position: int) -> int | None:
        """The card's demotion level, or None when it is excluded (recorded)."""
        examined.add(position)
        card = index.cards[position]
        if (left := cooling(card.ref)) is not None:
            excluded.append(Exclusion(card.ref, "cooldown", f"cooling down, {left:.0f} s left"))
            return None
        level = 0
        for name, policy in filters:
            judgement = policy.judge(req, card)
            if judgement is None:
                continue
            if judgement[0] == "exclude":
                excluded.append(Exclusion(card.ref, name, judgement[1]))
                return None
            level += 1
        return level

    levels: dict[int, list[_Group]] = {}
    for key, group in index.groups.items():
        level = _group_level(key, req, router.policies)
        if level is not None:
            levels.setdefault(level, []).append(group)

    # Cards with learned state first: their cost is not bounded by their list prices.
    early: dict[int, list[tuple[Decimal, int]]] = {}
    for ref in learned:
        position = index.positions.get(ref)
        if position is None or index.cards[position].pricing is None:
            continue  # unpriced cards rank by position alone, learned or not
        if (level := judge(position)) is not None:
            cost = cheapest.cost(req, index.cards[position], output)
            assert cost is not None  # priced
            early.setdefault(level, []).append((cost, position))

    # Weights of the bound: cost >= prompt x floor + (1 + reuse) x output x floor.
    prompt = max(1, req.estimated_prompt_tokens)
    reuse = cheapest.expected_reuse if cheapest.prefix_cache else Decimal(0)
    weight = float((1 + reuse) * output)
    for level in sorted(levels):
        groups = levels[level]
        priced = [g for g in groups if g.prompt]
        ranked = _by_cost(
            priced,
            prompt,
            weight,
            early.get(level, []),
            lambda pos: judge(pos) is not None,
            lambda pos: cheapest.cost(req, index.cards[pos], output),
            examined,
        )
        for position in ranked:
            yield index.cards[position]
        unpriced = heapq.merge(*(g.positions for g in groups if not g.prompt))
        for position in unpriced:
            if position not in examined and judge(position) is not None:
                yield index.cards[position]


def _group_level(key: _Key, req: ChatRequest, policies: Sequence[tuple[str, Policy]]) -> int | None:
    """The demotion level of every card of a group for ``req``, or None when the chain
    excludes the whole group (a needed capability stated absent, say)."""
    tools, vision, context_unknown, priced = key
    level = 0
    for _, policy in policies:
        if isinstance(policy, Capabilities):
            needs = [(req.needs_tools, tools), (req.needs_vision, vision)]
            if any(needed and has is False for needed, has in needs):
                return None
            if any(needed and has is None for needed, has in needs):
                if policy.unknown == "exclude":
                    return None
                level += 1
        elif isinstance(policy, ContextFit) and context_unknown:
            if policy.unknown == "exclude":
                return None
            level += 1
        elif isinstance(policy, MaxPrice) and not priced and policy.judge(req, _UNPRICED):
            return None  # a cap is set: an unpriced card cannot be shown to be under it
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
