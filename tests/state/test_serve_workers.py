"""``router serve --workers N``: N processes on one port, sharing the state on Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from router import Router
from router.testing.redis_server import free_port
from tests.state.test_redis_state import CHEAPEST, GROUP, PIN
from tests.wire.conftest import config

pytestmark = [pytest.mark.wire, pytest.mark.slow]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_workers_share_the_state(sim, redis_server, tmp_path):
    conf = config(sim, "pinstripes", "openrouter", models=GROUP, policy=CHEAPEST)
    conf["state"] = {"backend": "redis", "url": "${TEST_REDIS_URL}", "key_prefix": "serve:"}
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    port = free_port()
    env = {**os.environ, "TEST_REDIS_URL": redis_server.url, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "router", "serve", "-c", str(path), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            try:
                workers = _children(process.pid)
                if len(workers) >= 3 and httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.2)
        assert len(workers) >= 3, process.stdout.read1().decode() if process.stdout else ""
        # Each worker attached to the shared state (a pub/sub connection and a command
        # connection each) ...
        assert _wait(lambda: redis_server.router_clients() >= 2 * 3)
        # ... so a cooldown decided by another member of the fleet (this process) is
        # honoured by whichever worker answers.
        member = Router.from_config({**conf, "state": {**conf["state"], "url": redis_server.url}})
        try:
            member.cooldowns.hold(PIN, 60)
            assert member.state.sync()
        finally:
            member.close()
        time.sleep(0.3)  # pub/sub delivery to the workers: a few ms
        body = {"model": "flash", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(12):
            with httpx.Client() as client:  # a new connection each time
                answer = client.post(f"{base}/v1/chat/completions", json=body, timeout=10)
            assert answer.status_code == 200
            assert answer.headers["x-router-provider"] == "openrouter", _output(process)
        assert not [r for r in sim.requests("pinstripes") if r.method == "POST"]
        with redis_server.client() as admin:
            assert admin.hexists("serve:v1:until", PIN)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stdout:
            process.stdout.close()


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _output(process: subprocess.Popen[bytes]) -> str:
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=20)
    return out.decode(errors="replace")[-3000:]


def test_workers_must_be_at_least_one(sim, tmp_path):
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(config(sim, "pinstripes")))
    done = subprocess.run(
        [sys.executable, "-m", "router", "serve", "-c", str(path), "--workers", "0"],
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--workers 0" in done.stderr
