from __future__ import annotations

import os

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
