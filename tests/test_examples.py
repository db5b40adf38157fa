"""Every example runs, offline, against the built-in simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from router import Router

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.wire
def test_live_catalogs_example_runs():
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "live_catalogs.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "pinstripes:ps/deepseek-v4-flash" in out
    assert "all good" in out
    assert "stale=True: still 11 models" in out
    assert "sk-ps-" not in out + result.stderr  # the simulator's keys never shown


def test_documented_yaml_is_valid(monkeypatch):
    for name in (
        "PINSTRIPES_API_KEY",
        "PIPELLM_API_KEY",
        "MAJESTIX_API_KEY",
        "ROUTSTR_CASHU_TOKEN",
        "OPENROUTER_API_KEY",
    ):
        monkeypatch.setenv(name, "secret")
    router = Router.from_yaml(EXAMPLES / "router.yaml")
    assert list(router.providers) == [
        "pinstripes",
        "pipellm",
        "majestix",
        "routstr",
        "openrouter",
        "local",
    ]
    assert [name for name, _ in router.policies] == [
        "capabilities",
        "context_fit",
        "max_price",
        "cheapest",
    ]
