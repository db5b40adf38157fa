"""A loopback upstream for the benchmark: four OpenRouter-style providers on one port.

Run as its own process (``python bench/upstream.py [--cpu 1]``); it prints ``PORT <n>``
once it listens on 127.0.0.1. It is a bare ``asyncio.Protocol`` HTTP/1.1 server (keep-alive,
pipelining, ``Content-Length`` or chunked request bodies), uvloop when installed, and
every answer is a byte string built once: it must never be what the clients wait for.

Paths (any prefix is followed by the provider's API root, e.g. ``/p2/api/v1``):

- ``/p{i}/…`` (i = 0..3): one deployment of ``bench/model`` at provider ``i``, each with
  its own per-token prices (OpenRouter's strings, USD per token);
- ``/p{i}/c{n}/…``: the same, streaming ``n`` content chunks instead of 20;
- ``/cat{n}/…``: a synthetic OpenRouter catalog of ``n`` models (the selection benchmark).

Routes: ``GET …/models`` (OpenAI list), ``POST …/chat/completions``: a fixed
``chat.completion``, or with ``"stream": true`` SSE: the content chunks (role on the
first, ``finish_reason`` on the last), one usage chunk, ``data: [DONE]``; each event is
one HTTP chunk of a chunked response, written in one go. Anything else is a 404.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys

MODEL_ID = "bench/model"
CHUNKS = 20
"""Content chunks of a streamed answer (before the usage chunk and ``[DONE]``)."""
CREATED = 1_767_225_600

# USD per 1M tokens (prompt, completion, cache read) of the four deployments: distinct,
# and the cheapest is not the first, so a router that just takes the first is not lucky.
PRICES_PER_MTOK: tuple[tuple[str, str, str], ...] = (
    ("0.50", "1.50", "0.05"),
    ("0.40", "1.60", "0.04"),
    ("0.30", "1.20", "0.03"),
    ("0.60", "2.00", "0.06"),
)
CHEAPEST = 2
"""The index of the deployment a cost-aware router picks for the benchmark request."""
USAGE = {"prompt_tokens": 21, "completion_tokens": CHUNKS, "total_tokens": 21 + CHUNKS}


def per_token(per_mtok: str) -> str:
    """A USD-per-1M price as OpenRouter's USD-per-token string."""
    from decimal import Decimal

    return format((Decimal(per_mtok) / 1_000_000).normalize(), "f")


def deployment_entry(index: int) -> dict[str, object]:
    prompt, completion, cache_read = PRICES_PER_MTOK[index]
    return {
        "id": MODEL_ID,
        "name": "Bench Model",
        "context_length": 131_072,
        "pricing": {
            "prompt": per_token(prompt),
            "completion": per_token(completion),
            "input_cache_read": per_token(cache_read),
        },
        "supported_parameters": ["max_tokens", "temperature", "tools", "stop"],
        "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
        "top_provider": {"max_completion_tokens": 16_384},
    }


def synthetic_id(k: int) -> str:
    return f"vendor{k % 97}/model-{k}"


def synthetic_entry(k: int) -> dict[str, object]:
    """Entry ``k`` of a synthetic catalog: varied prices, contexts and capabilities.

    Deterministic. About 1 in 10 entries states no context length, 1 in 7 no
    ``supported_parameters`` (tools unknown), 1 in 5 lacks tools, and 1 in 50 is an
    image-generation model, so every step of the default policy chain has work to do.
    """
    prompt = (k * 7919) % 5000 + 10  # USD per 1M x 100
    entry: dict[str, object] = {
        "id": synthetic_id(k),
        "name": f"Model {k}",
        "pricing": {
            "prompt": per_token(f"{prompt / 100:.2f}"),
            "completion": per_token(f"{prompt * 4 / 100:.2f}"),
            "input_cache_read": per_token(f"{prompt / 1000:.3f}"),
        },
        "architecture": {
            "input_modalities": ["text", "image"] if k % 3 == 0 else ["text"],
            "output_modalities": ["image"] if k % 50 == 49 else ["text"],
        },
        "top_provider": {"max_completion_tokens": 4096 * (1 + k % 8)},
    }
    if k % 10 != 3:
        entry["context_length"] = 8192 * (1 + (k * 31) % 128)
    if k % 7 != 5:
        entry["supported_parameters"] = (
            ["max_tokens", "temperature"] if k % 5 == 1 else ["max_tokens", "temperature", "tools"]
        )
    return entry


def _compact(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def completion_body() -> bytes:
    return _compact(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello from the bench upstream."},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )


def sse_events(chunks: int) -> list[bytes]:
    """The SSE events of one streamed answer with ``chunks`` content chunks."""
    events = []
    for i in range(chunks):
        delta: dict[str, str] = {"content": f"tok{i} "}
        if i == 0:
            delta = {"role": "assistant", **delta}
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL_ID,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": "stop" if i == chunks - 1 else None}
            ],
        }
        events.append(b"data: " + _compact(chunk) + b"\n\n")
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL_ID,
        "choices": [],
        "usage": {**USAGE, "completion_tokens": chunks, "total_tokens": 21 + chunks},
    }
    events.append(b"data: " + _compact(usage) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def http_json(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def http_sse(events: list[bytes]) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
    return head + body + b"0\r\n\r\n"


NOT_FOUND = http_json("404 Not Found", b'{"error":{"message":"not found","code":"not_found"}}')
_PREFIX = re.compile(r"^/(?:p(\d)(?:/c(\d+))?|cat(\d+))/")
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")


class Answers:
    """Every answer, built on first use per path and kept."""

    def __init__(self) -> None:
        self._routes: dict[bytes, tuple[bytes | None, bytes | None, bytes | None]] = {}

    def route(self, path: bytes) -> tuple[bytes | None, bytes | None, bytes | None]:
        """(catalog, completion, stream) answers for ``path``; None where it has none."""
        known = self._routes.get(path)
        if known is None:
            known = self._routes[path] = self._build(path.decode("latin-1").split("?")[0])
        return known

    @staticmethod
    def _build(path: str) -> tuple[bytes | None, bytes | None, bytes | None]:
        match = _PREFIX.match(path)
        if match is None:
            return None, None, None
        provider, chunks, size = match.groups()
        if path.endswith("/models"):
            if size is not None:
                data = [synthetic_entry(k) for k in range(int(size))]
            elif int(provider) < len(PRICES_PER_MTOK):
                data = [deployment_entry(int(provider))]
            else:
                return None, None, None
            return http_json("200 OK", _compact({"object": "list", "data": data})), None, None
        if path.endswith("/chat/completions"):
            events = sse_events(int(chunks) if chunks else CHUNKS)
            return None, http_json("200 OK", completion_body()), http_sse(events)
        return None, None, None


class Connection(asyncio.Protocol):
    """One client connection: parse requests as they arrive, answer each at once."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self._one():
            pass

    def _one(self) -> bool:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        raw = bytes(buffer[:end])
        head = raw.lower()
        start = end + 4
        if b"transfer-encoding: chunked" in head:
            body, consumed = _dechunk(buffer, start)
            if body is None:
                return False
        else:
            found = _LENGTH.search(head)
            consumed = start + (int(found.group(1)) if found else 0)
            if len(buffer) < consumed:
                return False
            body = bytes(buffer[start:consumed])
        del buffer[:consumed]
        method, path, _ = raw.split(b"\r\n", 1)[0].split(b" ", 2)
        catalog, complete, stream = self.answers.route(path)
        if method == b"GET" and catalog is not None:
            answer = catalog
        elif method == b"POST" and complete is not None:
            answer = stream if _STREAM.search(body) else complete
        else:
            answer = NOT_FOUND
        assert self.transport is not None
        self.transport.write(answer)
        if b"connection: close" in head:
            self.transport.close()
            return False
        return True


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes | None, int]:
    """A chunked request body starting at ``start``: (body, end), or (None, 0) if incomplete."""
    parts = []
    at = start
    while True:
        eol = buffer.find(b"\r\n", at)
        if eol < 0:
            return None, 0
        size = int(bytes(buffer[at:eol]).split(b";")[0], 16)
        if size == 0:
            trailer = buffer.find(b"\r\n\r\n", eol)
            if trailer < 0 and buffer[eol : eol + 4] != b"\r\n\r\n":
                return None, 0
            return b"".join(parts), (trailer if trailer >= 0 else eol) + 4
        if len(buffer) < eol + 2 + size + 2:
            return None, 0
        parts.append(bytes(buffer[eol + 2 : eol + 2 + size]))
        at = eol + 2 + size + 2


async def serve(host: str, port: int) -> None:
    answers = Answers()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(answers), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    print(f"LOOP {'uvloop' if runner is not asyncio.run else 'asyncio'}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve("127.0.0.1", args.port))


if __name__ == "__main__":
    main()
