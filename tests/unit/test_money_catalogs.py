"""Catalog prices and the Majestix bill, a fixture per unit and per rate (issue 21).

Every rate each provider states (prompt, completion, cache read, cache write) in every
unit it uses, every place a provider states a context length, each of Routstr's live
markers alone, and the boundaries of the price reader's caps, asserted as exact values:
a per-1k rate read per token is 1,000x off, and these rows say so.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from httpx_sse import ServerSentEvent

from providers.inference_api import MajestixStream, credits_to_usd
from router import Router
from router.catalog import ModelCard, Pricing
from router.completion import TokenCounts
from router.errors import CatalogError
from router.parsing import Entry, EntryError
from tests.unit.test_units import (
    INFERENCE_API_SEED,
    OPENROUTER_ENTRY,
    PINSTRIPES_SEED,
    ROUTSTR_LIVE,
    ROUTSTR_SEED,
    parse,
)

D = Decimal


def provider(kind: str, **options: Any) -> Any:
    conf = {"name": "p", "kind": kind, "api_key": "k", **options}
    return Router.from_config({"providers": [conf]}).providers["p"]


def with_fields(entry: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """``entry`` with top-level ``fields`` replaced (None removes one)."""
    out = {k: v for k, v in entry.items() if k not in fields}
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


# -- Entry: the readers ---------------------------------------------------------------------


def test_entry_error_names_the_field() -> None:
    error = EntryError("pricing.prompt", "missing")
    assert (error.field, error.problem, str(error)) == (
        "pricing.prompt",
        "missing",
        "pricing.prompt: missing",
    )


def test_entry_must_be_an_object() -> None:
    with pytest.raises(EntryError) as caught:
        Entry([1])
    assert (caught.value.field, caught.value.problem) == ("", "not a JSON object: [1]")


def test_entry_get_and_has_walk_dotted_paths() -> None:
    entry = Entry({"a": {"b": {"c": 0}}, "s": "x", "n": None})
    assert entry.get("a.b.c") == 0
    assert entry.has("a.b.c")  # present and 0: has
    assert entry.get("a.b.d") is None
    assert entry.get("s.t") is None  # a string has no fields
    assert entry.get("n") is None
    assert not entry.has("n")
    assert not entry.has("a.x")


@pytest.mark.parametrize(
    ("raw", "scale", "expected"),
    [
        ("0.000003", D(1), D("0.000003")),
        (" 0.5 ", D(1), D("0.5")),
        (0.1, D(1), D("0.1")),  # the float as written, not its binary noise
        (3, D(1), D(3)),
        (0, D(1), D(0)),
        ("4.2", D("0.000001"), D("0.0000042")),
        # the caps' boundary: 1e9 a token is the largest price read
        ("1e9", D(1), D("1e9")),
        ("9999999999.9", D(1), D("9999999999.9")),
    ],
)
def test_price_reads_exact_decimals(raw, scale, expected) -> None:
    assert Entry({"p": raw}).price("p", scale) == expected
    assert Entry({"p": raw}).opt_price("p", scale) == expected


def test_price_default_scale_is_one() -> None:
    assert Entry({"p": "0.25"}).price("p") == D("0.25")
    assert Entry({"p": "0.25"}).opt_price("p") == D("0.25")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (True, "not a number: True"),
        ([1], "not a number: [1]"),
        ({"usd": 1}, "not a number: {'usd': 1}"),
        ("abc", "not a number: 'abc'"),
        ("", "not a number: ''"),
        ("NaN", "not a finite number: 'NaN'"),
        ("Infinity", "not a finite number: 'Infinity'"),
        ("-0.000001", "negative price: '-0.000001'"),
        (-1, "negative price: -1"),
        ("1e10", "implausible price: '1e10'"),
        ("10000000000", "implausible price: '10000000000'"),
        ("9e999999999", "implausible price: '9e999999999'"),
    ],
)
def test_price_refuses_what_is_not_a_plausible_price(raw, problem) -> None:
    with pytest.raises(EntryError) as caught:
        Entry({"pricing": {"prompt": raw}}).price("pricing.prompt")
    assert (caught.value.field, caught.value.problem) == ("pricing.prompt", problem)


def test_price_missing() -> None:
    with pytest.raises(EntryError) as caught:
        Entry({}).price("pricing.prompt")
    assert str(caught.value) == "pricing.prompt: missing"
    assert Entry({}).opt_price("pricing.prompt") is None
    assert Entry({"pricing": {"prompt": None}}).opt_price("pricing.prompt") is None


def test_a_long_bad_value_is_shown_cut_at_40_characters() -> None:
    forty = "x" * 38  # repr adds two quotes: 40 characters, shown whole
    with pytest.raises(EntryError) as caught:
        Entry({"p": forty}).price("p")
    assert caught.value.problem == f"not a number: '{forty}'"
    with pytest.raises(EntryError) as caught:
        Entry({"p": forty + "y"}).price("p")
    assert caught.value.problem == "not a number: '" + "x" * 36 + "..."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(8192, 8192), (8192.0, 8192), (0, 0), (None, None)],
)
def test_opt_int_reads_integers(raw, expected) -> None:
    value = Entry({"n": raw}).opt_int("n")
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (True, "not an integer: True"),
        ("8192", "not an integer: '8192'"),
        (8192.5, "not an integer: 8192.5"),
        (-1, "negative: -1"),
        (-1.0, "negative: -1.0"),
    ],
)
def test_opt_int_refuses(raw, problem) -> None:
    with pytest.raises(EntryError) as caught:
        Entry({"n": raw}).opt_int("n")
    assert (caught.value.field, caught.value.problem) == ("n", problem)


def test_text_readers() -> None:
    entry = Entry({"id": "m", "blank": "  ", "num": 3})
    assert entry.text("id") == "m"
    assert entry.opt_text("id") == "m"
    assert entry.opt_text("none") is None
    for path, problem in (
        ("none", "missing"),
        ("blank", "not a non-empty string: '  '"),
        ("num", "not a non-empty string: 3"),
    ):
        with pytest.raises(EntryError) as caught:
            entry.text(path)
        assert (caught.value.field, caught.value.problem) == (path, problem)
    with pytest.raises(EntryError):
        entry.opt_text("blank")


def test_bool_and_list_readers() -> None:
    entry = Entry({"yes": True, "no": False, "list": ["a"], "str": "a", "one": 1})
    assert entry.opt_bool("yes") is True
    assert entry.opt_bool("no") is False
    assert entry.opt_bool("none") is None
    assert entry.opt_list("list") == ["a"]
    assert entry.opt_list("none") is None
    with pytest.raises(EntryError) as caught:
        entry.opt_bool("one")
    assert (caught.value.field, caught.value.problem) == ("one", "not a boolean: 1")
    with pytest.raises(EntryError) as caught:
        entry.opt_list("str")
    assert (caught.value.field, caught.value.problem) == ("str", "not a list: 'a'")


# -- Routstr ----------------------------------------------------------------------------


def routstr_pricing(entry: dict[str, Any], **options: Any) -> Pricing:
    pricing = parse("routstr", entry, **options).pricing
    assert pricing is not None
    return pricing


def test_routstr_per_1k_cache_rates_are_scaled() -> None:
    # seed shape (no live marker): USD per 1,000 tokens
    entry = with_fields(
        ROUTSTR_SEED,
        pricing={
            "prompt": 0.03,
            "completion": 0.06,
            "input_cache_read": 0.015,
            "input_cache_write": 0.0375,
        },
    )
    assert routstr_pricing(entry) == Pricing(
        prompt=D("0.00003"),
        completion=D("0.00006"),
        cache_read=D("0.000015"),
        cache_write=D("0.0000375"),
    )


def test_routstr_per_token_cache_rates() -> None:
    entry = with_fields(
        ROUTSTR_LIVE,
        pricing={
            "prompt": 3e-6,
            "completion": 1.5e-5,
            "input_cache_read": 3e-7,
            "input_cache_write": 3.75e-6,
        },
    )
    assert routstr_pricing(entry) == Pricing(
        prompt=D("0.000003"),
        completion=D("0.000015"),
        cache_read=D("3E-7"),
        cache_write=D("0.00000375"),
    )


def test_routstr_a_zero_cache_rate_on_a_paid_model_is_no_rate() -> None:
    entry = with_fields(
        ROUTSTR_LIVE,
        pricing={
            "prompt": 1e-7,
            "completion": 2e-7,
            "input_cache_read": 0.0,
            "input_cache_write": 0,
        },
    )
    pricing = routstr_pricing(entry)
    assert (pricing.cache_read, pricing.cache_write) == (None, None)


def test_routstr_a_free_model_keeps_its_free_cache() -> None:
    entry = with_fields(
        ROUTSTR_LIVE,
        pricing={"prompt": 0, "completion": 0, "input_cache_read": 0, "input_cache_write": 0},
    )
    pricing = routstr_pricing(entry)
    assert (pricing.cache_read, pricing.cache_write) == (D(0), D(0))


@pytest.mark.parametrize(
    ("marker", "value"),
    [
        ("sats_pricing", {"prompt": 0.0001, "completion": 0.0002}),
        ("architecture", {"input_modalities": ["text"], "output_modalities": ["text"]}),
        ("top_provider", {"max_completion_tokens": 4096}),
    ],
)
def test_routstr_each_live_marker_alone_means_per_token(marker, value) -> None:
    entry = {
        "id": "m",
        "pricing": {"prompt": 1e-7, "completion": 2e-7, "input_cache_read": 5e-8},
        marker: value,
    }
    assert routstr_pricing(entry) == Pricing(
        prompt=D("1E-7"), completion=D("2E-7"), cache_read=D("5E-8")
    )
    # forced per 1k, the same entry is 1,000x cheaper
    assert routstr_pricing(entry, price_unit="per_1k").prompt == D("1E-10")


def test_routstr_per_token_option_on_a_seed_entry() -> None:
    assert routstr_pricing(ROUTSTR_SEED, price_unit="per_token") == Pricing(
        prompt=D("0.03"), completion=D("0.06")
    )


def test_routstr_context_top_level_first_then_top_provider() -> None:
    both = with_fields(ROUTSTR_LIVE, context_length=8192, top_provider={"context_length": 4096})
    assert parse("routstr", both).context_length == 8192
    nested = with_fields(ROUTSTR_LIVE, context_length=None, top_provider={"context_length": 4096})
    assert parse("routstr", nested).context_length == 4096
    zero = with_fields(ROUTSTR_LIVE, context_length=0, top_provider={"context_length": 4096})
    assert parse("routstr", zero).context_length == 4096
    neither = with_fields(ROUTSTR_LIVE, context_length=None, top_provider={})
    assert parse("routstr", neither).context_length is None


def test_routstr_live_record() -> None:
    card = parse("routstr", ROUTSTR_LIVE)
    assert (card.id, card.name, card.max_output_tokens, card.kind) == (
        "deepseek/deepseek-v4-flash",
        "DeepSeek V4 Flash",
        32768,
        "chat",
    )
    assert (card.supports_vision, card.supports_tools) == (False, None)
    seed = parse("routstr", ROUTSTR_SEED)
    assert (seed.name, seed.max_output_tokens, seed.context_length) == (None, None, 8192)


def test_routstr_generation_model() -> None:
    entry = with_fields(
        ROUTSTR_LIVE, architecture={"input_modalities": ["text"], "output_modalities": ["image"]}
    )
    assert parse("routstr", entry).kind == "generation"


# -- OpenRouter ---------------------------------------------------------------------------


def test_openrouter_every_rate_and_context() -> None:
    card = parse("openrouter", OPENROUTER_ENTRY)
    assert card.pricing == Pricing(
        prompt=D("0.000003"),
        completion=D("0.000015"),
        cache_read=D("0.0000003"),
        cache_write=D("0.00000375"),
    )
    assert (card.context_length, card.max_output_tokens) == (1_000_000, 128_000)
    assert (card.name, card.kind, card.supports_tools, card.supports_vision) == (
        "Anthropic: Claude Sonnet 4.6",
        "chat",
        True,
        True,
    )


def test_openrouter_context_is_the_top_level_one() -> None:
    entry = with_fields(OPENROUTER_ENTRY, context_length=200_000)
    assert parse("openrouter", entry).context_length == 200_000
    assert (
        parse("openrouter", with_fields(OPENROUTER_ENTRY, context_length=None)).context_length
        is None
    )


@pytest.mark.parametrize("variable", ["-1", " -1 ", -1])
def test_openrouter_variable_price_is_unpriced(variable) -> None:
    entry = with_fields(OPENROUTER_ENTRY, pricing={"prompt": variable, "completion": variable})
    assert parse("openrouter", entry).pricing is None


def test_openrouter_without_cache_rates() -> None:
    entry = with_fields(OPENROUTER_ENTRY, pricing={"prompt": "0.000001", "completion": "0.000002"})
    assert parse("openrouter", entry).pricing == Pricing(
        prompt=D("0.000001"), completion=D("0.000002")
    )


@pytest.mark.parametrize(
    ("fields", "tools", "vision", "kind"),
    [
        ({"supported_parameters": None, "architecture": None}, None, None, "chat"),
        ({"supported_parameters": ["max_tokens"]}, False, True, "chat"),
        ({"architecture": {"input_modalities": ["text"]}}, True, False, "chat"),
        ({"architecture": {"output_modalities": ["text", "image"]}}, True, None, "chat"),
        ({"architecture": {"output_modalities": ["image"]}}, True, None, "generation"),
        ({"architecture": {"output_modalities": []}}, True, None, "generation"),
    ],
)
def test_openrouter_capabilities(fields, tools, vision, kind) -> None:
    card = parse("openrouter", with_fields(OPENROUTER_ENTRY, **fields))
    assert (card.supports_tools, card.supports_vision, card.kind) == (tools, vision, kind)


@pytest.mark.parametrize(
    ("params", "structured"),
    [
        (None, None),
        (["tools"], False),
        (["response_format"], True),
        (["structured_outputs"], True),
        (["tools", "structured_outputs", "response_format"], True),
    ],
)
def test_openrouter_structured_output(params, structured) -> None:
    card = parse("openrouter", with_fields(OPENROUTER_ENTRY, supported_parameters=params))
    assert card.supports_structured_output is structured


# -- pinstripes ---------------------------------------------------------------------------


def test_pinstripes_every_rate_and_context() -> None:
    card = parse("pinstripes", PINSTRIPES_SEED)
    assert card.pricing == Pricing(
        prompt=D("0.000000087"), completion=D("0.000000173"), cache_read=D("0.00000005")
    )
    assert (card.context_length, card.max_output_tokens, card.kind) == (1_000_000, 16_384, "chat")
    bare = with_fields(PINSTRIPES_SEED, pricing={"prompt": "0.1", "completion": "0.2"})
    bare.pop("context_length")
    bare.pop("max_output_tokens")
    card = parse("pinstripes", bare)
    assert card.pricing == Pricing(prompt=D("0.1"), completion=D("0.2"))
    assert (card.context_length, card.max_output_tokens) == (None, None)


# -- Majestix (inference-api) ---------------------------------------------------------------


def test_majestix_record() -> None:
    card = parse("inference-api", INFERENCE_API_SEED)
    assert card.pricing == Pricing(prompt=D("0.0000042"), completion=D("0.000021"))
    assert (card.context_length, card.max_output_tokens, card.protocol, card.name) == (
        200_000,
        64_000,
        "anthropic",
        "Claude Sonnet 4.6",
    )
    assert (card.supports_tools, card.supports_vision) == (True, True)
    assert card.supports_structured_output is False  # /chat and /code take no response_format


@pytest.mark.parametrize(
    ("upstream", "protocol"),
    [("anthropic", "anthropic"), ("vertex", "gemini"), ("openai", "openai"), (None, "openai")],
)
def test_majestix_protocol_by_upstream(upstream, protocol) -> None:
    entry = with_fields(INFERENCE_API_SEED, provider=upstream)
    assert parse("inference-api", entry).protocol == protocol


def test_majestix_key_and_display_name() -> None:
    entry = with_fields(INFERENCE_API_SEED, id=None, name=None, key="k1", display_name="K One")
    entry.pop("supports_tools")
    entry.pop("context_window")
    card = parse("inference-api", entry)
    assert (card.id, card.name, card.supports_tools, card.context_length) == (
        "k1",
        "K One",
        None,
        None,
    )


def test_majestix_catalog_shapes() -> None:
    majestix = provider("inference-api")
    assert majestix.catalog_entries([1]) == [1]
    assert majestix.catalog_entries({"models": [2], "data": [3]}) == [2]
    assert majestix.catalog_entries({"models": "x", "data": [3]}) == [3]
    for bad in ({"models": {}}, "models", None):
        with pytest.raises(CatalogError) as caught:
            majestix.catalog_entries(bad)
        assert (caught.value.provider, caught.value.status, caught.value.problem) == (
            "p",
            200,
            "expected a JSON object with a 'models' list",
        )


@pytest.mark.parametrize(
    ("credits", "usd"),
    [
        (0, D(0)),  # a bill of 0 credits is a bill, not an estimate
        ("0", D(0)),
        (12, D("0.012")),
        ("2.5", D("0.0025")),
        (0.1, D("0.0001")),
        ("999999999999", D("999999999.999")),  # adjusted 11
        ("1e12", D("1e9")),  # adjusted 12: the cap's boundary, still a bill
    ],
)
def test_credits_to_usd_exact(credits, usd) -> None:
    assert credits_to_usd(credits, D("0.001")) == usd


@pytest.mark.parametrize(
    "credits", [True, False, None, [1], "abc", "NaN", "Infinity", -1, "-0.001", "1e13"]
)
def test_credits_to_usd_refuses(credits) -> None:
    assert credits_to_usd(credits, D("0.001")) is None


def stream(*events: dict[str, Any], prompt_tokens: int = 50) -> MajestixStream:
    decoder = MajestixStream(
        ModelCard(provider="p", id="m"), prompt_tokens=prompt_tokens, usd_per_credit=D("0.002")
    )
    for event in events:
        decoder.feed(ServerSentEvent(data=json.dumps(event)))
    return decoder


def test_majestix_done_ends_the_stream_with_its_finish_reason() -> None:
    decoder = stream()
    assert decoder.complete is False
    (last,) = decoder.feed(ServerSentEvent(data='{"type": "done", "credits_used": 1}'))
    assert last.choices[0].finish_reason == "stop"
    assert decoder.complete is True
    assert decoder.feed(ServerSentEvent(data='{"type": "chunk", "content": "late"}')) == []
    tools = stream({"type": "tool_use", "id": "c1", "name": "lookup", "input": {}})
    (last,) = tools.feed(ServerSentEvent(data='{"type": "done"}'))
    assert last.choices[0].finish_reason == "tool_calls"
    assert tools.complete is True


def test_majestix_done_with_credits_and_usage() -> None:
    usage = {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 20,
    }
    decoder = stream({"type": "done", "credits_used": 3, "usage": usage})
    assert decoder.counts == TokenCounts(
        prompt=130, completion=5, cache_read=100, cache_write=20, billed_usd=D("0.006")
    )


def test_majestix_done_without_usage_is_an_estimate() -> None:
    decoder = stream({"type": "chunk", "content": "abcdefghi"}, {"type": "done", "credits_used": 0})
    # 9 characters: ceil(9 / 4) = 3 completion tokens
    assert decoder.counts == TokenCounts(prompt=50, completion=3, estimated=True, billed_usd=D(0))


def test_majestix_done_without_credits_has_no_bill(caplog) -> None:
    assert stream({"type": "done"}).counts == TokenCounts(prompt=50, completion=0, estimated=True)
    with caplog.at_level(logging.WARNING, logger="router.providers.inference_api"):
        decoder = stream({"type": "done", "credits_used": "lots"})
    assert decoder.counts is not None
    assert decoder.counts.billed_usd is None
    assert [r.getMessage() for r in caplog.records] == ["p:m: unreadable credits_used 'lots'"]


@pytest.mark.parametrize(
    "usage",
    [
        None,
        "10",
        {"output_tokens": 5},
        {"input_tokens": 10},
        {"input_tokens": -1, "output_tokens": 5},
        {"input_tokens": True, "output_tokens": 5},
        {"input_tokens": 10, "output_tokens": 5.0},
    ],
)
def test_majestix_unusable_usage_is_estimated(usage) -> None:
    decoder = stream({"type": "done", "usage": usage})
    assert decoder.counts == TokenCounts(prompt=50, completion=0, estimated=True)


def test_majestix_usage_with_zero_and_bad_cache_counts() -> None:
    usage = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": -5,
        "cache_creation_input_tokens": None,
    }
    decoder = stream({"type": "done", "usage": usage})
    assert decoder.counts == TokenCounts(prompt=0, completion=0)


# -- OpenRouter's pricing.overrides (issue 16): the refusals, the warning, the fill-in -----

GEMINI = {
    "id": "google/gemini-2.5-pro",
    "pricing": {"prompt": "0.00000125", "completion": "0.00001"},
}


def openrouter_read(provider_: Any, *entries: dict[str, Any]) -> tuple[list[ModelCard], list[Any]]:
    models, skipped = provider_.parse_catalog({"data": list(entries)})
    return models, skipped


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ("cheap", "pricing.overrides", "not a list"),
        (["cheap"], "pricing.overrides.0", "not an object"),
        ([{}, 3], "pricing.overrides.1", "not an object"),
        ([{"prompt": "free"}], "pricing.overrides.0.prompt", "not a number: 'free'"),
        ([{"min_prompt_tokens": -5}], "pricing.overrides.0.min_prompt_tokens", "negative: -5"),
    ],
)
def test_openrouter_unreadable_overrides_name_field_and_problem(overrides, field, problem) -> None:
    entry = {**GEMINI, "pricing": {**GEMINI["pricing"], "overrides": overrides}}
    models, skipped = openrouter_read(provider("openrouter"), entry)
    assert models == []
    assert [(s.model, s.field, s.problem) for s in skipped] == [
        ("google/gemini-2.5-pro", field, problem)
    ]


def test_openrouter_unknown_condition_states_a_rate_the_base_lacks() -> None:
    # no base cache-write rate: the window's rate is the only one, taken as stated
    window = {"utc_start": "09:00", "input_cache_write": "0.000002", "prompt": "0.000001"}
    entry = {**GEMINI, "pricing": {**GEMINI["pricing"], "overrides": [window]}}
    (card,), _ = openrouter_read(provider("openrouter"), entry)
    assert card.pricing is not None
    (tier,) = card.pricing.tiers
    assert (tier.above_prompt_tokens, tier.cache_write, tier.prompt) == (
        -1,
        D("0.000002"),
        D("0.00000125"),  # the higher of the window's and the base's
    )


def test_openrouter_warns_once_per_model_and_override(caplog) -> None:
    window = {"utc_start": "09:00", "utc_end": "17:00", "prompt": "0.000003"}
    other = {"day": "sat", "completion": "0.00002"}
    one = {**GEMINI, "pricing": {**GEMINI["pricing"], "overrides": [window]}}
    two = {**GEMINI, "pricing": {**GEMINI["pricing"], "overrides": [window, other]}}
    flash = {**one, "id": "google/gemini-2.5-flash"}
    openrouter = provider("openrouter")
    with caplog.at_level(logging.WARNING, logger="router.providers.openrouter"):
        openrouter_read(openrouter, one)
        openrouter_read(openrouter, two, flash)  # a refresh: the new override, the new model
        openrouter_read(openrouter, two, flash)
    assert [r.getMessage() for r in caplog.records] == [
        "provider 'p': model 'google/gemini-2.5-pro': pricing.overrides.0 has conditions the"
        " router cannot evaluate (utc_end, utc_start); not applied as a tier: its rates are"
        " billed wherever higher",
        "provider 'p': model 'google/gemini-2.5-pro': pricing.overrides.1 has conditions the"
        " router cannot evaluate (day); not applied as a tier: its rates are billed wherever"
        " higher",
        "provider 'p': model 'google/gemini-2.5-flash': pricing.overrides.0 has conditions the"
        " router cannot evaluate (utc_end, utc_start); not applied as a tier: its rates are"
        " billed wherever higher",
    ]


def test_openrouter_keeps_the_routers_clock() -> None:
    from providers.openrouter import OpenRouter

    def clock() -> float:
        return 5.0

    options = OpenRouter.Options(name="or", kind="openrouter", api_key="k")
    assert OpenRouter(options, timer=clock).catalog._timer is clock
