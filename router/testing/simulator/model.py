"""The deterministic chat model behind every dialect: token counting, a prompt's elements
(the prefix cache's unit), and the answer, before any wire format.

Also the small helpers the dialects' frames share (ids, fragments, a mid-stream error).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.testing.simulator.answers import AnswerLength

# -- chat: a deterministic model ---------------------------------------------------------


def count_tokens(text: str) -> int:
    """The simulator's token count of ``text``: ``max(1, ceil(len(text) / 4))``."""
    return max(1, -(-len(text) // 4))


def _texts(content: object) -> list[str]:
    """The text pieces of a message's ``content`` or of an Anthropic ``system``.

    A string is one piece; in a list of parts, each part's ``text`` is one, and a
    ``tool_result`` block gives the pieces of its own ``content``.
    """
    if isinstance(content, str):
        return [content]
    pieces: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif part.get("type") == "tool_result":
                pieces.extend(_texts(part.get("content")))
    return pieces


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def prompt_tokens_of(body: Mapping[str, Any], *, image_tokens: int = 0) -> int:
    """The prompt tokens the simulator reports for a chat request ``body``.

    The sum of :func:`count_tokens` over every text piece (see :func:`_texts`: a string
    ``content``, each content part's ``text``, each text of a ``tool_result`` block) of
    every message and of a top-level ``system`` (Anthropic, Majestix ``/code``), plus
    ``count_tokens(json.dumps(tools))`` when ``tools`` is a non-empty list, plus
    ``image_tokens`` per image part (``image_url``, Anthropic's ``image``; the
    simulator's ``image_tokens``, 0 by default). One rule for OpenAI, Anthropic and
    Majestix bodies; a message without text counts 0. It is the sum of the tokens of the
    prompt's elements (the prefix cache's unit).
    """
    return sum(element.tokens for element in _elements(body, image_tokens))


@dataclass(frozen=True)
class _Element:
    """One element of a prompt: the tools, the system, or one message."""

    identity: str  # canonical serialization, cache_control markers left out
    tokens: int
    breakpoint: bool  # carries an ephemeral cache_control (explicit caching)


def _text_tokens(content: object, image_tokens: int = 0) -> int:
    """The tokens of ``content``'s texts, and ``image_tokens`` per image part."""
    tokens = sum(count_tokens(piece) for piece in _texts(content))
    if image_tokens and isinstance(content, list):
        images = sum(isinstance(p, dict) and p.get("type") in _IMAGE_PARTS for p in content)
        tokens += image_tokens * images
    return tokens


_IMAGE_PARTS = ("image_url", "image")  # OpenAI's part, Anthropic's block


def _marked(block: object) -> bool:
    """Whether ``block`` carries ``"cache_control": {"type": "ephemeral"}``."""
    if not isinstance(block, dict):
        return False
    control = block.get("cache_control")
    return isinstance(control, dict) and control.get("type") == "ephemeral"


def _unmarked(blocks: object) -> object:
    """``blocks`` (a list of tools or content blocks) without their ``cache_control``."""
    if not isinstance(blocks, list):
        return blocks
    return [
        {k: v for k, v in b.items() if k != "cache_control"} if isinstance(b, dict) else b
        for b in blocks
    ]


def _element(kind: str, value: object, blocks: object, tokens: int) -> _Element:
    marked = isinstance(blocks, list) and any(_marked(b) for b in blocks)
    return _Element(kind + "\x00" + json.dumps(value, sort_keys=True), tokens, marked)


def _elements(body: Mapping[str, Any], image_tokens: int = 0) -> list[_Element]:
    """The prompt's elements in order: ``[tools, system, message 0, message 1, ...]``.

    ``tools`` only when a non-empty list, ``system`` only when present (not None); each
    image part counts ``image_tokens``.
    """
    elements: list[_Element] = []
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        tokens = count_tokens(json.dumps(tools))
        elements.append(_element("tools", _unmarked(tools), tools, tokens))
    system = body.get("system")
    if system is not None:
        elements.append(_element("system", _unmarked(system), system, _text_tokens(system)))
    for message in _messages(body):
        content = message.get("content")
        value = {**message, "content": _unmarked(content)} if "content" in message else message
        tokens = _text_tokens(content, image_tokens)
        elements.append(_element("message", value, content, tokens))
    return elements


def _tool_result(message: Mapping[str, Any]) -> str | None:
    """The text of the tool result ``message`` carries (its last one), or None."""
    if message.get("role") == "tool":  # OpenAI
        return " ".join(_texts(message.get("content")))
    content = message.get("content")
    if message.get("role") == "user" and isinstance(content, list):  # Anthropic, Majestix
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return " ".join(_texts(results[-1].get("content")))
    return None


def _user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message that has text (tool results left out)."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = [p for p in content if isinstance(p, dict) and p.get("type") != "tool_result"]
        pieces = _texts(content)
        if pieces:
            return " ".join(pieces)
    return ""


def _tool_name(tool: object) -> str:
    """The name of an OpenAI (``function.name``) or Anthropic (``name``) tool."""
    if isinstance(tool, dict):
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else tool.get("name")
        if isinstance(name, str):
            return name
    return "tool"


@dataclass(frozen=True)
class _Answer:
    """What the simulated model answers, before any wire format."""

    prompt: int
    completion: int
    words: tuple[str, ...] = ()
    tool: str | None = None  # the tool called; then ``words`` is empty
    arguments: dict[str, Any] = field(default_factory=dict)
    finish: str = "stop"  # OpenAI's finish_reason: stop, length or tool_calls

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)

    def pieces(self) -> list[str]:
        """The streamed pieces of the text: the first word, then ``" word"`` each."""
        return [word if i == 0 else " " + word for i, word in enumerate(self.words)]


def _prompt_texts(body: Mapping[str, Any]) -> list[str]:
    """The prompt's texts in order: the top-level ``system``'s, then each message's (see
    :func:`_texts`). The same conversation gives the same list in every dialect."""
    texts = _texts(body.get("system"))
    for message in _messages(body):
        texts.extend(_texts(message.get("content")))
    return texts


def _answer(
    body: Mapping[str, Any],
    max_tokens: int | None,
    length: AnswerLength | None = None,
    *,
    image_tokens: int = 0,
) -> _Answer:
    """The answer to ``body``, cut to ``max_tokens``; with ``length``, a written answer has
    that length (see :class:`AnswerLength`) instead of echoing the prompt. Each image part
    of the prompt counts ``image_tokens``."""
    messages = _messages(body)
    last = messages[-1] if messages else {}
    tools = body.get("tools")
    prompt = prompt_tokens_of(body, image_tokens=image_tokens)
    result = _tool_result(last)
    if result is not None:
        text = "Tool said: " + result
    elif isinstance(tools, list) and tools and last.get("role") == "user":
        arguments = {"query": _user_text(messages)}
        completion = count_tokens(json.dumps(arguments))
        return _Answer(prompt, completion, (), _tool_name(tools[0]), arguments, "tool_calls")
    else:
        text = "You said: " + _user_text(messages)
    if length is not None:
        texts = _prompt_texts(body)
        drawn = length.draw(texts)
        cut = max_tokens is not None and drawn > max_tokens
        count = max_tokens if cut and max_tokens is not None else drawn
        written = length.words(texts, drawn)[:count]
        return _Answer(prompt, count, written, finish="length" if cut else "stop")
    words = text.split()
    finish = "stop"
    if max_tokens is not None and len(words) > max_tokens:
        words, finish = words[:max_tokens], "length"
    return _Answer(prompt, len(words), tuple(words), finish=finish)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _fragments(text: str, size: int = 8) -> list[str]:
    """``text`` in pieces of ``size`` characters, as tool arguments are streamed."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _with_error(events: list[Any], first_content: int, error: object) -> list[Any]:
    """The events up to and including the first content event, then ``error``."""
    return [*events[: first_content + 1], error]


def _count(value: object) -> int | None:
    """``value`` if it is a token count (an int >= 0, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
