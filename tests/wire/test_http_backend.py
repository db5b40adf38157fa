"""The async HTTP pool, on both backends (``http: aiohttp``, the default, and ``http: httpx``).

Every failure reaches the router as the httpx exception httpx's own transport raises for
it, and so as the same typed error: a refused connection is ``Unavailable`` (not a
timeout), a hang-up or a reply that is not HTTP is ``Unavailable`` (not an untyped
aiohttp error), timeouts and deadlines are ``Timeout``. Real HTTP on 127.0.0.1: the
simulator, or a socket made to misbehave in one precise way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router import Router
from router.errors import (
    ConfigError,
    DeadlineExceeded,
    RateLimited,
    StreamInterrupted,
    Timeout,
    Unavailable,
    UpstreamError,
)
from router.testing.simulator import Reply, Simulator
from router.types import ChatRequest
from router.wire.aiohttp_transport import AiohttpClient
from router.wire.deadline_backend import DeadlineAsyncClient
from tests.wire.conftest import HELLO, config, provider_conf

BACKENDS = ["aiohttp", "httpx"]
REF = "pinstripes:ps/deepseek-v4-flash"
GROUP = {"g": [REF, "routstr:deepseek/deepseek-v4-flash"]}

pytestmark = pytest.mark.wire
both = pytest.mark.parametrize("http", BACKENDS)


def make_router(sim: Simulator, http: str, *kinds: str, **options: Any) -> Router:
    """A router over ``kinds`` on the ``http`` backend; ``options`` go to the first provider,
    ``models`` / ``fallback`` to the top level."""
    top = {k: options.pop(k) for k in ("models", "fallback") if k in options}
    conf = config(sim, *kinds, **top)
    for block in conf["providers"]:
        block["http"] = http
    conf["providers"][0].update(options)
    router = Router.from_config(conf)
    for name in router.providers:  # catalogs now, so scripted faults hit the chat routes
        router.catalog(name)
    return router


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full: the kernel drops new SYNs, so connecting hangs."""
    with contextlib.ExitStack() as stack:
        listener = stack.enter_context(socket.socket())
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        for _ in range(3):  # fill the queue; never accepted
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        yield port


def read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536) or b"\r\n\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536) or b"x" * length


@contextlib.contextmanager
def misbehaving_server(answer: bytes | None) -> Iterator[int]:
    """A loopback server that reads one request, then sends ``answer`` (``None``: nothing)
    and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                read_request(conn)  # all of it: unread bytes would turn our FIN into a reset
                if answer is not None:
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def request_for(model: str, **fields: Any) -> ChatRequest:
    return ChatRequest.model_validate({"model": model, "messages": HELLO, **fields})


async def send_elsewhere(
    sim: Simulator, http: str, base_url: str, *replies: Reply, **options: Any
) -> Any:
    """``provider.asend`` of a simulated pinstripes card, to a provider at ``base_url``
    (``replies``: scripted for the chat route)."""
    with make_router(sim, http, "pinstripes") as listed:
        card = next(c for c in listed.catalog("pinstripes").models if c.ref == REF)
    sim.script("pinstripes", replies)
    conf = {"providers": [{**provider_conf(sim, "pinstripes"), "base_url": base_url, **options}]}
    conf["providers"][0]["http"] = http
    async with Router.from_config(conf) as router:
        return await router.providers["pinstripes"].asend(card, request_for(REF))


# -- the option ------------------------------------------------------------------------------


@both
def test_the_option_picks_the_async_client(sim, http):
    async def main() -> type[httpx.AsyncClient]:
        async with make_router(sim, http, "pinstripes") as router:
            return type(router.providers["pinstripes"].aclient())

    expected = AiohttpClient if http == "aiohttp" else DeadlineAsyncClient
    assert asyncio.run(main()) is expected


def test_aiohttp_is_the_default(sim):
    conf = config(sim, "pinstripes")
    assert "http" not in conf["providers"][0]
    assert Router.from_config(conf).providers["pinstripes"].options.http == "aiohttp"


@pytest.mark.parametrize("http", ["requests", "", 1, None])
def test_an_unknown_backend_is_a_config_error(sim, http):
    conf = config(sim, "pinstripes")
    conf["providers"][0]["http"] = http
    with pytest.raises(ConfigError) as info:
        Router.from_config(conf)
    assert str(info.value).startswith("providers[0].http: ")
    assert "'aiohttp' or 'httpx'" in str(info.value)


# -- connecting ------------------------------------------------------------------------------


@both
def test_a_refused_connection_is_unavailable_not_a_timeout(sim, http):
    with pytest.raises(Unavailable) as info:
        asyncio.run(send_elsewhere(sim, http, f"http://127.0.0.1:{closed_port()}/v1"))
    assert not isinstance(info.value, Timeout)
    assert info.value.code == "connect"
    assert "ConnectError" in str(info.value)
    assert "ConnectTimeout" not in str(info.value)


@both
def test_a_refused_catalog_is_a_catalog_error_naming_connect_error(http):
    from router.errors import CatalogError

    port = closed_port()
    conf = {
        "providers": [
            {
                "name": "gone",
                "kind": "openai",
                "base_url": f"http://127.0.0.1:{port}/v1",
                "http": http,
            }
        ]
    }

    conf["providers"][0]["http"] = http

    async def main() -> None:
        async with Router.from_config(conf) as router:
            await router.providers["gone"].afetch_catalog()

    with pytest.raises(CatalogError) as info:
        asyncio.run(main())
    assert "ConnectError" in str(info.value)
    assert "ConnectTimeout" not in str(info.value)


@both
def test_a_connection_never_accepted_is_a_connect_timeout(sim, http):
    with unanswered_port() as port, pytest.raises(Timeout) as info:
        asyncio.run(send_elsewhere(sim, http, f"http://127.0.0.1:{port}/v1", connect_timeout=0.3))
    assert info.value.code == "connect"
    assert "ConnectTimeout" in str(info.value)


@both
def test_a_connect_timeout_longer_than_the_timeout_is_waited_for(sim, http):
    # aiohttp bounds the pool wait and the connecting together: connect_timeout must not
    # be cut short to the (pool) timeout. A lower bound only: a slow machine waits longer.
    started = time.monotonic()
    with unanswered_port() as port, pytest.raises(Timeout) as info:
        asyncio.run(
            send_elsewhere(
                sim, http, f"http://127.0.0.1:{port}/v1", timeout=0.2, connect_timeout=1.2
            )
        )
    assert time.monotonic() - started >= 1.0
    assert "ConnectTimeout" in str(info.value)


@both
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_answers_that_set_cookies_are_read(sim, http, stream):
    # the Router hands requests to the transport itself: a response must still carry its
    # request for the cookie jar (httpx's own transport leaves it unset)
    cookie = {"Set-Cookie": "__cf_bm=abc; path=/; HttpOnly"}

    async def main() -> list[str]:
        async with make_router(sim, http, "pinstripes", "routstr", models=GROUP) as router:
            sim.script("pinstripes", [Reply(200, headers=cookie) for _ in range(3)])
            providers = []
            for _ in range(3):
                if stream:
                    chunks = [c async for c in router.astream(model="g", messages=HELLO)]
                    providers.append(chunks[-1].provider)
                else:
                    answer = await router.acomplete(model="g", messages=HELLO)
                    providers.append(answer.provider)
                    assert answer.route.attempts == []
            return providers

    assert asyncio.run(main()) == ["pinstripes"] * 3


@both
@pytest.mark.parametrize(
    ("answer", "exception"),
    [
        (None, "RemoteProtocolError"),  # hangs up without a word
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "RemoteProtocolError"),  # not HTTP
        (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n{}", "RemoteProtocolError"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "RemoteProtocolError"),  # cut
    ],
    ids=["hang-up", "not-http", "bad-header", "short-body"],
)
def test_a_server_that_breaks_http_is_unavailable(sim, http, answer, exception):
    with misbehaving_server(answer) as port, pytest.raises(Unavailable) as info:
        asyncio.run(send_elsewhere(sim, http, f"http://127.0.0.1:{port}/v1"))
    assert not isinstance(info.value, Timeout)
    assert info.value.code is None
    assert exception in str(info.value)


# -- answers, timeouts, deadlines ------------------------------------------------------------


@both
@pytest.mark.parametrize(
    "reply",
    [Reply(200, body=b"<html>maintenance</html>"), Reply(200, cut_after=1), Reply(502)],
    ids=["html", "cut", "502"],
)
def test_a_bad_answer_falls_over(sim, http, reply):
    async def main() -> Any:
        async with make_router(sim, http, "pinstripes", "routstr", models=GROUP) as router:
            sim.script("pinstripes", [reply])
            return await router.acomplete(model="g", messages=HELLO)

    answer = asyncio.run(main())
    assert answer.provider == "routstr"
    assert [(a.ref, a.kind) for a in answer.route.attempts] == [(REF, "Unavailable")]


@both
def test_retry_after_is_read(sim, http):
    reply = Reply(429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimited) as info:
        asyncio.run(send_elsewhere(sim, http, sim.base_url("pinstripes"), reply))
    assert info.value.retry_after == 2.0
    assert info.value.status == 429


@both
def test_the_read_timeout_applies(sim, http):
    async def main() -> Any:
        async with make_router(
            sim, http, "pinstripes", "routstr", models=GROUP, read_timeout=0.3
        ) as router:
            sim.script("pinstripes", [Reply(200, delay=3.0)])
            return await router.acomplete(model="g", messages=HELLO)

    answer = asyncio.run(main())
    assert answer.provider == "routstr"
    [attempt] = answer.route.attempts
    assert (attempt.ref, attempt.kind) == (REF, "Timeout")
    assert attempt.error.startswith("ReadTimeout: ")


@both
def test_the_deadline_caps_every_attempt(sim, http):
    fallback = {"deadline_seconds": 0.6, "attempts": 10}

    async def main() -> None:
        async with make_router(
            sim, http, "pinstripes", "routstr", models=GROUP, fallback=fallback
        ) as router:
            sim.script("pinstripes", [Reply(200, delay=3.0)])
            sim.script("routstr", [Reply(200, delay=3.0)])
            await router.acomplete(model="g", messages=HELLO)

    with pytest.raises(DeadlineExceeded) as info:
        asyncio.run(main())
    # neither 3-second answer was waited for: the read timeout was the time left
    assert {a.kind for a in info.value.attempts} == {"Timeout"}
    assert info.value.attempts[0].ref == REF


# -- streams ---------------------------------------------------------------------------------


@both
def test_a_stream_cut_before_its_first_chunk_falls_over(sim, http):
    async def main() -> list[Any]:
        async with make_router(sim, http, "pinstripes", "routstr", models=GROUP) as router:
            sim.script("pinstripes", [Reply(200, cut_after=0)])
            return [c async for c in router.astream(model="g", messages=HELLO)]

    chunks = asyncio.run(main())
    assert {c.provider for c in chunks} == {"routstr"}
    assert [(a.ref, a.kind) for a in chunks[-1].route.attempts] == [(REF, "Unavailable")]


@both
def test_a_stream_cut_after_chunks_is_interrupted(sim, http):
    received: list[str] = []

    async def main() -> None:
        async with make_router(sim, http, "pinstripes", "routstr", models=GROUP) as router:
            sim.script("pinstripes", [Reply(200, cut_after=2)])
            async for chunk in router.astream(model="g", messages=HELLO):
                received.extend(c.delta.content or "" for c in chunk.choices)

    with pytest.raises(StreamInterrupted) as info:
        asyncio.run(main())
    assert info.value.chunks >= 1
    assert info.value.received == "".join(received)
    assert isinstance(info.value.cause, Unavailable)
    assert "RemoteProtocolError" in str(info.value.cause)


# -- concurrency, loops, closing -------------------------------------------------------------


@both
def test_many_tasks_and_several_loops_share_one_router(sim, http):
    texts = [f"request {i}" for i in range(48)]
    router = make_router(sim, http, "pinstripes", "routstr", models=GROUP)
    clients: list[httpx.AsyncClient] = []

    async def ask(text: str, stream: bool) -> str:
        messages = [{"role": "user", "content": text}]
        if not stream:
            reply = await router.acomplete(model="g", messages=messages)
            return reply.choices[0].message.content or ""
        parts = [
            c.delta.content or ""
            async for chunk in router.astream(model="g", messages=messages)
            for c in chunk.choices
        ]
        return "".join(parts)

    async def main() -> list[str]:
        answers = await asyncio.gather(*(ask(t, i % 2 == 1) for i, t in enumerate(texts)))
        clients.append(router.providers["pinstripes"].aclient())
        return answers

    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(asyncio.run(main())))]
    threads += [threading.Thread(target=lambda: results.append(asyncio.run(main())))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with router:
        results.append(asyncio.run(main()))

    assert results == [[f"You said: {t}" for t in texts]] * 3
    assert len({id(c) for c in clients}) == 3  # one client per event loop...
    assert all(c.is_closed for c in clients)  # ...closed when its loop shut down


@both
def test_aclose_closes_the_loops_client_and_a_new_one_serves_after(sim, http):
    async def main() -> tuple[bool, str]:
        router = make_router(sim, http, "pinstripes")
        first = router.providers["pinstripes"].aclient()
        await router.acomplete(model=REF, messages=HELLO)
        await router.aclose()
        answer = await router.acomplete(model=REF, messages=HELLO)
        second = router.providers["pinstripes"].aclient()
        await router.aclose()
        return first.is_closed and second.is_closed and first is not second, answer.provider

    assert asyncio.run(main()) == (True, "pinstripes")


@both
def test_errors_are_typed_whatever_the_transport_raises(sim, http):
    """No aiohttp (or other) exception escapes: only the router's typed errors."""
    faults = [
        Reply(200, cut_after=0),
        Reply(200, body=b"\x00\xff garbage"),
        Reply(500, body=b"<html>boom</html>"),
        Reply(200, cut_after=1),
    ]

    async def main() -> list[BaseException | None]:
        async with make_router(sim, http, "pinstripes") as router:
            sim.script("pinstripes", faults * 4)
            outcomes: list[BaseException | None] = []
            for _ in range(len(faults) * 4):
                try:
                    await router.providers["pinstripes"].asend(
                        next(c for c in router.catalog("pinstripes").models if c.ref == REF),
                        request_for(REF),
                    )
                except Exception as exc:
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
            return outcomes

    outcomes = asyncio.run(main())
    assert all(isinstance(o, UpstreamError) for o in outcomes), outcomes


def test_aiohttp_is_imported_with_the_first_async_client_only():
    """aiohttp takes a while to import: a router that never sends async does not pay it."""
    probe = """
import asyncio, sys
from router import Router
conf = {"providers": [{"name": "p", "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}]}
router = Router.from_config(conf)
router.providers["p"].client()
before = "aiohttp" in sys.modules
async def main():
    router.providers["p"].aclient()
    await router.aclose()
asyncio.run(main())
print(before, "aiohttp" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
