"""Anthropic Messages: OpenAI requests in, Messages bodies out, and answers back as OpenAI.

Pure units, no network. The event streams below are written out the way Anthropic's
streaming docs show them (``message_start``, ``content_block_*``, ``ping``,
``message_delta``, ``message_stop``); the usage rule is DESIGN.md's wire fact:
``input_tokens`` excludes the cache reads and writes.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from providers.pipellm import PipeLLM
from router import Router
from router.catalog import ModelCard
from router.completion import TokenCounts
from router.errors import RateLimited, Rejected, Timeout, Unavailable, UpstreamError
from router.types import ChatRequest
from router.wire.anthropic_messages import (
    DEFAULT_MAX_TOKENS,
    FINISH_REASONS,
    AnthropicStream,
    parse_completion,
    request_body,
)
from router.wire.openai_chat import OpenAIStream

CARD = ModelCard(provider="pipellm", id="claude-sonnet-4-5", protocol="anthropic")
KEY = "sk-pipe-SECRET-0123456789"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def body(card: ModelCard = CARD, *, stream: bool = False, **fields: Any) -> dict[str, Any]:
    fields.setdefault("model", "pipellm:" + card.id)
    fields.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return request_body(ChatRequest(**fields), card, stream=stream)


def sse(name: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=json.dumps(data))


# -- request translation ------------------------------------------------------------------


def test_minimal_request() -> None:
    assert body() == {
        "model": "claude-sonnet-4-5",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }
    assert body(stream=True)["stream"] is True


def test_every_system_message_joins_the_top_level_system() -> None:
    out = body(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "developer", "content": "No emoji."},
        ]
    )
    assert out["system"] == "You are terse.\n\nAnswer in French.\n\nNo emoji."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_system_keeps_blocks_when_a_part_asks_for_caching() -> None:
    cached = {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    out = body(
        messages=[{"role": "system", "content": [cached]}, {"role": "user", "content": "Hi"}]
    )
    assert out["system"] == [cached]


def test_consecutive_same_role_messages_merge_so_roles_alternate() -> None:
    out = body(
        messages=[
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": "three"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "five"},
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "five"}]},
    ]


def test_images_inline_and_by_url() -> None:
    out = body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                    {"type": "image_url", "image_url": {"url": "https://x.example/cat.jpg"}},
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://x.example/cat.jpg"}},
    ]


def test_pdf_file_part_becomes_a_document() -> None:
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}}
    out = body(messages=[{"role": "user", "content": [part]}])
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
        }
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}},
        {"type": "input_audio", "input_audio": {"data": "...", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-123"}},
    ],
)
def test_parts_anthropic_cannot_take_are_refused(part: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"messages\[0\]\.content\[0\]"):
        body(messages=[{"role": "user", "content": [part]}])


def test_tools_and_tool_choice_variants() -> None:
    out = body(tools=[WEATHER_TOOL])
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert "tool_choice" not in out
    bare = {"type": "function", "function": {"name": "ping"}}
    assert body(tools=[bare])["tools"] == [{"name": "ping", "input_schema": {"type": "object"}}]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    assert body(tools=[WEATHER_TOOL], tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use() -> None:
    out = body(tools=[WEATHER_TOOL], parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    out = body(tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


@pytest.mark.parametrize("choice", ["sometimes", {"type": "allowed_tools"}])
def test_unknown_tool_choice_is_refused(choice: Any) -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        body(tools=[WEATHER_TOOL], tool_choice=choice)


def test_tool_calls_and_results_round_trip() -> None:
    out = body(
        tools=[WEATHER_TOOL],
        messages=[
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {
                "role": "assistant",
                "content": "Checking both.",
                "tool_calls": [
                    {
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "toolu_02",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_01", "content": "18C, sunny"},
            {
                "role": "tool",
                "tool_call_id": "toolu_02",
                "content": [{"type": "text", "text": "4C, "}, {"type": "text", "text": "rain"}],
            },
            {"role": "user", "content": "Which is warmer?"},
        ],
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Oslo?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            # Both results in ONE user turn, the follow-up question merged after them.
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "4C, rain"},
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
    ]


def test_assistant_with_only_tool_calls_has_no_text_block() -> None:
    call = {"id": "toolu_9", "type": "function", "function": {"name": "ping", "arguments": ""}}
    out = body(
        messages=[
            {"role": "user", "content": "ping"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ]
    )
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "toolu_9", "name": "ping", "input": {}}
    ]


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]"])
def test_unparsable_tool_arguments_name_the_call(arguments: str) -> None:
    call = {
        "id": "toolu_bad",
        "type": "function",
        "function": {"name": "w", "arguments": arguments},
    }
    with pytest.raises(ValueError, match=r"toolu_bad.*\(w\)"):
        body(messages=[{"role": "assistant", "content": None, "tool_calls": [call]}])


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match=r"messages\[0\].*'function'"):
        body(messages=[{"role": "function", "name": "f", "content": "x"}])


@pytest.mark.parametrize(("stop", "expected"), [("END", ["END"]), (["a", "b"], ["a", "b"])])
def test_stop_becomes_stop_sequences(stop: Any, expected: list[str]) -> None:
    assert body(stop=stop)["stop_sequences"] == expected


def test_max_tokens_explicit_default_and_card_limit() -> None:
    assert body(max_tokens=100)["max_tokens"] == 100
    assert body(max_completion_tokens=200, max_tokens=100)["max_tokens"] == 200
    small = CARD.model_copy(update={"max_output_tokens": 1024})
    assert body(small)["max_tokens"] == 1024
    large = CARD.model_copy(update={"max_output_tokens": 64000})
    assert body(large)["max_tokens"] == DEFAULT_MAX_TOKENS == 4096


def test_sampling_fields_pass_and_stream_options_stay_the_routers() -> None:
    # Fields Messages cannot carry (n, seed, logprobs, penalties) are refused before a
    # body is built: tests/unit/test_request_fields.py.
    out = body(
        temperature=0.2,
        top_p=0.9,
        user="u-42",
        stream_options={"include_usage": True},
    )
    assert out == {
        "model": "claude-sonnet-4-5",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "temperature": 0.2,
        "top_p": 0.9,
        "metadata": {"user_id": "u-42"},
    }


# -- response parsing ---------------------------------------------------------------------


def message(**fields: Any) -> dict[str, Any]:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 6},
        **fields,
    }


def test_parse_text() -> None:
    completion, counts = parse_completion(message(), CARD)
    assert completion.id == "msg_01"
    assert completion.model == "claude-sonnet-4-5-20250929"
    assert isinstance(completion.created, int)
    choice = completion.choices[0]
    assert choice.message.content == "Hello!"
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert counts == TokenCounts(prompt=12, completion=6)


def test_parse_tool_use() -> None:
    content = [
        {"type": "thinking", "thinking": "...", "signature": "sig"},
        {"type": "text", "text": "Let me "},
        {"type": "text", "text": "check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    completion, _ = parse_completion(message(content=content, stop_reason="tool_use"), CARD)
    choice = completion.choices[0]
    assert choice.message.content == "Let me check."
    assert choice.finish_reason == "tool_calls"
    assert [c.model_dump() for c in choice.message.tool_calls or []] == [
        {
            "id": "toolu_01",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        }
    ]


def test_parse_without_text_has_no_content() -> None:
    tool = {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    completion, _ = parse_completion(message(content=[tool], stop_reason="tool_use"), CARD)
    assert completion.choices[0].message.content is None


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_every_stop_reason(reason: str, finish: str) -> None:
    assert FINISH_REASONS[reason] == finish
    completion, _ = parse_completion(message(stop_reason=reason), CARD)
    assert completion.choices[0].finish_reason == finish


def test_usage_input_tokens_exclude_cache_reads_and_writes() -> None:
    usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 300,
        "output_tokens": 50,
    }
    completion, counts = parse_completion(message(usage=usage), CARD)
    assert counts == TokenCounts(prompt=2400, completion=50, cache_read=2000, cache_write=300)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2400
    assert completion.usage.total_tokens == 2450


def test_null_cache_fields_count_as_zero() -> None:
    usage = {
        "input_tokens": 9,
        "output_tokens": 1,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": None,
    }
    _, counts = parse_completion(message(usage=usage), CARD)
    assert counts == TokenCounts(prompt=9, completion=1)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "error", "error": {"type": "api_error", "message": "boom"}},
        {"choices": []},
        [],
        message(content="Hello"),
    ],
)
def test_not_a_message_is_a_value_error(payload: Any) -> None:
    with pytest.raises(ValueError, match="message"):
        parse_completion(payload, CARD)


# -- streams ------------------------------------------------------------------------------

TEXT_STREAM = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5-20250929",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 100,
                    "cache_creation_input_tokens": 300,
                    "cache_read_input_tokens": 2000,
                    "output_tokens": 1,
                },
            },
        },
    ),
    sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    sse("ping", {"type": "ping"}),
    sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    ),
    sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo!"}},
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 50},
        },
    ),
    sse("message_stop", {"type": "message_stop"}),
]

TOOL_STREAM = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_02",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-5-20250929",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 472, "output_tokens": 2},
            },
        },
    ),
    sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Checking."},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_01",
                "name": "get_weather",
                "input": {},
            },
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
    sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 89},
        },
    ),
    sse("message_stop", {"type": "message_stop"}),
]


def run(events: list[ServerSentEvent]) -> tuple[AnthropicStream, list[dict[str, Any]]]:
    stream = AnthropicStream(CARD, clock=lambda: 1700000000.5)
    chunks = [chunk.model_dump(exclude_none=True) for e in events for chunk in stream.feed(e)]
    return stream, chunks


def chunk(msg_id: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish is not None:
        choice["finish_reason"] = finish
    return {
        "id": msg_id,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [choice],
    }


def test_text_stream() -> None:
    stream, chunks = run(TEXT_STREAM)
    assert chunks == [
        chunk("msg_01", {"role": "assistant"}),
        chunk("msg_01", {"content": "Hel"}),
        chunk("msg_01", {"content": "lo!"}),
        chunk("msg_01", {}, "stop"),
    ]
    assert stream.counts == TokenCounts(
        prompt=2400, completion=50, cache_read=2000, cache_write=300
    )
    assert stream.complete


def test_tool_use_stream() -> None:
    stream, chunks = run(TOOL_STREAM)
    assert chunks == [
        chunk("msg_02", {"role": "assistant"}),
        chunk("msg_02", {"content": "Checking."}),
        chunk(
            "msg_02",
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_01",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            },
        ),
        chunk("msg_02", {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chunk("msg_02", {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
        chunk("msg_02", {}, "tool_calls"),
    ]
    assert stream.counts == TokenCounts(prompt=472, completion=89)
    assert stream.complete


def test_second_tool_block_gets_the_next_tool_index() -> None:
    start = TOOL_STREAM[0]
    second = sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_02", "name": "f", "input": {}},
        },
    )
    delta = sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
    )
    _, chunks = run([start, *TOOL_STREAM[4:5], second, delta])
    assert chunks[2]["choices"][0]["delta"]["tool_calls"][0]["index"] == 1
    assert chunks[3]["choices"][0]["delta"]["tool_calls"] == [
        {"index": 1, "function": {"arguments": "{}"}}
    ]


def test_usage_counts_arrive_with_message_delta_and_later_input_counts_win() -> None:
    stream = AnthropicStream(CARD)
    stream.feed(TEXT_STREAM[0])
    assert stream.counts is None
    assert not stream.complete
    # Newer API versions repeat cumulative input counts in message_delta.
    usage = {"output_tokens": 7, "input_tokens": 110, "cache_read_input_tokens": None}
    stream.feed(sse("message_delta", {"type": "message_delta", "delta": {}, "usage": usage}))
    assert stream.counts == TokenCounts(prompt=2410, completion=7, cache_read=2000, cache_write=300)


def test_a_cut_stream_is_not_complete() -> None:
    stream, _ = run(TEXT_STREAM[:-1])
    assert stream.counts is not None
    assert not stream.complete


def test_ping_unknown_and_unnamed_events() -> None:
    stream = AnthropicStream(CARD)
    assert stream.feed(sse("ping", {"type": "ping"})) == []
    assert stream.feed(sse("future_event", {"type": "future_event", "x": 1})) == []
    assert stream.feed(ServerSentEvent(event="ping", data="")) == []
    # A proxy that drops ``event:`` lines: the name comes from the data's type.
    unnamed = ServerSentEvent(data=TEXT_STREAM[0].data)
    assert [c.choices[0].delta.role for c in stream.feed(unnamed)] == ["assistant"]
    thinking = {"type": "thinking_delta", "thinking": "hmm"}
    assert stream.feed(sse("content_block_delta", {"index": 0, "delta": thinking})) == []


def test_content_before_message_start_is_unreadable() -> None:
    with pytest.raises(ValueError, match="message_start"):
        AnthropicStream(CARD).feed(TEXT_STREAM[3])


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("overloaded_error", Unavailable),
        ("api_error", Unavailable),
        ("rate_limit_error", RateLimited),
        ("timeout_error", Timeout),
        ("invalid_request_error", Rejected),
        ("permission_error", Rejected),
    ],
)
def test_error_event_raises_a_typed_error(kind: str, cls: type[UpstreamError]) -> None:
    stream = AnthropicStream(CARD)
    stream.feed(TEXT_STREAM[0])
    event = sse("error", {"type": "error", "error": {"type": kind, "message": "Overloaded"}})
    with pytest.raises(cls) as caught:
        stream.feed(event)
    assert type(caught.value) is cls
    assert caught.value.provider == "pipellm"
    assert caught.value.model == "claude-sonnet-4-5"
    assert caught.value.code == kind
    assert caught.value.message == "Overloaded"


# -- PipeLLM transport --------------------------------------------------------------------


@pytest.fixture
def pipellm() -> PipeLLM:
    config = {
        "providers": [
            {"name": "pipellm", "kind": "pipellm", "api_key": KEY, "base_url": "http://x"}
        ]
    }
    provider = Router.from_config(config).providers["pipellm"]
    assert isinstance(provider, PipeLLM)
    return provider


def pipe_card(protocol: Any) -> ModelCard:
    return ModelCard(provider="pipellm", id=f"{protocol}-model", protocol=protocol)


REQUEST = ChatRequest(model="auto", messages=[{"role": "user", "content": "Hi"}], max_tokens=5)


def test_pipellm_anthropic_route(pipellm: PipeLLM) -> None:
    out = pipellm.chat_request(REQUEST, pipe_card("anthropic"), stream=True)
    assert out.url == "http://x/v1/messages"
    assert out.headers == {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    assert out.json == {
        "model": "anthropic-model",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        "stream": True,
    }


@pytest.mark.parametrize(
    ("protocol", "url"),
    [
        ("openai", "http://x/v1/chat/completions"),
        ("gemini", "http://x/openai/v1/chat/completions"),
    ],
)
def test_pipellm_openai_body_routes(pipellm: PipeLLM, protocol: str, url: str) -> None:
    out = pipellm.chat_request(REQUEST, pipe_card(protocol), stream=False)
    assert out.url == url
    assert out.headers == {"Authorization": f"Bearer {KEY}"}
    assert out.json == {
        "model": f"{protocol}-model",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 5,
    }


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
def test_pipellm_key_only_in_its_one_header(pipellm: PipeLLM, protocol: str) -> None:
    out = pipellm.chat_request(REQUEST, pipe_card(protocol), stream=True)
    carrying = [name for name, value in out.headers.items() if KEY in value]
    assert carrying == (["x-api-key"] if protocol == "anthropic" else ["Authorization"])
    assert KEY not in json.dumps(out.json)
    assert KEY not in out.url


def test_pipellm_parsers_by_family(pipellm: PipeLLM) -> None:
    anthropic = pipe_card("anthropic")
    completion, counts = pipellm.parse_completion(anthropic, REQUEST, message())
    assert completion.choices[0].message.content == "Hello!"
    assert counts == TokenCounts(prompt=12, completion=6)
    assert isinstance(pipellm.stream_decoder(anthropic, REQUEST), AnthropicStream)
    for protocol in ("openai", "gemini"):
        assert isinstance(pipellm.stream_decoder(pipe_card(protocol), REQUEST), OpenAIStream)
        with pytest.raises(ValueError, match="choices"):
            pipellm.parse_completion(pipe_card(protocol), REQUEST, message())


def test_pipellm_reads_anthropic_error_bodies(pipellm: PipeLLM) -> None:
    raw = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    error = pipellm.upstream_error(
        pipe_card("anthropic"), 529, httpx.Headers(), json.dumps(raw).encode()
    )
    assert type(error) is Unavailable
    assert (error.status, error.code, error.message) == (529, "overloaded_error", "Overloaded")
    raw = {"type": "error", "error": {"type": "rate_limit_error", "message": "Slow down"}}
    error = pipellm.upstream_error(
        pipe_card("anthropic"), 429, httpx.Headers({"retry-after": "7"}), json.dumps(raw).encode()
    )
    assert type(error) is RateLimited
    assert (error.code, error.retry_after) == ("rate_limit_error", 7.0)
