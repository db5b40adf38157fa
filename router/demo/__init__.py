"""``router demo``: the router at work on a mixed workload, offline, in a few seconds.

Starts the built-in provider simulator (:mod:`router.testing.simulator`) on 127.0.0.1,
points a router at five simulated providers (pinstripes, PipeLLM, Majestix's inference-api,
Routstr, OpenRouter), and sends a short mixed workload with ``model="auto"``: a plain question,
a tool-calling turn, an image, a ~300k-token document, a six-turn conversation over a
long system prompt (the prefix cache warms up), and an outage of the provider of the
cheapest deployment. The simulated answers are as long as real ones (225-375 tokens,
:data:`ANSWER_LENGTH`), so the router's estimates, which assume 300, land near the bills.
For each request it prints who answered and why: the exact cost beside the estimate, the
top candidates, the notable exclusions, failed attempts and cached tokens.

Then it replays the same requests twice, each on a fresh simulator, to bill two
baselines: every request sent to one flagship model that can serve them all, and
routing by list price alone (``cheapest`` without ``prefix_cache``). The last table
compares the dollars: every figure is billed from the usage the answers reported, as
an exact ``Decimal``.

The workload is data (:func:`workload`); one runner (:func:`run_workload`) sends it for
every strategy. No key, no network: the simulator's keys never reach the output.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from router.demo.narrate import cost_rows, describe, overflows, policy_text, usd
from router.demo.output import catalog_warnings_quiet, writer
from router.demo.runner import (
    ANSWER_LENGTH,
    FLAGSHIP,
    LIST_PRICE,
    PROVIDERS,
    ROUTER,
    SAME_MODEL,
    Run,
    Sent,
    SharedClock,
    Strategy,
    router_config,
    run_workload,
)
from router.demo.workload import Step, Turn, workload
from router.errors import RouterError

__all__ = [
    "ANSWER_LENGTH",
    "FLAGSHIP",
    "LIST_PRICE",
    "PROVIDERS",
    "ROUTER",
    "SAME_MODEL",
    "Run",
    "Sent",
    "SharedClock",
    "Step",
    "Strategy",
    "Turn",
    "router_config",
    "run_demo",
    "run_workload",
    "workload",
]


def run_demo(out: TextIO | None = None, *, seed: int = 7, plain: bool | None = None) -> int:
    """Run the demo and print it to ``out`` (stdout); returns the exit status (0 ok, 1 a
    request failed).

    ``seed`` draws the generated texts; ``plain`` forces plain text (True) or rich (False);
    by default rich is used when ``out`` is a terminal and rich is installed.
    """
    stream = out if out is not None else sys.stdout
    write = writer(stream, plain)
    started = time.perf_counter()
    steps = workload(seed)
    requests = sum(len(step.turns) for step in steps)
    write.line(
        f"router demo: {len(PROVIDERS)} simulated providers on 127.0.0.1"
        f" ({', '.join(PROVIDERS)}); no keys, no network",
        "bold",
    )
    write.line(f'policy: {policy_text(ROUTER)}; fallback: defaults; model="auto"')
    baselines = (SAME_MODEL, LIST_PRICE)
    runs: list[Run] = []
    numbers = {step.key: n for n, step in enumerate(steps, 1)}
    try:
        with (
            catalog_warnings_quiet(),
            write.progress([(s.name, requests) for s in (ROUTER, *baselines)]) as advance,
        ):
            previous: list[Sent] = []

            def start(run: Run) -> None:
                skipped = "".join(f"\n  skipped {entry}" for entry in run.skipped)
                write.line(f"catalogs: {run.deployments} chat deployments{skipped}")

            def show(sent: Sent) -> None:
                last = previous[-1] if previous else None
                for text, style in describe(sent, last, len(steps), numbers[sent.step.key]):
                    write.line(text, style)
                previous.append(sent)
                advance(0, f"router: {sent.step.key}")

            ours = run_workload(ROUTER, steps, on_start=start, on_sent=show)
            runs.append(ours)
            write.line()
            write.line(
                f"baselines: the same {requests} requests, each run on a fresh simulator"
                f" ({ours.outage_provider} down for the same requests)",
                "bold",
            )
            for task, strategy in enumerate(baselines, 1):

                def tick(sent: Sent, task: int = task, name: str = strategy.name) -> None:
                    advance(task, f"{name}: {sent.step.key}")

                run = run_workload(
                    strategy, steps, outage_provider=ours.outage_provider, on_sent=tick
                )
                runs.append(run)
                how = f"policy {policy_text(strategy)}" if strategy.model == "auto" else ""
                write.line(
                    f"  {strategy.name} (model={strategy.model}{', ' + how if how else ''}):"
                    f" {len(run.sent)} requests, {usd(run.total)}"
                )
                for line in overflows(run):
                    write.line(line, "red")
    except RouterError as exc:
        write.line(f"router demo failed: {exc}", "bold red")
        return 1
    write.line()
    header = ["step", *(run.strategy.name for run in runs)]
    write.table(
        "dollars spent (exact, billed from each answer's usage)", header, cost_rows(steps, runs)
    )
    waits = runs[0].waits
    write.line()
    write.line(
        f"{requests} requests x 3 strategies in {time.perf_counter() - started:.1f} s wall time;"
        f" {runs[0].simulated_seconds:.0f} s of simulated time;"
        f" the router's fallback asked for {len(waits)} waits, {sum(waits):.1f} s in all"
        " (recorded, not slept)",
        "dim",
    )
    for text, style in WHAT_NEXT:
        write.line(text, style)
    return 0


WHAT_NEXT: tuple[tuple[str, str], ...] = (
    ("", ""),
    ("What next:", "bold"),
    ("  router sim      keeps these simulated providers running and writes a router.yaml for", ""),
    ("                  them: then try router check, router explain -p 'Hi' and router chat", ""),
    ("                  'Hi' yourself, offline, or point the Python API at the same file", ""),
    ("  README.md       the YAML reference, the policies, and how to write your own plugin", ""),
)
"""The demo's closing lines: where a newcomer goes from here."""
