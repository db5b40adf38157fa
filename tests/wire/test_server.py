"""``router serve``: the real ``openai`` client over real HTTP to uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import openai
import pytest
import uvicorn
import yaml

import router.serving.server
from router import ConfigError, Router
from router.cli import main
from router.config import ServerSettings, load_yaml, resolve, server_settings
from router.plugins import Plugins
from router.serving.server import MISSING_EXTRA, create_app
from router.testing.simulator import API_KEYS, Reply
from tests.wire.conftest import FLASH, GROUPS, HELLO, TOOLS, config

pytestmark = pytest.mark.wire

CLIENT_KEY = "ck-test-5f0c1d2e3a4b"


# -- a server on a free loopback port -----------------------------------------------------


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="warning",
            lifespan="on",
            ws="none",
            http="h11",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.01)
    (port,) = {sock.getsockname()[1] for s in server.servers for sock in s.sockets}
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive()


def make_router(sim, *kinds, **options):
    conf = config(sim, *(kinds or ("pinstripes", "routstr")), models=GROUPS)
    return Router.from_config(conf, sleep=lambda _: None, **options)


@pytest.fixture
def router_(sim):
    with make_router(sim) as r:
        yield r


@pytest.fixture
def base_url(router_):
    with serving(create_app(router_)) as url:
        yield url


@pytest.fixture
def client(base_url):
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture
def keyed(router_):
    """A server that asks for CLIENT_KEY, with a small body limit."""
    app = create_app(router_, api_keys=["another-key", CLIENT_KEY], max_body_bytes=50_000)
    with serving(app) as url:
        yield url


def keyed_client(base_url, key=CLIENT_KEY):
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


def assert_openai_error(resp: httpx.Response, status: int, kind: str) -> dict:
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == kind
    return error


# -- chat --------------------------------------------------------------------------------


def test_plain_chat(client):
    reply = client.chat.completions.create(model="flash", messages=HELLO)
    assert reply.choices[0].message.content == "You said: hello there router"
    assert reply.model_extra["provider"] == "pinstripes"
    assert reply.usage.model_extra["cost"] > 0


def test_response_headers_carry_provider_model_and_exact_cost(client):
    raw = client.chat.completions.with_raw_response.create(model="flash", messages=HELLO)
    reply = raw.parse()
    assert raw.headers["x-router-provider"] == "pinstripes"
    assert raw.headers["x-router-model"] == FLASH
    cost = Decimal(raw.headers["x-router-cost"])
    assert cost > 0
    assert float(cost) == reply.usage.model_extra["cost"]


def test_streaming_chat_ends_with_usage_and_cost(sim, client):
    raw = client.chat.completions.with_raw_response.create(
        model="flash", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-router-provider"] == "pinstripes"
    chunks = list(raw.parse())
    text = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
    assert text == "You said: hello there router"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.model_extra["cost"] > 0


def test_stream_is_passed_on_as_it_comes_not_buffered(router_, client, monkeypatch):
    """The router's stream is held after its first chunk until the client has read that
    chunk: a server that buffered the answer would never deliver it."""
    seen_by_client = threading.Event()
    record: dict[str, bool] = {}
    real = router_.astream

    async def held(**request):
        first = True
        async for chunk in real(**request):
            yield chunk
            if first:
                first = False
                for _ in range(500):
                    if seen_by_client.is_set():
                        break
                    await asyncio.sleep(0.01)
                record["delivered_while_held"] = seen_by_client.is_set()

    monkeypatch.setattr(router_, "astream", held)
    stream = client.chat.completions.create(model=FLASH, messages=HELLO, stream=True)
    text = ""
    for chunk in stream:
        seen_by_client.set()
        text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text == "You said: hello there router"
    assert record == {"delivered_while_held": True}


def test_a_stream_left_early_is_closed_in_the_router(router_, client, monkeypatch):
    closed = threading.Event()
    real = router_.astream

    async def watched(**request):
        try:
            async for chunk in real(**request):
                yield chunk
                await asyncio.sleep(30)  # only the client leaving ends this stream early
        finally:
            closed.set()

    monkeypatch.setattr(router_, "astream", watched)
    with client.chat.completions.create(model=FLASH, messages=HELLO, stream=True) as stream:
        next(iter(stream))
    assert closed.wait(5)
    again = client.chat.completions.create(model=FLASH, messages=HELLO)
    assert again.choices[0].message.content == "You said: hello there router"


def test_a_stream_broken_upstream_raises_in_the_sdk(sim, router_, client):
    router_.models()
    sim.script("pinstripes", [Reply(200, cut_after=3)])
    stream = client.chat.completions.create(model=FLASH, messages=HELLO, stream=True)
    with pytest.raises(openai.APIError, match="broke after") as info:
        for _ in stream:
            pass
    assert info.value.body["code"] == "stream_interrupted"


def test_tool_call_then_tool_result(client):
    first = client.chat.completions.create(model="flash", messages=HELLO, tools=TOOLS)
    (call,) = first.choices[0].message.tool_calls
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "hello there router"}
    followup = [
        *HELLO,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
    ]
    second = client.chat.completions.create(model="flash", messages=followup, tools=TOOLS)
    assert second.choices[0].message.content == "Tool said: 42"


def test_upstream_errors_keep_their_openai_types(sim, router_, client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-9", messages=HELLO)
    assert info.value.code == "model_not_found"
    router_.models()
    sim.script("pinstripes", [Reply(429, headers={"Retry-After": "3"})] * 4)
    sim.script("routstr", [Reply(429, headers={"Retry-After": "3"})] * 4)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="flash", messages=HELLO)
    assert limited.value.response.headers["retry-after"] == "3"


# -- models and health -------------------------------------------------------------------


def test_models_list_and_retrieve(router_, client):
    models = {m.id: m for m in client.models.list()}
    refs = {card.ref for card in router_.models() if card.kind == "chat"}
    assert set(models) == refs | {"flash", "auto"}
    assert models[FLASH].owned_by == "pinstripes"
    assert client.models.retrieve(FLASH).owned_by == "pinstripes"  # '/' in the id
    assert client.models.retrieve("flash").owned_by == "router"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope:nothing")


def test_health_reports_each_catalog_without_fetching(sim, clock):
    with (
        make_router(sim, "pinstripes", "routstr", "pipellm", timer=clock) as r,
        serving(create_app(r)) as url,
    ):
        before = httpx.get(f"{url}/health").json()
        assert before == {
            "status": "ok",
            "providers": [
                {"name": "pinstripes", "kind": "pinstripes", "catalog": "not fetched"},
                {"name": "routstr", "kind": "routstr", "catalog": "not fetched"},
                {"name": "pipellm", "kind": "pipellm", "catalog": "not fetched"},
            ],
        }
        assert sim.requests("pinstripes") == []  # health fetched nothing

        r.catalog("pinstripes")
        r.catalog("routstr")
        sim.set_down("routstr", True)
        r.provider("routstr").catalog.invalidate()
        r.catalog("routstr")  # the refresh fails: the last good copy, stale
        after = {p["name"]: p for p in httpx.get(f"{url}/health").json()["providers"]}
        assert after["pinstripes"]["catalog"] == "fresh"
        assert after["pinstripes"]["models"] == 11
        assert after["routstr"]["catalog"] == "stale"
        assert "HTTP 503" in after["routstr"]["error"]
        assert after["pipellm"]["catalog"] == "not fetched"

        clock.advance(10_000)  # past every TTL: refreshed on next use
        expired = {p["name"]: p for p in httpx.get(f"{url}/health").json()["providers"]}
        assert expired["pinstripes"]["catalog"] == "expired"


# -- hardening ---------------------------------------------------------------------------


def test_client_keys_are_required_when_configured(keyed):
    for key in (None, "wrong", CLIENT_KEY[:-1], CLIENT_KEY + "x"):
        if key is None:
            resp = httpx.post(f"{keyed}/v1/chat/completions", json={"model": "flash"})
        else:
            with (
                keyed_client(keyed, key) as c,
                pytest.raises(openai.AuthenticationError) as info,
            ):
                c.chat.completions.create(model="flash", messages=HELLO)
            resp = info.value.response
        error = assert_openai_error(resp, 401, "invalid_request_error")
        assert error["code"] == "invalid_api_key"
        assert resp.headers["www-authenticate"] == "Bearer"
    for path in ("/health", "/v1/models", "/v1/nothing-here"):
        assert httpx.get(f"{keyed}{path}").status_code == 401
    with keyed_client(keyed) as c:
        assert c.chat.completions.create(model="flash", messages=HELLO).choices
        assert any(m.id == "auto" for m in c.models.list())
    with keyed_client(keyed, "another-key") as c:
        assert c.models.retrieve("auto").id == "auto"
    auth = {"authorization": f"Bearer {CLIENT_KEY}"}
    assert httpx.get(f"{keyed}/health", headers=auth).json()["status"] == "ok"


def test_an_oversize_body_is_refused_with_413(keyed):
    with keyed_client(keyed) as c, pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(
            model="flash", messages=[{"role": "user", "content": "x" * 60_000}]
        )
    error = assert_openai_error(info.value.response, 413, "invalid_request_error")
    assert error["code"] == "request_too_large"
    assert "50000 bytes" in error["message"]

    def chunked():  # no Content-Length: counted as it is read
        for _ in range(4):
            yield b" " * 20_000

    resp = httpx.post(
        f"{keyed}/v1/chat/completions",
        content=chunked(),
        headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"},
    )
    assert assert_openai_error(resp, 413, "invalid_request_error")["code"] == "request_too_large"
    # just under the limit is read and routed
    with keyed_client(keyed) as c:
        assert c.chat.completions.create(
            model="flash", messages=[{"role": "user", "content": "x" * 40_000}]
        ).choices


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"model": "auto"}', "messages"),
        (b"", "not valid JSON"),
    ],
)
def test_malformed_requests_are_openai_400s(base_url, content, message):
    resp = httpx.post(
        f"{base_url}/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert message in assert_openai_error(resp, 400, "invalid_request_error")["message"]


def test_unknown_routes_and_methods_are_openai_errors(base_url, client):
    error = assert_openai_error(
        httpx.get(f"{base_url}/v1/embeddings"), 404, "invalid_request_error"
    )
    assert error["message"] == "Invalid URL (GET /v1/embeddings)"
    assert_openai_error(httpx.get(f"{base_url}/"), 404, "invalid_request_error")
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="flash", input="hi")
    wrong = httpx.get(f"{base_url}/v1/chat/completions")
    assert_openai_error(wrong, 405, "invalid_request_error")
    assert wrong.headers["allow"] == "POST"


def test_unexpected_errors_are_a_bare_500_and_logged(router_, base_url, monkeypatch, caplog):
    def broken(_router):
        raise RuntimeError("detail-that-must-not-leak at /srv/secret/path.py")

    monkeypatch.setattr(router.serving.server, "health", broken)
    with caplog.at_level(logging.ERROR, logger="router.serving.server"):
        resp = httpx.get(f"{base_url}/health")
    error = assert_openai_error(resp, 500, "server_error")
    assert error["message"] == "Internal server error"
    for leak in ("detail-that-must-not-leak", "RuntimeError", "Traceback", "path.py"):
        assert leak not in resp.text
    assert any("unexpected error answering GET /health" in r.message for r in caplog.records)

    async def failing(**request):
        raise ValueError("another-detail-not-to-show")

    monkeypatch.setattr(router_, "acomplete", failing)
    with caplog.at_level(logging.CRITICAL, logger="router.serving.transport"):
        resp = httpx.post(
            f"{base_url}/v1/chat/completions", json={"model": "flash", "messages": HELLO}
        )
    assert_openai_error(resp, 500, "server_error")
    assert "another-detail-not-to-show" not in resp.text
    assert "Traceback" not in resp.text


def test_no_secret_in_any_response_body_or_header(sim, router_, keyed):
    router_.models()
    key = API_KEYS["pinstripes"]
    auth = {"authorization": f"Bearer {CLIENT_KEY}"}
    chat = {"model": FLASH, "messages": HELLO}
    seen: list[str] = []

    def record(resp: httpx.Response) -> None:
        seen.append(resp.text)
        seen.extend(f"{k}: {v}" for k, v in resp.headers.multi_items())

    with httpx.Client(base_url=keyed, timeout=10) as http:
        record(http.post("/v1/chat/completions", json=chat, headers=auth))
        record(http.post("/v1/chat/completions", json={**chat, "stream": True}, headers=auth))
        record(http.get("/v1/models", headers=auth))
        record(http.get("/health", headers=auth))
        record(http.get("/health", headers={"authorization": f"Bearer {CLIENT_KEY}x"}))
        record(http.post("/v1/chat/completions", content=b"{" * 60_000, headers=auth))
        record(http.post("/v1/chat/completions", content=b"{nope", headers=auth))
        record(http.get("/v1/nothing", headers=auth))
        # the provider's error quotes its key; its own key is rejected (401 everywhere)
        sim.script("pinstripes", [Reply(401, json={"error": {"message": key, "code": key}})])
        record(http.post("/v1/chat/completions", json=chat, headers=auth))
        sim.script("pinstripes", [Reply(500, body=f"<html>{key}</html>")] * 4)
        sim.script("routstr", [Reply(500, body=f"<html>{API_KEYS['routstr']}</html>")] * 4)
        record(http.post("/v1/chat/completions", json={**chat, "model": "flash"}, headers=auth))
    text = "\n".join(seen)
    assert "You said: hello there router" in text
    assert "HTTP 500" in text
    for secret in (CLIENT_KEY, "another-key", *API_KEYS.values()):
        assert secret not in text


def test_the_callers_authorization_is_not_passed_on(sim, router_, keyed, monkeypatch):
    received = []
    real = router_.acomplete

    async def spy(**request):
        received.append(request)
        return await real(**request)

    monkeypatch.setattr(router_, "acomplete", spy)
    with keyed_client(keyed) as c:
        c.chat.completions.create(model=FLASH, messages=HELLO)
    assert CLIENT_KEY not in json.dumps(received)
    (sent,) = [r for r in sim.requests("pinstripes") if r.method == "POST"]
    assert CLIENT_KEY not in json.dumps(dict(sent.headers))


def test_create_app_without_the_extra_names_the_install_command(router_, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    with pytest.raises(ImportError, match=r"pip install 'router\[server\]'"):
        create_app(router_)


def test_create_app_refuses_unusable_keys(router_):
    for keys in ([""], [" padded "]):
        with pytest.raises(ValueError, match="client key"):
            create_app(router_, api_keys=keys)


# -- the server: block of the config -------------------------------------------------------


def test_server_block_reads_keys_from_the_environment_as_secrets(sim, tmp_path):
    conf = {
        **config(sim, "pinstripes"),
        "server": {
            "api_keys": ["${ROUTER_CLIENT_KEY}"],
            "max_body_bytes": 2048,
            "host": "0.0.0.0",
            "port": 9000,
        },
    }
    environ = {"ROUTER_CLIENT_KEY": CLIENT_KEY}
    settings = server_settings(conf, environ)
    assert settings.api_keys[0].key.get_secret_value() == CLIENT_KEY
    assert settings.api_keys[0].name == "api_keys[0]"  # a plain key is named by its place
    assert (settings.max_body_bytes, settings.host, settings.port) == (2048, "0.0.0.0", 9000)
    assert CLIENT_KEY not in repr(settings)
    assert CLIENT_KEY not in str(settings.model_dump())
    resolved = resolve(conf, Plugins(entry_points=False), environ)
    assert resolved.server == settings
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(conf))
    assert server_settings(path, environ) == settings
    assert server_settings(str(path), environ) == settings
    assert server_settings(config(sim, "pinstripes")) == ServerSettings()
    with Router.from_config(conf, environ=environ) as r:  # the Router accepts the block
        assert list(r.providers) == ["pinstripes"]


@pytest.mark.parametrize(
    ("server", "where"),
    [
        ({"bind": "0.0.0.0"}, "server.bind: unknown key"),
        ({"max_body_bytes": 0}, "server.max_body_bytes:"),
        ({"port": 70000}, "server.port:"),
        ({"api_keys": [""]}, "server.api_keys:"),
        ({"api_keys": ["two words"]}, "server.api_keys:"),
        ({"api_keys": ["${UNSET_CLIENT_KEY_VAR}"]}, "server.api_keys[0]: environment variable"),
        ("0.0.0.0", "server:"),
    ],
)
def test_server_block_errors_name_the_key(sim, server, where):
    conf = {**config(sim, "pinstripes"), "server": server}
    with pytest.raises(ConfigError) as info:
        server_settings(conf, {})
    assert str(info.value).startswith(where)
    with pytest.raises(ConfigError) as again:
        resolve(conf, Plugins(entry_points=False), {})
    assert str(again.value).startswith(where.split(":")[0].split("[")[0])
    assert "two words" not in str(info.value)


# -- router serve ------------------------------------------------------------------------


@pytest.fixture
def conf_path(sim, tmp_path):
    def write(server=None):
        conf = config(sim, "pinstripes")
        if server is not None:
            conf["server"] = server
        path = tmp_path / "router.yaml"
        path.write_text(yaml.safe_dump(conf))
        return str(path)

    return write


@pytest.fixture
def no_bind(monkeypatch):
    """uvicorn.Server.run recorded instead of run: nothing is bound."""
    calls = []

    def run(self, sockets=None):
        calls.append(self.config)
        self.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_serve_refuses_a_public_address_without_client_keys(capsys, conf_path, no_bind, host):
    status = main(["serve", "-c", conf_path(), "--host", host])
    err = capsys.readouterr().err
    assert status == 2
    assert f"refusing to bind {host}" in err
    assert "server.api_keys" in err
    assert "Traceback" not in err
    assert no_bind == []


def test_serve_refuses_a_public_host_from_the_config_too(capsys, conf_path, no_bind):
    status = main(["serve", "-c", conf_path({"host": "0.0.0.0"})])
    assert status == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err
    assert no_bind == []


def test_serve_binds_loopback_by_default(capsys, conf_path, no_bind):
    assert main(["serve", "-c", conf_path()]) == 0
    (cfg,) = no_bind
    assert (cfg.host, cfg.port) == ("127.0.0.1", 8000)
    assert "http://127.0.0.1:8000/v1" in capsys.readouterr().err
    assert main(["serve", "-c", conf_path(), "--host", "::1", "--port", "0"]) == 0
    assert (no_bind[1].host, no_bind[1].port) == ("::1", 0)


def test_serve_binds_anywhere_with_client_keys_and_never_prints_them(
    capsys, conf_path, no_bind, monkeypatch
):
    monkeypatch.setenv("ROUTER_CLIENT_KEY", CLIENT_KEY)
    path = conf_path({"api_keys": ["${ROUTER_CLIENT_KEY}"], "port": 9123, "max_body_bytes": 99})
    status = main(["serve", "-c", path, "--host", "0.0.0.0", "-vv"])
    out, err = capsys.readouterr()
    assert status == 0
    (cfg,) = no_bind
    assert (cfg.host, cfg.port) == ("0.0.0.0", 9123)
    assert "client keys required" in err
    assert CLIENT_KEY not in out + err


def test_serve_with_a_bad_server_block_exits_2_naming_the_key(capsys, conf_path, no_bind):
    assert main(["serve", "-c", conf_path({"port": "eighty"})]) == 2
    assert "server.port" in capsys.readouterr().err
    assert no_bind == []


def test_serve_without_the_extra_says_what_to_install(capsys, conf_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "starlette.applications", None)
    assert main(["serve", "-c", conf_path()]) == 1
    assert MISSING_EXTRA in capsys.readouterr().err


def test_the_served_config_is_the_one_loaded(conf_path, monkeypatch):
    """``serve`` hands the app the keys and limit of the ``server:`` block."""
    monkeypatch.setenv("ROUTER_CLIENT_KEY", CLIENT_KEY)
    path = conf_path({"api_keys": ["${ROUTER_CLIENT_KEY}"], "max_body_bytes": 1234})
    apps = []

    def run(self, sockets=None):
        apps.append(self.config.app)
        self.started = True

    with monkeypatch.context() as patch:
        patch.setattr(uvicorn.Server, "run", run)
        assert main(["serve", "-c", path]) == 0
    with serving(apps[0]) as url:
        assert httpx.get(f"{url}/health").status_code == 401
        auth = {"authorization": f"Bearer {CLIENT_KEY}"}
        too_big = httpx.post(f"{url}/v1/chat/completions", content=b"x" * 2000, headers=auth)
        assert too_big.status_code == 413
        assert httpx.get(f"{url}/health", headers=auth).status_code == 200
    assert load_yaml(path)["server"]["max_body_bytes"] == 1234
