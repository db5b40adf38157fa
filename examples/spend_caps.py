"""A runaway agent stopped by its budget, every attempt and result seen by a hook, offline.

Starts the provider simulator on 127.0.0.1, reads the documented ``examples/router.yaml``
(pointed at the simulator through environment variables) and adds two budgets: $0.002 a
day per ``user``, refusing what does not fit, and $0.02 a month per ``metadata.project``,
downgrading to candidates that fit. A plugin prints every attempt and tallies every
result. The cheapest provider is rate limited once (the next candidate answers). An
"agent" then asks question after question until its budget refuses the next
one (``BudgetExceeded``, before anything is sent); the spend per budget and key ends it.

    python examples/spend_caps.py
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from router import BudgetExceeded, Router, hookimpl
from router.config import load_yaml
from router.testing.simulator import Reply, Simulator

CONFIG = Path(__file__).with_name("router.yaml")

BUDGETS = [
    {"name": "per-user", "key": "user", "limit_usd": "0.002", "period": "day"},
    {
        "name": "per-project",
        "key": "metadata.project",
        "limit_usd": "0.02",
        "period": "month",
        "on_exceeded": "downgrade",
    },
]


class Ledger:
    """A plugin: prints each attempt, sums each result's exact cost."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.answers = 0

    @hookimpl
    def router_on_attempt(self, event):
        outcome = "ok" if event.ok else f"{event.status} {event.error_kind}"
        print(
            f"  attempt {event.number}: {event.ref:<40} {outcome:<18} {event.latency * 1000:.0f} ms"
        )

    @hookimpl
    def router_on_result(self, event):
        if event.cost is not None:
            self.total += event.cost
            self.answers += 1


def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads
        config = {**load_yaml(CONFIG), "budgets": BUDGETS}
        ledger = Ledger()
        with Router.from_config(config, plugins=[ledger]) as router:
            question = "Summarise the state of the project in detail, please. " * 10
            for turn in range(1, 1000):
                print(f"turn {turn}")
                if turn == 2:  # the cheapest provider is rate limited once: the next one answers
                    sim.script("pipellm", [Reply(429, headers={"Retry-After": "1"})])
                try:
                    router.complete(
                        model="gpt-5-mini",
                        messages=[{"role": "user", "content": question}],
                        max_tokens=400,
                        user="agent-7",
                        metadata={"project": "apollo"},
                    )
                except BudgetExceeded as exc:
                    print(f"  refused: {exc}")
                    break
            print(f"\n{ledger.answers} answers, ${ledger.total} in all (summed by the hook)")
            print("\nbudget       key       spent        reserved  limit   left")
            for row in router.spend():
                print(
                    f"{row.budget:<12} {row.key:<9} ${row.spent:<11} ${row.reserved:<8}"
                    f" ${row.limit:<6} ${row.left}"
                )


if __name__ == "__main__":
    main()
