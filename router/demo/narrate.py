"""What the demo says about each request: who answered and why, in plain sentences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal

from router.demo.runner import Run, Sent, Strategy
from router.demo.workload import Step
from router.planning.route import Estimate

__all__ = ["Line", "cost_rows", "describe", "overflows", "policy_text", "usd"]

Line = tuple[str, str]
"""A line of output and its rich style (ignored in plain text)."""


def usd(value: Decimal, places: int | None = None) -> str:
    """``$`` and the amount in plain notation: exact, or rounded to ``places`` decimals."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    text = format(value.normalize(), "f")
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


def _short(text: str, limit: int = 72) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tokens(sent: Sent) -> str:
    cached = f" ({sent.cached_tokens:,} cached)" if sent.cached_tokens else " (0 cached)"
    return f"{sent.prompt_tokens:,} prompt{cached} + {sent.completion_tokens:,} completion tokens"


def _candidate(i: int, estimate: Estimate, sent: Sent, width: int) -> str:
    cost = "unpriced" if estimate.cost is None else usd(estimate.cost, 9)
    extra = ""
    if estimate.cached_tokens:
        extra += f", cache ~{estimate.cached_tokens:,} tok"
    figure = sent.ranked.get(estimate.ref)
    if figure is not None and figure != estimate.cost:
        extra += f", ranked as {usd(figure, 9)} counting {sent.reuse:g} later turns"
    if estimate.unsure:
        extra += ", tried last: " + "; ".join(u.partition("] ")[2] for u in estimate.unsure)
    mark = "  <- answered" if estimate.ref == sent.route.chosen else ""
    return f"       {i}. {estimate.ref:<{width}} est. {cost}{extra}{mark}"


def _why(sent: Sent, *, catalog: bool) -> list[Line]:
    """The decision: top candidates, what was ranked last, the notable exclusions."""
    route = sent.route
    lines: list[Line] = []
    sure = [c for c in route.candidates if not c.unsure]
    shown = sure[:3] or route.candidates[:3]
    if route.chosen not in {c.ref for c in shown}:
        shown += [c for c in route.candidates if c.ref == route.chosen]
    lines.append((f"     why: {len(route.candidates)} candidates, in the order tried:", "dim"))
    width = max(len(c.ref) for c in shown)
    lines.extend((_candidate(route.candidates.index(c) + 1, c, sent, width), "dim") for c in shown)
    unsure = Counter(u.partition("] ")[2] for c in route.candidates for u in c.unsure)
    if unsure:
        ranked = "; ".join(f"{why} ({n})" for why, n in unsure.items())
        lines.append((f"     ranked after the sure ones: {ranked}", "dim"))
    groups: dict[str, list[str]] = {}
    for exclusion in route.excluded:
        if exclusion.policy != "catalog" or catalog:
            groups.setdefault(exclusion.policy, []).append(f"{exclusion.ref} ({exclusion.reason})")
    for policy, refs in groups.items():
        more = f", +{len(refs) - 2} more" if len(refs) > 2 else ""
        style = "yellow" if policy == "cooldown" else "dim"
        lines.append(
            (f"     excluded by {policy} ({len(refs)}): {', '.join(refs[:2])}{more}", style)
        )
    return lines


def describe(sent: Sent, previous: Sent | None, total_steps: int, number: int) -> list[Line]:
    """The lines that tell what happened to one request (and the step's header first)."""
    lines: list[Line] = []
    route = sent.route
    if sent.index == 0:
        lines.append(("", ""))
        lines.append((f"[{number}/{total_steps}] {sent.step.title}", "bold"))
    if sent.event:
        lines.append((f"   ! {sent.event}", "bold yellow"))
    lines.append((f"   > {_short(sent.turn.label)}", ""))
    lines.extend((f"     x failed: {attempt}", "red") for attempt in route.attempts)
    warm = (
        previous is not None
        and previous.step is sent.step
        and previous.route.chosen == route.chosen
        and sent.cached_tokens > 0
    )
    note = "  (stays warm)" if warm else ""
    context = ""
    if sent.prompt_tokens > 100_000:
        context = f" [context {sent.card.context_length or 0:,}]"
    lines.append(
        (f"   -> {route.chosen}{context}: {_tokens(sent)} = {usd(sent.cost)}{note}", "green")
    )
    lines.append((f"      answer: {_short(sent.answer, 66)}", "dim"))
    limit = sent.card.context_length
    if limit is not None and sent.prompt_tokens > limit:
        lines.append(
            (
                f"     (!) {sent.prompt_tokens:,} prompt tokens exceed its context of {limit:,}",
                "red",
            )
        )
    for ref, left in sent.cooling:
        lines.append(
            (
                f"     {ref}: {sent.cooldown_after} failures in a row,"
                f" cooling down for {left:.0f} s",
                "yellow",
            )
        )
    rerouted = previous is None or previous.route.chosen != route.chosen
    cooldown = any(e.policy == "cooldown" for e in route.excluded)
    if sent.index == 0 or cooldown or (rerouted and not route.attempts):
        lines.extend(_why(sent, catalog=previous is None))
    elif warm:
        costs = [(c.ref, c.cost, c.cached_tokens) for c in route.candidates if c.cost is not None]
        here = [(cost, cached) for ref, cost, cached in costs if ref == route.chosen]
        elsewhere = [(ref, cost) for ref, cost, _ in costs if ref != route.chosen]
        if here and elsewhere:
            (cost, cached), (other, other_cost) = here[0], elsewhere[0]
            lines.append(
                (
                    f"     est. {usd(cost, 9)} here with ~{cached:,} cached"
                    f" vs {usd(other_cost, 9)} at {other}",
                    "dim",
                )
            )
    return lines


def policy_text(strategy: Strategy) -> str:
    parts = []
    for item in strategy.policy:
        if isinstance(item, str):
            parts.append(item)
        else:
            for name, options in item.items():
                opts = ", ".join(f"{k}: {str(v).lower()}" for k, v in options.items())
                parts.append(f"{name} {{{opts}}}")
    return " -> ".join(parts)


def overflows(run: Run) -> list[str]:
    """Requests of ``run`` answered by a deployment whose context is smaller than the prompt
    (the simulator does not refuse them; a real provider would)."""
    return [
        f"    (!) {sent.step.key}: {sent.prompt_tokens:,} prompt tokens sent to"
        f" {sent.route.chosen}, context {sent.card.context_length:,}"
        for sent in run.sent
        if sent.card.context_length is not None and sent.prompt_tokens > sent.card.context_length
    ]


def cost_rows(steps: Sequence[Step], runs: Sequence[Run]) -> list[list[str]]:
    ours = runs[0]
    rows = [
        [f"{n}. {step.key}", *(usd(run.step_cost(step.key)) for run in runs)]
        for n, step in enumerate(steps, 1)
    ]
    rows.append(["total", *(usd(run.total) for run in runs)])
    saves = ["router saves", "-"]
    for run in runs[1:]:
        share = (run.total - ours.total) / run.total * 100 if run.total else Decimal(0)
        saves.append(f"{share:.1f}%")
    rows.append(saves)
    return rows
