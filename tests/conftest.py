from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from router import hookimpl

# Tests never load plugins installed in the environment, and never go through a proxy:
# every provider is simulated on 127.0.0.1.
os.environ["ROUTER_NO_ENTRY_POINTS"] = "1"
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A plugin that records every observation event."""

    def __init__(self) -> None:
        self.attempts: list = []
        self.results: list = []

    @hookimpl
    def router_on_attempt(self, event):
        self.attempts.append(event)

    @hookimpl
    def router_on_result(self, event):
        self.results.append(event)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def load_bench(name: str) -> ModuleType:
    """The script ``bench/<name>.py`` as a module (bench/ is scripts, not a package),
    registered as ``bench_<name>`` (dataclasses look their module up)."""
    path = Path(__file__).parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
