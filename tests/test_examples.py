"""Every example runs, offline, against the built-in simulator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from router import Router
from router.testing.simulator import API_KEYS

EXAMPLES = Path(__file__).parents[1] / "examples"


def run(script: str, cwd: Path = EXAMPLES.parent) -> str:
    """Run an example as a user would (from the repository's root unless ``cwd`` says
    otherwise), with no provider variables set; its output."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for key in API_KEYS.values():  # the simulator's keys are never shown
        assert key not in result.stdout + result.stderr
    return result.stdout


@pytest.mark.wire
def test_live_catalogs_example_runs():
    out = run("live_catalogs.py")
    assert "pinstripes:ps/deepseek-v4-flash" in out
    assert "all good" in out
    assert "stale=True: still 11 models" in out


@pytest.mark.wire
@pytest.mark.parametrize("where", ["examples", "elsewhere"])
def test_examples_run_from_any_directory(where, tmp_path):
    out = run("openai_sdk_sync.py", cwd=EXAMPLES if where == "examples" else tmp_path)
    assert "provider: local (local:Qwen/Qwen3-8B)" in out


def test_examples_import_nothing_from_each_other():
    for script in EXAMPLES.glob("*.py"):
        text = script.read_text()
        assert "from simulated import" not in text, script.name
        if "Simulator()" in text:
            assert "sim.environ()" in text, script.name


@pytest.mark.wire
def test_sync_sdk_example():
    out = run("openai_sdk_sync.py")
    assert "answer:   You said: What is the cheapest way to ask this?" in out
    assert "provider: local (local:Qwen/Qwen3-8B)" in out
    assert "answer:   You said: Stream this answer, please." in out
    assert "provider: pinstripes" in out
    assert out.count("cost:") == 2


@pytest.mark.wire
def test_async_sdk_example():
    out = run("openai_sdk_async.py")
    assert "== 50 concurrent requests" in out
    counts = re.findall(r"^(\S+)\s+(\d+) answers$", out, flags=re.MULTILINE)
    assert sum(int(n) for _, n in counts) == 50
    assert len(counts) >= 2
    (total,) = re.findall(r"^total cost: \$(\S+)$", out, flags=re.MULTILINE)
    assert Decimal(total) > 0
    assert "You said: Stream this one." in out


@pytest.mark.wire
def test_langchain_agent_loop_example_runs():
    lines = run("langchain_agent.py").splitlines()
    assert lines[0].startswith("step 1: served by ")
    assert any(line.startswith("  tool lookup(") for line in lines)
    assert lines[-2].startswith("answer: Tool said: the notes say")
    assert lines[-1].startswith("spent: $0.0000")


@pytest.mark.wire
def test_agents_sdk_example_runs_both_models():
    out = run("agents_sdk.py")
    runs = out.split("== ")[1:]
    assert [r.splitlines()[0] for r in runs] == [
        "Agent(model='auto'): the Responses API",
        "OpenAIChatCompletionsModel('deepseek-v4-flash')",
    ]
    for text, path in zip(runs, ("/v1/responses", "/v1/chat/completions"), strict=True):
        calls = re.findall(r"^  model call: POST (\S+) -> (\S+) \$(\S+)$", text, flags=re.MULTILINE)
        assert len(calls) == 2  # the tool call, then the answer from the tool's result
        assert {p for p, _, _ in calls} == {path}
        assert "  answer: Tool said: the notes say" in text
        (spent,) = re.findall(r"^  spent: \$(\S+)$", text, flags=re.MULTILINE)
        assert Decimal(spent) == sum(Decimal(cost) for _, _, cost in calls) > 0


@pytest.mark.wire
def test_pydantic_ai_example_runs():
    out = run("pydantic_ai_agent.py")
    calls = re.findall(r"^model call: (\S+) \$(\S+)$", out, flags=re.MULTILINE)
    assert len(calls) == 2
    # require: [tools] and max_price 1 $/1M left only deployments known to take tools
    assert all(ref.startswith(("openrouter:", "inference-api:")) for ref, _ in calls)
    assert "answer: Tool said: the notes say" in out
    (spent,) = re.findall(r"^spent: \$(\S+)$", out, flags=re.MULTILINE)
    assert Decimal(spent) == sum(Decimal(cost) for _, cost in calls) > 0


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


@pytest.mark.slow
def test_policy_plugin_package_installs_and_is_found_through_its_entry_point(tmp_path):
    plugin = tmp_path / "policy_plugin"  # a copy: building leaves build/ and egg-info behind
    shutil.copytree(
        EXAMPLES / "policy_plugin", plugin, ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(plugin),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_NO_ENTRY_POINTS"}
    env["PYTHONPATH"] = str(target)
    probe = (
        "from router import Router\n"
        "r = Router.from_config({'providers': [{'name': 'p', 'kind': 'openai',"
        " 'base_url': 'http://127.0.0.1:9/v1'}], 'policy': [{'budget': {'max_usd': 0.01}}]})\n"
        "print(type(r.policies[0][1]).__module__)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "router_budget"
    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin / "tests")],
        capture_output=True,
        text=True,
        env=env,
        cwd=plugin,
        timeout=120,
        check=False,
    )
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    assert "3 passed" in own_tests.stdout


@pytest.mark.wire
def test_spend_caps_example_stops_the_agent_at_its_budget():
    out = run("spend_caps.py")
    assert "429 RateLimited" in out  # the hook saw the failed attempt
    assert "refused: budget 'per-user' for 'agent-7'" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("per-user ")]
    ((_, key, spent, reserved, limit, left),) = rows
    assert (key, reserved, limit) == ("agent-7", "$0", "$0.002")
    assert Decimal(spent[1:]) + Decimal(left[1:]) == Decimal("0.002")
    total = re.search(r"\$([0-9.]+) in all \(summed by the hook\)", out)
    assert total is not None
    assert Decimal(total.group(1)) == Decimal(spent[1:])
