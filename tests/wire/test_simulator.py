"""The provider simulator, exercised over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from router.simulator import (
    API_KEYS,
    CATALOGS,
    PROVIDERS,
    ROUTSTR_LIVE_CATALOG,
    Reply,
    Simulator,
)

pytestmark = pytest.mark.wire

# Where each provider's catalog lives relative to base_url(provider), and how it wants
# its key (pipellm also takes Bearer, tested separately).
CATALOG_SUFFIX = {
    "pinstripes": "/models",
    "pipellm": "/v1/models",
    "inference-api": "/models",
    "routstr": "/models",
    "openrouter": "/models",
    "openai": "/models",
}


def auth(provider: str, key: str) -> dict[str, str]:
    if provider in ("pipellm", "inference-api"):
        return {"X-Api-Key": key}
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(sim: Simulator) -> None:
    sim.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def get_catalog(
    sim: Simulator, client: httpx.Client, provider: str, key: str | None = None
) -> httpx.Response:
    url = sim.base_url(provider) + CATALOG_SUFFIX[provider]
    return client.get(url, headers=auth(provider, key or sim.api_key(provider)))


# -- catalogs and auth ---------------------------------------------------------------


def test_base_urls(sim: Simulator) -> None:
    root = f"http://127.0.0.1:{sim.port}"
    assert sim.base_url("pinstripes") == root + "/pinstripes/v1"
    assert sim.base_url("pipellm") == root + "/pipellm"
    assert sim.base_url("inference-api") == root + "/inference-api"
    assert sim.base_url("routstr") == root + "/routstr/v1"
    assert sim.base_url("openrouter") == root + "/openrouter/api/v1"
    assert sim.base_url("openai") == root + "/openai/v1"
    with pytest.raises(ValueError, match="unknown simulated provider"):
        sim.base_url("nope")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_catalog_served_with_right_key(sim: Simulator, client: httpx.Client, provider: str) -> None:
    assert sim.api_key(provider) == API_KEYS[provider]
    response = get_catalog(sim, client, provider)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == CATALOGS[provider]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_key_is_401_in_provider_style(
    sim: Simulator, client: httpx.Client, provider: str
) -> None:
    response = get_catalog(sim, client, provider, key="sk-wrong")
    assert response.status_code == 401
    body = response.json()
    if provider == "inference-api":
        assert isinstance(body["detail"], str)
    elif provider == "openrouter":
        assert body["error"]["code"] == 401
        assert body["error"]["message"]
    else:
        assert body["error"]["type"] == "authentication_error"
        assert body["error"]["message"]


def test_missing_auth_is_401(sim: Simulator, client: httpx.Client) -> None:
    response = client.get(sim.base_url("pinstripes") + "/models")
    assert response.status_code == 401


def test_pipellm_takes_bearer_too(sim: Simulator, client: httpx.Client) -> None:
    key = sim.api_key("pipellm")
    response = client.get(
        sim.base_url("pipellm") + "/v1/models", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200


def test_inference_api_wants_x_api_key_not_bearer(sim: Simulator, client: httpx.Client) -> None:
    key = sim.api_key("inference-api")
    response = client.get(
        sim.base_url("inference-api") + "/models", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401
    assert "detail" in response.json()


def test_routstr_takes_cashu_or_sk_tokens_only(sim: Simulator, client: httpx.Client) -> None:
    assert sim.api_key("routstr").startswith("cashuA")
    sim.set_api_key("routstr", "sk-routstr-balance-key")
    assert get_catalog(sim, client, "routstr").status_code == 200
    sim.set_api_key("routstr", "not-a-token")
    assert get_catalog(sim, client, "routstr").status_code == 401


def test_unknown_path_and_method(sim: Simulator, client: httpx.Client) -> None:
    headers = auth("pinstripes", sim.api_key("pinstripes"))
    response = client.get(sim.base_url("pinstripes") + "/nothing-here", headers=headers)
    assert response.status_code == 404
    assert "error" in response.json()
    response = client.post(sim.base_url("pinstripes") + "/models", headers=headers, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    response = client.get(f"http://127.0.0.1:{sim.port}/no-such-provider/v1/models")
    assert response.status_code == 404


# -- the default catalogs' numbers -------------------------------------------------------

# 000_*.txt's reference table, $ per 1M tokens: input, output.
PINSTRIPES_TABLE = {
    "ps/deepseek-v4-flash": ("0.087", "0.173"),
    "ps/deepseek-v4-pro": ("0.390", "0.780"),
    "ps/llama-4-maverick": ("0.130", "0.530"),
    "ps/llama-4-scout": ("0.071", "0.265"),
    "ps/qwen3.6-35b-a3b": ("0.120", "0.850"),
    "ps/qwen3.5-35b-a3b": ("0.120", "0.850"),
    "ps/kimi-k2": ("0.510", "2.000"),
    "ps/step-3.7-flash": ("0.175", "1.000"),
    "ps/glm-4.5-air": ("0.110", "0.750"),
    "ps/gpt-oss-120b": ("0.033", "0.153"),
    "ps/qwen3-coder-30b-a3b": ("0.061", "0.235"),
}


def test_pinstripes_prices_are_the_seed_table_per_token() -> None:
    catalog = CATALOGS["pinstripes"]
    assert isinstance(catalog, dict)
    entries = {e["id"]: e for e in catalog["data"]}
    assert set(entries) == set(PINSTRIPES_TABLE)
    million = Decimal(1_000_000)
    for model_id, (prompt, completion) in PINSTRIPES_TABLE.items():
        pricing = entries[model_id]["pricing"]
        assert Decimal(pricing["prompt"]) * million == Decimal(prompt)
        assert Decimal(pricing["completion"]) * million == Decimal(completion)
        assert Decimal(pricing["cached_tokens"]) * million == Decimal("0.05")
    assert entries["ps/deepseek-v4-flash"]["pricing"]["prompt"] == "0.000000087"
    assert entries["ps/llama-4-scout"]["context_length"] == 10_000_000
    assert entries["ps/qwen3.6-35b-a3b"]["max_output_tokens"] == 32768


def test_pipellm_sorted_with_total() -> None:
    catalog = CATALOGS["pipellm"]
    assert isinstance(catalog, dict)
    ids = [e["id"] for e in catalog["data"]]
    assert ids == sorted(ids)
    assert catalog["total"] == len(ids)
    gpt5 = next(e for e in catalog["data"] if e["id"] == "gpt-5")
    assert gpt5["pricing"]["tiers"]["over_200k"]["text"]["prompt"] == "0.0000055"
    assert {e["type_target"] for e in catalog["data"]} == {"openai", "anthropic", "gemini"}


def test_inference_api_credits_include_the_margin_once() -> None:
    catalog = CATALOGS["inference-api"]
    assert isinstance(catalog, dict)
    sonnet = next(e for e in catalog["models"] if e["id"] == "claude-sonnet-4.6")
    assert (sonnet["cost_per_1k_input"], sonnet["cost_per_1k_output"]) == (4.2, 21.0)
    # credits/1k * $0.001/credit / 1000 tokens / 1.4 margin = upstream USD per token
    usd = Decimal(str(sonnet["cost_per_1k_input"])) * Decimal("0.001") / 1000 / Decimal("1.4")
    assert usd == Decimal("0.000003")
    assert any(e["supports_tools"] is False for e in catalog["models"])


def test_routstr_live_catalog_is_per_token_with_sats(sim: Simulator, client: httpx.Client) -> None:
    sim.set_catalog("routstr", ROUTSTR_LIVE_CATALOG)
    data = get_catalog(sim, client, "routstr").json()["data"]
    assert data == ROUTSTR_LIVE_CATALOG["data"]
    flash = next(e for e in data if e["id"] == "deepseek/deepseek-v4-flash")
    assert flash["pricing"]["prompt"] == pytest.approx(1e-7)
    assert flash["sats_pricing"]["prompt"] == pytest.approx(1e-7 / 0.001)
    assert any("image" in e["architecture"]["input_modalities"] for e in data)


# -- scripted faults ---------------------------------------------------------------------


def test_scripted_429_with_retry_after_then_normal(sim: Simulator, client: httpx.Client) -> None:
    sim.script("pinstripes", [Reply(429, headers={"Retry-After": "1"})])
    first = get_catalog(sim, client, "pinstripes")
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    assert first.json()["error"]["type"] == "rate_limit_error"
    second = get_catalog(sim, client, "pinstripes")
    assert second.status_code == 200
    assert second.json() == CATALOGS["pinstripes"]


def test_scripted_error_bodies_follow_the_provider(sim: Simulator, client: httpx.Client) -> None:
    sim.script("inference-api", [Reply(500)])
    response = get_catalog(sim, client, "inference-api")
    assert response.status_code == 500
    assert set(response.json()) == {"detail"}
    sim.script("pipellm", [Reply(529)])
    response = get_catalog(sim, client, "pipellm")
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


def test_scripted_raw_bodies(sim: Simulator, client: httpx.Client) -> None:
    sim.script("openrouter", [Reply(502, body=b"<html>oops</html>"), Reply(body="{not json")])
    html = get_catalog(sim, client, "openrouter")
    assert html.status_code == 502
    assert html.content == b"<html>oops</html>"
    assert html.headers["content-type"].startswith("text/html")
    broken = get_catalog(sim, client, "openrouter")
    assert broken.status_code == 200
    assert broken.content == b"{not json"
    assert get_catalog(sim, client, "openrouter").json() == CATALOGS["openrouter"]


def test_scripted_json_reply(sim: Simulator, client: httpx.Client) -> None:
    sim.script("routstr", [Reply(402, json={"error": {"message": "balance", "type": "x"}})])
    response = get_catalog(sim, client, "routstr")
    assert response.status_code == 402
    assert response.json() == {"error": {"message": "balance", "type": "x"}}


def test_delay_then_normal_catalog(sim: Simulator, client: httpx.Client) -> None:
    sim.script("openai", [Reply(200, delay=0.2)])
    response = get_catalog(sim, client, "openai")
    assert response.status_code == 200
    assert response.json() == CATALOGS["openai"]


def test_script_applies_whatever_the_auth(sim: Simulator, client: httpx.Client) -> None:
    sim.script("pinstripes", [Reply(500)])
    assert get_catalog(sim, client, "pinstripes", key="sk-wrong").status_code == 500
    assert get_catalog(sim, client, "pinstripes", key="sk-wrong").status_code == 401


def test_down_is_503_after_the_script(sim: Simulator, client: httpx.Client) -> None:
    sim.set_down("pinstripes", True)
    sim.script("pinstripes", [Reply(429)])
    assert get_catalog(sim, client, "pinstripes").status_code == 429
    assert get_catalog(sim, client, "pinstripes").status_code == 503
    assert get_catalog(sim, client, "openai").status_code == 200  # others unaffected
    sim.set_down("pinstripes", False)
    assert get_catalog(sim, client, "pinstripes").status_code == 200


def test_set_catalog_is_a_copy(sim: Simulator, client: httpx.Client) -> None:
    payload: dict[str, object] = {"object": "list", "data": []}
    sim.set_catalog("pinstripes", payload)
    payload["data"] = ["mutated"]
    assert get_catalog(sim, client, "pinstripes").json() == {"object": "list", "data": []}
    with pytest.raises(TypeError):
        sim.set_catalog("pinstripes", {"bad": object()})


# -- records and reset -------------------------------------------------------------------


def test_requests_are_recorded_with_lowercased_headers(
    sim: Simulator, client: httpx.Client
) -> None:
    get_catalog(sim, client, "pipellm", key="wrong")
    client.post(
        sim.base_url("pipellm") + "/v1/models?x=1",
        headers={"X-Api-Key": sim.api_key("pipellm"), "X-Trace": "abc"},
        content=b'{"a":1}',
    )
    recorded = sim.requests("pipellm")
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/pipellm/v1/models"),
        ("POST", "/pipellm/v1/models?x=1"),
    ]
    assert recorded[0].headers["x-api-key"] == "wrong"
    assert recorded[1].headers["x-trace"] == "abc"
    assert all(name == name.lower() for r in recorded for name in r.headers)
    assert recorded[1].body == b'{"a":1}'
    assert sim.requests("pinstripes") == []


def test_reset_restores_everything(sim: Simulator, client: httpx.Client) -> None:
    sim.set_catalog("openai", {"object": "list", "data": []})
    sim.set_api_key("openai", "sk-other")
    sim.set_down("pinstripes", True)
    sim.script("routstr", [Reply(500)])
    get_catalog(sim, client, "openai")
    sim.reset()
    assert sim.requests("openai") == []
    assert sim.api_key("openai") == API_KEYS["openai"]
    for provider in ("openai", "pinstripes", "routstr"):
        response = get_catalog(sim, client, provider)
        assert response.status_code == 200
        assert response.json() == CATALOGS[provider]


# -- lifecycle ---------------------------------------------------------------------------


def test_lifecycle() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.port
    sim.stop()  # not started: a no-op
    assert sim.start() is sim
    url = sim.base_url("openai") + "/models"
    with httpx.Client() as c:
        response = c.get(url, headers=auth("openai", sim.api_key("openai")))
        assert response.status_code == 200
    sim.stop()
    sim.stop()
    with httpx.Client() as c, pytest.raises(httpx.TransportError):
        c.get(url)


def test_reply_validation() -> None:
    with pytest.raises(ValueError, match="not both"):
        Reply(json={}, body=b"x")
    with pytest.raises(ValueError, match="status"):
        Reply(42)
    with pytest.raises(ValueError, match="delay"):
        Reply(delay=-1)
