"""The OpenAI SDK examples run, offline, against the built-in simulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from router.simulator import API_KEYS

EXAMPLES = Path(__file__).parents[1] / "examples"

pytestmark = pytest.mark.wire


def run(script: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for key in API_KEYS.values():  # the simulator's keys are never shown
        assert key not in result.stdout + result.stderr
    return result.stdout


def test_sync_sdk_example():
    out = run("openai_sdk_sync.py")
    assert "answer:   You said: What is the cheapest way to ask this?" in out
    assert "provider: local (local:Qwen/Qwen3-8B)" in out
    assert "answer:   You said: Stream this answer, please." in out
    assert "provider: pinstripes" in out
    assert out.count("cost:") == 2


def test_async_sdk_example():
    out = run("openai_sdk_async.py")
    assert "== 50 concurrent requests" in out
    counts = re.findall(r"^(\S+)\s+(\d+) answers$", out, flags=re.MULTILINE)
    assert sum(int(n) for _, n in counts) == 50
    assert len(counts) >= 2
    (total,) = re.findall(r"^total cost: \$(\S+)$", out, flags=re.MULTILINE)
    assert Decimal(total) > 0
    assert "You said: Stream this one." in out
