"""Budgets: the worst case of a request reserved before it is sent, the exact cost after.

For each request, :meth:`Budgets.for_request` finds the budgets it falls under and the
bucket (key and period) each counts it in. The candidates are screened against a
snapshot of what is left (:meth:`Spending.screen`: ``downgrade`` budgets drop those
whose worst case does not fit, with the reason in the route). What decides is the
reservation before each attempt: the attempt's worst case is reserved atomically in
every bucket (:meth:`Spending.reserve`); when a bucket has no room, a ``reject`` budget
refuses the request (``BudgetExceeded``) and a ``downgrade`` budget moves it on to the
next candidate. After the answer the exact cost replaces the reservation
(:meth:`Spending.settle`); a failed attempt releases it.

Worst case on a deployment = calibrated prompt tokens x the prompt rate of the tier the
prompt falls in (the cache-write rate when higher and the request carries cache
breakpoints) + the output bound x the completion rate. The output bound is the request's
``max_tokens``, else the model's ``max_output_tokens``, else what its context leaves
after the prompt, else :data:`UNBOUNDED_OUTPUT` tokens. An unpriced deployment's worst
case is 0 (nothing is known to charge).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from router.errors import BudgetExceeded
from router.planning.route import Exclusion, Route
from router.state.ledger import Bucket, Hold, Shortfall, SpendLedger, Tally

if TYPE_CHECKING:
    from router.catalog import ModelCard
    from router.config import BudgetConfig
    from router.planning.context import RoutingContext
    from router.types import ChatRequest

__all__ = [
    "UNBOUNDED_OUTPUT",
    "Budgets",
    "SpendRow",
    "Spending",
    "breakpoints_of",
    "period_start",
]

UNBOUNDED_OUTPUT = 4096
"""Completion tokens assumed when neither the request, the model's ``max_output_tokens``
nor its context length bounds the answer."""

_ZERO = Decimal(0)


def period_start(period: str, now: float) -> str:
    """The start of the ``period`` (hour, day, week, month) containing ``now`` (epoch
    seconds), UTC, as ``YYYY-MM-DDTHH:MMZ``; ``total`` for a budget that never resets."""
    if period == "total":
        return "total"
    t = datetime.fromtimestamp(now, UTC).replace(minute=0, second=0, microsecond=0)
    if period != "hour":
        t = t.replace(hour=0)
    if period == "week":
        t -= timedelta(days=t.weekday())  # ISO weeks start on Monday
    elif period == "month":
        t = t.replace(day=1)
    return t.strftime("%Y-%m-%dT%H:%MZ")


def breakpoints_of(context: RoutingContext) -> Callable[[ModelCard], bool]:
    """Whether the request to a card carries prefix-cache breakpoints (``Plan.breakpoints``)."""

    def breakpoints(card: ModelCard) -> bool:
        outlook = context.cache_outlook(card)
        return outlook is not None and outlook.breakpoints

    return breakpoints


class SpendRow:
    """One budget's figures for one key in the current period (``router.spend()``)."""

    __slots__ = ("budget", "key", "left", "limit", "period", "reserved", "since", "spent")

    def __init__(self, config: BudgetConfig, bucket: Bucket, tally: Tally) -> None:
        self.budget = config.name
        """The budget's name."""
        self.key = bucket.key
        """The key counted (user, client key name, metadata value, ``*`` for ``all``)."""
        self.period = config.period
        """hour, day, week, month or total."""
        self.since = bucket.period
        """Start of the current period, UTC (``total`` for a budget that never resets)."""
        self.limit: Decimal = config.limit_usd
        """USD allowed per key and period."""
        self.spent: Decimal = tally.spent
        """USD settled this period."""
        self.reserved: Decimal = tally.reserved
        """USD held by requests in flight."""
        self.left: Decimal = max(_ZERO, config.limit_usd - tally.spent - tally.reserved)
        """USD still free."""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready (USD amounts as decimal strings)."""
        return {
            "budget": self.budget,
            "key": self.key,
            "period": self.period,
            "since": self.since,
            "limit_usd": _plain(self.limit),
            "spent_usd": _plain(self.spent),
            "reserved_usd": _plain(self.reserved),
            "left_usd": _plain(self.left),
        }

    def __repr__(self) -> str:
        return f"SpendRow({self.to_dict()!r})"


class Budgets:
    """The configured budgets over one ledger."""

    def __init__(
        self,
        configs: Sequence[BudgetConfig],
        ledger: SpendLedger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.configs = tuple(configs)
        self.ledger = ledger
        self.clock = clock
        self._by_name = {c.name: c for c in self.configs}

    def for_request(self, request: ChatRequest, client: str | None) -> Spending | None:
        """The budgets ``request`` falls under, or None when it falls under none."""
        now = self.clock()
        applicable = []
        for config in self.configs:
            key = _key_of(config.key, request, client)
            if key is not None:
                bucket = Bucket(config.name, key, period_start(config.period, now))
                applicable.append((config, bucket))
        return Spending(applicable, self.ledger) if applicable else None

    def report(self) -> list[SpendRow]:
        """Every budget's figures per key, for the current periods, budget order then key."""
        now = self.clock()
        current = {c.name: period_start(c.period, now) for c in self.configs}
        rows = [
            SpendRow(self._by_name[bucket.budget], bucket, tally)
            for bucket, tally in self.ledger.buckets().items()
            if current.get(bucket.budget) == bucket.period
        ]
        order = {name: i for i, name in enumerate(current)}
        rows.sort(key=lambda row: (order[row.budget], row.key))
        return rows


def _key_of(kind: str, request: ChatRequest, client: str | None) -> str | None:
    if kind == "all":
        return "*"
    if kind == "user":
        return request.user or None
    if kind == "api_key":
        return client or None
    metadata = request.metadata
    return (metadata.get(kind.partition(".")[2]) or None) if metadata else None


class Spending:
    """One request's budgets: screening its candidates, its reservation, its settlement."""

    def __init__(self, budgets: list[tuple[BudgetConfig, Bucket]], ledger: SpendLedger) -> None:
        self.budgets = budgets
        self.ledger = ledger
        self.holds: tuple[Hold, ...] = ()
        """What the current attempt holds (empty between attempts)."""
        self._needs: dict[str, Decimal] = {}

    def worst_case(self, context: RoutingContext, card: ModelCard, breakpoints: bool) -> Decimal:
        """The most this request can cost on ``card`` (see the module docstring)."""
        need = self._needs.get(card.ref)
        if need is not None:
            return need
        pricing = card.pricing
        if pricing is None:
            need = _ZERO
        else:
            prompt = context.prompt_tokens(card)
            rates = pricing.rates_for(prompt)
            prompt_rate = rates.prompt
            if breakpoints and rates.cache_write is not None:
                prompt_rate = max(prompt_rate, rates.cache_write)
            need = prompt * prompt_rate + _output_bound(context.request, card, prompt) * (
                rates.completion
            )
        self._needs[card.ref] = need
        return need

    def screen(
        self,
        route: Route,
        cards: list[ModelCard],
        context: RoutingContext,
        breakpoints: Callable[[ModelCard], bool],
        *,
        explain: bool = False,
    ) -> list[ModelCard]:
        """``cards`` less those a ``downgrade`` budget has no room for, each in
        ``route.excluded``, from a snapshot of the ledger.

        The snapshot only orders the work: what decides is the atomic reservation before
        each attempt (:meth:`reserve`). So a ``reject`` budget is not screened here, and
        when a ``downgrade`` budget would leave nothing, every card is kept for the
        reservations to decide one by one (a request is never refused on a snapshot
        that a concurrent settlement may have made stale). With ``explain`` every card
        that does not fit is excluded, a ``reject`` budget's with "would be refused".
        """
        budgets = [
            (config, bucket)
            for config, bucket in self.budgets
            if explain or config.on_exceeded == "downgrade"
        ]
        if not budgets:
            return cards
        tallies = self.ledger.tallies([bucket for _, bucket in budgets])
        kept: list[ModelCard] = []
        excluded: list[Exclusion] = []
        for card in cards:
            need = self.worst_case(context, card, breakpoints(card))
            over = [
                (config, bucket, tally)
                for (config, bucket), tally in zip(budgets, tallies, strict=True)
                if tally.spent + tally.reserved + need > config.limit_usd
            ]
            if not over:
                kept.append(card)
                continue
            config, bucket, tally = next((o for o in over if o[0].on_exceeded == "reject"), over[0])
            why = _why(config, bucket, tally, need)
            if config.on_exceeded == "reject":
                why += ": the request would be refused"
            else:
                why += " (on_exceeded: downgrade)"
            excluded.append(Exclusion(card.ref, "budget", why))
        if not kept and not explain:
            return cards  # the reservations decide, atomically
        route.excluded.extend(excluded)
        if len(kept) < len(cards):
            refs = {card.ref for card in kept}
            route.candidates = [c for c in route.candidates if c.ref in refs]
        return kept

    def reserve(
        self, context: RoutingContext, card: ModelCard, breakpoints: bool
    ) -> Shortfall | None:
        """Hold ``card``'s worst case in every bucket, or nothing: None when held; the
        shortfall of a ``downgrade`` budget (the caller moves on); raises
        ``BudgetExceeded`` for a ``reject`` budget."""
        need = self.worst_case(context, card, breakpoints)
        holds = tuple(Hold(bucket, config.limit_usd, need) for config, bucket in self.budgets)
        shortfall = self.ledger.reserve(holds)
        if shortfall is None:
            self.holds = holds
            return None
        config = self.config_of(shortfall)
        if config.on_exceeded == "reject":
            raise self.exceeded(shortfall)
        return shortfall

    def config_of(self, shortfall: Shortfall) -> BudgetConfig:
        name = shortfall.hold.bucket.budget
        return next(config for config, _ in self.budgets if config.name == name)

    def exceeded(self, shortfall: Shortfall) -> BudgetExceeded:
        """The error for a refused reservation."""
        return _exceeded(
            self.config_of(shortfall), shortfall.hold.bucket, shortfall.tally, shortfall.hold.amount
        )

    def why(self, shortfall: Shortfall) -> str:
        """The route's exclusion reason for a refused reservation."""
        config = self.config_of(shortfall)
        why = _why(config, shortfall.hold.bucket, shortfall.tally, shortfall.hold.amount)
        return f"{why} (on_exceeded: downgrade)"

    def settle(self, cost: Decimal | None) -> None:
        """Replace the held worst case by the exact cost (0 when unknown)."""
        holds, self.holds = self.holds, ()
        if holds:
            self.ledger.settle(holds, cost if cost is not None else _ZERO)

    def release(self) -> None:
        """Give the held worst case back (the attempt failed)."""
        holds, self.holds = self.holds, ()
        if holds:
            self.ledger.release(holds)


def _output_bound(request: ChatRequest, card: ModelCard, prompt: int) -> int:
    limit = request.output_limit or card.max_output_tokens
    if limit is not None:
        return limit
    if card.context_length is not None and card.context_length > prompt:
        return card.context_length - prompt
    return UNBOUNDED_OUTPUT


def _exceeded(config: BudgetConfig, bucket: Bucket, tally: Tally, need: Decimal) -> BudgetExceeded:
    return BudgetExceeded(
        config.name,
        bucket.key,
        config.limit_usd,
        tally.spent,
        reserved=tally.reserved,
        needed=need,
        period=config.period,
    )


def _why(config: BudgetConfig, bucket: Bucket, tally: Tally, need: Decimal) -> str:
    left = max(_ZERO, config.limit_usd - tally.spent - tally.reserved)
    return (
        f"worst case ${_plain(need)} over budget {config.name!r} for {bucket.key!r}"
        f" (${_plain(left)} of ${_plain(config.limit_usd)} left)"
    )


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
