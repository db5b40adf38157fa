"""Fields a target cannot carry, on the wire: translated (the Anthropic family's forced
tool) or the candidate excluded in planning (``[fields]``), never dropped."""

from __future__ import annotations

import json

import pytest

from router import Router
from tests.wire.conftest import config

pytestmark = pytest.mark.wire

HI = [{"role": "user", "content": "weather in Oslo?"}]
ONLY_PIPELLM = {"providers": {"only": ["pipellm"]}}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "weather",
        "schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}


@pytest.fixture
def router(sim):
    with Router.from_config(config(sim, policy=[{"capabilities": {}}, {"cheapest": {}}])) as r:
        yield r


def test_structured_output_reaches_anthropic_as_a_forced_tool_and_returns_json(sim, router):
    answer = router.complete(
        model="claude-sonnet-4.6", messages=HI, response_format=SCHEMA, router=ONLY_PIPELLM
    )
    assert answer.provider == "pipellm"
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.tool_calls is None
    (sent,) = [r.json() for r in sim.requests("pipellm") if r.method == "POST"]
    assert sent["tool_choice"] == {"type": "tool", "name": "weather"}
    assert sent["tools"][0]["input_schema"] == SCHEMA["json_schema"]["schema"]
    assert "response_format" not in sent


def test_structured_output_streams_as_text(router):
    chunks = list(
        router.stream(
            model="claude-sonnet-4.6",
            messages=HI,
            response_format={"type": "json_object"},
            router=ONLY_PIPELLM,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert isinstance(json.loads(text), dict)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.cost is not None


def test_planning_excludes_what_a_dialect_cannot_carry(router):
    route = router.explain(model="claude-sonnet-4.6", messages=HI, n=2)
    fields = {e.ref: e.reason for e in route.excluded if e.policy == "fields"}
    assert fields == {
        "pipellm:claude-sonnet-4-6": "n=2: Anthropic Messages returns one choice",
        "inference-api:claude-sonnet-4.6": (
            "n: Majestix /chat and /code cannot carry several choices"
        ),
    }
    assert [c.ref for c in route.candidates] == ["openrouter:anthropic/claude-sonnet-4.6"]


def test_structured_output_skips_majestix_by_catalog_and_by_format(router):
    route = router.explain(model="gpt-5-mini", messages=HI, response_format={"type": "json_object"})
    reasons = {(e.ref, e.policy): e.reason for e in route.excluded}
    assert reasons == {
        ("inference-api:gpt-5-mini", "fields"): (
            "response_format: Majestix /chat and /code cannot carry structured output"
        )
    }
    assert {c.ref for c in route.candidates} == {
        "pipellm:gpt-5-mini",
        "openrouter:openai/gpt-5-mini",
    }
