"""Four router processes over one Redis decide as one."""

from __future__ import annotations

import pytest

from bench.fleet import Fleet
from router.testing.simulator import Reply
from tests.state.test_redis_state import CHEAPEST, GROUP, OPEN, PIN, SYSTEM
from tests.wire.conftest import config

pytestmark = [pytest.mark.wire, pytest.mark.slow]


def test_four_processes_share_cooldowns_and_warm_caches(sim, redis_server):
    block = {"backend": "redis", "url": redis_server.url, "key_prefix": "fleet:"}
    conf = config(sim, "pinstripes", "openrouter", models=GROUP, policy=CHEAPEST, state=block)
    with Fleet(conf, 4, fake_clock=False) as fleet:
        # Process 0 learns that pinstripes is rate limited for 30 s ...
        sim.script("pinstripes", [Reply(429, headers={"Retry-After": "30"})])
        first = fleet.complete(0, {"model": "flash", "messages": [SYSTEM, _user("t0")]})
        assert first["provider"] == "openrouter"
        assert first["tried"] == [PIN]
        fleet.sync()
        # ... and no other process tries it.
        for i in (1, 2, 3):  # (no waiting: the sync made it visible)
            assert fleet.ask(i, "wait_cooling", PIN, 0.0)["seen"], i
        # One conversation, its turns dealt round-robin: every later turn finds the cache
        # its earlier turns warmed, at another process.
        history = [SYSTEM, _user("t0"), {"role": "assistant", "content": first["content"]}]
        for turn in range(1, 8):
            i = turn % 4
            history.append(_user(f"t{turn}"))
            answer = fleet.complete(i, {"model": "flash", "messages": history})
            assert answer["provider"] == "openrouter", answer
            assert answer["tried"] == []
            assert answer["cached"] > 2000, (turn, answer)
            history.append({"role": "assistant", "content": answer["content"]})
            fleet.sync()
    with redis_server.client() as admin:
        assert admin.zcard(f"fleet:v1:pfx:{OPEN}") > 0


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}
