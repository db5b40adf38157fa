"""The budgets' spend ledger on Redis: routers of a fleet reserve against one tally."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from router import BudgetExceeded, Router
from router.errors import StateUnavailable
from router.state.redis import SCHEMA
from tests.wire.conftest import FLASH, HELLO, config

pytestmark = pytest.mark.wire


def make(sim, server, limit: str, **state) -> Router:
    block = {"backend": "redis", "url": server.url, "key_prefix": "ledger:", **state}
    budgets = [{"name": "b", "key": "user", "limit_usd": limit}]
    conf = config(sim, "pinstripes", budgets=budgets, state=block)
    router = Router.from_config(conf, sleep=lambda _: None)
    router.models()
    return router


def test_two_routers_keep_one_budget(sim, redis_server):
    a, b = make(sim, redis_server, "0.00002"), make(sim, redis_server, "0.00002")
    try:
        spent = Decimal(0)
        refused = None
        for i in range(100):
            router = (a, b)[i % 2]
            try:
                reply = router.complete(model=FLASH, user="ann", messages=HELLO, max_tokens=20)
            except BudgetExceeded as exc:
                refused = exc
                break
            spent += reply.route.cost
            assert router.state.sync()  # the settle is queued: let it land
        assert refused is not None
        assert spent <= Decimal("0.00002")
        assert refused.spent == spent  # both routers' answers, exactly
        for router in (a, b):
            (ann,) = router.spend()
            assert (ann.key, ann.spent, ann.reserved) == ("ann", spent, 0)
        with redis_server.client() as admin:
            assert admin.scard(f"ledger:{SCHEMA}:ledger") == 1
    finally:
        a.close()
        b.close()


async def test_concurrent_requests_at_two_routers_never_overspend(sim, redis_server):
    a, b = make(sim, redis_server, "0.00005"), make(sim, redis_server, "0.00005")
    answers, refusals = [], 0

    async def one(router: Router) -> None:
        nonlocal refusals
        try:
            answers.append(
                await router.acomplete(model=FLASH, user="bo", messages=HELLO, max_tokens=20)
            )
        except BudgetExceeded:
            refusals += 1

    try:
        await asyncio.gather(*(one((a, b)[i % 2]) for i in range(60)))
        assert refusals > 0
        assert answers
        assert sum(r.route.cost for r in answers) <= Decimal("0.00005")
    finally:
        await a.aclose()
        await b.aclose()


def test_while_redis_is_away_budgets_are_kept_per_process_or_fail(sim, redis_binary):
    from router.testing.redis_server import RedisServer

    server = RedisServer(redis_binary)  # never started
    local = make(sim, server, "0.00002")
    strict = make(sim, server, "0.00002", on_unavailable="fail")
    try:
        reply = local.complete(model=FLASH, user="cy", messages=HELLO, max_tokens=20)
        (cy,) = local.spend()
        assert cy.spent == reply.route.cost  # kept in this process meanwhile
        with pytest.raises(StateUnavailable):
            strict.complete(model=FLASH, user="cy", messages=HELLO, max_tokens=20)
    finally:
        local.close()
        strict.close()
