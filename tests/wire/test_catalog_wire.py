"""Live catalogs over real HTTP against the provider simulator on 127.0.0.1."""

from __future__ import annotations

import asyncio
import copy
import logging
import socket
import threading
from decimal import Decimal

import pytest

from router import CatalogError, Router
from router.testing.simulator import CATALOGS, Reply
from tests.wire.conftest import KINDS, config, provider_conf

pytestmark = pytest.mark.wire


# -- every provider, its auth header, its catalog ------------------------------------

AUTH = {
    "pinstripes": ("authorization", "Bearer {key}"),
    "pipellm": ("x-api-key", "{key}"),
    "inference-api": ("x-api-key", "{key}"),  # sent as X-Api-Key; header names are case-blind
    "routstr": ("authorization", "Bearer {key}"),
    "openrouter": ("authorization", "Bearer {key}"),
    "openai": ("authorization", "Bearer {key}"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_provider_fetches_its_catalog_with_its_auth_header(sim, kind):
    with Router.from_config(config(sim, kind)) as router:
        catalog = router.catalog(kind)
    assert catalog.models
    assert not catalog.stale
    assert {card.provider for card in catalog.models} == {kind}
    (request,) = sim.requests(kind)
    header, shape = AUTH[kind]
    assert request.method == "GET"
    assert request.headers[header] == shape.format(key=sim.api_key(kind))


def test_routstr_sends_the_cashu_token_as_bearer(sim):
    assert sim.api_key("routstr").startswith("cashuA")
    with Router.from_config(config(sim, "routstr")) as router:
        router.catalog("routstr")
    assert sim.requests("routstr")[0].headers["authorization"] == f"Bearer {sim.api_key('routstr')}"


def test_seed_catalog_prices_arrive_exact(sim):
    with Router.from_config(config(sim, "pinstripes", "inference-api", "routstr")) as router:
        cards = {card.ref: card for card in router.models()}
    flash = cards["pinstripes:ps/deepseek-v4-flash"].pricing
    assert flash is not None
    assert (flash.prompt, flash.completion, flash.cache_read) == (
        Decimal("0.000000087"),
        Decimal("0.000000173"),
        Decimal("0.00000005"),
    )
    gpt4 = cards["routstr:gpt-4"].pricing  # seed 004: $0.03 per 1k tokens
    assert gpt4 is not None
    assert gpt4.prompt == Decimal("0.00003")
    majestix = [c for c in cards.values() if c.provider == "inference-api"]
    raw = {m["id"]: m for m in CATALOGS["inference-api"]["models"]}  # type: ignore[index]
    for card in majestix:
        assert card.pricing is not None
        credits = Decimal(str(raw[card.id]["cost_per_1k_input"]))
        assert card.pricing.prompt == credits * Decimal("0.001") / 1000


def test_async_fetches_every_provider_concurrently(sim):
    async def main():
        async with Router.from_config(config(sim)) as router:
            return await router.amodels()

    models = asyncio.run(main())
    assert {card.provider for card in models} == set(KINDS)
    assert all(len(sim.requests(kind)) == 1 for kind in KINDS)


# -- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_key_is_a_catalog_error_401_without_the_key(sim, kind):
    wrong = "sk-wrong-but-still-secret-77"
    conf = config(sim)
    conf["providers"] = [provider_conf(sim, kind, api_key=wrong)]
    with Router.from_config(conf) as router, pytest.raises(CatalogError) as info:
        router.catalog(kind)
    assert info.value.status == 401
    assert info.value.provider == kind
    assert kind in str(info.value)
    assert wrong not in str(info.value)


@pytest.mark.parametrize(
    ("reply", "status", "fragment"),
    [
        (Reply(500), 500, "HTTP 500"),
        (Reply(200, body=b"<html><body>Service Unavailable</body></html>"), 200, "not JSON"),
        (Reply(200, body=b""), 200, "not JSON"),
        (Reply(200, json={"object": "list"}), 200, "'data' list"),
        (Reply(403, json={"error": {"message": "out of credits"}}), 403, "out of credits"),
    ],
)
def test_unusable_catalog_is_a_catalog_error(sim, reply, status, fragment):
    sim.script("pinstripes", [reply])
    with (
        Router.from_config(config(sim, "pinstripes")) as router,
        pytest.raises(CatalogError) as info,
    ):
        router.catalog("pinstripes")
    assert info.value.status == status
    assert "'pinstripes'" in str(info.value)
    assert fragment in str(info.value)


def test_connection_refused_is_a_catalog_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    conf = {
        "providers": [{"name": "gone", "kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1"}]
    }
    with Router.from_config(conf) as router, pytest.raises(CatalogError) as info:
        router.catalog("gone")
    assert info.value.status is None
    assert "ConnectError" in str(info.value)


def test_models_leaves_out_a_failing_provider_with_a_warning(sim, caplog):
    sim.script("pipellm", [Reply(500)])
    with (
        Router.from_config(config(sim, "pinstripes", "pipellm")) as router,
        caplog.at_level(logging.WARNING, logger="router"),
    ):
        models = router.models()
    assert {card.provider for card in models} == {"pinstripes"}
    assert any("'pipellm'" in r.getMessage() for r in caplog.records)


def test_bad_entries_over_the_wire_are_skipped_and_the_rest_serves(sim, caplog):
    payload = copy.deepcopy(CATALOGS["pinstripes"])
    payload["data"][0]["pricing"]["prompt"] = "free"  # type: ignore[index]
    payload["data"][1].pop("id")  # type: ignore[index]
    sim.set_catalog("pinstripes", payload)
    with (
        Router.from_config(config(sim, "pinstripes")) as router,
        caplog.at_level(logging.WARNING, logger="router.provider"),
    ):
        catalog = router.catalog("pinstripes")
    assert len(catalog.models) == len(payload["data"]) - 2  # type: ignore[arg-type]
    assert [s.field for s in catalog.skipped] == ["pricing.prompt", "id"]
    assert len(caplog.records) == 2


# -- live prices: TTL, refresh, stale-on-failure ------------------------------------


def test_catalog_is_fetched_lazily_and_kept_for_its_ttl(sim, clock):
    conf = config(sim)
    conf["providers"] = [provider_conf(sim, "pinstripes", catalog_ttl=60)]
    with Router.from_config(conf, timer=clock) as router:
        assert sim.requests("pinstripes") == []  # nothing at construction
        first = router.catalog("pinstripes")
        clock.advance(59)
        assert router.catalog("pinstripes") is first
        assert len(sim.requests("pinstripes")) == 1

        payload = copy.deepcopy(CATALOGS["pinstripes"])
        payload["data"][0]["pricing"]["prompt"] = "0.000000099"  # type: ignore[index]
        sim.set_catalog("pinstripes", payload)
        clock.advance(2)
        refreshed = router.catalog("pinstripes")
    assert len(sim.requests("pinstripes")) == 2
    assert refreshed.models[0].pricing is not None
    assert refreshed.models[0].pricing.prompt == Decimal("0.000000099")


def test_failed_refresh_serves_the_last_good_catalog_marked_stale(sim, clock, caplog):
    conf = config(sim)
    conf["providers"] = [provider_conf(sim, "pinstripes", catalog_ttl=60, catalog_retry=10)]
    with Router.from_config(conf, timer=clock) as router:
        good = router.catalog("pinstripes")
        clock.advance(61)
        sim.set_down("pinstripes", True)
        with caplog.at_level(logging.WARNING, logger="router.catalog"):
            stale = router.catalog("pinstripes")
        assert stale.stale
        assert stale.models == good.models
        assert "HTTP 503" in (stale.error or "")
        assert any("stale" in r.getMessage() for r in caplog.records)

        clock.advance(5)  # within catalog_retry: no new attempt
        assert router.catalog("pinstripes").stale
        assert len(sim.requests("pinstripes")) == 2

        sim.set_down("pinstripes", False)
        clock.advance(6)
        fresh = router.catalog("pinstripes")
    assert not fresh.stale
    assert len(sim.requests("pinstripes")) == 3


def test_async_refresh_also_falls_back_to_stale(sim, clock):
    conf = config(sim)
    conf["providers"] = [provider_conf(sim, "openrouter", catalog_ttl=30)]

    async def main():
        async with Router.from_config(conf, timer=clock) as router:
            await router.acatalog("openrouter")
            clock.advance(31)
            sim.script("openrouter", [Reply(502)])
            return await router.acatalog("openrouter")

    assert asyncio.run(main()).stale


# -- one fetch under concurrency ----------------------------------------------------


def test_concurrent_threads_trigger_one_fetch(sim):
    sim.script("pinstripes", [Reply(200, delay=0.3)])
    with Router.from_config(config(sim, "pinstripes")) as router:
        start = threading.Barrier(16)
        results = []

        def worker():
            start.wait()
            results.append(router.catalog("pinstripes"))

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(results) == 16
    assert all(r is results[0] for r in results)
    assert len(sim.requests("pinstripes")) == 1


def test_concurrent_tasks_trigger_one_fetch(sim):
    sim.script("routstr", [Reply(200, delay=0.3)])

    async def main():
        async with Router.from_config(config(sim, "routstr")) as router:
            return await asyncio.gather(*(router.acatalog("routstr") for _ in range(32)))

    results = asyncio.run(main())
    assert all(r is results[0] for r in results)
    assert len(sim.requests("routstr")) == 1


def test_a_client_is_reused_across_fetches(sim, clock):
    conf = config(sim)
    conf["providers"] = [provider_conf(sim, "pinstripes", catalog_ttl=1)]
    with Router.from_config(conf, timer=clock) as router:
        provider = router.providers["pinstripes"]
        router.catalog("pinstripes")
        client = provider.client()
        clock.advance(2)
        router.catalog("pinstripes")
        assert provider.client() is client
    assert len(sim.requests("pinstripes")) == 2
