"""Issue 18's attacks, each over real HTTP on loopback: what got through, now held.

Deadlines against trickled upstreams (sync, and async on both pools); a 200 that carries an
error; header values the HTTP layer cannot carry; keys that cannot be sent; malformed
requests; 408s; upstream URLs in client-facing bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn

from router import Router
from router.config import ServerSettings, load_yaml, server_settings
from router.errors import (
    AllProvidersFailed,
    CatalogError,
    ConfigError,
    DeadlineExceeded,
    InvalidRequest,
)
from router.serving.server import create_app, uvicorn_config
from tests.wire.raw import (
    RawRequest,
    RawUpstream,
    answer,
    completion,
    head,
    provider_block,
    trickle,
    wait_until,
)
from tests.wire.test_server import serving

pytestmark = pytest.mark.wire

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at the end of the test: the upstream's handlers stop sending."""
    event = threading.Event()
    yield event
    event.set()


def _router(upstream: RawUpstream, http: str = "aiohttp", **fallback: Any) -> Router:
    return Router.from_config(
        {
            "providers": [provider_block(upstream, http=http, timeout=10)],
            "fallback": {"attempts": 2, "backoff_seconds": 0, **fallback},
        }
    )


def _call(router: Router, mode: str, *, stream: bool) -> None:
    """One request through the sync API or the async one; the answer is consumed whole."""
    if mode == "sync":
        try:
            router.catalog("raw")
            if stream:
                list(router.stream(model="raw:m", messages=HELLO))
            else:
                router.complete(model="raw:m", messages=HELLO)
        finally:
            router.close()
        return

    async def run() -> None:
        try:
            await router.acatalog("raw")
            if stream:
                [c async for c in router.astream(model="raw:m", messages=HELLO)]
            else:
                await router.acomplete(model="raw:m", messages=HELLO)
        finally:
            await router.aclose()

    asyncio.run(run())


MODES = [("sync", "httpx"), ("async", "aiohttp"), ("async", "httpx")]
DEADLINE = 0.6


def _late_headers(stop: threading.Event) -> Callable[[socket.socket, RawRequest], None]:
    def chat(conn: socket.socket, request: RawRequest) -> None:
        if stop.wait(3.0):
            return
        conn.sendall(head(200, {"content-type": "text/event-stream"}) + b"data: [DONE]\n\n")

    return chat


def _keep_alives(stop: threading.Event) -> Callable[[socket.socket, RawRequest], None]:
    def chat(conn: socket.socket, request: RawRequest) -> None:
        conn.sendall(head(200, {"content-type": "text/event-stream"}))
        trickle(conn, b": keep-alive\n\n" * 40, 0.01, stop)  # ~6 s of comments, no chunk

    return chat


def _trickled_body(stop: threading.Event) -> Callable[[socket.socket, RawRequest], None]:
    def chat(conn: socket.socket, request: RawRequest) -> None:
        body = json.dumps(completion()).encode()
        conn.sendall(
            head(200, {"content-type": "application/json", "content-length": str(len(body))})
        )
        trickle(conn, body, 0.02, stop)  # ~5 s for the whole body

    return chat


@pytest.mark.parametrize(("mode", "http"), MODES)
@pytest.mark.parametrize(
    ("fault", "stream"),
    [(_late_headers, True), (_keep_alives, True), (_trickled_body, False)],
    ids=["stream-headers-late", "keep-alives-before-first-chunk", "trickled-body"],
)
def test_the_deadline_bounds_wall_time(mode, http, fault, stream, stop):
    with RawUpstream(fault(stop)) as upstream:
        router = _router(upstream, http, deadline_seconds=DEADLINE)
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded) as caught:
            _call(router, mode, stream=stream)
        elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 0.5, f"answered after {elapsed:.2f} s"
    assert [(a.ref, a.kind) for a in caught.value.attempts] == [("raw:m", "Timeout")]


# -- 1. keys that cannot travel in a header ---------------------------------------------------

KEY = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    "bad", [KEY + "\n", KEY + "\r\n", " " + KEY, KEY + " ", "sk-\x7f-key", "sk-clé-0123"]
)
def test_a_key_with_whitespace_control_or_non_ascii_is_a_config_error(bad):
    with RawUpstream(answer(completion())) as upstream:
        conf = {"providers": [{**provider_block(upstream), "api_key": bad}]}
        with pytest.raises(ConfigError) as caught:
            Router.from_config(conf)
    assert caught.value.key_path == "providers[0].api_key"
    assert bad.strip() not in str(caught.value)
    assert upstream.requests == []


def test_redaction_covers_the_encoded_forms_of_a_key():
    key = "sk-a\\b'c\"d+e/f=g"
    provider = Router.from_config(
        {"providers": [{"name": "p", "kind": "pinstripes", "api_key": key}]}
    ).providers["p"]
    printed = [
        key,
        repr(f"Bearer {key}".encode()),  # how h11 and aiohttp quote a refused header
        repr(key),
        json.dumps(key),
        urllib.parse.quote(key, safe=""),
        urllib.parse.quote_plus(key),
    ]
    for text in printed:
        redacted = provider.redact(f"error: {text} end")
        assert "**********" in redacted, text
        assert "a\\" not in redacted.replace("**********", ""), redacted
        assert "d+e" not in redacted, redacted
        assert "d%2Be" not in redacted, redacted


# -- 3. a 200 without a usable choice -----------------------------------------------------------

ERROR = {"message": "upstream model crashed", "code": 502}


@pytest.mark.parametrize(
    "payload",
    [
        completion(error=ERROR) | {"choices": []},
        completion() | {"choices": []},
        completion()
        | {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ""},
                    "finish_reason": "error",
                    "error": ERROR,
                }
            ]
        },
        completion(error=ERROR),
    ],
    ids=[
        "empty-choices-with-error",
        "empty-choices",
        "choice-finish-error",
        "error-beside-choices",
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_200_without_a_usable_choice_falls_over_and_bills_nothing(payload, mode):
    with (
        RawUpstream(answer(payload)) as bad,
        RawUpstream(answer(completion("from the second"))) as good,
    ):
        router = Router.from_config(
            {
                "providers": [provider_block(bad, "bad"), provider_block(good, "good")],
                "models": {"g": ["bad:m", "good:m"]},
                "policy": [],
            }
        )
        if mode == "sync":
            reply = router.complete(model="g", messages=HELLO)
        else:
            reply = asyncio.run(router.acomplete(model="g", messages=HELLO))
        router.close()
    assert reply.provider == "good"
    assert reply.choices[0].message.content == "from the second"
    assert [(a.ref, a.kind, a.status) for a in reply.route.attempts] == [
        ("bad:m", "Unavailable", 200)
    ]
    assert reply.route.cost == Decimal("0.000014")  # 10 x $1/M + 2 x $2/M: the good one only


def test_a_stream_chunk_ending_in_error_before_the_first_chunk_falls_over():
    def errored(conn: socket.socket, request: RawRequest) -> None:
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        conn.sendall(head(200, {"content-type": "text/event-stream"}) + body)
        conn.close()

    with RawUpstream(errored) as bad, RawUpstream(answer(completion())) as good:
        router = Router.from_config(
            {
                "providers": [provider_block(bad, "bad"), provider_block(good, "good")],
                "models": {"g": ["bad:m", "good:m"]},
                "policy": [],
            }
        )
        with pytest.raises(AllProvidersFailed) as caught:
            list(router.stream(model="g", messages=HELLO))  # the good one is not an SSE server
        router.close()
    first = caught.value.attempts[0]
    assert (first.ref, first.kind) == ("bad:m", "Unavailable")
    assert "finish_reason 'error'" in caught.value.attempts[0].error


# -- 4. header values the HTTP layer cannot carry, after the upstream billed -------------------


@pytest.mark.parametrize(
    ("provider", "model", "header_provider", "header_model"),
    [
        ("pínstripes", "m", "p%C3%ADnstripes", "p%C3%ADnstripes:m"),
        ("raw", "café/x", "raw", "raw:caf%C3%A9/x"),
        ("raw", "m\r\nx-evil: 1", "raw", "raw:m%0D%0Ax-evil: 1"),
        ("raw", "100%", "raw", "raw:100%25"),
    ],
)
def test_unsafe_header_values_are_encoded_and_the_billed_answer_delivered(
    provider, model, header_provider, header_model
):
    catalog = {"object": "list", "data": [{"id": model, "object": "model"}]}
    with RawUpstream(answer(completion(model=model)), catalog) as upstream:
        router = Router.from_config({"providers": [provider_block(upstream, provider)]})
        ref = f"{provider}:{model}"
        client = httpx.Client(transport=router.transport(), base_url="http://router/v1")
        in_process = client.post("/chat/completions", json={"model": ref, "messages": HELLO})
        with serving(create_app(router)) as base:
            served = httpx.post(
                f"{base}/v1/chat/completions", json={"model": ref, "messages": HELLO}
            )
        router.close()
    for response in (in_process, served):
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "hi"
        assert response.headers["x-router-provider"] == header_provider
        assert response.headers["x-router-model"] == header_model
        assert urllib.parse.unquote(response.headers["x-router-model"]) == ref
        assert "x-evil" not in response.headers
    assert len(upstream.requests) == 2


def test_a_provider_name_with_control_characters_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        Router.from_config(
            {"providers": [{"name": "p\r\nq", "kind": "pinstripes", "api_key": "k"}]}
        )
    assert caught.value.key_path == "providers[0].name"


# -- 6. malformed requests ---------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"model": "raw:m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
         "NaN is not a JSON number"),
        (b'{"model": "raw:m", "messages": [{"role": "user", "content": "x"}], "top_p": Infinity}',
         "Infinity is not a JSON number"),
        (b'{"model": "raw:m", "messages": [{"role": "user", "content": "\\ud800"}]}',
         "messages[0].content: a string is not valid Unicode"),
        (b'{"model": "raw:m", "messages": [{"role": "user", "content": "x"}], "x": '
         + _nested(3000).encode() + b"}", "nested too deep"),
        (b'{"model": "raw:m", "messages": [{"role": "user", "content": '
         + _nested(600).encode() + b"}]}", "nested deeper than 128 levels"),
    ],
    ids=["nan", "infinity", "lone-surrogate", "json-3000-deep", "content-600-deep"],
)  # fmt: skip
def test_malformed_requests_are_400_on_the_server_and_the_transport(body, problem):
    with RawUpstream(answer(completion())) as upstream:
        router = Router.from_config(
            {
                "providers": [provider_block(upstream)],
                "policy": [{"cheapest": {"prefix_cache": True}}],
            }
        )
        client = httpx.Client(transport=router.transport(), base_url="http://router/v1")
        in_process = client.post("/chat/completions", content=body)
        with serving(create_app(router)) as base:
            served = httpx.post(f"{base}/v1/chat/completions", content=body)
        router.close()
    for response in (in_process, served):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert problem in error["message"]
    assert upstream.requests == []


@pytest.mark.parametrize(
    "request_",
    [
        {"messages": [{"role": "user", "content": "x"}], "temperature": float("nan")},
        {"messages": [{"role": "user", "content": "x"}], "temperature": float("inf")},
        {"messages": [{"role": "user", "content": "\ud800"}]},
        {"messages": [{"role": "user", "content": json.loads(_nested(900))}]},
    ],
    ids=["nan", "inf", "lone-surrogate", "content-900-deep"],
)
def test_malformed_requests_are_invalid_request_in_python(request_):
    with RawUpstream(answer(completion())) as upstream:
        router = Router.from_config(
            {
                "providers": [provider_block(upstream)],
                "policy": [{"cheapest": {"prefix_cache": True}}],
            }
        )
        with pytest.raises(InvalidRequest):
            router.complete(model="raw:m", **request_)
        with pytest.raises(InvalidRequest):
            asyncio.run(router.acomplete(model="raw:m", **request_))
        router.close()
    assert upstream.requests == []


# -- 7. config gaps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k1, api_key: k2}\n",
         "providers[0].api_key"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k}\nproviders: []\n", "providers"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k}\n"
         "fallback: {attempts: 1, attempts: 9}\n", "fallback.attempts"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k, timeout: .inf}\n",
         "providers[0].timeout"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k, read_timeout: .nan}\n",
         "providers[0].read_timeout"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k}\n"
         "fallback: {backoff_seconds: .inf}\n", "fallback.backoff_seconds"),
        ("providers:\n  - {name: p, kind: pinstripes, api_key: k, timeout: '${T}'}\n",
         "providers[0].timeout"),
    ],
    ids=["dup-api-key", "dup-providers", "dup-attempts", "inf-timeout", "nan-read-timeout",
         "inf-backoff", "inf-from-env"],
)  # fmt: skip
def test_duplicate_keys_and_non_finite_numbers_are_config_errors(text, path):
    with pytest.raises(ConfigError) as caught:
        Router.from_yaml(text, environ={"T": "inf"})
    assert caught.value.key_path == path
    assert "k2" not in str(caught.value)


def test_a_merge_key_may_still_override_what_it_merges():
    text = (
        "base: &b {kind: pinstripes, api_key: k, timeout: 5}\n"
        "providers:\n  - {<<: *b, name: p, timeout: 7}\n"
    )
    data = load_yaml(text)
    assert data["providers"][0]["timeout"] == 7


# -- 9. 408 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["request_timeout", "timeout", None, "anything"])
def test_a_408_is_retryable_whatever_its_body_says(code):
    error = {"error": {"message": "took too long", "code": code}}
    with (
        RawUpstream(answer(error, 408)) as slow,
        RawUpstream(answer(completion("second"))) as good,
    ):
        router = Router.from_config(
            {
                "providers": [provider_block(slow, "slow"), provider_block(good, "good")],
                "models": {"g": ["slow:m", "good:m"]},
                "policy": [],
            }
        )
        reply = router.complete(model="g", messages=HELLO)
        router.close()
    assert reply.provider == "good"
    assert [(a.ref, a.kind, a.status) for a in reply.route.attempts] == [("slow:m", "Timeout", 408)]


# -- 10. no upstream URLs in client-facing bodies ------------------------------------------------


def test_client_facing_bodies_carry_no_upstream_url():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    down = f"http://127.0.0.1:{port}/internal/v1"
    with RawUpstream(answer(completion())) as upstream:
        conf = {
            "providers": [
                {**provider_block(upstream, "up"), "base_url": upstream.base_url},
                {**provider_block(upstream, "down"), "base_url": down},
            ],
            "models": {"g": ["down:m"]},
        }
        router = Router.from_config(conf)
        # the exception (and the log) still say where
        with pytest.raises(CatalogError) as caught:
            router.catalog("down")
        assert f"127.0.0.1:{port}" in str(caught.value)
        client = httpx.Client(transport=router.transport(), base_url="http://router/v1")
        in_process = client.post("/chat/completions", json={"model": "g", "messages": HELLO})
        with serving(create_app(router)) as base:
            served = httpx.post(
                f"{base}/v1/chat/completions", json={"model": "g", "messages": HELLO}
            )
        router.close()
    for response in (in_process, served):
        assert response.status_code >= 400
        text = response.text
        assert str(port) not in text, text
        assert "internal" not in text, text
        assert "127.0.0.1" not in text, text
        assert "<upstream" in text, text


# -- 5. slow clients against router serve --------------------------------------------------


@contextlib.contextmanager
def serve(router: Router, **server: Any) -> Iterator[int]:
    """``router serve``'s app and uvicorn settings on a free loopback port; yields the port."""
    settings = ServerSettings(**server)
    app = create_app(router, body_timeout_seconds=settings.body_timeout_seconds)
    config_ = uvicorn_config(
        app, settings, host="127.0.0.1", port=0, log_config=None, log_level="warning", ws="none"
    )
    server_ = uvicorn.Server(config_)
    thread = threading.Thread(target=server_.run, daemon=True)
    thread.start()
    wait_until(lambda: server_.started)
    (port,) = {sock.getsockname()[1] for s in server_.servers for sock in s.sockets}
    try:
        yield port
    finally:
        server_.should_exit = True
        thread.join(10)


def _read_all(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.fixture
def served_router() -> Iterator[Router]:
    with RawUpstream(answer(completion())) as upstream:
        router = Router.from_config({"providers": [provider_block(upstream)]})
        yield router
        router.close()


def test_a_header_block_dripping_past_its_timeout_gets_408(served_router, stop):
    with serve(served_router, header_timeout_seconds=0.5) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        drip = threading.Thread(
            target=trickle,
            args=(sock, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + b"x-a: b\r\n" * 50,
                  0.05, stop),
            daemon=True,
        )  # fmt: skip
        started = time.monotonic()
        drip.start()
        data = _read_all(sock, 3)
        elapsed = time.monotonic() - started
        stop.set()
        sock.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in data
    assert 0.4 < elapsed < 1.5


def test_a_connection_that_sends_nothing_gets_408(served_router):
    with serve(served_router, header_timeout_seconds=0.3) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        data = _read_all(sock, 3)
        sock.close()
    assert data.startswith(b"HTTP/1.1 408 ")


def test_a_body_dripping_past_its_timeout_gets_408(served_router, stop):
    body = json.dumps({"model": "raw:m", "messages": HELLO}).encode()
    with serve(served_router, body_timeout_seconds=0.5) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        threading.Thread(target=trickle, args=(sock, body, 0.05, stop), daemon=True).start()
        started = time.monotonic()
        data = _read_all(sock, 3)
        elapsed = time.monotonic() - started
        stop.set()
        sock.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert b'"code":"request_timeout"' in data
    assert 0.4 < elapsed < 1.5


def test_max_connections_bounds_concurrent_clients(served_router):
    with serve(served_router, max_connections=2, header_timeout_seconds=5) as port:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.2)
        over = httpx.get(f"http://127.0.0.1:{port}/health")
        for sock in idle:
            sock.close()
        time.sleep(0.2)
        after = httpx.get(f"http://127.0.0.1:{port}/health")
    assert over.status_code == 503
    assert after.status_code == 200


def test_slow_client_limits_leave_normal_clients_alone(served_router):
    with (
        serve(served_router, header_timeout_seconds=0.3, body_timeout_seconds=0.3) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        first = client.post("/v1/chat/completions", json={"model": "raw:m", "messages": HELLO})
        time.sleep(0.6)  # idle on the kept-alive connection, longer than either timeout
        second = client.post("/v1/chat/completions", json={"model": "raw:m", "messages": HELLO})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"header_timeout_seconds": 0}, "server.header_timeout_seconds"),
        ({"body_timeout_seconds": ".inf"}, "server.body_timeout_seconds"),
        ({"max_connections": 0}, "server.max_connections"),
    ],
)
def test_server_limits_are_validated(block, path):
    with pytest.raises(ConfigError) as caught:
        server_settings({"server": block})
    assert caught.value.key_path == path
