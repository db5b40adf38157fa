"""The Responses API translation, as pure units: request items in, chat messages out;
chat completions and chunks in, ``response`` objects and events out (checked against the
``openai`` package's own types)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from router.completion import ChatCompletion, ChatCompletionChunk
from router.errors import InvalidRequest
from router.serving.responses import chat_request, response_object
from router.serving.responses_stream import ResponseStream, error_event

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def test_items_become_chat_messages():
    chat = chat_request(
        {
            "model": "auto",
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": "Use tools."},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is here?"},
                        {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"},
                    ],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}],
                },
                {"type": "function_call", "call_id": "c1", "name": "look", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "look", "arguments": "{}"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
                {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "a hat"}],
                },
            ],
            "max_output_tokens": 50,
            "temperature": 0.2,
            "tool_choice": {"type": "function", "name": "look"},
            "text": {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}},
            "reasoning": {"effort": "low"},
            "store": True,
            "metadata": {"run": "1"},
        }
    )
    assert chat == {
        "model": "auto",
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Use tools."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is here?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/cat.png", "detail": "low"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "look", "arguments": "{}"},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "look", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
            {"role": "tool", "tool_call_id": "c2", "content": "a hat"},
        ],
        "max_tokens": 50,
        "tool_choice": {"type": "function", "function": {"name": "look"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": {"type": "object"}},
        },
        "reasoning_effort": "low",
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"input": "hi"}, "model: required"),
        ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        (
            {
                "model": "m",
                "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            },
            "input[0].content[0]: input_image needs an image_url",
        ),
        ({"model": "m", "input": "hi", "tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"model": "m", "input": "hi", "text": {"format": {"type": "xml"}}}, "text.format"),
        ({"model": "m", "input": "hi", "background": True}, "background"),
        ({"model": "m", "input": "hi", "prompt": {"id": "p"}}, "prompt"),
    ],
)
def test_what_chat_completions_cannot_express_is_refused(body, problem):
    with pytest.raises(InvalidRequest) as caught:
        chat_request(body)
    assert str(caught.value).startswith(problem)


def completion(message: dict[str, Any], finish: str = "stop") -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "created": 1,
            "model": "m",
            "provider": "p",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 4},
                "cost": 0.0001,
            },
        }
    )


def test_a_completion_with_text_and_tool_calls_is_a_valid_response():
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    out = response_object(
        completion(
            {"role": "assistant", "content": "Looking.", "tool_calls": [call]}, "tool_calls"
        ),
        {"model": "auto", "input": "hi"},
    )
    response = Response.model_validate(out)
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert response.output_text == "Looking."
    assert response.output[1].call_id == "call_1"  # type: ignore[union-attr]
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 4
    assert out["usage"]["cost"] == 0.0001
    assert out["provider"] == "p"


def test_a_length_stop_is_incomplete():
    out = response_object(completion({"role": "assistant", "content": "cut"}, "length"), {})
    assert out["status"] == "incomplete"
    assert out["incomplete_details"] == {"reason": "max_output_tokens"}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None):
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "created": 1,
            "model": "m",
            "provider": "p",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage,
        }
    )


def parse(frames: list[bytes]) -> list[dict[str, Any]]:
    events = []
    for frame in frames:
        name, data = frame.decode().strip().split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        EVENTS.validate_python(payload)  # every event is one the openai package knows
        events.append(payload)
    return events


def test_text_then_a_tool_call_stream_as_two_items():
    stream = ResponseStream({"model": "m", "input": "hi"})
    chunks = [
        chunk({"role": "assistant", "content": "Let me "}),
        chunk({"content": "check."}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_9", "function": {"name": "f", "arguments": ""}}
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        chunk(
            {}, usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.5}
        ),
    ]
    events = parse(list(stream.frames(chunks[0], iter(chunks[1:]))))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = Response.model_validate(events[-1]["response"])
    assert final.output_text == "Let me check."
    assert final.output[1].arguments == '{"a":1}'  # type: ignore[union-attr]
    assert final.output[1].call_id == "call_9"  # type: ignore[union-attr]
    assert events[-1]["response"]["usage"]["cost"] == 0.5


def test_an_error_event_ends_a_broken_stream():
    frame = error_event(
        {"error": {"message": "stream from x broke", "code": "stream_interrupted"}}, 7
    )
    (event,) = parse([frame])
    assert event == {
        "type": "error",
        "code": "stream_interrupted",
        "message": "stream from x broke",
        "param": None,
        "sequence_number": 7,
    }
