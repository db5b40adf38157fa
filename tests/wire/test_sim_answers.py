"""Simulated answers of realistic length (``AnswerLength``), over real HTTP on loopback: the
lengths drawn, the words, ``usage`` in each dialect, streams, caps, and the exact bill; and
the prompt tokens of images (``image_tokens``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from router import Router
from router.testing.simulator import (
    REALISTIC_IMAGE_TOKENS,
    AnswerLength,
    Simulator,
    count_tokens,
    prompt_tokens_of,
)

pytestmark = pytest.mark.wire

SEEDED = AnswerLength(300, spread=0.3, seed=7)
QUESTION = "In one sentence: why send each request to a different model?"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]
PROMPT = 3 + 15  # "Be brief." + the question (62 characters), 4 characters per token
DRAWN = 339
"""SEEDED's length for MESSAGES' texts (blake2b of the seed and the texts; 210..390)."""


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(answer_length=SEEDED) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(sim: Simulator) -> None:
    sim.reset()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def openai(
    sim: Simulator, client: httpx.Client, provider: str, model: str, **fields: Any
) -> httpx.Response:
    key = sim.api_key(provider)
    return client.post(
        sim.base_url(provider) + "/chat/completions",
        json={"model": model, "messages": MESSAGES, **fields},
        headers={"Authorization": f"Bearer {key}"},
    )


ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}


def messages_body(model: str, **fields: Any) -> dict[str, Any]:
    """MESSAGES as an Anthropic Messages body: the system prompt at the top level."""
    return {
        "model": model,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        **fields,
    }


def events(client: httpx.Client, url: str, body: Any, headers: dict[str, str]) -> list[Any]:
    """The data of each event of a streamed answer (parsed; ``[DONE]`` left out)."""
    found = []
    with connect_sse(client, "POST", url, json=body, headers=headers) as source:
        assert source.response.status_code == 200
        for event in source.iter_sse():
            if event.data != "[DONE]":
                found.append(json.loads(event.data))
    return found


# -- AnswerLength ------------------------------------------------------------------------


def test_a_fixed_length_and_a_seeded_draw() -> None:
    assert AnswerLength(250).bounds == (250, 250)
    assert AnswerLength(250).draw(["anything"]) == 250
    assert SEEDED.bounds == (210, 390)  # round(300 * 0.7), round(300 * 1.3)
    assert AnswerLength(1, spread=1.0).bounds == (1, 2)  # never below one token
    texts = ["Be brief.", QUESTION]
    assert SEEDED.draw(texts) == DRAWN
    assert SEEDED.draw(texts) == DRAWN  # deterministic
    assert AnswerLength(300, spread=0.3, seed=8).draw(texts) == 257  # another seed, another draw
    lengths = [SEEDED.draw([f"question {i}"]) for i in range(400)]
    assert min(lengths) >= 210
    assert max(lengths) <= 390
    assert 280 <= sum(lengths) / len(lengths) <= 320  # around the typical length
    assert len(set(lengths)) > 100  # spread over the range, not a few values


def test_words_are_sentences_one_token_each() -> None:
    for count in (1, 2, 10, 11, 40, DRAWN):
        words = SEEDED.words(["Be brief.", QUESTION], count)
        assert len(words) == count
        assert all(word and " " not in word for word in words)
        assert words[-1].endswith(".")  # whole sentences, however long the answer
        assert words[0][0].isupper()
    text = " ".join(SEEDED.words(["Be brief.", QUESTION], 40))
    assert text == (
        "For example, a busy service may ask you to slow down for a little while."
        " Here is a short answer, followed by the details that matter most."
        " Please share a little more context if your situation is different from this."
    )
    whole = SEEDED.words(["Be brief.", QUESTION], DRAWN)
    sentences = " ".join(whole).replace(". ", ".\n").splitlines()
    body = [s for s in sentences if len(s.split()) >= 10]
    assert len(body) > 17  # ~17 words each
    assert len(set(body[:23])) == len(body[:23])  # none said twice before all were said


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((0,), ValueError, "AnswerLength.typical must be an int >= 1, not 0"),
        ((3.5,), TypeError, "AnswerLength.typical must be an int >= 1, not 3.5"),
        ((True,), TypeError, "AnswerLength.typical must be an int >= 1, not True"),
        ((300, 1.5), ValueError, "AnswerLength.spread must be a number in 0-1, not 1.5"),
        ((300, -0.1), ValueError, "AnswerLength.spread must be a number in 0-1, not -0.1"),
        ((300, "0.3"), TypeError, "AnswerLength.spread must be a number in 0-1, not '0.3'"),
        ((300, 0.3, "7"), TypeError, "AnswerLength.seed must be an int, not '7'"),
    ],
)
def test_answer_length_checks_its_arguments(
    arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        AnswerLength(*arguments)
    assert str(info.value) == message


# -- OpenAI Chat Completions -------------------------------------------------------------


def test_openai_answer_has_the_drawn_length(sim: Simulator, client: httpx.Client) -> None:
    answer = openai(sim, client, "pinstripes", "ps/deepseek-v4-flash", max_tokens=1000).json()
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "stop"
    text = choice["message"]["content"]
    assert len(text.split()) == DRAWN
    assert text == " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN))
    assert text.endswith(".")
    assert answer["usage"] == {
        "prompt_tokens": PROMPT,
        "completion_tokens": DRAWN,
        "cached_tokens": 0,  # pinstripes, seed 001: top-level
        "total_tokens": PROMPT + DRAWN,
    }


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_openai_cap_cuts_with_finish_reason_length(
    sim: Simulator, client: httpx.Client, field: str
) -> None:
    answer = openai(sim, client, "routstr", "deepseek/deepseek-v4-flash", **{field: 120}).json()
    (choice,) = answer["choices"]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["content"].split()) == 120
    # the first 120 words of the whole answer: cut mid-sentence
    whole_text = " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN)[:120])
    assert choice["message"]["content"] == whole_text
    assert not whole_text.endswith(".")
    assert answer["usage"]["completion_tokens"] == 120
    # a cap above the drawn length does not cut
    whole = openai(sim, client, "routstr", "deepseek/deepseek-v4-flash", **{field: DRAWN}).json()
    assert whole["choices"][0]["finish_reason"] == "stop"
    assert whole["usage"]["completion_tokens"] == DRAWN


def test_openrouter_states_the_exact_cost_of_the_long_answer(
    sim: Simulator, client: httpx.Client
) -> None:
    answer = openai(sim, client, "openrouter", "deepseek/deepseek-v4-flash", max_tokens=1000)
    usage = answer.json()["usage"]
    assert usage["completion_tokens"] == DRAWN
    # deepseek-v4-flash: $0.09 / $0.18 per 1M tokens
    expected = PROMPT * Decimal("0.00000009") + DRAWN * Decimal("0.00000018")
    assert expected == Decimal("0.00006264")
    assert usage["cost"] == float(expected) == 0.00006264


def test_openai_stream_sends_the_answer_in_many_chunks(
    sim: Simulator, client: httpx.Client
) -> None:
    body = {
        "model": "deepseek/deepseek-v4-flash",
        "messages": MESSAGES,
        "max_tokens": 1000,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    url = sim.base_url("openrouter") + "/chat/completions"
    headers = {"Authorization": f"Bearer {sim.api_key('openrouter')}"}
    chunks = events(client, url, body, headers)
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    pieces = [piece for piece in contents if piece]
    assert len(pieces) == DRAWN  # one token per chunk, as the providers stream
    assert "".join(pieces) == " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN))
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == DRAWN
    assert chunks[-1]["usage"]["cost"] == 0.00006264


def test_tool_calls_keep_their_short_arguments(sim: Simulator, client: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
    answer = openai(sim, client, "pinstripes", "ps/deepseek-v4-flash", tools=tools).json()
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    arguments = answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"query": QUESTION}
    assert answer["usage"]["completion_tokens"] == count_tokens(arguments) == 19


# -- Anthropic Messages and Majestix ------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model"), [("pipellm", "claude-sonnet-4-6"), ("anthropic", "claude-sonnet-4-6")]
)
def test_anthropic_answer_same_length_and_words_as_openai(
    sim: Simulator, client: httpx.Client, provider: str, model: str
) -> None:
    headers = {"x-api-key": sim.api_key(provider), **ANTHROPIC_HEADERS}
    url = sim.base_url(provider) + "/v1/messages"
    body = messages_body(model, max_tokens=1000)
    assert prompt_tokens_of(body) == PROMPT
    message = client.post(url, json=body, headers=headers).json()
    assert message["stop_reason"] == "end_turn"
    (block,) = message["content"]
    assert block["text"] == " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN))
    assert message["usage"]["output_tokens"] == DRAWN
    assert message["usage"]["input_tokens"] == PROMPT  # below the minimum cached prefix

    streamed = events(client, url, {**body, "stream": True}, headers)
    kinds = [e["type"] for e in streamed]
    assert kinds.count("content_block_delta") == DRAWN
    text = "".join(e["delta"]["text"] for e in streamed if e["type"] == "content_block_delta")
    assert text == block["text"]
    assert streamed[0]["message"]["usage"]["output_tokens"] == 1  # message_start, as Anthropic
    (delta,) = [e for e in streamed if e["type"] == "message_delta"]
    assert delta["usage"] == {"output_tokens": DRAWN}
    assert delta["delta"]["stop_reason"] == "end_turn"

    cut = client.post(url, json={**body, "max_tokens": 50}, headers=headers).json()
    assert cut["stop_reason"] == "max_tokens"
    assert cut["usage"]["output_tokens"] == 50
    assert len(cut["content"][0]["text"].split()) == 50


def test_majestix_bills_credits_for_the_long_answer(sim: Simulator, client: httpx.Client) -> None:
    url = sim.base_url("inference-api") + "/chat"
    headers = {"X-Api-Key": sim.api_key("inference-api")}
    body = {"model": "gpt-5-mini", "messages": MESSAGES, "max_tokens": 1000}
    found = events(client, url, body, headers)
    chunks = [e["content"] for e in found if e["type"] == "chunk"]
    assert len(chunks) == DRAWN
    assert "".join(chunks) == " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN))
    # gpt-5-mini: 0.35 / 2.8 credits per 1k tokens (003_*.txt)
    credits = (PROMPT * Decimal("0.35") + DRAWN * Decimal("2.8")) / 1000
    assert credits == Decimal("0.9555")
    assert found[-1]["type"] == "done"
    assert found[-1]["credits_used"] == 0.9555


# -- the Simulator's settings ------------------------------------------------------------


def test_settings_per_provider_and_model_and_reset(sim: Simulator, client: httpx.Client) -> None:
    def completion(provider: str, model: str) -> int:
        usage = openai(sim, client, provider, model, max_tokens=2000).json()["usage"]
        return int(usage["completion_tokens"])

    flash = ("pinstripes", "ps/deepseek-v4-flash")
    oss = ("pinstripes", "ps/gpt-oss-120b")
    routstr = ("routstr", "deepseek/deepseek-v4-flash")
    assert sim.answer_length(*flash) == SEEDED  # the constructor's
    sim.set_answer_length(40)  # every provider: a fixed figure
    sim.set_answer_length(AnswerLength(900), provider="pinstripes")
    sim.set_answer_length(None, provider="pinstripes", model="ps/gpt-oss-120b")  # the echo
    assert sim.answer_length(*routstr) == AnswerLength(40)
    assert (completion(*flash), completion(*routstr)) == (900, 40)
    echo = openai(sim, client, *oss, max_tokens=2000).json()
    assert echo["choices"][0]["message"]["content"] == "You said: " + QUESTION
    sim.reset()
    assert (completion(*flash), completion(*oss), completion(*routstr)) == (DRAWN,) * 3
    with Simulator() as plain:
        assert plain.answer_length(*flash) is None  # the default: the short echo
    with pytest.raises(ValueError, match="a model needs its provider"):
        sim.set_answer_length(40, model="ps/gpt-oss-120b")
    with pytest.raises(TypeError, match="answer_length must be an AnswerLength, an int or None"):
        sim.set_answer_length("long")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown simulated provider 'nope'"):
        sim.set_answer_length(40, provider="nope")


def test_image_parts_count_the_simulators_image_tokens(client: httpx.Client) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    content = [{"type": "text", "text": "What is in this picture?"}, image, image]  # 6 + 2 x
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    anthropic = {"role": "user", "content": [{"type": "text", "text": "What is it?"}, block]}
    assert prompt_tokens_of({"messages": [{"role": "user", "content": content}]}) == 6
    assert prompt_tokens_of({"messages": [anthropic]}, image_tokens=255) == 3 + 255
    with Simulator(image_tokens=REALISTIC_IMAGE_TOKENS) as sim:
        assert sim.image_tokens == 255
        key = sim.api_key("openrouter")
        answer = client.post(
            sim.base_url("openrouter") + "/chat/completions",
            json={
                "model": "google/gemma-3-27b-it",
                "messages": [{"role": "user", "content": content}],
            },
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        assert answer["usage"]["prompt_tokens"] == 6 + 2 * 255
        # gemma-3-27b-it: $0.067 / $0.267 per 1M tokens; the echo "You said: What is in this
        # picture?" is 7 words
        assert answer["usage"]["completion_tokens"] == 7
        cost = 516 * Decimal("0.000000067") + 7 * Decimal("0.000000267")
        assert answer["usage"]["cost"] == float(cost) == 0.000036441
        message = client.post(
            sim.base_url("anthropic") + "/v1/messages",
            json={"model": "claude-sonnet-4-6", "max_tokens": 50, "messages": [anthropic]},
            headers={"x-api-key": sim.api_key("anthropic"), **ANTHROPIC_HEADERS},
        ).json()
        assert message["usage"]["input_tokens"] == 3 + 255
    with pytest.raises(ValueError, match="image_tokens must be an int >= 0, not -1"):
        Simulator(image_tokens=-1)


def test_rate_limits_count_the_long_answer(sim: Simulator, client: httpx.Client) -> None:
    sim.set_rate_limit("pinstripes", tokens=10_000)
    answer = openai(sim, client, "pinstripes", "ps/deepseek-v4-flash", max_tokens=1000)
    assert answer.json()["usage"]["total_tokens"] == PROMPT + DRAWN
    assert answer.headers["x-ratelimit-remaining-tokens"] == str(10_000 - PROMPT - DRAWN)


# -- through the router: the bill -----------------------------------------------------------


def test_router_bills_the_long_answer_exactly(sim: Simulator) -> None:
    config = sim.config("pinstripes", "openrouter")
    with Router.from_config(config, entry_points=False) as router:
        reply = router.complete(
            model="pinstripes:ps/deepseek-v4-flash", messages=MESSAGES, max_tokens=1000
        )
        assert reply.usage is not None
        assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (PROMPT, DRAWN)
        assert reply.choices[0].finish_reason == "stop"
        # ps/deepseek-v4-flash: $0.087 / $0.173 per 1M tokens (000_*.txt)
        assert reply.route.cost == PROMPT * Decimal("0.000000087") + DRAWN * Decimal("0.000000173")
        assert reply.route.cost == Decimal("0.000060213")
        cut = router.complete(
            model="openrouter:deepseek/deepseek-v4-flash", messages=MESSAGES, max_tokens=100
        )
        assert cut.choices[0].finish_reason == "length"
        assert cut.usage is not None
        assert cut.usage.completion_tokens == 100
        # OpenRouter states what it billed (usage.cost): $0.09 / $0.18 per 1M tokens
        assert cut.route.cost_stated
        assert cut.route.cost == Decimal("0.00001962")
        assert cut.route.cost == PROMPT * Decimal("0.00000009") + 100 * Decimal("0.00000018")


@pytest.mark.parametrize(
    ("model", "cost"),
    [
        # ps/deepseek-v4-flash: $0.087 / $0.173 per 1M tokens (000_*.txt)
        ("pinstripes:ps/deepseek-v4-flash", Decimal("0.000060213")),
        # claude-sonnet-4-6 on PipeLLM's Messages route: $3 / $15 per 1M tokens (002_*.txt)
        ("pipellm:claude-sonnet-4-6", PROMPT * Decimal("0.000003") + DRAWN * Decimal("0.000015")),
    ],
)
def test_router_streams_the_long_answer_and_bills_it(
    sim: Simulator, model: str, cost: Decimal
) -> None:
    config = sim.config("pinstripes", "pipellm")
    with Router.from_config(config, entry_points=False) as router:
        chunks = list(router.stream(model=model, messages=MESSAGES, max_tokens=1000))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == " ".join(SEEDED.words(["Be brief.", QUESTION], DRAWN))
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == DRAWN
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (PROMPT, DRAWN)
    assert Decimal(str(usage.cost)) == cost
