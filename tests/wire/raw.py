"""A raw-socket HTTP upstream on 127.0.0.1 for faults the simulator cannot script: headers
that come late, bodies and keep-alives trickled a byte at a time, answers built by hand.

``RawUpstream(chat)`` serves an OpenAI-compatible catalog at ``GET /v1/models`` (one model,
``m``) and hands every other request to ``chat(conn, request)``, which writes what it
likes to the socket (:func:`head` builds a response head). Each connection runs in its own
daemon thread; closing the upstream closes every socket it opened.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CATALOG = {"object": "list", "data": [{"id": "m", "object": "model", "context_length": 8192}]}


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def head(status: int = 200, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def json_response(payload: object, status: int = 200) -> bytes:
    body = json.dumps(payload).encode()
    return (
        head(status, {"content-type": "application/json", "content-length": str(len(body))}) + body
    )


def completion(content: str = "hi", model: str = "m", **extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        **extra,
    }


def read_request(conn: socket.socket) -> RawRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    first, *lines = raw_head.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return RawRequest(method, path, headers, body)


class RawUpstream:
    """An upstream on a free loopback port whose chat answers are ``chat(conn, request)``."""

    def __init__(
        self,
        chat: Callable[[socket.socket, RawRequest], None],
        catalog: dict[str, Any] = CATALOG,
    ) -> None:
        self.chat = chat
        self.catalog = catalog
        self.requests: list[RawRequest] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with contextlib.suppress(OSError):
                while (request := read_request(conn)) is not None:
                    if request.method == "GET" and request.path.endswith("/models"):
                        conn.sendall(json_response(self.catalog))
                        continue
                    self.requests.append(request)
                    self.chat(conn, request)
        finally:
            conn.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for conn in list(self._open):  # wakes each handler, which closes its socket
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> RawUpstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def answer(payload: object, status: int = 200) -> Callable[[socket.socket, RawRequest], None]:
    """A chat handler that answers ``payload`` as JSON."""

    def chat(conn: socket.socket, request: RawRequest) -> None:
        conn.sendall(json_response(payload, status))

    return chat


def trickle(conn: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send ``data`` a byte every ``every`` seconds (until ``stop``)."""
    for byte in data:
        if stop.wait(every):
            return
        conn.sendall(bytes([byte]))


def provider_block(upstream: RawUpstream, name: str = "raw", **options: Any) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "openai",
        "base_url": upstream.base_url,
        "api_key": "sk-raw-0123456789",
        "model_info": {"*": {"prompt_per_mtok": 1, "completion_per_mtok": 2}},
        **options,
    }


def wait_until(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
