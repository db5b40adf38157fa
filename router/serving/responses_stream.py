"""The Responses API's stream events, from a routed stream of chat chunks.

:class:`ResponseStream` turns ``chat.completion.chunk`` objects into the Responses events
(``response.created``, ``response.output_item.added``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ..., ``response.completed``) as SSE bytes;
:mod:`router.serving.responses` translates requests and whole answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from router.completion import ChatCompletionChunk, Usage
from router.serving.responses import (
    call_item,
    envelope,
    message_item,
    new_response_id,
    status_of,
    usage_of,
)

__all__ = ["AsyncSSEBody", "ResponseStream", "SSEBody", "error_event"]

ErrorPayload = Callable[[Exception], dict[str, Any]]
"""The OpenAI error body (``{"error": {...}}``) the transport gives for an exception."""


def error_event(exc_payload: dict[str, Any], sequence: int) -> bytes:
    """The ``error`` event that ends a Responses stream which broke after it began."""
    error = exc_payload.get("error") or {}
    data = {
        "type": "error",
        "code": error.get("code"),
        "message": error.get("message") or "the stream broke",
        "param": None,
        "sequence_number": sequence,
    }
    return _sse("error", data)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


# -- stream -----------------------------------------------------------------------------------


class ResponseStream:
    """Turns a routed stream of chat chunks into Responses events (SSE bytes).

    Items are opened as their first delta arrives (the message when text comes, one
    ``function_call`` per tool-call index) and closed, in output order, when the chat
    stream ends; ``response.completed`` (or ``response.incomplete``) carries the whole
    response with ``usage`` and ``cost``.
    """

    def __init__(self, body: dict[str, Any], *, clock: Any = time.time) -> None:
        self.body = body
        self.id = new_response_id()
        self.sequence = 0
        self._clock = clock
        self._envelope: dict[str, Any] | None = None
        self._items: list[dict[str, Any]] = []
        self._texts: dict[int, list[str]] = {}
        self._calls: dict[int, int] = {}
        """Chat tool-call index → output index."""
        self._message: int | None = None
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._provider: str | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return _sse(kind, data)

    def _start(self, chunk: ChatCompletionChunk) -> list[bytes]:
        self._envelope = envelope(
            self.body, self.id, chunk.created or int(self._clock()), chunk.model
        )
        self._provider = chunk.provider
        response = {**self._envelope, "provider": chunk.provider}
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, chunk: ChatCompletionChunk) -> list[bytes]:
        """The events for one chat chunk."""
        out = self._start(chunk) if self._envelope is None else []
        self._provider = chunk.provider or self._provider
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta.content:
                out += self._text(delta.content)
            for call in delta.tool_calls or []:
                out += self._call(call)
            if choice.finish_reason:
                self._finish = choice.finish_reason
        return out

    def _text(self, text: str) -> list[bytes]:
        out: list[bytes] = []
        if self._message is None:
            self._message = len(self._items)
            item = message_item(f"msg_{self.id[5:]}_{self._message}", "", "in_progress")
            self._items.append(item)
            self._texts[self._message] = []
            out.append(
                self._event("response.output_item.added", output_index=self._message, item=item)
            )
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append(
                self._event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=self._message,
                    content_index=0,
                    part=part,
                )
            )
        self._texts[self._message].append(text)
        out.append(
            self._event(
                "response.output_text.delta",
                item_id=self._items[self._message]["id"],
                output_index=self._message,
                content_index=0,
                delta=text,
                logprobs=[],
            )
        )
        return out

    def _call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = call.get("index", len(self._calls))
        function = call.get("function") or {}
        position = self._calls.get(index)
        if position is None:
            # Text after a tool call starts a new message item, as OpenAI's stream would.
            self._message = None
            position = self._calls[index] = len(self._items)
            item = call_item(
                f"fc_{self.id[5:]}_{position}",
                call.get("id") or f"call_{self.id[5:]}_{position}",
                function.get("name") or "",
                "",
                "in_progress",
            )
            self._items.append(item)
            out.append(
                self._event("response.output_item.added", output_index=position, item=dict(item))
            )
        item = self._items[position]
        if call.get("id") and not item["call_id"]:
            item["call_id"] = call["id"]
        if function.get("name") and not item["name"]:
            item["name"] = function["name"]
        fragment = function.get("arguments") or ""
        if fragment:
            item["arguments"] += fragment
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=position,
                    delta=fragment,
                )
            )
        return out

    def finish(self) -> list[bytes]:
        """The closing events: every item done, then ``response.completed``."""
        if self._envelope is None:
            msg = "a Responses stream needs at least one chunk"
            raise ValueError(msg)
        out: list[bytes] = []
        for position, item in enumerate(self._items):
            if item["type"] == "message":
                text = "".join(self._texts[position])
                part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                out.append(
                    self._event(
                        "response.output_text.done",
                        item_id=item["id"],
                        output_index=position,
                        content_index=0,
                        text=text,
                        logprobs=[],
                    )
                )
                out.append(
                    self._event(
                        "response.content_part.done",
                        item_id=item["id"],
                        output_index=position,
                        content_index=0,
                        part=part,
                    )
                )
                self._items[position] = message_item(item["id"], text)
            else:
                out.append(
                    self._event(
                        "response.function_call_arguments.done",
                        item_id=item["id"],
                        output_index=position,
                        name=item["name"],
                        arguments=item["arguments"],
                    )
                )
                item["status"] = "completed"
            out.append(
                self._event(
                    "response.output_item.done", output_index=position, item=self._items[position]
                )
            )
        status, incomplete = status_of(self._finish)
        response = {
            **self._envelope,
            "status": status,
            "incomplete_details": incomplete,
            "output": self._items,
            "usage": usage_of(self._usage),
            "provider": self._provider,
        }
        kind = "response.completed" if status == "completed" else "response.incomplete"
        out.append(self._event(kind, response=response))
        return out

    def frames(
        self, first: ChatCompletionChunk | None, rest: Iterator[ChatCompletionChunk]
    ) -> Iterator[bytes]:
        """Every event of the stream, pulled as the client reads (sync)."""
        if first is not None:
            yield from self.feed(first)
        for chunk in rest:
            yield from self.feed(chunk)
        yield from self.finish()

    async def aframes(
        self, first: ChatCompletionChunk | None, rest: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[bytes]:
        """Async :meth:`frames`."""
        if first is not None:
            for frame in self.feed(first):
                yield frame
        async for chunk in rest:
            for frame in self.feed(chunk):
                yield frame
        for frame in self.finish():
            yield frame


class SSEBody(httpx.SyncByteStream):
    """A routed stream as Responses events, pulled from the provider as the client reads;
    a failure after it began ends it with an ``error`` event."""

    def __init__(
        self,
        events: ResponseStream,
        first: ChatCompletionChunk | None,
        rest: Iterator[ChatCompletionChunk],
        error_payload: ErrorPayload,
    ) -> None:
        self._events = events
        self._first = first
        self._rest = rest
        self._error_payload = error_payload

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._events.frames(self._first, self._rest)
        except Exception as exc:
            yield error_event(self._error_payload(exc), self._events.sequence)

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


class AsyncSSEBody(httpx.AsyncByteStream):
    """Async :class:`SSEBody`."""

    def __init__(
        self,
        events: ResponseStream,
        first: ChatCompletionChunk | None,
        rest: AsyncIterator[ChatCompletionChunk],
        error_payload: ErrorPayload,
    ) -> None:
        self._events = events
        self._first = first
        self._rest = rest
        self._error_payload = error_payload

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for frame in self._events.aframes(self._first, self._rest):
                yield frame
        except Exception as exc:
            yield error_event(self._error_payload(exc), self._events.sequence)

    async def aclose(self) -> None:
        aclose = getattr(self._rest, "aclose", None)
        if aclose is not None:
            await aclose()
