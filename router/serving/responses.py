"""The OpenAI Responses API (``POST …/responses``) over the router, translated to chat
completions and routed as usual.

Served by :meth:`Router.transport` / :meth:`Router.async_transport` and ``router serve``,
so that clients on the Responses API (the OpenAI Agents SDK's default model) work
unchanged. What is translated:

- ``input``: a string (one user message) or items: messages (``user``, ``system``,
  ``developer``, ``assistant``; ``input_text``, ``output_text``, ``input_image`` by URL,
  ``input_file`` with inline ``file_data``), ``function_call`` and
  ``function_call_output`` items (an agent's tool loop); ``instructions`` becomes the
  system message;
- ``tools`` (function tools), ``tool_choice``, ``parallel_tool_calls``,
  ``max_output_tokens``, ``temperature``, ``top_p``, ``user``, ``text.format``
  (``json_schema`` / ``json_object`` → ``response_format``), ``reasoning.effort``
  (→ ``reasoning_effort``), and the router's own ``router`` options;
- the answer: a ``response`` object whose ``output`` has the message and one
  ``function_call`` item per tool call, ``usage`` in the Responses shape plus ``cost``
  (USD) and top-level ``provider``; with ``"stream": true``, the Responses events
  (:mod:`router.serving.responses_stream`).

**Stateless.** Nothing is stored: ``previous_response_id`` and ``conversation`` are
refused (send the whole conversation as ``input``, as agent frameworks do by default),
``store`` is answered ``false``. ``reasoning`` items a client echoes back are skipped:
chat completions have no place for them and the router never emits any. Hosted tools
(web search, file search, computer use, ...) and anything else chat completions cannot
express are refused with a 400 naming the field, never dropped.
"""

from __future__ import annotations

import uuid
from typing import Any

from router.completion import ChatCompletion, Usage
from router.errors import InvalidRequest

__all__ = [
    "call_item",
    "chat_request",
    "envelope",
    "message_item",
    "new_response_id",
    "response_object",
    "status_of",
    "usage_of",
]

# Fields passed on to the chat request as they are.
_SAME = ("model", "temperature", "top_p", "user", "parallel_tool_calls", "stream", "router")
# Accepted and answered, with nothing to pass on: what the router does anyway (it never
# truncates, never stores, runs in the foreground) or purely informational.
_ACCEPTED = frozenset(
    {"metadata", "store", "truncation", "include", "service_tier", "prompt_cache_key"}
    | {"safety_identifier", "stream_options", "background", "top_logprobs"}
)
_STATEFUL = ("previous_response_id", "conversation")


def _bad(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}")


# -- request ----------------------------------------------------------------------------------


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """The Chat Completions request a Responses ``body`` asks for; raises
    ``InvalidRequest`` naming the field it cannot translate."""
    for key in _STATEFUL:
        if body.get(key) is not None:
            raise _bad(key, "this router is stateless: send the whole conversation as input")
    if body.get("background"):
        raise _bad("background", "not supported: the router answers in the foreground")
    if body.get("prompt") is not None:
        raise _bad("prompt", "stored prompt templates are not supported")
    if body.get("top_logprobs"):
        raise _bad("top_logprobs", "not supported over the Responses API here")
    known = {*_SAME, *_ACCEPTED, "input", "instructions", "tools", "tool_choice"}
    known |= {"max_output_tokens", "text", "reasoning", "prompt"}
    for key in body:
        if key not in known:
            raise _bad(key, "unknown or unsupported Responses field")
    chat: dict[str, Any] = {k: body[k] for k in _SAME if body.get(k) is not None}
    if "model" not in chat:
        raise _bad("model", "required")
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif instructions is not None and not isinstance(instructions, str):
        raise _bad("instructions", "expected a string")
    messages.extend(_messages(body.get("input")))
    chat["messages"] = messages
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(body["tools"])]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    _text(body.get("text"), chat)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    return chat


def _messages(items: Any) -> list[dict[str, Any]]:
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise _bad("input", "expected a string or a non-empty list of items")
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise _bad(where, "expected an object")
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = {
                "id": _text_field(item, "call_id", where),
                "type": "function",
                "function": {
                    "name": _text_field(item, "name", where),
                    "arguments": item.get("arguments") or "{}",
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            if isinstance(output, list):
                output = "".join(_part_text(p, f"{where}.output") for p in output)
            if not isinstance(output, str):
                raise _bad(f"{where}.output", "expected a string or a list of text parts")
            call_id = _text_field(item, "call_id", where)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
        elif kind == "reasoning":
            continue  # opaque model state: chat completions have no place for it
        else:
            raise _bad(
                f"{where}.type", f"{kind!r} items are not supported (stateless, no hosted tools)"
            )
    return messages


def _text_field(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{key}", "required")
    return value


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer", "assistant"):
        raise _bad(f"{where}.role", f"{role!r} is not a message role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "expected a string or a list of parts")
    if role == "assistant":
        text = "".join(_part_text(p, f"{where}.content[{i}]") for i, p in enumerate(content))
        return {"role": role, "content": text}
    parts = [_part(p, f"{where}.content[{i}]") for i, p in enumerate(content)]
    return {"role": role, "content": parts}


def _part_text(part: Any, where: str) -> str:
    if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text"):
        text = part.get("text")
        if isinstance(text, str):
            return text
    if isinstance(part, dict) and part.get("type") == "refusal":
        refusal = part.get("refusal")
        if isinstance(refusal, str):
            return refusal
    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
    raise _bad(where, f"a {kind!r} part cannot be sent here (text parts only)")


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": _part_text(part, where)}
    if kind == "input_image" and isinstance(part, dict):
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise _bad(where, "input_image needs an image_url (file_id is not supported)")
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and isinstance(part, dict):
        data = part.get("file_data")
        if not isinstance(data, str) or not data:
            raise _bad(where, "input_file needs inline file_data (file_id is not supported)")
        file: dict[str, Any] = {"file_data": data}
        if isinstance(part.get("filename"), str):
            file["filename"] = part["filename"]
        return {"type": "file", "file": file}
    raise _bad(where, f"a {kind!r} part is not supported")


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise _bad(f"{where}.type", f"only function tools can be routed, not {kind!r}")
    function: dict[str, Any] = {"name": _text_field(tool, "name", where)}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {
            "type": "function",
            "function": {"name": _text_field(choice, "name", "tool_choice")},
        }
    raise _bad("tool_choice", f"{choice!r} cannot be routed (auto, none, required or a function)")


def _text(text: Any, chat: dict[str, Any]) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise _bad("text", "expected an object")
    fmt = text.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise _bad("text.format", f"{fmt!r} is not text, json_object or json_schema")
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]


# -- response ---------------------------------------------------------------------------------


def usage_of(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    details = usage.prompt_tokens_details
    out: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": details.cached_tokens if details else 0,
            "cache_write_tokens": (details.cache_write_tokens or 0) if details else 0,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }
    if usage.cost is not None:
        out["cost"] = usage.cost
    return out


def status_of(finish_reason: str | None) -> tuple[str, dict[str, str] | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def envelope(body: dict[str, Any], response_id: str, created: int, model: str) -> dict[str, Any]:
    """The ``response`` object's fields that echo the request."""
    text = body.get("text") if isinstance(body.get("text"), dict) else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": body.get("temperature"),
        "text": text or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        if status == "completed"
        else [],
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def new_response_id() -> str:
    """A fresh ``resp_…`` id."""
    return f"resp_{uuid.uuid4().hex}"


def response_object(completion: ChatCompletion, body: dict[str, Any]) -> dict[str, Any]:
    """The ``response`` object for a routed ``completion`` of the Responses ``body``."""
    response_id = new_response_id()
    out = envelope(body, response_id, completion.created, completion.model)
    choice = completion.choices[0] if completion.choices else None
    items: list[dict[str, Any]] = []
    if choice is not None:
        message = choice.message
        if message.content:
            items.append(message_item(f"msg_{response_id[5:]}", message.content))
        for i, call in enumerate(message.tool_calls or []):
            items.append(
                call_item(
                    f"fc_{response_id[5:]}_{i}",
                    call.id or f"call_{response_id[5:]}_{i}",
                    call.function.name or "",
                    call.function.arguments or "",
                    "completed",
                )
            )
    status, incomplete = status_of(choice.finish_reason if choice else None)
    out.update(status=status, incomplete_details=incomplete, output=items)
    out["usage"] = usage_of(completion.usage)
    out["provider"] = completion.provider
    return out
