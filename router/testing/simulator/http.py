"""The simulator's HTTP plumbing: scripted replies, recorded requests, responses, the call a
route handler sees, and the threaded loopback server that carries them.

Nothing here knows a provider or a dialect: the server hands every request to a
:class:`_Dispatcher` (the :class:`~router.testing.simulator.Simulator`), and a route handler
reaches the simulator's state through :class:`_Host`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from router.testing.simulator.answers import AnswerLength


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


@dataclass(frozen=True)
class Reply:
    """One scripted answer: ``status``, then ``json`` or raw ``body``, extra ``headers``.

    With neither ``json`` nor ``body``: a 200 serves the provider's normal response (so
    ``Reply(200, delay=0.5)`` is the normal catalog or chat answer with a slow first
    byte) and any other status serves a generated error body in the provider's style
    (Anthropic's on PipeLLM's ``/v1/messages``). ``delay`` seconds are slept before
    anything is sent. A raw ``body`` defaults to ``text/html`` when it starts with ``<``
    and ``application/json`` otherwise; a ``Content-Type`` in ``headers`` overrides
    either.

    ``cut_after=N`` breaks the response: a streamed answer sends its first ``N`` events
    and the server closes the connection without ending the chunked body (the client
    sees an incomplete read, never ``[DONE]`` nor the final events); any other response
    announces its full ``Content-Length``, sends the first half of the body and closes.

    ``error_event=message`` (200 only, normal answer) makes a streamed answer send one
    content event, then the provider's error event with ``message``, then end; a
    non-streamed answer is then a 200 whose body is that error object.
    """

    status: int = 200
    json: object = _UNSET
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_after: int | None = None
    error_event: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            msg = f"Reply.status must be an HTTP status (100-599), not {self.status}"
            raise ValueError(msg)
        if self.json is not _UNSET and self.body is not None:
            msg = "Reply takes json or body, not both"
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"Reply.delay must be >= 0, not {self.delay}"
            raise ValueError(msg)
        if self.cut_after is not None and (
            not isinstance(self.cut_after, int) or self.cut_after < 0
        ):
            msg = f"Reply.cut_after must be an int >= 0, not {self.cut_after!r}"
            raise ValueError(msg)
        if self.error_event is not None and (
            self.status != 200 or self.json is not _UNSET or self.body is not None
        ):
            msg = "Reply.error_event goes with a normal answer: status 200, no json or body"
            raise ValueError(msg)

    @property
    def scripted_body(self) -> bool:
        """Whether this reply replaces the normal answer (its own status, json or body)."""
        return self.json is not _UNSET or self.body is not None or self.status != 200


@dataclass(frozen=True)
class Recorded:
    """One request a simulated provider received; ``path`` is the raw request target."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


_SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    events: tuple[bytes, ...] | None = None  # an event stream: one HTTP chunk per frame
    cut: bool = False  # close the connection before the body is complete
    ttft: float = 0.0  # seconds before the first event (a whole body: before anything)
    gap: float = 0.0  # seconds between events (a whole body: the generation time, once)

    @classmethod
    def of_json(cls, status: int, payload: object, headers: Mapping[str, str] = {}) -> _Response:
        return cls(status, _compact(payload), _merge({"Content-Type": "application/json"}, headers))

    @classmethod
    def sse(cls, frames: Iterable[bytes]) -> _Response:
        return cls(200, b"", dict(_SSE_HEADERS), tuple(frames))

    def broken(self, after: int) -> _Response:
        """This response cut: the first ``after`` events of a stream, else half the body."""
        events = None if self.events is None else self.events[:after]
        return replace(self, events=events, cut=True)


def _compact(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _merge(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``, header names compared case-insensitively."""
    taken = {k.lower() for k in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in taken}, **extra}


class _Cacheable(Protocol):
    """What the prefix cache asks of a provider: its name and a model's cache-read rate."""

    @property
    def name(self) -> str: ...

    def cache_read_rate(self, entry: Mapping[str, Any]) -> object: ...


class _Host(Protocol):
    """What a route handler asks of the simulator that received its call."""

    def catalog(self, provider: str) -> object: ...

    def answer_length(self, provider: str, model: str) -> AnswerLength | None: ...

    @property
    def image_tokens(self) -> int: ...

    def _prompt_cache(
        self,
        provider: _Cacheable,
        call: _Call,
        entry: Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        explicit: bool,
    ) -> tuple[int, int]: ...


class _Dispatcher(Protocol):
    """What the server hands each request to: it returns the response to send."""

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> _Response: ...


@dataclass(frozen=True)
class _Call:
    """What a route handler sees: the request, relative to the provider's mount."""

    sim: _Host
    method: str
    path: str  # relative to the mount, without the query string
    query: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    key: str = ""  # the key the provider accepts now
    reply: Reply | None = None  # the scripted reply this request consumed, if any

    @property
    def error_event(self) -> str | None:
        """The message of a scripted mid-stream error, if one was asked for."""
        return self.reply.error_event if self.reply is not None else None

    @property
    def completes(self) -> bool:
        """Whether a normal answer to this call arrives whole (no error event, no cut)."""
        return self.reply is None or (
            self.reply.error_event is None and self.reply.cut_after is None
        )


Handler = Callable[[_Call], _Response]


def _phrase(status: int) -> str:
    if status == 529:  # Anthropic / PipeLLM "overloaded", not in http.HTTPStatus
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _json_object(data: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


# -- the server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default backlog of 5 resets bursts of connections

    def __init__(self, sim: _Dispatcher, port: int = 0) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    # Track connections so that stop() can end kept-alive ones: otherwise their handler
    # threads would go on answering after the simulator was stopped.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, a closed stream) is routine for a fault
        # simulator: say nothing. Anything else is a simulator bug: print it.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            response = _Response.of_json(400, {"error": "send a Content-Length"})
        else:
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            sim = cast(_Server, self.server).sim
            response = sim._handle(self.command, self.path, headers, body)
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def _send(self, response: _Response) -> None:
        if response.events is None and (response.ttft or response.gap):
            time.sleep(response.ttft + response.gap)  # a complete answer: all at the end
        self.send_response(response.status, _phrase(response.status))
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding"):  # set below
                self.send_header(name, value)
        if response.events is not None:  # an event stream: one chunk per frame
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i, frame in enumerate(response.events):
                pause = response.ttft if i == 0 else response.gap
                if pause:
                    self.wfile.flush()
                    time.sleep(pause)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            if response.cut:  # no last chunk: the client sees an incomplete body
                self.close_connection = True
            else:
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.cut:  # the full length announced, half of it sent
            self.wfile.write(response.body[: len(response.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
