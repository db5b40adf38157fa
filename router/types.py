"""The request as the router sees it: OpenAI Chat Completions fields, plus what routing needs."""

from __future__ import annotations

import json
import math
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from router.planning.options import RoutingOptions

__all__ = ["MAX_DEPTH", "ChatRequest", "check_values"]

# A rough, network-free prompt estimate: about four characters per token for English
# text and code, a few tokens of framing per message, and a flat charge per image
# (OpenAI bills a 1024x1024 "high detail" image at 765 tokens).
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 765

MAX_DEPTH = 128
"""Deepest nesting of lists and objects a request may have (a JSON Schema of a tool is a
few levels; the prefix memory and the wire codecs recurse)."""


def check_values(data: Any) -> None:
    """Raise ``ValueError`` (naming where) when ``data`` holds what no provider's JSON can
    carry: a number that is not finite (``NaN``, ``Infinity``), a string with a lone
    surrogate (``\\ud800``: not UTF-8), or nesting deeper than :data:`MAX_DEPTH`.

    A quick walk first (:func:`_clean`, keeping no paths: the usual request passes it);
    only a request it refuses is walked again to say where (:func:`_refuse`)."""
    if not _clean(data, 0):
        _refuse(data)


def _clean(node: Any, depth: int) -> bool:
    """Whether :func:`_refuse` would find nothing in ``node``, nested ``depth`` deep: the
    same checks, without the paths. Recursive, one frame per level of nesting, and never
    deeper than :data:`MAX_DEPTH` levels."""
    if isinstance(node, str):
        return node.isascii() or _encodes(node)
    if isinstance(node, float):
        return math.isfinite(node)
    if isinstance(node, dict):
        if depth >= MAX_DEPTH:
            return False
        for key, value in node.items():
            if isinstance(key, str) and not key.isascii() and not _encodes(key):
                return False
            if isinstance(value, str):  # most values: checked here, without a call
                if not value.isascii() and not _encodes(value):
                    return False
            elif not _clean(value, depth + 1):
                return False
    elif isinstance(node, list | tuple):
        if depth >= MAX_DEPTH:
            return False
        for value in node:
            if isinstance(value, str):
                if not value.isascii() and not _encodes(value):
                    return False
            elif not _clean(value, depth + 1):
                return False
    return True


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse(data: Any) -> None:
    """Raise the ``ValueError`` of :func:`check_values` for the first problem found.

    Iterative: a hostile document cannot exhaust the stack here. The path of each value is
    a linked (parent, key) pair, spelt out only for the error."""
    todo: list[tuple[Any, Any, int]] = [(data, None, 0)]
    while todo:
        node, path, depth = todo.pop()
        if isinstance(node, str):
            if not node.isascii():
                try:
                    node.encode("utf-8")
                except UnicodeEncodeError:
                    problem = "a string is not valid Unicode (a lone surrogate)"
                    raise ValueError(f"{_spell(path)}: {problem}") from None
        elif isinstance(node, float):
            if not math.isfinite(node):
                problem = "a number must be finite (not NaN or Infinity)"
                raise ValueError(f"{_spell(path)}: {problem}")
        elif isinstance(node, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise ValueError(f"{_spell(path)}: nested deeper than {MAX_DEPTH} levels")
            depth += 1
            if isinstance(node, dict):
                for key, value in node.items():
                    if isinstance(key, str) and not key.isascii():
                        todo.append((key, path, depth))
                    todo.append((value, (path, key), depth))
            else:
                todo.extend((value, (path, index), depth) for index, value in enumerate(node))


def _spell(path: Any) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{str(key)[:40]}")
    text = "".join(reversed(parts)).removeprefix(".")
    return (text if len(text) <= 80 else text[:80] + "...") or "request"


class ChatRequest(BaseModel):
    """An OpenAI Chat Completions request. Fields the router does not know pass through."""

    model_config = ConfigDict(extra="allow")

    model: str
    """A deployment ref (``provider:model id``), a group name from ``models:``, or ``auto``."""
    messages: list[dict[str, Any]] = Field(min_length=1)
    """OpenAI messages: ``{"role", "content", ...}``."""
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = None
    stop: str | list[str] | None = None
    stream: bool | None = None
    user: str | None = None
    """The end user (OpenAI's ``user``): what budgets keyed by ``user`` count under."""
    metadata: dict[str, str] | None = None
    """OpenAI's ``metadata``, a map of strings: budgets keyed by ``metadata.<field>``
    count under its values; passed on to OpenAI-style providers."""
    router: RoutingOptions | None = Field(default=None, exclude=True)
    """Per-request routing options (:mod:`router.planning.options`); never sent upstream."""

    @model_validator(mode="before")
    @classmethod
    def _sendable(cls, data: Any) -> Any:
        try:
            check_values(data)
        except ValueError as exc:
            raise PydanticCustomError("unsendable_value", str(exc)) from None
        return data

    @property
    def output_limit(self) -> int | None:
        """The caller's cap on completion tokens, if any."""
        return self.max_completion_tokens or self.max_tokens

    @cached_property
    def needs_tools(self) -> bool:
        """The request offers tools (so the model must support tool calling)."""
        return bool(self.tools)

    @cached_property
    def needs_structured_output(self) -> bool:
        """``response_format`` asks for JSON (``json_object`` or ``json_schema``)."""
        return structured_output(self) is not None

    @cached_property
    def needs_vision(self) -> bool:
        """Some message has an image part (so the model must accept images)."""
        return any(
            isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image")
            for message in self.messages
            if isinstance(content := message.get("content"), list)
            for part in content
        )

    @cached_property
    def estimated_prompt_tokens(self) -> int:
        """Prompt tokens, estimated from the text without a tokenizer or the network."""
        chars = 0
        images = 0
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                chars += len(content)
            elif isinstance(content, list):
                for part in content:
                    if not isinstance(part, dict):
                        continue
                    if part.get("type") in ("image_url", "input_image", "image"):
                        images += 1
                    elif isinstance(part.get("text"), str):
                        chars += len(part["text"])
            if message.get("tool_calls"):
                chars += len(json.dumps(message["tool_calls"]))
        if self.tools:
            chars += len(json.dumps(self.tools))
        framing = TOKENS_PER_MESSAGE * len(self.messages)
        return -(-chars // CHARS_PER_TOKEN) + framing + TOKENS_PER_IMAGE * images


def structured_output(request: ChatRequest) -> dict[str, Any] | None:
    """The request's ``response_format`` when it asks for JSON (``json_object`` or
    ``json_schema``), else None (absent, or ``text``)."""
    extra = request.model_extra or {}
    fmt = extra.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return fmt
    return None
