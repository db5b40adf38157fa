from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from router.testing.redis_server import RedisServer, find_redis_server
from tests.wire.conftest import sim, simulator  # noqa: F401  (the simulator fixtures)


def _binary() -> str:
    binary = find_redis_server()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed: .ci/run installs it (apt-get)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-py is not installed: pip install -e '.[dev]'")
        pytest.skip("redis-py is not installed (pip install 'router[redis]')")
    return binary


@pytest.fixture(scope="session")
def redis_binary() -> str:
    return _binary()


@pytest.fixture(scope="session")
def redis_session(redis_binary: str) -> Iterator[RedisServer]:
    with RedisServer(redis_binary) as server:
        yield server


@pytest.fixture
def redis_server(redis_session: RedisServer) -> Iterator[RedisServer]:
    """The session's redis-server, emptied before each test (restarted if a test killed it)."""
    if redis_session.process is None or redis_session.process.poll() is not None:
        redis_session.start()
    with redis_session.client() as admin:
        admin.flushall()
    yield redis_session
    if redis_session.process is None or redis_session.process.poll() is not None:
        redis_session.start()
    with redis_session.client() as admin:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.config_set("maxmemory", "0")
