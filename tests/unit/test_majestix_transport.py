"""The Majestix (inference-api) chat transport, from recorded events: no network.

Requests: ``/chat`` for plain requests, ``/code`` (Anthropic-style blocks) for requests
with tools, always ``stream: true``. Answers: the provider's own events, decoded into
OpenAI chunks and aggregated for ``send``. Money: ``credits_used x usd_per_credit``,
exact; the 1.4x margin is already in the credits and never applied again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from providers.inference_api import InferenceAPI, MajestixStream
from router import ModelCard, Router
from router.completion import ChatCompletionChunk, aggregate_chunks
from router.errors import ContextTooLong, Rejected, Unavailable
from router.types import ChatRequest

D = Decimal

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def provider(**options: Any) -> InferenceAPI:
    config = {"name": "mx", "kind": "inference-api", "api_key": "k", "base_url": "http://x"}
    mx = Router.from_config({"providers": [{**config, **options}]}).providers["mx"]
    assert isinstance(mx, InferenceAPI)
    return mx


def card(model: str = "claude-sonnet-4.6", **fields: Any) -> ModelCard:
    return ModelCard(provider="mx", id=model, **{"supports_tools": True, **fields})


def ask(*messages: dict[str, Any], **fields: Any) -> ChatRequest:
    return ChatRequest(model="mx:claude-sonnet-4.6", messages=list(messages), **fields)


def sse(*payloads: dict[str, Any]) -> list[ServerSentEvent]:
    return [ServerSentEvent(data=json.dumps(payload)) for payload in payloads]


def decode(
    events: list[ServerSentEvent], request: ChatRequest | None = None, **options: Any
) -> tuple[MajestixStream, list[ChatCompletionChunk]]:
    mx = provider(**options)
    decoder = mx.stream_decoder(card(), request or ask({"role": "user", "content": "hi"}))
    chunks = [chunk for event in events for chunk in decoder.feed(event)]
    return decoder, chunks


HELLO = sse(
    {"type": "thinking", "content": "hmm"},
    {"type": "thinking_done"},
    {"type": "chunk", "content": "Hello"},
    {"type": "chunk", "content": ", world"},
    {"type": "done", "model": "claude-sonnet-4.6", "session_id": "s-1", "credits_used": 1.234},
)


# -- requests ----------------------------------------------------------------------------


def test_a_plain_request_goes_to_chat_as_a_stream_with_plain_text() -> None:
    request = ask(
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "ok"},
        temperature=0.2,
        max_tokens=50,
    )
    for stream in (False, True):
        out = provider().chat_request(request, card(), stream=stream)
        assert out.url == "http://x/chat"
        assert out.headers == {"X-Api-Key": "k"}
        assert out.json == {
            "model": "claude-sonnet-4.6",
            "stream": True,
            "temperature": 0.2,
            "max_tokens": 50,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "a\nb"},
                {"role": "assistant", "content": "ok"},
            ],
        }


def test_optional_fields_are_left_out_and_max_completion_tokens_is_max_tokens() -> None:
    out = provider().chat_request(ask({"role": "user", "content": "hi"}), card(), stream=False)
    assert out.json == {
        "model": "claude-sonnet-4.6",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    request = ask({"role": "user", "content": "hi"}, max_completion_tokens=7, max_tokens=99)
    assert provider().chat_request(request, card(), stream=True).json["max_tokens"] == 7


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def test_images_pass_through_as_openai_parts_for_vision_models_only() -> None:
    parts = [{"type": "text", "text": "what is this?"}, IMAGE]
    request = ask({"role": "user", "content": parts})
    out = provider().chat_request(request, card(supports_vision=True), stream=False)
    assert out.json["messages"] == [{"role": "user", "content": parts}]
    for vision in (False, None):
        with pytest.raises(ValueError, match=r"claude-sonnet-4\.6"):
            provider().chat_request(request, card(supports_vision=vision), stream=False)


def test_unknown_content_parts_are_refused_not_dropped() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "...", "format": "wav"}}
    request = ask({"role": "user", "content": [{"type": "text", "text": "hi"}, audio]})
    with pytest.raises(ValueError, match="input_audio"):
        provider().chat_request(request, card(supports_vision=True), stream=False)


def test_a_request_with_tools_goes_to_code_with_anthropic_blocks() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    call2 = {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}
    request = ask(
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [call, call2]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C, sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
        {"role": "user", "content": "Thanks. Tomorrow?"},
        tools=[WEATHER, {"type": "function", "function": {"name": "now"}}],
        temperature=0,
        max_tokens=300,
    )
    out = provider().chat_request(request, card(), stream=False)
    assert out.url == "http://x/code"
    assert out.headers == {"X-Api-Key": "k"}
    assert out.json == {
        "model": "claude-sonnet-4.6",
        "stream": True,
        "temperature": 0,
        "max_tokens": 300,
        "system": "Be brief.\n\nUse tools.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "call_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18C, sunny"},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
                    {"type": "text", "text": "Thanks. Tomorrow?"},
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            {
                "name": "now",
                "description": "",
                "input_schema": {"type": "object", "properties": {}},
            },
        ],
    }


def test_an_assistant_turn_with_only_tool_calls_has_only_tool_use_blocks() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    request = ask(
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
        tools=[WEATHER],
    )
    messages = provider().chat_request(request, card(), stream=True).json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "c", "name": "f", "input": {}}],
    }
    assert "system" not in provider().chat_request(request, card(), stream=True).json


def test_images_on_code_become_anthropic_image_blocks() -> None:
    link = {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}}
    request = ask({"role": "user", "content": [IMAGE, link]}, tools=[WEATHER])
    out = provider().chat_request(request, card(supports_vision=True), stream=True)
    assert out.json["messages"][0]["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://img.example/cat.png"}},
    ]


def test_models_without_tool_support_are_never_sent_tools() -> None:
    request = ask({"role": "user", "content": "hi"}, tools=[WEATHER])
    with pytest.raises(ValueError, match="does not support tools"):
        provider().chat_request(request, card(supports_tools=False), stream=False)
    # unknown support: sent, and the provider's 400 decides
    assert (
        provider()
        .chat_request(request, card(supports_tools=None), stream=False)
        .url.endswith("/code")
    )


def test_what_the_wire_cannot_carry_is_refused() -> None:
    history = ask(
        {"role": "user", "content": "go"},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    )
    with pytest.raises(ValueError, match="/code"):
        provider().chat_request(history, card(), stream=False)
    forced = ask({"role": "user", "content": "go"}, tools=[WEATHER], tool_choice="required")
    with pytest.raises(ValueError, match="tool_choice"):
        provider().chat_request(forced, card(), stream=False)
    bad_args = ask(
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}],
        },
        tools=[WEATHER],
    )
    with pytest.raises(ValueError, match="not JSON"):
        provider().chat_request(bad_args, card(), stream=False)


# -- decoding events ----------------------------------------------------------------------


def test_a_text_stream_becomes_openai_chunks() -> None:
    decoder, chunks = decode(HELLO)
    assert [c.choices[0].delta.model_dump(exclude_none=True) for c in chunks] == [
        {"role": "assistant", "content": "Hello"},
        {"content": ", world"},
        {},
    ]
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, "stop"]
    assert all(
        c.model == "claude-sonnet-4.6" and c.object == "chat.completion.chunk" for c in chunks
    )
    assert chunks[0].id.startswith("chatcmpl-")
    assert chunks[1].id == chunks[0].id
    assert chunks[-1].id == "s-1"  # the session id, once known
    assert decoder.complete
    assert decoder.session_id == "s-1"


def test_text_events_are_a_synonym_of_chunk_events() -> None:
    _, chunks = decode(
        sse(
            {"type": "text", "content": "Hi"},
            {"type": "text", "text": " there"},
            {"type": "done", "credits_used": 1},
        )
    )
    assert [c.choices[0].delta.content for c in chunks] == ["Hi", " there", None]


def test_not_complete_before_done() -> None:
    decoder, _ = decode(HELLO[:-1])
    assert not decoder.complete
    assert decoder.counts is None


def test_tool_use_events_become_complete_tool_calls() -> None:
    decoder, chunks = decode(
        sse(
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
            {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
            {"type": "done", "session_id": "s-2", "credits_used": 0.5},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.tool_calls == [
        {
            "index": 0,
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
        }
    ]
    assert chunks[1].choices[0].delta.role is None
    assert chunks[1].choices[0].delta.tool_calls == [
        {
            "index": 1,
            "id": "toolu_2",
            "type": "function",
            "function": {"name": "now", "arguments": "{}"},
        }
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert decoder.complete


@pytest.mark.parametrize(
    ("usd_per_credit", "credits_used", "usd"),
    [
        # 1.234 credits x $0.001 = $0.001234; x1.4 would give 0.0017276, /1000 0.000001234
        ("0.001", 1.234, D("0.001234")),
        # 1.234 credits x $0.0005 = $0.000617
        ("0.0005", 1.234, D("0.000617")),
        # 0.1 credits: a float that is not exact in binary, still exactly $0.0001
        ("0.001", 0.1, D("0.0001")),
        ("0.001", 3, D("0.003")),
        ("0.001", "2.5", D("0.0025")),
    ],
)
def test_credits_used_is_billed_exactly(
    usd_per_credit: str, credits_used: Any, usd: Decimal
) -> None:
    events = sse({"type": "chunk", "content": "x"}, {"type": "done", "credits_used": credits_used})
    decoder, _ = decode(events, usd_per_credit=usd_per_credit)
    assert decoder.counts is not None
    assert decoder.counts.billed_usd == usd
    assert isinstance(decoder.counts.billed_usd, Decimal)


def test_the_margin_is_never_applied_again() -> None:
    decoder, _ = decode(HELLO)
    assert decoder.counts is not None
    assert decoder.counts.billed_usd == D("0.001234")
    assert decoder.counts.billed_usd != D("0.001234") * D("1.4")
    assert decoder.counts.billed_usd != D("0.001234") / D("1.4")
    assert decoder.counts.billed_usd != D("0.000001234")


def test_without_usage_the_counts_are_estimates_and_flagged() -> None:
    request = ask({"role": "user", "content": "What is the capital of France?"})
    text = "The capital of France is Paris."  # 31 characters -> ceil(31 / 4) = 8
    decoder, _ = decode(
        sse({"type": "chunk", "content": text}, {"type": "done", "credits_used": 1}), request
    )
    assert decoder.counts is not None
    assert decoder.counts.estimated is True
    assert decoder.counts.prompt == request.estimated_prompt_tokens
    assert decoder.counts.completion == 8


def test_the_estimate_counts_tool_call_json_too() -> None:
    arguments = json.dumps({"city": "Paris"})  # 17 characters
    decoder, _ = decode(
        sse(
            {"type": "chunk", "content": "Checking."},  # 9 characters
            {"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "done", "credits_used": 1},
        )
    )
    assert len(arguments) + len("Checking.") == 26
    assert decoder.counts is not None
    assert decoder.counts.completion == 7  # ceil(26 / 4)


def test_usage_on_done_gives_real_counts() -> None:
    decoder, _ = decode(
        sse(
            {"type": "chunk", "content": "Hello"},
            {
                "type": "done",
                "session_id": "s",
                "credits_used": 1.234,
                "usage": {"input_tokens": 120, "output_tokens": 33},
            },
        )
    )
    assert decoder.counts is not None
    assert decoder.counts.model_dump() == {
        "prompt": 120,
        "completion": 33,
        "cache_read": 0,
        "cache_write": 0,
        "cache_write_1h": 0,
        "reasoning": 0,
        "estimated": False,
        "billed_usd": D("0.001234"),
    }


def test_usage_cache_tokens_are_added_to_the_prompt_as_anthropic_reports_them() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
    }
    decoder, _ = decode(sse({"type": "done", "credits_used": 1, "usage": usage}))
    assert decoder.counts is not None
    assert (decoder.counts.prompt, decoder.counts.cache_read, decoder.counts.cache_write) == (
        130,
        100,
        20,
    )


def test_unreadable_credits_leave_no_bill() -> None:
    decoder, _ = decode(sse({"type": "done", "credits_used": "lots"}))
    assert decoder.counts is not None
    assert decoder.counts.billed_usd is None
    decoder, _ = decode(sse({"type": "done"}))
    assert decoder.counts is not None
    assert decoder.counts.billed_usd is None


def test_a_done_with_nothing_before_still_starts_the_assistant_message() -> None:
    _, chunks = decode(sse({"type": "done", "credits_used": 0}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("key", ["message", "detail"])
def test_an_error_event_is_unavailable_with_its_message(key: str) -> None:
    with pytest.raises(Unavailable) as caught:
        decode(
            sse({"type": "chunk", "content": "Hel"}, {"type": "error", key: "upstream overloaded"})
        )
    assert caught.value.provider == "mx"
    assert caught.value.model == "claude-sonnet-4.6"
    assert caught.value.message == "upstream overloaded"


def test_unreadable_events_are_value_errors() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode([ServerSentEvent(data="not json")])
    with pytest.raises(ValueError, match="tool_use"):
        decode(sse({"type": "tool_use", "name": "f"}))
    with pytest.raises(ValueError, match="text"):
        decode(sse({"type": "chunk", "content": 3}))


def test_unknown_events_and_events_after_done_are_ignored() -> None:
    _, chunks = decode(
        [
            *sse({"type": "status", "message": "warming up"}, {"type": "chunk", "content": "a"}),
            ServerSentEvent(data=""),
            *sse({"type": "done", "credits_used": 1}, {"type": "chunk", "content": "late"}),
        ]
    )
    assert [c.choices[0].delta.content for c in chunks] == ["a", None]


# -- aggregation, and send / asend --------------------------------------------------------


def test_aggregation_of_a_text_stream() -> None:
    _, chunks = decode(HELLO)
    completion = aggregate_chunks(chunks)
    assert completion.model_dump(exclude_none=True) == {
        "id": "s-1",
        "object": "chat.completion",
        "created": chunks[0].created,
        "model": "claude-sonnet-4.6",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello, world"},
                "finish_reason": "stop",
            }
        ],
    }


def test_aggregation_of_tool_calls() -> None:
    _, chunks = decode(
        sse(
            {"type": "chunk", "content": "Checking."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "t2", "name": "now", "input": {}},
            {"type": "done", "session_id": "s-9", "credits_used": 2},
        )
    )
    completion = aggregate_chunks(chunks)
    choice = completion.choices[0]
    assert completion.id == "s-9"
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Checking."
    assert [c.model_dump() for c in choice.message.tool_calls or []] == [
        {
            "id": "t1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "t2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
    ]


def test_aggregation_of_tool_calls_only_has_no_content_and_merges_argument_pieces() -> None:
    def piece(delta: dict[str, Any], finish: str | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk.model_validate(
            {
                "id": "c",
                "created": 1,
                "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    call = {
        "index": 0,
        "id": "t",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a'},
    }
    chunks = [
        piece({"role": "assistant", "tool_calls": [call]}),
        piece({"tool_calls": [{"index": 0, "function": {"arguments": '": 1}'}}]}),
        piece({}, "tool_calls"),
    ]
    message = aggregate_chunks(chunks).choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    assert message.tool_calls[0].function.arguments == '{"a": 1}'
    with pytest.raises(ValueError, match="no chunks"):
        aggregate_chunks([])


def test_send_aggregates_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    mx = provider()
    seen: list[Any] = []

    def events(
        c: ModelCard, r: ChatRequest, *, cache_breakpoints: bool
    ) -> Iterator[ServerSentEvent]:
        seen.append(mx.chat_request(r, c, stream=False).json["stream"])
        yield from HELLO

    monkeypatch.setattr(mx, "events", events)
    completion, counts = mx.send(card(), ask({"role": "user", "content": "hi"}))
    assert seen == [True]
    assert completion.id == "s-1"
    assert completion.choices[0].message.content == "Hello, world"
    assert counts is not None
    assert counts.billed_usd == D("0.001234")
    assert counts.estimated


async def test_asend_aggregates_the_stream_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    mx = provider(usd_per_credit="0.0005")

    async def aevents(
        c: ModelCard, r: ChatRequest, *, cache_breakpoints: bool
    ) -> AsyncIterator[ServerSentEvent]:
        for event in HELLO:
            yield event

    monkeypatch.setattr(mx, "aevents", aevents)
    completion, counts = await mx.asend(card(), ask({"role": "user", "content": "hi"}))
    assert completion.choices[0].message.content == "Hello, world"
    assert completion.choices[0].finish_reason == "stop"
    assert counts is not None
    assert counts.billed_usd == D("0.000617")


def test_send_fails_on_a_cut_stream_an_unreadable_event_or_an_error_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mx = provider()
    request = ask({"role": "user", "content": "hi"})
    for events, problem in [
        (HELLO[:-1], "before its 'done'"),
        ([ServerSentEvent(data="{oops")], "unreadable event"),
        (sse({"type": "error", "detail": "model crashed"}), "model crashed"),
    ]:
        monkeypatch.setattr(mx, "events", lambda c, r, events=events, **_: iter(events))
        with pytest.raises(Unavailable, match=problem):
            mx.send(card(), request)


# -- HTTP errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail", "kind"),
    [
        (401, "Invalid API key", Rejected),
        (403, "Insufficient credits", Rejected),
        (400, "Model 'nope' not found", Rejected),
        (400, "Model does not support tools", Rejected),
        (400, "Prompt is too long for this model", ContextTooLong),
        (500, "Internal server error", Unavailable),
    ],
)
def test_http_errors_keep_the_detail(status: int, detail: str, kind: type[Exception]) -> None:
    body = json.dumps({"detail": detail}).encode()
    error = provider(api_key="inf_test_0123").upstream_error(card(), status, httpx.Headers(), body)
    assert type(error) is kind
    assert error.message == detail
    assert error.status == status
    assert error.provider == "mx"


def test_credits_exhausted_is_rejected_so_it_falls_over_not_retries() -> None:
    body = json.dumps({"detail": "Insufficient credits"}).encode()
    error = provider().upstream_error(card(), 403, httpx.Headers(), body)
    assert isinstance(error, Rejected)
    assert not isinstance(error, Unavailable)


def test_a_validation_error_detail_list_is_made_readable() -> None:
    body = json.dumps(
        {"detail": [{"loc": ["body", "model"], "msg": "Field required", "type": "missing"}]}
    ).encode()
    error = provider().upstream_error(card(), 422, httpx.Headers(), body)
    assert isinstance(error, Rejected)
    assert error.message == "Field required"


def test_error_messages_are_redacted() -> None:
    mx = provider(api_key="inf_secret_123456")
    body = json.dumps({"detail": "bad key inf_secret_123456"}).encode()
    assert "inf_secret" not in mx.upstream_error(card(), 401, httpx.Headers(), body).message
    decoder = mx.stream_decoder(card(), ask({"role": "user", "content": "hi"}))
    event = ServerSentEvent(data=json.dumps({"type": "error", "message": "inf_secret_123456"}))
    with pytest.raises(Unavailable) as caught:
        decoder.feed(event)
    assert "inf_secret" not in caught.value.message
