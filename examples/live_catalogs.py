"""Live price lists from six providers, offline: the router against its built-in simulator.

Starts the provider simulator on 127.0.0.1, points the documented ``examples/router.yaml``
at it through environment variables, and shows what the router reads: every
provider's catalog normalized to USD per token, the cheapest deployments, the
``router check`` report, and a provider outage served from the last good catalog.

    python examples/live_catalogs.py
"""

from __future__ import annotations

import os
from pathlib import Path

from router import Router
from router.cli import main as cli
from router.testing.simulator import Simulator

CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration: it reads every base URL and key from the environment."""


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))


def main() -> None:
    with Simulator() as sim:
        os.environ.update(sim.environ())  # the URLs and keys router.yaml reads

        section("router models --sort price --min-context 200000 (chat models, $ per 1M tokens)")
        cli(["models", "--config", str(CONFIG), "--sort", "price", "--min-context", "200000"])

        section("router check")
        cli(["check", "--config", str(CONFIG)])

        section("the same catalog from Python: the cheapest tool-capable model per provider")
        with Router.from_yaml(CONFIG) as router:
            best: dict[str, tuple[str, str]] = {}
            for card in router.models():
                if card.kind != "chat" or card.pricing is None or not card.supports_tools:
                    continue
                per_mtok = card.pricing.prompt * 1_000_000
                if card.provider not in best or per_mtok < best[card.provider][1]:
                    best[card.provider] = (card.ref, per_mtok)
            for provider, (ref, per_mtok) in best.items():
                print(f"{provider:<12} {ref:<40} ${per_mtok.normalize():f} per 1M prompt tokens")

            section("an outage: pinstripes goes down when its catalog is due for a refresh")
            sim.set_down("pinstripes", True)
            router.providers["pinstripes"].catalog.invalidate()  # as if catalog_ttl had passed
            catalog = router.catalog("pinstripes")
            print(f"stale={catalog.stale}: still {len(catalog.models)} models")
            print(f"because {catalog.error}")


if __name__ == "__main__":
    main()
