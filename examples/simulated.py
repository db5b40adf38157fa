"""Shared by the examples: point ``examples/router.yaml`` at the built-in simulator.

The documented configuration reads every base URL and key from the environment, so
the same file serves the real providers and, here, the simulator on 127.0.0.1.
"""

from __future__ import annotations

import os
from pathlib import Path

from router.testing.simulator import Simulator

CONFIG = Path(__file__).with_name("router.yaml")
"""The documented configuration the examples load."""

ENV_NAMES = {  # simulated kind -> the prefix of its variables in router.yaml
    "pinstripes": "PINSTRIPES",
    "pipellm": "PIPELLM",
    "inference-api": "MAJESTIX",
    "routstr": "ROUTSTR",
    "openrouter": "OPENROUTER",
    "openai": "LOCAL",
}


def point_config_at(sim: Simulator) -> None:
    """Set the environment variables ``router.yaml`` reads to the simulator's URLs and keys."""
    for kind, prefix in ENV_NAMES.items():
        os.environ[f"{prefix}_BASE_URL"] = sim.base_url(kind)
        secret = "ROUTSTR_CASHU_TOKEN" if kind == "routstr" else f"{prefix}_API_KEY"
        os.environ[secret] = sim.api_key(kind)
