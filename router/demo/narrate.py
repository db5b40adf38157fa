"""What the demo says about each request: who answered and why, in plain sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from router.demo.runner import Run, Sent, Strategy
from router.demo.workload import Step
from router.planning.route import Estimate
from router.types import TOKENS_PER_IMAGE

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


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _unsure_phrase(reason: str) -> str:
    """``context length unknown`` -> ``does not state its context length``."""
    what = reason.removesuffix(" unknown").removesuffix(" support")
    return (
        f"does not say whether it supports {what}"
        if "support" in reason
        else (f"does not state its {what}")
    )


def _look_ahead(sent: Sent, ref: str) -> Decimal | None:
    """What the look-ahead ranked ``ref`` by, where that differs from its estimate."""
    figure = sent.ranked.get(ref)
    estimate = next((c.cost for c in sent.route.candidates if c.ref == ref), None)
    return figure if figure is not None and figure != estimate else None


def _choice(sent: Sent) -> str:
    """One sentence: why the first candidate is first."""
    route = sent.route
    first = route.candidates[0]
    others = [c for c in route.candidates[1:] if c.cost is not None]
    n = len(route.candidates)
    if first.cost is None:
        return f"first of {n} candidates; none has a published price."
    runner_up = others[0] if others else None
    lead = f"the cheapest of the {_plural(n, 'deployment')} able to serve it"
    ahead = _look_ahead(sent, first.ref)
    if ahead is not None and runner_up is not None:
        second = _look_ahead(sent, runner_up.ref) or runner_up.cost or Decimal(0)
        return (
            f"{lead}, counting this request and the {sent.reuse:g} more expected to reuse its"
            f" prompt: {usd(ahead, 9)} for all, against {usd(second, 9)} at {runner_up.ref}."
        )
    if runner_up is None or runner_up.cost is None:
        return f"{lead}: est. {usd(first.cost, 9)}."
    return (
        f"{lead}: est. {usd(first.cost, 9)}, against {usd(runner_up.cost, 9)} at {runner_up.ref}."
    )


_NEEDED = re.compile(r"~(\d+) tokens needed > (\d+) assumed")

_UNSURE = {  # (for several, for one)
    "context length unknown": (
        "do not state their context length",
        "does not state its context length",
    ),
    "tools support unknown": (
        "do not say whether they can call tools",
        "does not say whether it can call tools",
    ),
    "vision support unknown": (
        "do not say whether they see images",
        "does not say whether it sees images",
    ),
}


def _left_out(sent: Sent, *, catalog: bool) -> list[Line]:
    """What was left out, and what is kept as a last resort, one line each."""
    route = sent.route
    lines: list[Line] = []
    unsure: dict[str, int] = {}
    details: dict[str, str] = {}
    for reason in (u.partition("] ")[2] for c in route.candidates for u in c.unsure):
        # e.g. "context length unknown; ~301171 tokens needed > 8192 assumed"
        what, _, detail = reason.partition(";")
        unsure[what] = unsure.get(what, 0) + 1
        if need := _NEEDED.search(detail):
            details[what] = (
                f" (this request needs ~{int(need[1]):,} tokens, and only {int(need[2]):,}"
                " are assumed)"
            )
    if unsure:
        kept = "; ".join(
            f"{n:,} that {_UNSURE.get(what, (what, what))[n == 1]}{details.get(what, '')}"
            for what, n in unsure.items()
        )
        lines.append((f"     Kept as a last resort: {kept}.", "dim"))
    groups: dict[str, list[tuple[str, str]]] = {}
    for exclusion in route.excluded:
        if exclusion.policy != "catalog" or catalog:
            groups.setdefault(exclusion.policy, []).append((exclusion.ref, exclusion.reason))
    for policy, refs in groups.items():
        style = "yellow" if policy == "cooldown" else "dim"
        examples = ", ".join(f"{ref} ({why})" for ref, why in refs[:2])
        more = f" and {len(refs) - 2} more" if len(refs) > 2 else ""
        lines.append((f"     Left out by {policy}: {examples}{more}.", style))
    return lines


def _estimate(sent: Sent) -> Estimate | None:
    """The chosen deployment's estimate, when it has a price."""
    chosen = next((c for c in sent.route.candidates if c.ref == sent.route.chosen), None)
    return chosen if chosen is not None and chosen.cost is not None else None


_SOURCES = {
    "default": "its default guess",
    "max_tokens": "the request's max_tokens",
}


def _estimate_note(sent: Sent, first: bool) -> Line | None:
    """What the estimate assumed, in one sentence: at the first request of the demo, and
    where the request or its answer is not the kind the estimate assumed (a tool call, a
    small image)."""
    estimate = _estimate(sent)
    if estimate is None:
        return None
    expected = estimate.output_tokens
    if sent.tool_call:
        return (
            f"     The estimate assumed a {expected:,}-token answer, but a tool call is short"
            f" ({_plural(sent.completion_tokens, 'token')}), so the bill is lower.",
            "dim",
        )
    content = sent.turn.content
    images = isinstance(content, list) and any(p.get("type") == "image_url" for p in content)
    if images:
        return (
            f"     The estimate counted the image as {TOKENS_PER_IMAGE} prompt tokens, as for a"
            f" large picture; this small one made the prompt {sent.prompt_tokens:,} tokens in"
            " all.",
            "dim",
        )
    if not first:
        return None
    source = sent.route.output_source
    why = _SOURCES.get(source, source)
    return (
        f"     est. is what the router expected this request to cost before sending it: this"
        f" prompt and a {expected:,}-token answer ({why}) at the listed prices; the bill"
        " counts the answer's real length.",
        "dim",
    )


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
    same_step = previous is not None and previous.step is sent.step
    warm = (
        same_step
        and previous is not None
        and previous.route.chosen == route.chosen
        and sent.cached_tokens > 0
    )
    context = ""
    if sent.prompt_tokens > 100_000:
        context = f" [context {sent.card.context_length or 0:,}]"
    estimate = _estimate(sent)
    est = f" (est. {usd(estimate.cost, 9)})" if estimate and estimate.cost is not None else ""
    lines.append(
        (f"   -> {route.chosen}{context}: {_tokens(sent)} = {usd(sent.cost)}{est}", "green")
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
    if route.attempts:
        providers = sorted({a.ref.partition(":")[0] for a in route.attempts})
        lines.append(
            (
                f"     Why: {' and '.join(providers)} did not answer, so the router moved on"
                f" down the list; {route.chosen} answered.",
                "",
            )
        )
    for ref, left in sent.cooling:
        lines.append(
            (
                f"     {ref} failed {sent.cooldown_after} times in a row: it is left out of"
                f" routing for the next {left:.0f} s.",
                "yellow",
            )
        )
    moved = previous is None or previous.route.chosen != route.chosen
    cooldown = any(e.policy == "cooldown" for e in route.excluded)
    if warm:
        lines.append((_stay(sent), ""))
    elif same_step and moved and sent.step.conversation and previous is not None:
        if not route.attempts:
            lines.append((_switch(sent, previous), ""))
    elif not route.attempts and (sent.index == 0 or cooldown or moved):
        lines.append((f"     Why: {_choice(sent)}", ""))
        lines.extend(_left_out(sent, catalog=previous is None))
    note = _estimate_note(sent, previous is None)
    if note is not None:
        lines.append(note)
    return lines


def _stay(sent: Sent) -> str:
    route = sent.route
    here = next((c for c in route.candidates if c.ref == route.chosen), None)
    other = next((c for c in route.candidates if c.ref != route.chosen and c.cost), None)
    cached = here.cached_tokens if here else 0
    text = f"     Why: it stays, because ~{cached:,} tokens of this prompt are cached there"
    if other is not None and other.cost:
        text += f" (against est. {usd(other.cost, 9)} at {other.ref})"
    return text + "."


def _switch(sent: Sent, previous: Sent) -> str:
    route = sent.route
    old, new = str(previous.route.chosen), str(route.chosen)
    by_ref = {c.ref: c for c in route.candidates}
    stayed, moved = by_ref.get(old), by_ref.get(new)
    if stayed is None or moved is None or stayed.cost is None or moved.cost is None:
        return f"     Why: it moves, because {old} is no longer a candidate."
    old_ahead, new_ahead = _look_ahead(sent, old), _look_ahead(sent, new)
    if moved.cost > stayed.cost and old_ahead is not None and new_ahead is not None:
        why = (
            f"     Why: it moves although {old} is warm, because over this turn and the"
            f" {sent.reuse:g} expected next it costs less here ({usd(new_ahead, 9)} against"
            f" {usd(old_ahead, 9)}; this turn alone: {usd(moved.cost, 9)} against"
            f" {usd(stayed.cost, 9)})"
        )
        rates = (previous.card.pricing, sent.card.pricing)
        if rates[0] is not None and rates[1] is not None:
            old_read, new_read = rates[0].cache_read, rates[1].cache_read
            if new_read is not None and old_read is not None and new_read < old_read:
                why += ": its cached tokens are cheaper to read"
        return why + "."
    return (
        f"     Why: it moves, because it costs less here: est. {usd(moved.cost, 9)}, against"
        f" {usd(stayed.cost, 9)} at {old}."
    )


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
