"""The request as the router sees it: OpenAI Chat Completions fields, plus what routing needs."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatRequest"]

# A rough, network-free prompt estimate: about four characters per token for English
# text and code, a few tokens of framing per message, and a flat charge per image
# (OpenAI bills a 1024x1024 "high detail" image at 765 tokens).
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 765


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

    @property
    def output_limit(self) -> int | None:
        """The caller's cap on completion tokens, if any."""
        return self.max_completion_tokens or self.max_tokens

    @cached_property
    def needs_tools(self) -> bool:
        """The request offers tools (so the model must support tool calling)."""
        return bool(self.tools)

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
