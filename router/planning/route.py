"""The record of a routing decision: candidates with estimates, exclusions, attempts, cost.

``router.explain(...)`` returns one without sending; every response carries one as
``response.route`` with the attempts made and the exact cost.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from router.errors import Attempt, CatalogError
from router.state.conversations import ConversationOutlook
from router.state.latency import Speed

__all__ = ["Estimate", "Exclusion", "Route", "catalog_exclusion", "cooldown_exclusion"]

_MTOK = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A candidate that passed the policy chain, with this request's expected numbers."""

    ref: str
    prompt_tokens: int
    """Estimated prompt tokens of the request."""
    output_tokens: int
    """Completion tokens expected."""
    cost: Decimal | None
    """Expected USD for this request here; None when the deployment publishes no price."""
    unsure: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    """Why policies placed it where they did (``[policy] reason``), where they say."""
    """Why a policy ranked it after the sure candidates (``tools support unknown``)."""
    cached_tokens: int = 0
    """Prompt tokens its prefix cache is expected to serve (with ``prefix_cache``)."""
    hit_rate: float | None = None
    """The deployment's learned cache hit rate used for ``cached_tokens``."""
    saved: Decimal | None = None
    """USD the expected cache hits save on this request."""
    rank: Decimal | None = None
    """The figure the chain's ranking policy orders by, when it is not ``cost`` (with
    ``expected_reuse``, ``cheapest`` ranks by this request and the later ones)."""
    write_tokens: int = 0
    """Prompt tokens the router's cache breakpoints are expected to write (explicit caching)."""
    write_rate: Decimal | None = None
    """USD per token those writes cost (the one-hour rate for a one-hour cache)."""
    write_ttl: str | None = None
    """The cache lifetime the breakpoints ask for: ``5m`` or ``1h``."""
    rank_unit: str = "$"
    """What ``rank`` counts: ``$`` (USD), or ``s`` (seconds, ``fastest``)."""
    speed: Speed | None = None
    """What the deployment measured (TTFT, tokens/s, latency, p50/p90); None: unmeasured."""
    seconds: float | None = None
    """Expected wall time of this request there (TTFT + output ÷ tokens/s)."""
    context_length: int | None = None
    """The context length a policy judged it by when its own catalog states none: the
    smallest another loaded catalog states for the same model (``context_from``)."""
    context_from: str | None = None
    """The deployment whose catalog states ``context_length``."""


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A deployment left out, by which step and why."""

    ref: str
    policy: str
    """The policy name, or ``catalog`` / ``cooldown`` for the router's own checks."""
    reason: str
    back_in: float | None = field(default=None, compare=False)
    """For a deployment left out only for a while (cooling down, its catalog failing in
    a way that passes): seconds until it may be tried again. None: not for a while."""


def cooldown_exclusion(ref: str, left: float) -> Exclusion:
    """``ref`` left out while it cools down (or another request's probe is out)."""
    return Exclusion(ref, "cooldown", f"cooling down, {math.ceil(left)} s left", back_in=left)


def catalog_exclusion(ref: str, failure: CatalogError, what: str) -> Exclusion:
    """``ref`` left out because its provider's catalog could not be fetched; for a failure
    that may pass, with when to look again (its ``Retry-After``, else a second)."""
    back_in = (failure.retry_after or 1.0) if failure.transient else None
    return Exclusion(ref, "catalog", f"{what}: {failure.problem}", back_in=back_in)


@dataclass(slots=True)
class Route:
    """How a request was (or would be) routed."""

    model: str
    """The ``model`` the caller asked for."""
    candidates: list[Estimate] = field(default_factory=list)
    """In the order they are (or would be) tried."""
    excluded: list[Exclusion] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    """Failed tries, in order (empty for ``explain``)."""
    chosen: str | None = None
    """The deployment that answered."""
    cost: Decimal | None = None
    """Exact USD billed for the answer (``usage.cost``): what the provider states it billed
    when it states it (``cost_stated``), else ``catalog_cost``."""
    catalog_cost: Decimal | None = None
    """USD computed from the live catalog prices and the returned usage, beside what the
    provider states (a divergence over 1% is logged with both figures)."""
    cost_stated: bool = False
    """True when ``cost`` is what the provider stated it billed (OpenRouter's ``usage.cost``,
    Majestix's credits), not the catalog's computation."""
    usage_estimated: bool = False
    """True when the provider returned no token counts and the router estimated them."""
    chain: tuple[str, ...] = ()
    """The policy chain as it ran, each with what it does: ``context_fit (filters)``,
    ``cheapest (orders)``; a policy that may do both says so."""
    output_source: str = "default"
    """Where the candidates' expected output comes from: ``max_tokens``, the option
    that set it (``cheapest.expected_output_tokens``), or ``default``."""
    options: dict[str, Any] | None = None
    """The request's routing options (``router={...}``) as given, when it had any: their
    exclusions are the ``[request]`` ones."""
    matched: list[str] | None = None
    """For a bare model name: every deployment whose canonical name it matched."""
    unexamined: int = 0
    """Cards of a large catalog not judged one by one (a sent request's route is
    shortlisted; ``explain`` judges every card): none ranks before ``candidates``, and
    some may be excluded (a group lacking a needed capability is skipped whole)."""
    waited: float = 0.0
    """Seconds the request waited for capacity to come back (every candidate cooling down,
    a catalog fetch retried), beyond its attempts' own backoff."""
    conversation: ConversationOutlook | None = None
    """For a chain that looks ahead (``expected_reuse``): where the request stands in its
    conversation and how conversations like it go on here (the later requests priced)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (Decimals as strings)."""
        return {
            "model": self.model,
            "options": self.options,
            "matched": self.matched,
            "candidates": [
                {
                    "ref": c.ref,
                    "estimated_prompt_tokens": c.prompt_tokens,
                    "expected_output_tokens": c.output_tokens,
                    "estimated_cost": None if c.cost is None else _plain(c.cost),
                    "unsure": list(c.unsure),
                    "reasons": list(c.reasons),
                    "expected_cached_tokens": c.cached_tokens,
                    "hit_rate": c.hit_rate,
                    "saved": None if c.saved is None else _plain(c.saved),
                    "rank": None if c.rank is None else _plain(c.rank),
                    "expected_write_tokens": c.write_tokens,
                    "write_rate": None if c.write_rate is None else _plain(c.write_rate),
                    "write_ttl": c.write_ttl,
                    "speed": None if c.speed is None else c.speed.to_dict(),
                    "expected_seconds": c.seconds,
                    "context_length": c.context_length,
                    "context_from": c.context_from,
                }
                for c in self.candidates
            ],
            "excluded": [
                {"ref": e.ref, "policy": e.policy, "reason": e.reason} for e in self.excluded
            ],
            "attempts": [
                {"ref": a.ref, "status": a.status, "kind": a.kind, "error": a.error}
                for a in self.attempts
            ],
            "chosen": self.chosen,
            "cost": None if self.cost is None else _plain(self.cost),
            "catalog_cost": None if self.catalog_cost is None else _plain(self.catalog_cost),
            "cost_stated": self.cost_stated,
            "usage_estimated": self.usage_estimated,
            "output_source": self.output_source,
            "chain": list(self.chain),
            "unexamined": self.unexamined,
            "waited": round(self.waited, 3),
            "conversation": None if self.conversation is None else self.conversation.to_dict(),
        }

    def __str__(self) -> str:
        lines = [f"model {self.model!r}: {len(self.candidates)} candidates"]
        if self.chain:
            lines.insert(0, f"chain: {' -> '.join(self.chain)}")
        if self.candidates:
            output = self.candidates[0].output_tokens
            lines[-1] += f" (expected output {output} tokens: {self.output_source})"
        if self.conversation is not None:
            lines.append(f"conversation: {self.conversation.describe()}")
        if self.matched is not None:
            lines.append(f"bare model name: matched {', '.join(self.matched)}")
        if self.options:
            shown = json.dumps(self.options, separators=(", ", ": "))
            lines.append(f"routing options: {shown}")
        for i, c in enumerate(self.candidates, 1):
            cost = "unpriced" if c.cost is None else f"${_plain(c.cost)}"
            unsure = f"  (ranked after: {'; '.join(c.unsure)})" if c.unsure else ""
            if c.reasons:
                unsure += f"  (why: {'; '.join(c.reasons)})"
            cache = ""
            if c.hit_rate is not None:
                saved = f"${_plain(c.saved)}" if c.saved is not None else "?"
                cache = f"  cache ~{c.cached_tokens} tok (hit rate {c.hit_rate:.2f}, saves {saved})"
            rank = ""
            if c.rank is not None:
                figure = _plain(c.rank)
                rank = f", ranks at {figure} s" if c.rank_unit == "s" else f", ranks at ${figure}"
            if c.write_tokens:
                rate = "?" if c.write_rate is None else f"${_plain(c.write_rate * _MTOK)}/1M"
                cache += f"  writes ~{c.write_tokens} tok at {rate} ({c.write_ttl} cache)"
            if c.context_length is not None:
                cache += f"  context {c.context_length:,} (from {c.context_from})"
            lines.append(
                f"  {i}. {c.ref}  ~{c.prompt_tokens} prompt + {c.output_tokens} output tokens"
                f"  est. {cost}{rank}{cache}{unsure}"
            )
            if c.speed is not None:
                seconds = f"~{c.seconds:.2f} s expected; " if c.seconds is not None else ""
                lines.append(f"       speed: {seconds}{c.speed.describe()}")
        if self.unexamined:
            lines.append(
                f"  (+ {self.unexamined} more cards not examined: none ranks before these)"
            )
        if self.excluded:
            lines.append(f"excluded ({len(self.excluded)}):")
            lines.extend(f"  - {e.ref}  [{e.policy}] {e.reason}" for e in self.excluded)
        if self.waited:
            lines.append(f"waited {self.waited:.2f} s for capacity to come back")
        if self.attempts:
            lines.append("failed attempts:")
            lines.extend(f"  - {a}" for a in self.attempts)
        if self.chosen:
            cost = "unknown" if self.cost is None else f"${_plain(self.cost)}"
            estimated = " (usage estimated)" if self.usage_estimated else ""
            stated = ""
            if self.cost_stated:
                computed = "none" if self.catalog_cost is None else f"${_plain(self.catalog_cost)}"
                stated = f" (stated by the provider; catalog prices: {computed})"
            lines.append(f"answered by {self.chosen}, cost {cost}{stated}{estimated}")
        return "\n".join(lines)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
