from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from router.testing.simulator import Simulator

KINDS = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter", "openai")

# What many wire tests send: a short user turn, a chat-completions tool, the flash group.
HELLO = [{"role": "user", "content": "hello there router"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
FLASH = "pinstripes:ps/deepseek-v4-flash"
GROUPS = {"flash": [FLASH, "routstr:deepseek/deepseek-v4-flash"]}


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


@pytest.fixture
def sim(simulator: Simulator) -> Iterator[Simulator]:
    """The session's simulator, reset before and after each test."""
    simulator.reset()
    yield simulator
    simulator.reset()


def provider_conf(sim: Simulator, kind: str, **options: Any) -> dict[str, Any]:
    """A provider block pointing at the simulated ``kind``, named after it."""
    (block,) = sim.config(kind)["providers"]
    return {**block, **options}


def config(sim: Simulator, *kinds: str, **top: Any) -> dict[str, Any]:
    """A router config with one simulated provider per kind (all six by default)."""
    return sim.config(*(kinds or KINDS), **top)
