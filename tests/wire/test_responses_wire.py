"""``POST /v1/responses``: the OpenAI Responses API through the transports and ``router
serve``, with the real ``openai`` client, against the simulator on loopback."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest
from openai.types.responses import Response

from router import Router
from router.serving.server import create_app
from router.testing.simulator import Reply
from tests.wire.conftest import FLASH, config
from tests.wire.test_server import serving

pytestmark = pytest.mark.wire

TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    }
]


@pytest.fixture
def router(sim):
    conf = config(sim, "pinstripes", "routstr", "openrouter", policy=[{"cheapest": {}}])
    with Router.from_config(conf, sleep=lambda _: None) as r:
        yield r


@pytest.fixture
def client(router):
    http = httpx.Client(transport=router.transport())
    yield openai.OpenAI(base_url="http://router/v1", api_key="x", http_client=http)
    http.close()


def test_a_string_input_with_instructions(sim, client):
    raw = client.responses.with_raw_response.create(
        model=FLASH, input="hello there", instructions="Be brief."
    )
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text == "You said: hello there"
    assert response.store is False
    extra = response.model_extra or {}
    assert extra["provider"] == "pinstripes"
    usage = response.usage
    assert usage is not None
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    cost = (usage.model_extra or {})["cost"]
    assert Decimal(str(cost)) == Decimal(raw.headers["x-router-cost"])
    (sent,) = [r.json() for r in sim.requests("pinstripes") if r.method == "POST"]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello there"},
    ]


def test_a_tool_loop_with_function_call_output_items(sim, client):
    question = {"role": "user", "content": [{"type": "input_text", "text": "which db?"}]}
    first = client.responses.create(model=FLASH, input=[question], tools=TOOLS)  # type: ignore[list-item]
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "lookup"
    assert json.loads(call.arguments) == {"query": "which db?"}
    second = client.responses.create(
        model=FLASH,
        input=[
            question,  # type: ignore[list-item]
            call.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"type": "function_call_output", "call_id": call.call_id, "output": "Postgres"},
        ],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    assert second.output_text == "Tool said: Postgres"
    sent = [r.json() for r in sim.requests("pinstripes") if r.method == "POST"][-1]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": "lookup", "arguments": call.arguments},
            }
        ],
    }
    assert sent["messages"][2] == {
        "role": "tool",
        "tool_call_id": call.call_id,
        "content": "Postgres",
    }
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look something up.",
                "parameters": TOOLS[0]["parameters"],
            },
        }
    ]


def test_streaming_text_gives_the_responses_events(client):
    with client.responses.stream(model=FLASH, input="stream me") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds.count("response.output_text.delta") >= 2
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert final.output_text == "You said: stream me"
    assert final.usage is not None
    assert (final.usage.model_extra or {})["cost"] > 0


def test_streaming_a_tool_call(client):
    with client.responses.stream(model=FLASH, input="find it", tools=TOOLS) as stream:  # type: ignore[arg-type]
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    (call,) = final.output
    assert call.type == "function_call"
    assert json.loads(call.arguments) == {"query": "find it"}


def test_every_stream_event_is_a_valid_openai_event(router):
    transport = router.transport()
    request = httpx.Request(
        "POST",
        "http://router/v1/responses",
        json={"model": FLASH, "input": "hi", "stream": True, "tools": TOOLS},
    )
    response = transport.handle_request(request)
    text = response.read().decode()
    events = [block for block in text.split("\n\n") if block]
    numbers = []
    for block in events:
        name, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert name == f"event: {payload['type']}"
        numbers.append(payload["sequence_number"])
    assert numbers == list(range(len(events)))
    last = json.loads(events[-1].split("\n")[1].removeprefix("data: "))
    Response.model_validate(last["response"])


async def test_the_async_transport(router):
    http = httpx.AsyncClient(transport=router.async_transport())
    client = openai.AsyncOpenAI(base_url="http://router/v1", api_key="x", http_client=http)
    response = await client.responses.create(model="deepseek-v4-flash", input="hello")
    assert response.output_text == "You said: hello"
    stream = await client.responses.create(model=FLASH, input="hello", stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    await http.aclose()


def test_routing_options_and_structured_output_travel_through(sim, client):
    response = client.responses.create(
        model="deepseek-v4-flash",
        input="hello",
        text={"format": {"type": "json_object"}},
        extra_body={"router": {"providers": {"only": ["openrouter"]}}},
    )
    assert (response.model_extra or {})["provider"] == "openrouter"
    (sent,) = [r.json() for r in sim.requests("openrouter") if r.method == "POST"]
    assert sent["response_format"] == {"type": "json_object"}
    assert "router" not in sent


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id: this router is stateless"),
        ({"conversation": "conv_1"}, "conversation: this router is stateless"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type: only function tools"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type: 'item_reference'"),
        ({"frobnicate": True}, "frobnicate: unknown or unsupported Responses field"),
        ({"input": []}, "input: expected a string or a non-empty list"),
    ],
)
def test_what_cannot_be_translated_is_a_400_naming_the_field(client, fields, problem):
    body = {"model": FLASH, "input": "hi", **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/responses", body=body, cast_to=Response)
    assert problem in caught.value.message


def test_a_failure_after_the_routers_fallback_is_not_retried_by_the_sdk(sim, router, client):
    router.models()  # catalogs fetched: the scripted faults hit the chat route
    sim.script("pinstripes", [Reply(500)] * 10)
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model=FLASH, input="hi")
    assert caught.value.response.headers["x-should-retry"] == "false"
    posts = [r for r in sim.requests("pinstripes") if r.method == "POST"]
    assert len(posts) == 4  # the router's attempts (fallback.attempts), not x3 by the SDK


def test_router_serve_answers_responses(router):
    with serving(create_app(router)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="x")
        response = client.responses.create(model=FLASH, input="over real HTTP")
        assert response.output_text == "You said: over real HTTP"
        with client.responses.stream(model=FLASH, input="streamed") as stream:
            kinds = [event.type for event in stream]
        assert kinds[-1] == "response.completed"
        client.close()


def test_a_stream_cut_after_it_began_ends_with_an_error_event(sim, router):
    router.models()
    sim.script("pinstripes", [Reply(200, cut_after=3)])
    transport = router.transport()
    request = httpx.Request(
        "POST", "http://router/v1/responses", json={"model": FLASH, "input": "hi", "stream": True}
    )
    text = transport.handle_request(request).read().decode()
    events = [json.loads(b.split("\n")[1].removeprefix("data: ")) for b in text.split("\n\n") if b]
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "error"
    assert events[-1]["code"] == "stream_interrupted"
    assert "response.completed" not in [e["type"] for e in events]
