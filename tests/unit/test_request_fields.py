"""Never silently alter a request: every field a target cannot carry as sent is translated,
or the candidate is excluded with the reason, per field and per dialect.

Dialects: OpenAI Chat Completions (pinstripes, Routstr, OpenRouter, any OpenAI-compatible
server, PipeLLM's openai and gemini families: the body is the caller's, as sent), Anthropic
Messages (PipeLLM's anthropic family) and Majestix ``/chat`` / ``/code``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent

from providers.inference_api import InferenceAPI
from providers.pipellm import PipeLLM
from router import Router
from router.catalog import ModelCard
from router.errors import Rejected
from router.types import ChatRequest
from router.wire import anthropic_messages, openai_chat

HI = [{"role": "user", "content": "Hi"}]
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
    "required": ["city", "temp_c"],
}
FIELDS: dict[str, dict[str, Any]] = {
    "response_format json_object": {"response_format": {"type": "json_object"}},
    "response_format json_schema": {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True},
        }
    },
    "n": {"n": 2},
    "logprobs": {"logprobs": True},
    "top_logprobs": {"logprobs": True, "top_logprobs": 3},
    "parallel_tool_calls": {"parallel_tool_calls": False, "tools": [TOOL]},
    "seed": {"seed": 7},
    "frequency_penalty": {"frequency_penalty": 0.5},
    "presence_penalty": {"presence_penalty": 0.5},
    "logit_bias": {"logit_bias": {"50256": -100}},
}

OPENAI_CARD = ModelCard(provider="p", id="gpt-5-mini")
CLAUDE = ModelCard(provider="pipellm", id="claude-sonnet-4-6", protocol="anthropic")
MAJESTIX = ModelCard(provider="mx", id="gpt-5-mini", supports_tools=True)


def ask(**fields: Any) -> ChatRequest:
    return ChatRequest(model="x:y", messages=HI, **fields)


def pipellm() -> PipeLLM:
    conf = {"name": "pipellm", "kind": "pipellm", "api_key": "k", "base_url": "http://x"}
    provider = Router.from_config({"providers": [conf]}).providers["pipellm"]
    assert isinstance(provider, PipeLLM)
    return provider


def majestix() -> InferenceAPI:
    conf = {"name": "mx", "kind": "inference-api", "api_key": "k", "base_url": "http://x"}
    provider = Router.from_config({"providers": [conf]}).providers["mx"]
    assert isinstance(provider, InferenceAPI)
    return provider


# -- OpenAI Chat Completions: every field as sent -------------------------------------------


@pytest.mark.parametrize("name", FIELDS)
def test_openai_dialect_sends_the_field_as_given(name):
    fields = FIELDS[name]
    body = openai_chat.request_body(ask(**fields), OPENAI_CARD, stream=False)
    for key, value in fields.items():
        assert body[key] == value
    assert pipellm().unsupported(ask(**fields), OPENAI_CARD) is None


def test_openai_dialect_refuses_json_where_the_catalog_says_no_structured_output():
    conf = {"name": "or", "kind": "openrouter", "api_key": "k", "base_url": "http://x"}
    provider = Router.from_config({"providers": [conf]}).providers["or"]
    request = ask(**FIELDS["response_format json_object"])
    lacking = ModelCard(provider="or", id="openrouter/auto", supports_structured_output=False)
    assert provider.unsupported(request, lacking) == (
        "response_format: the catalog says this model has no structured output"
    )
    assert provider.unsupported(request, OPENAI_CARD) is None  # unknown: sent as is
    assert provider.unsupported(ask(response_format={"type": "text"}), lacking) is None


# -- Anthropic Messages ------------------------------------------------------------------------

ANTHROPIC_REFUSED = {
    "n": "n=2: Anthropic Messages returns one choice",
    "logprobs": "logprobs: Anthropic Messages returns no token log probabilities",
    "top_logprobs": "logprobs: Anthropic Messages returns no token log probabilities",
    "seed": "seed: Anthropic Messages has no seed",
    "frequency_penalty": "frequency_penalty: Anthropic Messages has no equivalent",
    "presence_penalty": "presence_penalty: Anthropic Messages has no equivalent",
    "logit_bias": "logit_bias: Anthropic Messages has no equivalent",
}


@pytest.mark.parametrize("name", ANTHROPIC_REFUSED)
def test_anthropic_refuses_what_messages_cannot_carry(name):
    request = ask(**FIELDS[name])
    assert anthropic_messages.unsupported(request) == ANTHROPIC_REFUSED[name]
    provider = pipellm()
    assert provider.unsupported(request, CLAUDE) == ANTHROPIC_REFUSED[name]
    with pytest.raises(Rejected) as caught:  # sent anyway: refused, never dropped
        provider.send(CLAUDE, request)
    assert caught.value.code == "unsupported_request"
    assert ANTHROPIC_REFUSED[name] in str(caught.value)


def test_anthropic_json_object_is_a_forced_tool():
    request = ask(**FIELDS["response_format json_object"])
    assert anthropic_messages.unsupported(request) is None
    body = anthropic_messages.request_body(request, CLAUDE, stream=False)
    assert body["tools"] == [
        {
            "name": "json_response",
            "description": "Answer with a JSON object.",
            "input_schema": {"type": "object"},
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "json_response"}


def test_anthropic_json_schema_is_a_forced_tool_with_that_schema():
    request = ask(**FIELDS["response_format json_schema"])
    assert anthropic_messages.unsupported(request) is None
    body = anthropic_messages.request_body(request, CLAUDE, stream=False)
    assert body["tools"] == [
        {
            "name": "weather",
            "description": "Answer with JSON matching this schema.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "weather"}


def test_anthropic_structured_output_answer_is_the_tools_input_as_text():
    payload = {
        "type": "message",
        "id": "msg_1",
        "model": "claude-sonnet-4-6",
        "content": [
            {"type": "text", "text": "Here you go"},
            {
                "type": "tool_use",
                "id": "t1",
                "name": "weather",
                "input": {"city": "Oslo", "temp_c": 4},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    completion, _ = anthropic_messages.parse_completion(payload, CLAUDE, structured="weather")
    message = completion.choices[0].message
    assert json.loads(message.content or "") == {"city": "Oslo", "temp_c": 4}
    assert message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"


def test_anthropic_structured_output_streams_the_tools_input_as_text():
    tool = {"type": "tool_use", "id": "t", "name": "weather", "input": {}}
    part1 = {"type": "input_json_delta", "partial_json": '{"city": '}
    part2 = {"type": "input_json_delta", "partial_json": '"Oslo"}'}
    events = [
        ("message_start", {"message": {"id": "m", "model": "c", "usage": {"input_tokens": 3}}}),
        ("content_block_start", {"index": 0, "content_block": tool}),
        ("content_block_delta", {"index": 0, "delta": part1}),
        ("content_block_delta", {"index": 0, "delta": part2}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
        ("message_stop", {}),
    ]
    stream = anthropic_messages.AnthropicStream(CLAUDE, structured="weather")
    chunks = [
        c for name, data in events for c in stream.feed(ServerSentEvent(name, json.dumps(data)))
    ]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert json.loads(text) == {"city": "Oslo"}
    assert not any(c.choices[0].delta.tool_calls for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_anthropic_refuses_structured_output_with_tools_and_a_non_object_schema():
    with_tools = ask(tools=[TOOL], **FIELDS["response_format json_object"])
    assert anthropic_messages.unsupported(with_tools) == (
        "response_format with tools: a forced JSON tool would keep them unused"
    )
    array = ask(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": {"type": "array"}},
        }
    )
    assert "only an object at the root (got type 'array')" in (
        anthropic_messages.unsupported(array) or ""
    )


def test_anthropic_parallel_tool_calls_false_is_translated():
    request = ask(**FIELDS["parallel_tool_calls"])
    assert anthropic_messages.unsupported(request) is None
    body = anthropic_messages.request_body(request, CLAUDE, stream=False)
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 1},
        {"parallel_tool_calls": True},
        {"response_format": {"type": "text"}},
        {"logprobs": False},
    ],
)
def test_anthropic_defaults_are_no_reason_to_refuse(fields):
    assert anthropic_messages.unsupported(ask(**fields)) is None


def test_anthropic_family_states_structured_output_in_the_catalog():
    entry = {
        "id": "claude-sonnet-4-6",
        "type_target": "anthropic",
        "pricing": {"kind": "token", "text": {"prompt": "0.000003", "completion": "0.000015"}},
    }
    cards, _ = pipellm().parse_catalog(
        {"data": [entry, {**entry, "id": "gpt-5", "type_target": "openai"}]}
    )
    assert [c.supports_structured_output for c in cards] == [True, None]


# -- Majestix /chat and /code ----------------------------------------------------------------

MX = "Majestix /chat and /code cannot carry"
MAJESTIX_REFUSED = {
    "response_format json_object": f"response_format: {MX} structured output",
    "response_format json_schema": f"response_format: {MX} structured output",
    "n": f"n: {MX} several choices",
    "logprobs": f"logprobs: {MX} token log probabilities",
    "top_logprobs": f"logprobs: {MX} token log probabilities",
    "parallel_tool_calls": (
        "parallel_tool_calls: false: Majestix /code cannot be asked for one call at a time"
    ),
    "seed": f"seed: {MX} a seed",
    "frequency_penalty": f"frequency_penalty: {MX} a frequency penalty",
    "presence_penalty": f"presence_penalty: {MX} a presence penalty",
    "logit_bias": f"logit_bias: {MX} logit bias",
}


@pytest.mark.parametrize("name", FIELDS)
def test_majestix_refuses_every_field_it_has_no_place_for(name):
    request = ask(**FIELDS[name])
    provider = majestix()
    assert provider.unsupported(request, MAJESTIX) == MAJESTIX_REFUSED[name]
    with pytest.raises(Rejected) as caught:
        provider.send(MAJESTIX, request)
    assert caught.value.code == "unsupported_request"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"stop": ["END"]}, "stop: Majestix /chat and /code cannot carry stop sequences"),
        ({"top_p": 0.5}, "top_p: Majestix /chat and /code cannot carry nucleus sampling"),
    ],
)
def test_majestix_refuses_stop_and_top_p_too(fields, why):
    assert majestix().unsupported(ask(**fields), MAJESTIX) == why


@pytest.mark.parametrize(
    "fields",
    [
        {"n": 1},
        {"top_p": 1},
        {"parallel_tool_calls": True, "tools": [TOOL]},
        {"parallel_tool_calls": False},  # no tools: nothing to call in parallel
        {"response_format": {"type": "text"}},
        {"temperature": 0.3, "max_tokens": 20},
    ],
)
def test_majestix_sends_what_it_can_carry(fields):
    assert majestix().unsupported(ask(**fields), MAJESTIX) is None


def test_majestix_states_no_structured_output_in_the_catalog():
    entry = {"id": "gpt-5-mini", "cost_per_1k_input": 1, "cost_per_1k_output": 2}
    cards, _ = majestix().parse_catalog({"models": [entry]})
    assert cards[0].supports_structured_output is False


def test_unsupported_is_checked_before_any_connection(monkeypatch):
    # The refusal happens while building the request: nothing reaches the network.
    def no_network(*args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError("sent")

    monkeypatch.setattr(httpx.Client, "post", no_network)
    with pytest.raises(Rejected):
        majestix().send(MAJESTIX, ask(seed=1))
