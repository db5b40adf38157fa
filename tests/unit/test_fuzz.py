"""Fuzzing with hypothesis: the config loader, every catalog parser, the stream decoders,
``Retry-After`` parsing, provider error bodies, provider keys, and request bodies sent
through the in-process transport and ``router serve`` (loopback only: the one provider
is a closed port).

Each property says what a parser may do with hostile input: return its normal result or
raise its one typed error, never another exception, never hang, never echo a secret.
Runs are derandomized (the same examples every run) and keep no example database.
"""

from __future__ import annotations

import copy
import email.utils
import functools
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from httpx_sse import ServerSentEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.inference_api import MajestixStream
from router import Router
from router.catalog import ModelCard, Pricing
from router.completion import ChatCompletionChunk, TokenCounts
from router.errors import (
    CatalogError,
    ConfigError,
    RateLimited,
    Rejected,
    Timeout,
    Unavailable,
    UpstreamError,
)
from router.provider import Provider
from router.testing.simulator import CATALOGS
from router.wire.anthropic_messages import AnthropicStream
from router.wire.openai_chat import OpenAIStream
from router.wire.retry_after import parse_retry_after

EXAMPLE_YAML = Path(__file__).parents[2] / "examples" / "router.yaml"
KINDS = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter", "openai")
SECRET = "sk-fuzz-SECRET-0123456789abcdef"

# When a property fails, hypothesis' pytest plugin imports libcst (to suggest an @example
# patch), which warns through mypy_extensions; with ``filterwarnings = error`` that warning
# would abort the whole session instead of reporting the failure.
pytestmark = pytest.mark.filterwarnings(
    "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"
)

FUZZ = settings(
    max_examples=50,
    deadline=None,
    report_multiple_bugs=False,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- strategies -------------------------------------------------------------------------

# Strings that read as numbers, huge and tiny exponents included: prices, credits, waits.
NUMERIC_TEXT = st.from_regex(r"\A[-+]?[0-9]{1,4}(\.[0-9]{1,8})?([eE][-+]?[0-9]{1,9})?\Z")
EDGE_VALUES = st.sampled_from(
    [None, "", " ", "-1", -1, 0, "0", "nan", "NaN", "inf", "-inf", 1e308, -0.0, "1e-999999",
     "1e999999999", "0x10", "1_000", "١٢", [], {}, True]
)  # fmt: skip
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)


KEYS = st.text(max_size=10)


def json_values(
    leaves: st.SearchStrategy[Any] = LEAVES,
    keys: st.SearchStrategy[str] = KEYS,
    size: int = 12,
) -> st.SearchStrategy[Any]:
    """Arbitrary JSON: nested lists and objects over ``leaves``, about ``size`` leaves at most."""
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=size,
    )


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position inside ``node``, the node itself (``()``) included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate_at(root: Any, path: tuple[Any, ...], value: Any, drop: bool) -> None:
    """Replace (or delete) the node at ``path`` (non-empty) inside ``root``."""
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


ANY_JSON = json_values()
SMALL_JSON = json_values(size=4)
MUTANT = json_values(LEAVES | NUMERIC_TEXT | EDGE_VALUES)


# -- 1. the config loader: ConfigError or a Router ---------------------------------------


def load_or_config_error(source: Any, environ: dict[str, str] | None = None) -> bool:
    """``Router.from_yaml`` / ``from_config`` builds a router or raises ``ConfigError``;
    True when it built one."""
    build = Router.from_yaml if isinstance(source, str) else Router.from_config
    try:
        router = build(source, environ=environ)
    except ConfigError as exc:
        problem = str(exc)
    else:
        router.close()
        return True
    assert problem  # a readable message, whatever the input
    return False


@FUZZ
@given(text=st.text())
def test_config_loader_any_text(text):
    load_or_config_error(text)


@FUZZ
@given(doc=json_values(LEAVES | st.sampled_from(["providers", "kind", "${HOME}", "$$", "${"])))
def test_config_loader_any_yaml_structure(doc):
    load_or_config_error(yaml.safe_dump(doc))


POLICIES = ("capabilities", "context_fit", "max_price", "cheapest")
SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
ANY_YAML = json_values(SCALAR | NUMERIC_TEXT, st.text(max_size=5), size=6)
URLS = st.sampled_from(["http://127.0.0.1:9/v1", "https://api.example/v1", "ftp://x", "http://"])
PROVIDER_BLOCK = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["a", "b", " a", "a:b", ""]) | SCALAR,
        "kind": st.sampled_from(KINDS) | SCALAR,
    },
    optional={
        "base_url": URLS | SCALAR,
        "api_key": st.sampled_from([SECRET, "${HOME}", "${NOPE_NOT_SET}", "${X:-y}"]) | ANY_YAML,
        "catalog_ttl": SCALAR | NUMERIC_TEXT,
        "catalog_retry": SCALAR | NUMERIC_TEXT,
        "timeout": SCALAR | NUMERIC_TEXT,
        "usd_per_credit": SCALAR | NUMERIC_TEXT,
        "price_unit": st.sampled_from(["auto", "per_token", "per_1k"]) | SCALAR,
        "model_info": st.dictionaries(
            st.sampled_from(["*", "m"]) | st.text(max_size=5),
            st.dictionaries(
                st.sampled_from(["prompt_per_mtok", "completion_per_mtok", "context_length"]),
                SCALAR | NUMERIC_TEXT,
            )
            | ANY_YAML,
        )
        | ANY_YAML,
        "cache": ANY_YAML,
        "auto_cache_control": SCALAR,
        "unknown_key": SCALAR,
    },
)
CONFIG_SHAPED = st.fixed_dictionaries(
    {"providers": st.lists(PROVIDER_BLOCK, max_size=3) | ANY_YAML},
    optional={
        "models": st.dictionaries(
            st.sampled_from(["g", "auto", "a:b", ""]) | st.text(max_size=5),
            st.lists(st.sampled_from(["a:m", "b:m", "a", "c:m", ":m"]) | SCALAR, max_size=3)
            | ANY_YAML,
        )
        | ANY_YAML,
        "policy": st.lists(
            st.sampled_from(POLICIES)
            | st.dictionaries(
                st.sampled_from(POLICIES) | st.text(max_size=5),
                st.none()
                | st.dictionaries(
                    st.sampled_from(
                        ["unknown", "expected_output_tokens", "prompt_per_mtok", "prefix_cache"]
                    ),
                    SCALAR | NUMERIC_TEXT,
                ),
                max_size=2,
            )
            | SCALAR,
            max_size=4,
        )
        | ANY_YAML,
        "fallback": st.dictionaries(
            st.sampled_from(
                ["attempts", "retry_on", "cooldown_seconds", "cooldown_after", "max_wait_seconds"]
            )
            | st.text(max_size=5),
            SCALAR | NUMERIC_TEXT | st.lists(SCALAR, max_size=3),
        )
        | ANY_YAML,
    },
)


@settings(FUZZ, max_examples=80)
@given(conf=CONFIG_SHAPED)
def test_config_loader_config_shaped_documents(conf):
    load_or_config_error(yaml.safe_dump(conf))
    load_or_config_error(conf)


EXAMPLE_ENV = {
    name: SECRET
    for name in (
        "PINSTRIPES_API_KEY", "PIPELLM_API_KEY", "MAJESTIX_API_KEY", "ROUTSTR_CASHU_TOKEN",
        "OPENROUTER_API_KEY",
    )
}  # fmt: skip


def example_config() -> dict[str, Any]:
    """The documented ``examples/router.yaml``, with a ``cache:`` block added: valid."""
    conf: dict[str, Any] = yaml.safe_load(EXAMPLE_YAML.read_text(encoding="utf-8"))
    conf["providers"][1]["cache"] = {"mode": "explicit", "min_tokens": 1024, "lifetime": 300}
    conf["providers"][1]["auto_cache_control"] = True
    return conf


def test_the_example_config_is_valid():
    assert load_or_config_error(example_config(), EXAMPLE_ENV)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_config_loader_mutated_example_config(data):
    conf = example_config()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_paths(conf)[1:]), label="path")
        drop = data.draw(st.booleans(), label="drop")
        value = None if drop else data.draw(ANY_YAML | EDGE_VALUES, label="value")
        _mutate_at(conf, path, value, drop)
    load_or_config_error(yaml.safe_dump(conf), EXAMPLE_ENV)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a\x00.yaml", id="nul-in-path"),
        pytest.param("providers: &a [*a]", id="recursive-alias"),
        pytest.param(
            "providers:\n  - &p {name: p, kind: pinstripes, api_key: k, base_url: *p}\n",
            id="recursive-alias-in-provider",
        ),
    ],
)
def test_config_loader_hard_inputs(text):
    load_or_config_error(text)


def _alias_bomb(levels: int) -> str:
    """A few lines of YAML whose aliases expand to ``10 ** levels`` strings."""
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    lines.append("providers: [{name: p, kind: openai, base_url: 'http://127.0.0.1:9/v1'}]")
    lines.append(f"models: {{g: *l{levels - 1}}}")
    return "\n".join(lines)


_LOAD_BOUNDED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # 2 GiB: fail, never swap
from router import Router
from router.errors import ConfigError
try:
    Router.from_yaml(sys.stdin.read())
except ConfigError:
    sys.exit(0)
except MemoryError:
    sys.exit(3)
sys.exit(4)
"""


def test_config_loader_on_an_alias_bomb():
    """ "Billion laughs": ten lines whose aliases expand to 10**8 strings. ``yaml.safe_load``
    shares the aliased nodes; copying them out (``${VAR}`` interpolation, validation)
    must not take minutes and gigabytes: a ConfigError, quickly."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _LOAD_BOUNDED],
            input=_alias_bomb(8),
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
            env={**os.environ, "ROUTER_NO_ENTRY_POINTS": "1"},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("loading a 10-line alias bomb was still running after 15 s")
    outcome = {0: "ConfigError", 3: "MemoryError (2 GiB)", 4: "accepted"}
    assert result.returncode == 0, outcome.get(result.returncode, result.stderr[-2000:])


# -- 2. every catalog parser: (models, skipped) or CatalogError --------------------------


@functools.cache
def provider_of(kind: str) -> Provider:
    conf = {"name": "p", "kind": kind, "base_url": "http://127.0.0.1:9/v1", "api_key": SECRET}
    return Router.from_config({"providers": [conf]}).providers["p"]


PRICE_FIELDS = ("prompt", "completion", "cache_read", "cache_write", "cache_write_1h")


def check_parse(provider: Provider, payload: Any) -> None:
    try:
        entries: list[Any] | None = provider.catalog_entries(payload)
    except CatalogError:
        entries = None
    try:
        models, skipped = provider.parse_catalog(payload)
    except CatalogError:
        assert entries is None
        return
    assert entries is not None
    assert len(models) + len(skipped) == len(entries)
    for card in models:
        if card.pricing is None:
            continue
        for rates in (card.pricing, *card.pricing.tiers):
            for name in PRICE_FIELDS:
                price = getattr(rates, name)
                if price is None:
                    continue
                assert isinstance(price, Decimal), (card.ref, name, price)
                assert price.is_finite(), (card.ref, name, price)
                assert price >= 0, (card.ref, name, price)


def _field_names() -> list[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            names.update(str(k) for k in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(CATALOGS)
    return sorted(names)


FIELD_NAMES = st.sampled_from(_field_names())
ENTRY_LIKE = json_values(LEAVES | NUMERIC_TEXT, keys=FIELD_NAMES | st.text(max_size=8), size=8)
CATALOG_PAYLOADS = (
    ANY_JSON
    | st.fixed_dictionaries({"data": st.lists(ENTRY_LIKE, max_size=4)})
    | st.fixed_dictionaries({"models": st.lists(ENTRY_LIKE, max_size=4)})
    | st.lists(ENTRY_LIKE, max_size=4)
)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(payload=CATALOG_PAYLOADS)
def test_catalog_parser_any_json(kind, payload):
    check_parse(provider_of(kind), payload)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.data())
def test_catalog_parser_mutated_real_entries(kind, data):
    provider = provider_of(kind)
    payload = copy.deepcopy(CATALOGS[kind])
    entries = provider.catalog_entries(payload)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        index = data.draw(st.integers(0, len(entries) - 1), label="entry")
        path = data.draw(st.sampled_from(_paths(entries[index])), label="path")
        drop = bool(path) and data.draw(st.booleans(), label="drop")
        value = None if drop else data.draw(MUTANT, label="value")
        _mutate_at(entries, (index, *path), value, drop)
    check_parse(provider, payload)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("price", ["9e999999999", "1e1000000"])
def test_catalog_price_with_a_huge_exponent_is_skipped(kind, price):
    provider = provider_of(kind)
    payload = copy.deepcopy(CATALOGS[kind])
    entry = provider.catalog_entries(payload)[0]
    if kind == "inference-api":
        entry["cost_per_1k_input"] = price
    elif kind == "pipellm":
        entry["pricing"]["text"]["prompt"] = price
    else:
        entry["pricing"] = {"prompt": price, "completion": "0.000001"}
    check_parse(provider, payload)


def test_pipellm_tier_name_with_a_huge_number_is_skipped():
    provider = provider_of("pipellm")
    payload = copy.deepcopy(CATALOGS["pipellm"])
    entry = provider.catalog_entries(payload)[0]
    entry["pricing"]["tiers"] = {"over_" + "9" * 5000 + "k": {"text": {"prompt": "0.1"}}}
    check_parse(provider, payload)


@pytest.mark.parametrize("kind", KINDS)
def test_catalog_document_nested_too_deep_is_a_catalog_error(kind):
    """A 200 whose body is JSON nested 100,000 deep: a CatalogError, like any non-JSON body."""
    provider = provider_of(kind)
    request = httpx.Request("GET", provider.catalog_url())
    response = httpx.Response(200, content=b"[" * 100_000, request=request)
    with pytest.raises(CatalogError):
        provider._read_catalog(response)


# -- 3. the stream decoders: chunks, ValueError or UpstreamError; never a hang -----------

CARD = ModelCard(
    provider="p",
    id="m",
    pricing=Pricing(prompt=Decimal("0.000001"), completion=Decimal("0.000002")),
)
DECODERS: dict[str, Callable[[], Any]] = {
    "openai": lambda: OpenAIStream(CARD),
    "anthropic": lambda: AnthropicStream(CARD),
    "majestix": lambda: MajestixStream(CARD, prompt_tokens=12, usd_per_credit=Decimal("0.001")),
}
EVENT_TYPES = [
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "ping", "error", "chunk", "text", "tool_use", "done",
    "thinking", "thinking_done", "text_delta", "input_json_delta", "message",
]  # fmt: skip
TYPE = st.sampled_from(EVENT_TYPES) | SCALAR
SMALL_INT = st.integers(-2, 4) | SCALAR
USAGE = st.dictionaries(
    st.sampled_from(
        ["input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "cached_tokens",
         "cache_read_input_tokens", "cache_creation_input_tokens", "prompt_tokens_details"]
    ),
    st.integers(-5, 10**12) | SCALAR | st.dictionaries(st.just("cached_tokens"), SCALAR),
)  # fmt: skip
BLOCK = st.fixed_dictionaries(
    {"type": TYPE},
    optional={"text": SCALAR, "id": SCALAR, "name": SCALAR, "input": SMALL_JSON},
)
DELTA = st.fixed_dictionaries(
    {},
    optional={
        "type": TYPE,
        "text": SCALAR,
        "partial_json": SCALAR,
        "stop_reason": st.sampled_from(["end_turn", "tool_use", "max_tokens"]) | SCALAR,
        "content": SCALAR,
        "role": SCALAR,
        "tool_calls": SMALL_JSON,
    },
)
CHOICE = st.fixed_dictionaries(
    {},
    optional={
        "index": SMALL_INT,
        "delta": DELTA | SMALL_JSON,
        "finish_reason": st.sampled_from(["stop", "length", "tool_calls"]) | SCALAR,
    },
)
PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "type": TYPE,
        "id": SCALAR,
        "object": SCALAR,
        "created": SMALL_INT | st.integers(),
        "model": SCALAR,
        "choices": st.lists(CHOICE | SMALL_JSON, max_size=3) | SMALL_JSON,
        "usage": USAGE | SMALL_JSON,
        "error": st.fixed_dictionaries({}, optional={"type": TYPE, "message": SCALAR}) | SMALL_JSON,
        "message": st.fixed_dictionaries(
            {}, optional={"id": SCALAR, "model": SCALAR, "usage": USAGE | SMALL_JSON}
        )
        | SMALL_JSON,
        "index": SMALL_INT,
        "content_block": BLOCK | SMALL_JSON,
        "delta": DELTA | SMALL_JSON,
        "content": SCALAR,
        "text": SCALAR,
        "name": SCALAR,
        "input": SMALL_JSON,
        "credits_used": NUMERIC_TEXT | SCALAR | EDGE_VALUES,
        "session_id": SCALAR,
        "detail": SCALAR,
    },
)
EVENT_DATA = (
    st.text()
    | st.sampled_from(["[DONE]", "", " ", "null", "[]", "NaN", "{}", '"x"', "1e400"])
    | PAYLOAD.map(json.dumps)
    | ANY_JSON.map(json.dumps)
)
EVENTS = st.lists(
    st.builds(
        ServerSentEvent,
        event=st.sampled_from(["message", "", *EVENT_TYPES]) | st.text(max_size=12),
        data=EVENT_DATA,
    ),
    max_size=8,
)


def feed_all(decoder: Any, events: list[ServerSentEvent]) -> None:
    """Feed until the first error, as the router does; every step typed and quick."""
    for event in events:
        started = time.perf_counter()
        try:
            chunks = decoder.feed(event)
        except (ValueError, UpstreamError):
            return
        finally:
            assert time.perf_counter() - started < 2.0, f"feed() took too long on {event!r}"
        assert isinstance(chunks, list)
        assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks)
    assert isinstance(decoder.complete, bool)
    assert decoder.counts is None or isinstance(decoder.counts, TokenCounts)


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@FUZZ
@given(events=EVENTS)
def test_stream_decoders_on_any_events(decoder, events):
    feed_all(DECODERS[decoder](), events)


_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
_CALL = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
_MSG = {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": []}
REAL_STREAMS: dict[str, list[tuple[str, Any]]] = {
    "openai": [
        ("message", {**_CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}),
        ("message", {**_CHUNK, "choices": [{"index": 0, "delta": {"content": "Hel"}}]}),
        ("message", {**_CHUNK, "choices": [{"index": 0, "delta": {"tool_calls": [_CALL]}}]}),
        ("message", {**_CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        (
            "message",
            {
                **_CHUNK,
                "choices": [],
                "usage": {
                    "prompt_tokens": 9,
                    "completion_tokens": 2,
                    "prompt_tokens_details": {"cached_tokens": 4},
                },
            },
        ),
        ("message", "[DONE]"),
    ],
    "anthropic": [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {**_MSG, "usage": {"input_tokens": 9, "cache_read_input_tokens": 4}},
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"q": 1}'},
            },
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 5},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ],
    "majestix": [
        ("message", {"type": "thinking", "content": "hmm"}),
        ("message", {"type": "chunk", "content": "Hi", "session_id": "s-1"}),
        ("message", {"type": "text", "text": " there"}),
        ("message", {"type": "tool_use", "id": "t1", "name": "f", "input": {"q": 1}}),
        (
            "message",
            {
                "type": "done",
                "session_id": "s-1",
                "credits_used": 0.25,
                "usage": {"input_tokens": 9, "output_tokens": 3},
            },
        ),
    ],
}


def _event(name: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=data if isinstance(data, str) else json.dumps(data))


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_stream_decoders_read_the_real_streams(decoder):
    stream = DECODERS[decoder]()
    chunks = [c for name, data in REAL_STREAMS[decoder] for c in stream.feed(_event(name, data))]
    assert chunks
    assert stream.complete
    assert stream.counts is not None


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@FUZZ
@given(data=st.data())
def test_stream_decoders_on_mutated_real_streams(decoder, data):
    stream = copy.deepcopy(REAL_STREAMS[decoder])
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        action = data.draw(st.sampled_from(["field", "drop", "event", "data", "delete", "repeat"]))
        index = data.draw(st.integers(0, len(stream) - 1), label="event index")
        name, payload = stream[index]
        inside = _paths(payload)[1:] if isinstance(payload, dict | list) else []
        if action in ("field", "drop") and inside:
            path = data.draw(st.sampled_from(inside), label="path")
            value = None if action == "drop" else data.draw(MUTANT, label="value")
            _mutate_at(payload, path, value, action == "drop")
        elif action == "event":
            stream[index] = (data.draw(st.sampled_from(EVENT_TYPES) | st.text(max_size=8)), payload)
        elif action == "data":
            stream[index] = (name, data.draw(EVENT_DATA, label="data"))
        elif action == "delete" and len(stream) > 1:
            del stream[index]
        elif action == "repeat":
            stream.insert(index, copy.deepcopy(stream[index]))
    feed_all(DECODERS[decoder](), [_event(name, payload) for name, payload in stream])


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize(
    "data",
    [
        pytest.param("[" * 100_000, id="nested-100k-deep"),
        pytest.param("1" * 100_000, id="100k-digit-number"),
        pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, id="objects-50k-deep"),
    ],
)
def test_stream_decoders_on_pathological_events(decoder, data):
    feed_all(DECODERS[decoder](), [ServerSentEvent(event="message", data=data)])


@pytest.mark.parametrize("credits", ["9e999999999", "1e1000000", "-1", "nan", "inf", 1e308])
def test_majestix_done_with_absurd_credits(credits):
    events = [
        ServerSentEvent(data=json.dumps({"type": "chunk", "content": "hi"})),
        ServerSentEvent(data=json.dumps({"type": "done", "credits_used": credits})),
    ]
    feed_all(DECODERS["majestix"](), events)


# -- 4. Retry-After: None or seconds >= 0 ------------------------------------------------

HEADER_NAMES = st.sampled_from(
    ["Retry-After", "retry-after", "RETRY-AFTER", "retry-after-ms", "Retry-After-Ms", "X-Other"]
)
DAYS = st.sampled_from(["Mon", "Tue", "Sun", "Xyz", ""])
MONTHS = st.sampled_from(["Jan", "Feb", "Dec", "Foo", ""])
ZONES = st.sampled_from(["GMT", "UT", "EST", "+0000", "-0800", "+9999", "-9999", "Z", ""])
RANDOM_DATES = st.builds(
    "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
    DAYS,
    st.integers(0, 99),
    MONTHS,
    st.integers(-1, 100_000),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    ZONES,
)
REAL_DATES = st.builds(
    functools.partial(email.utils.formatdate, usegmt=True), st.floats(0, 4e10)
) | st.builds(email.utils.formatdate, st.floats(0, 4e10), st.booleans())
HEADER_VALUES = st.text() | NUMERIC_TEXT | RANDOM_DATES | REAL_DATES


@FUZZ
@given(headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4))
def test_parse_retry_after_on_any_header_values(headers):
    seconds = parse_retry_after(headers, now=lambda: 1.7e9)
    assert seconds is None or (isinstance(seconds, float) and seconds >= 0), seconds


@pytest.mark.parametrize("name", ["Retry-After", "retry-after-ms"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "1e400"])
def test_parse_retry_after_never_returns_an_endless_wait(name, value):
    """An infinite wait is unreadable, not a wait: it would cool a deployment down forever
    (``Plan.on_failure`` holds the deployment for ``retry_after`` seconds, uncapped)."""
    seconds = parse_retry_after({name: value})
    assert seconds is None or math.isfinite(seconds), seconds


# -- 5. provider error bodies: a typed error, never the api_key --------------------------

KEYISH = st.sampled_from([SECRET, f"bad key {SECRET}", f"Bearer {SECRET}", "no secret here"])
ERROR_OBJECT = st.fixed_dictionaries(
    {},
    optional={
        "message": KEYISH | ANY_JSON | st.lists(KEYISH, max_size=2),
        "detail": KEYISH | st.lists(st.fixed_dictionaries({"msg": KEYISH}), max_size=2),
        "code": KEYISH | SCALAR,
        "type": KEYISH | SCALAR,
    },
)
ERROR_BODIES = (
    st.binary(max_size=300)
    | st.builds(
        lambda head, tail: head + SECRET.encode() + tail,
        st.binary(max_size=200),
        st.binary(max_size=50),
    )
    | st.builds(lambda obj: json.dumps({"error": obj}).encode(), ERROR_OBJECT)
    | st.builds(lambda obj: json.dumps(obj).encode(), ERROR_OBJECT)
    | ANY_JSON.map(lambda value: json.dumps(value).encode())
)
HEADERS = st.dictionaries(
    st.sampled_from(["Retry-After", "retry-after-ms", "Content-Type"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
    | NUMERIC_TEXT,
    max_size=2,
)


def expected_class(status: int) -> type[UpstreamError]:
    if status == 429:
        return RateLimited
    if status == 408:
        return Timeout
    return Unavailable if status >= 500 else Rejected


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(status=st.integers(400, 599), headers=HEADERS, body=ERROR_BODIES)
def test_upstream_error_on_any_body(kind, status, headers, body):
    provider = provider_of(kind)
    assert provider.api_key == SECRET
    error = provider.upstream_error(CARD, status, httpx.Headers(headers), body)
    assert isinstance(error, expected_class(status))
    assert error.status == status
    assert SECRET not in error.message
    assert SECRET not in str(error)
    assert SECRET not in repr(error)


def shown_part(text: str, secret: str, size: int = 12) -> str | None:
    """The longest piece of ``secret`` (``size`` characters or more) that ``text`` shows."""
    for n in range(len(secret), size - 1, -1):
        for i in range(len(secret) - n + 1):
            if secret[i : i + n] in text:
                return secret[i : i + n]
    return None


FILLER = st.integers(0, 420).map(lambda n: "." * n) | st.text(alphabet=" .:x\n", max_size=60)


@pytest.mark.parametrize("kind", ["pinstripes", "inference-api", "routstr"])
@FUZZ
@given(parts=st.lists(FILLER, min_size=1, max_size=6), as_json=st.booleans())
def test_upstream_error_never_shows_part_of_the_key(kind, parts, as_json):
    """Quoted messages are cut to a length: the key, once or repeatedly, anywhere in the
    body, must not show in part where the cut falls (redact first, then cut)."""
    text = SECRET.join(parts)  # the key between every two fillers
    body = json.dumps({"error": {"message": text}}) if as_json else text
    error = provider_of(kind).upstream_error(CARD, 502, httpx.Headers(), body.encode())
    assert shown_part(error.message, SECRET) is None, error.message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("field", ["code", "type"])
def test_upstream_error_code_is_redacted(kind, field):
    """``UpstreamError.code`` is public (README's error tree): it is redacted like the message."""
    body = json.dumps({"error": {"message": "no", field: f"bad key {SECRET}"}}).encode()
    error = provider_of(kind).upstream_error(CARD, 400, httpx.Headers(), body)
    assert error.code is None or SECRET not in error.code, error.code


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_error_on_a_body_nested_too_deep(kind):
    error = provider_of(kind).upstream_error(CARD, 502, httpx.Headers(), b"[" * 100_000)
    assert isinstance(error, Unavailable)


# -- 8. provider keys: a ConfigError at their path, or a key that travels and is redacted ---


@FUZZ
@given(key=st.text(max_size=40) | st.from_regex(r"\A[ -~]{1,30}[\r\n\t ]{0,2}\Z"))
def test_any_provider_key_is_a_config_error_or_usable(key):
    conf = {"providers": [{"name": "p", "kind": "pinstripes", "api_key": key}]}
    error: ConfigError | None = None
    try:
        router = Router.from_config(conf, environ={})
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert error.key_path in ("providers[0].api_key", "")
        assert len(key.strip()) < 4 or key.strip() not in str(error)
        return
    provider = router.providers["p"]
    for name, value in provider.auth_headers().items():  # what the HTTP libraries accept
        assert httpx.Headers({name: value}).raw
        value.encode("ascii")
    if key and "*" not in key:
        shown = f"{key} {key.encode()!r} {json.dumps(key)} {f'Bearer {key}'.encode()!r}"
        assert key not in provider.redact(shown).replace("**********", "")
    router.close()


# -- 9. request bodies through the transport and the server: an answer or a 4xx/5xx error
#       body of the router's own, never a 500, never a traceback ------------------------------

REQUEST_LEAVES = (
    LEAVES
    | st.sampled_from([float("nan"), float("inf"), "\ud800", "\x00", "é", "\r\n"])
    | st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=3)
)


def _request_bodies() -> st.SearchStrategy[bytes]:
    shaped = st.fixed_dictionaries(
        {"model": st.sampled_from(["down:m", "auto", "g", "nope"]) | st.text(max_size=8)},
        optional={
            "messages": json_values(REQUEST_LEAVES, size=8),
            "temperature": REQUEST_LEAVES,
            "max_tokens": REQUEST_LEAVES,
            "stream": st.booleans() | REQUEST_LEAVES,
            "tools": json_values(REQUEST_LEAVES, size=6),
            "stop": REQUEST_LEAVES,
        },
    )

    def encode(doc: Any) -> bytes:
        return json.dumps(doc).encode()  # NaN, Infinity and lone surrogates as Python writes

    deep = st.integers(100, 5000).map(lambda n: ("[" * n + "]" * n).encode())
    return shaped.map(encode) | json_values(REQUEST_LEAVES).map(encode) | st.binary() | deep


@functools.cache
def _fuzz_router() -> Router:
    # every provider down: a request that passes validation fails fast, on loopback
    return Router.from_config(
        {
            "providers": [
                {"name": "down", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                 "api_key": SECRET},
            ],
            "models": {"g": ["down:m"]},
            "fallback": {"attempts": 1},
        }
    )  # fmt: skip


def _check_answer(status: int, body: bytes) -> None:
    assert status != 500, body
    if status >= 400:
        error = json.loads(body)["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert "Traceback" not in error["message"]
        assert SECRET not in error["message"]
        assert "127.0.0.1" not in error["message"]


@FUZZ
@given(body=_request_bodies())
def test_any_request_body_through_the_transport(body):
    client = httpx.Client(transport=_fuzz_router().transport(), base_url="http://router/v1")
    response = client.post("/chat/completions", content=body)
    _check_answer(response.status_code, response.read())


@pytest.fixture(scope="module")
def fuzz_server() -> Any:
    from router.serving.server import create_app
    from tests.wire.test_server import serving

    with serving(create_app(_fuzz_router())) as base, httpx.Client(base_url=base) as client:
        yield client


@FUZZ
@given(body=_request_bodies())
def test_any_request_body_through_the_server(fuzz_server, body):
    response = fuzz_server.post(
        "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    _check_answer(response.status_code, response.content)
