"""Every provider's price unit, read from its seed page, lands as exact USD per token.

Each row is an entry copied from (or shaped exactly like) the provider's API page in
shared/seeds; the expected values are worked out by hand in the comment beside them. A
factor-1,000 slip (per 1k read as per token) or a factor-1.4 slip (the Majestix margin
applied again, or taken out) fails these rows.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from router import ModelCard, PriceTier, Pricing, Router

D = Decimal

PINSTRIPES_SEED = {  # seed 000, verbatim
    "id": "ps/deepseek-v4-flash",
    "object": "model",
    "created": 1748995200,
    "owned_by": "pinstripes",
    "context_length": 1000000,
    "max_output_tokens": 16384,
    "pricing": {
        "prompt": "0.000000087",
        "completion": "0.000000173",
        "cached_tokens": "0.00000005",
    },
}
PIPELLM_SEED = {  # seed 002, verbatim
    "id": "gpt-5",
    "display_name": "Gpt 5",
    "type_target": "openai",
    "created_at": "2025-05-14T00:00:00Z",
    "pricing": {
        "kind": "token",
        "text": {"prompt": "0.000003", "completion": "0.000015", "internal_reasoning": "0.000015"},
        "cache": {"read": "0.000001", "write": "0.00000375", "write_1h": "0.0000075"},
        "tiers": {
            "over_200k": {
                "text": {
                    "prompt": "0.0000055",
                    "completion": "0.000022",
                    "internal_reasoning": "0.000022",
                },
                "cache": {"read": "0.0000009", "write": "0.0000033", "write_1h": "0.0000066"},
            }
        },
    },
}
INFERENCE_API_SEED = {  # seed 003's model object; upstream $3 / $15 per 1M, x1.4 margin
    "id": "claude-sonnet-4.6",
    "name": "Claude Sonnet 4.6",
    "provider": "anthropic",
    "context_window": 200000,
    "max_output_tokens": 64000,
    "cost_per_1k_input": 4.2,
    "cost_per_1k_output": 21.0,
    "supports_tools": True,
    "supports_vision": True,
}
ROUTSTR_SEED = {  # seed 004, verbatim: USD per 1,000 tokens as numbers
    "id": "gpt-4",
    "object": "model",
    "created": 1686935002,
    "owned_by": "openai",
    "permission": [],
    "pricing": {"prompt": 0.03, "completion": 0.06},
    "context_length": 8192,
}
ROUTSTR_LIVE = {  # routstr-core's live schema: USD per token as numbers
    "id": "deepseek/deepseek-v4-flash",
    "name": "DeepSeek V4 Flash",
    "created": 0,
    "context_length": 1000000,
    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    "pricing": {"prompt": 1.0e-7, "completion": 2.0e-7, "input_cache_read": 0.0},
    "sats_pricing": {"prompt": 0.0001, "completion": 0.0002},
    "top_provider": {"context_length": 1000000, "max_completion_tokens": 32768},
}
OPENROUTER_ENTRY = {  # OpenRouter's /api/v1/models entry: USD per token as strings
    "id": "anthropic/claude-sonnet-4.6",
    "name": "Anthropic: Claude Sonnet 4.6",
    "context_length": 1000000,
    "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
    "pricing": {
        "prompt": "0.000003",
        "completion": "0.000015",
        "input_cache_read": "0.0000003",
        "input_cache_write": "0.00000375",
    },
    "top_provider": {"context_length": 1000000, "max_completion_tokens": 128000},
    "supported_parameters": ["max_tokens", "tools", "tool_choice"],
}
VLLM_ENTRY = {"id": "Qwen/Qwen3-8B", "object": "model", "owned_by": "vllm", "max_model_len": 32768}


def parse(kind: str, entry: dict[str, Any], **options: Any) -> ModelCard:
    """Parse one raw entry the way the provider plugin of ``kind`` reads its catalog."""
    provider_conf = {"name": "p", "kind": kind, "api_key": "k", **options}
    router = Router.from_config({"providers": [provider_conf]})
    wrapped: Any = {"models": [entry]} if kind == "inference-api" else {"data": [entry]}
    models, skipped = router.providers["p"].parse_catalog(wrapped)
    assert skipped == []
    (card,) = models
    return card


@pytest.mark.parametrize(
    ("kind", "entry", "options", "prompt", "completion", "cache_read"),
    [
        # pinstripes: USD per token strings; $0.087 / $0.173 / $0.05 per 1M
        ("pinstripes", PINSTRIPES_SEED, {}, "0.000000087", "0.000000173", "0.00000005"),
        # PipeLLM: USD per token strings
        ("pipellm", PIPELLM_SEED, {}, "0.000003", "0.000015", "0.000001"),
        # Majestix: 4.2 credits/1k x $0.001/credit / 1000 = $0.0000042/token ($4.20/1M,
        # i.e. $3/1M upstream x 1.4 margin, already included: never x1.4 again, never /1.4)
        ("inference-api", INFERENCE_API_SEED, {}, "0.0000042", "0.000021", None),
        # Majestix with a custom credit value: 4.2 x 0.0005 / 1000
        (
            "inference-api",
            INFERENCE_API_SEED,
            {"usd_per_credit": "0.0005"},
            "0.0000021",
            "0.0000105",
            None,
        ),
        # Routstr seed: $0.03 per 1k tokens = $0.00003 per token ($30/1M)
        ("routstr", ROUTSTR_SEED, {}, "0.00003", "0.00006", None),
        ("routstr", ROUTSTR_SEED, {"price_unit": "per_1k"}, "0.00003", "0.00006", None),
        # Routstr live: already per token; a 0.0 cache rate means "none stated"
        ("routstr", ROUTSTR_LIVE, {}, "0.0000001", "0.0000002", None),
        ("routstr", ROUTSTR_LIVE, {"price_unit": "per_token"}, "0.0000001", "0.0000002", None),
        # forcing per_1k on a per-token entry divides by 1,000: the operator's call
        ("routstr", ROUTSTR_LIVE, {"price_unit": "per_1k"}, "0.0000000001", "0.0000000002", None),
        # OpenRouter: USD per token strings
        ("openrouter", OPENROUTER_ENTRY, {}, "0.000003", "0.000015", "0.0000003"),
        # openai-compatible: prices stated in YAML per 1M: $0.5/1M = $0.0000005 per token
        (
            "openai",
            VLLM_ENTRY,
            {"model_info": {"*": {"prompt_per_mtok": "0.5", "completion_per_mtok": "1.5"}}},
            "0.0000005",
            "0.0000015",
            None,
        ),
    ],
    ids=[
        "pinstripes",
        "pipellm",
        "inference-api",
        "inference-api-usd_per_credit",
        "routstr-seed-auto",
        "routstr-seed-per_1k",
        "routstr-live-auto",
        "routstr-live-per_token",
        "routstr-live-forced-per_1k",
        "openrouter",
        "openai-model_info",
    ],
)
def test_prices_are_exact_usd_per_token(kind, entry, options, prompt, completion, cache_read):
    pricing = parse(kind, entry, **options).pricing
    assert pricing is not None
    assert pricing.prompt == D(prompt)
    assert pricing.completion == D(completion)
    assert pricing.cache_read == (None if cache_read is None else D(cache_read))
    assert isinstance(pricing.prompt, Decimal)


def test_pinstripes_record():
    card = parse("pinstripes", PINSTRIPES_SEED)
    assert card.ref == "p:ps/deepseek-v4-flash"
    assert (card.context_length, card.max_output_tokens) == (1_000_000, 16384)
    assert (card.supports_tools, card.supports_vision) == (None, None)  # not stated
    assert (card.protocol, card.kind) == ("openai", "chat")
    # the seed's reference table: $0.087 per 1M
    assert card.pricing is not None
    assert card.pricing.prompt * 1_000_000 == D("0.087")


def test_pipellm_tiers_and_cache_are_kept():
    pricing = parse("pipellm", PIPELLM_SEED).pricing
    assert pricing is not None
    assert (pricing.cache_write, pricing.cache_write_1h) == (D("0.00000375"), D("0.0000075"))
    (tier,) = pricing.tiers
    assert (tier.name, tier.above_prompt_tokens) == ("over_200k", 200_000)
    assert pricing.rates_for(200_000).prompt == D("0.000003")
    over = pricing.rates_for(200_001)
    assert (over.prompt, over.completion, over.cache_read) == (
        D("0.0000055"),
        D("0.000022"),
        D("0.0000009"),
    )


def test_pipellm_generation_models_are_listed_not_chat():
    sora = {
        "id": "sora-2",
        "type_target": "openai",
        "pricing": {"kind": "generation", "generation": {"video": {"per_second": "0.1"}}},
    }
    card = parse("pipellm", sora)
    assert (card.kind, card.pricing) == ("generation", None)


@pytest.mark.parametrize(
    ("family", "protocol"), [("openai", "openai"), ("anthropic", "anthropic"), ("gemini", "gemini")]
)
def test_pipellm_protocol_family(family, protocol):
    assert parse("pipellm", {**PIPELLM_SEED, "type_target": family}).protocol == protocol


def test_inference_api_record():
    card = parse("inference-api", INFERENCE_API_SEED)
    assert (card.context_length, card.max_output_tokens) == (200_000, 64000)
    assert (card.supports_tools, card.supports_vision) == (True, True)
    assert card.protocol == "anthropic"  # from the upstream provider
    # $4.20 per 1M: the margin-inclusive price, as the platform bills it
    assert card.pricing is not None
    assert card.pricing.prompt * 1_000_000 == D("4.2")


def test_inference_api_accepts_key_as_id():
    entry = {k: v for k, v in INFERENCE_API_SEED.items() if k != "id"} | {"key": "gpt-5.2"}
    assert parse("inference-api", entry).id == "gpt-5.2"


def test_routstr_live_capabilities():
    card = parse("routstr", ROUTSTR_LIVE)
    assert (card.context_length, card.max_output_tokens) == (1_000_000, 32768)
    assert card.supports_vision is False
    assert card.supports_tools is None  # no supported_parameters in routstr's schema


def test_openrouter_record():
    card = parse("openrouter", OPENROUTER_ENTRY)
    assert (card.supports_tools, card.supports_vision) == (True, True)
    assert card.max_output_tokens == 128000
    assert card.pricing is not None
    assert card.pricing.cache_write == D("0.00000375")
    no_tools = {**OPENROUTER_ENTRY, "supported_parameters": ["max_tokens"]}
    assert parse("openrouter", no_tools).supports_tools is False
    image_out = {**OPENROUTER_ENTRY, "architecture": {"output_modalities": ["image"]}}
    assert parse("openrouter", image_out).kind == "generation"


def test_openrouter_variable_price_is_listed_unpriced():
    auto = {
        **OPENROUTER_ENTRY,
        "id": "openrouter/auto",
        "pricing": {"prompt": "-1", "completion": "-1"},
    }
    card = parse("openrouter", auto)
    assert (card.id, card.pricing) == ("openrouter/auto", None)


def test_openai_compat_context_sources_and_unpriced():
    assert parse("openai", VLLM_ENTRY).context_length == 32768
    llama = {"id": "qwen.gguf", "object": "model", "meta": {"n_ctx": 8192, "n_ctx_train": 40960}}
    assert parse("openai", llama).context_length == 8192
    card = parse("openai", {"id": "llama3", "object": "model"})
    assert (card.pricing, card.context_length) == (None, None)
    assert parse("openai", {"id": "text-embedding-3-small"}).kind == "generation"
    assert parse("openai", {"id": "gpt-4o"}).kind == "chat"


def test_openai_compat_model_info_per_model_overrides_star():
    info = {
        "*": {"prompt_per_mtok": 0, "completion_per_mtok": 0},
        "big": {"prompt_per_mtok": 2, "completion_per_mtok": 8, "context_length": 128000},
    }
    card = parse("openai", {"id": "big"}, model_info=info)
    assert card.pricing is not None
    assert (card.pricing.prompt, card.context_length) == (D("0.000002"), 128000)
    free = parse("openai", {"id": "small"}, model_info=info)
    assert free.pricing is not None
    assert free.pricing.prompt == 0


def test_json_prices_are_plain_decimal_strings():
    dumped = parse("pinstripes", PINSTRIPES_SEED).model_dump(mode="json")
    assert dumped["pricing"]["prompt"] == "0.000000087"
    assert dumped["pricing"]["cache_read"] == "0.00000005"
    assert dumped["ref"] == "p:ps/deepseek-v4-flash"


def test_rates_for_falls_back_to_base_for_rates_a_tier_omits():
    pricing = Pricing(
        prompt=D("1"),
        completion=D("2"),
        cache_read=D("0.1"),
        tiers=(PriceTier(name="over_1k", above_prompt_tokens=1000, prompt=D("3")),),
    )
    rates = pricing.rates_for(1001)
    assert (rates.prompt, rates.completion, rates.cache_read) == (D("3"), D("2"), D("0.1"))


# -- bad entries: skipped, one warning each, the rest usable -------------------------


@pytest.mark.parametrize(
    ("kind", "bad", "field"),
    [
        ("pinstripes", {"object": "model", "pricing": {"prompt": "1", "completion": "1"}}, "id"),
        (
            "pinstripes",
            {**PINSTRIPES_SEED, "id": "x", "pricing": {"prompt": "abc", "completion": "1"}},
            "pricing.prompt",
        ),
        (
            "pinstripes",
            {**PINSTRIPES_SEED, "id": "x", "pricing": {"prompt": "-0.1", "completion": "1"}},
            "pricing.prompt",
        ),
        (
            "pinstripes",
            {**PINSTRIPES_SEED, "id": "x", "pricing": {"prompt": "NaN", "completion": "1"}},
            "pricing.prompt",
        ),
        (
            "pinstripes",
            {**PINSTRIPES_SEED, "id": "x", "pricing": {"prompt": True, "completion": "1"}},
            "pricing.prompt",
        ),
        (
            "pinstripes",
            {**PINSTRIPES_SEED, "id": "x", "pricing": {"completion": "1"}},
            "pricing.prompt",
        ),
        ("pinstripes", {**PINSTRIPES_SEED, "id": "x", "context_length": "big"}, "context_length"),
        ("pinstripes", {**PINSTRIPES_SEED, "id": 42}, "id"),
        ("pipellm", {**PIPELLM_SEED, "id": "x", "type_target": "cobol"}, "type_target"),
        (
            "pipellm",
            {
                **PIPELLM_SEED,
                "id": "x",
                "pricing": {**PIPELLM_SEED["pricing"], "tiers": {"huge": {}}},
            },
            "pricing.tiers.huge",
        ),
        (
            "inference-api",
            {**INFERENCE_API_SEED, "id": "x", "supports_tools": "yes"},
            "supports_tools",
        ),
        (
            "inference-api",
            {**INFERENCE_API_SEED, "id": "x", "cost_per_1k_input": [1]},
            "cost_per_1k_input",
        ),
        (
            "openrouter",
            {
                **OPENROUTER_ENTRY,
                "id": "x",
                "pricing": {"prompt": "-0.000001", "completion": "0.000001"},
            },
            "pricing.prompt",
        ),
        ("routstr", {**ROUTSTR_SEED, "id": "x", "pricing": "free"}, "pricing.prompt"),
    ],
)
def test_bad_entry_is_skipped_with_one_warning(kind, bad, field, caplog):
    good = {
        "pinstripes": PINSTRIPES_SEED,
        "pipellm": PIPELLM_SEED,
        "inference-api": INFERENCE_API_SEED,
        "openrouter": OPENROUTER_ENTRY,
        "routstr": ROUTSTR_SEED,
    }[kind]
    router = Router.from_config({"providers": [{"name": "prov", "kind": kind, "api_key": "k"}]})
    key = "models" if kind == "inference-api" else "data"
    with caplog.at_level(logging.WARNING, logger="router.provider"):
        models, skipped = router.providers["prov"].parse_catalog({key: [bad, good, "junk"]})
    assert [m.id for m in models] == [good["id"]]
    assert [s.field for s in skipped] == [field, ""]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "'prov'" in warnings[0]
    assert field in warnings[0]
    if isinstance(bad.get("id"), str):
        assert repr(bad["id"]) in warnings[0]


def test_duplicate_ids_keep_the_first():
    router = Router.from_config(
        {"providers": [{"name": "p", "kind": "pinstripes", "api_key": "k"}]}
    )
    cheap = {**PINSTRIPES_SEED, "pricing": {"prompt": "0.0", "completion": "0.0"}}
    models, skipped = router.providers["p"].parse_catalog({"data": [PINSTRIPES_SEED, cheap]})
    assert len(models) == 1
    assert models[0].pricing is not None
    assert models[0].pricing.prompt == D("0.000000087")
    assert [s.field for s in skipped] == ["id"]
