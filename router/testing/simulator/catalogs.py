"""The default catalogs: the JSON each provider's catalog route serves, as its API page
(``/work/shared/seeds``) shows it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# -- default catalogs ----------------------------------------------------------------

# 000_*.txt reference table; USD per token = the table's $/1M / 1,000,000, as strings.
# Only ps/qwen3.6-35b-a3b's max_output_tokens (32768) is given by the seed; 16384 elsewhere.
_PINSTRIPES_TABLE = (
    ("ps/deepseek-v4-flash", 1_000_000, 16384, "0.000000087", "0.000000173"),  # $0.087 / $0.173
    ("ps/deepseek-v4-pro", 1_000_000, 16384, "0.00000039", "0.00000078"),  # $0.390 / $0.780
    ("ps/llama-4-maverick", 1_000_000, 16384, "0.00000013", "0.00000053"),  # $0.130 / $0.530
    ("ps/llama-4-scout", 10_000_000, 16384, "0.000000071", "0.000000265"),  # $0.071 / $0.265
    ("ps/qwen3.6-35b-a3b", 262_144, 32768, "0.00000012", "0.00000085"),  # $0.120 / $0.850
    ("ps/qwen3.5-35b-a3b", 262_144, 16384, "0.00000012", "0.00000085"),  # $0.120 / $0.850
    ("ps/kimi-k2", 131_072, 16384, "0.00000051", "0.000002"),  # $0.510 / $2.000
    ("ps/step-3.7-flash", 256_000, 16384, "0.000000175", "0.000001"),  # $0.175 / $1.000
    ("ps/glm-4.5-air", 131_072, 16384, "0.00000011", "0.00000075"),  # $0.110 / $0.750
    ("ps/gpt-oss-120b", 131_072, 16384, "0.000000033", "0.000000153"),  # $0.033 / $0.153
    ("ps/qwen3-coder-30b-a3b", 160_000, 16384, "0.000000061", "0.000000235"),  # $0.061 / $0.235
)

_PINSTRIPES: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": model_id,
            "object": "model",
            "created": 1748995200,
            "owned_by": "pinstripes",
            "context_length": context,
            "max_output_tokens": max_out,
            "pricing": {"prompt": prompt, "completion": completion, "cached_tokens": "0.00000005"},
        }
        for model_id, context, max_out, prompt, completion in _PINSTRIPES_TABLE
    ],
}

# 002_*.txt unified schema: USD per token as strings, sorted by id, with "total".
# gpt-5 and sora-2 are the seed's entries verbatim.
_PIPELLM_MODELS: list[dict[str, Any]] = [
    {
        "id": "claude-sonnet-4-6",
        "display_name": "Claude Sonnet 4 6",
        "type_target": "anthropic",
        "created_at": "2026-02-17T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {"prompt": "0.000003", "completion": "0.000015"},
            "cache": {"read": "0.0000003", "write": "0.00000375", "write_1h": "0.000006"},
            "tiers": {
                "over_200k": {
                    "text": {"prompt": "0.000006", "completion": "0.0000225"},
                    "cache": {"read": "0.0000006", "write": "0.0000075", "write_1h": "0.000012"},
                }
            },
        },
    },
    {
        "id": "gemini-3-flash",
        "display_name": "Gemini 3 Flash",
        "type_target": "gemini",
        "created_at": "2025-12-17T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {"prompt": "0.0000005", "completion": "0.000003"},
            "cache": {"read": "0.00000005"},
        },
    },
    {
        "id": "gpt-5",
        "display_name": "Gpt 5",
        "type_target": "openai",
        "created_at": "2025-05-14T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {
                "prompt": "0.000003",
                "completion": "0.000015",
                "internal_reasoning": "0.000015",
            },
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
    },
    {
        "id": "gpt-5-mini",
        "display_name": "Gpt 5 Mini",
        "type_target": "openai",
        "created_at": "2025-08-07T00:00:00Z",
        "pricing": {
            "kind": "token",
            "text": {
                "prompt": "0.00000025",
                "completion": "0.000002",
                "internal_reasoning": "0.000002",
            },
            "cache": {"read": "0.000000025"},
        },
    },
    {
        "id": "sora-2",
        "display_name": "Sora 2",
        "type_target": "openai",
        "created_at": "2025-03-01T00:00:00Z",
        "pricing": {
            "kind": "generation",
            "generation": {"video": {"per_second": "0.1", "per_second_with_audio": "0.2"}},
        },
    },
]
_PIPELLM: dict[str, Any] = {
    "object": "list",
    "data": _PIPELLM_MODELS,
    "total": len(_PIPELLM_MODELS),
}


def _majestix(
    model_id: str,
    name: str,
    provider: str,
    window: int,
    max_out: int,
    usd_in_per_mtok: str,
    usd_out_per_mtok: str,
    tools: bool,
    vision: bool,
) -> dict[str, Any]:
    # 003_*.txt: credits per 1k tokens including the 1.4x margin, 1 credit = $0.001:
    #   credits/1k = USD/1M / 1e6 * 1.4 * 1000 / 0.001 = USD/1M * 1.4
    # e.g. $3 / $15 per 1M -> 3e-6 * 1.4 * 1000 / 0.001 = 4.2 and 21.0 credits per 1k.
    def credits(usd_per_mtok: str) -> float:
        return float(Decimal(usd_per_mtok) * Decimal("1.4"))

    return {
        "id": model_id,
        "name": name,
        "provider": provider,
        "context_window": window,
        "max_output_tokens": max_out,
        "cost_per_1k_input": credits(usd_in_per_mtok),
        "cost_per_1k_output": credits(usd_out_per_mtok),
        "supports_tools": tools,
        "supports_vision": vision,
    }


# 003_*.txt gives the fields, not the envelope: {"models": [...]} is our choice.
# Columns: id, name, upstream, context_window, max_output_tokens, upstream USD per 1M in/out,
# supports_tools, supports_vision.
_INFERENCE_API: dict[str, Any] = {
    "models": [
        _majestix("gpt-5.2", "GPT-5.2", "openai", 400_000, 128_000, "1.75", "14", True, True),
        _majestix("gpt-5-mini", "GPT-5 Mini", "openai", 400_000, 128_000, "0.25", "2", True, True),
        _majestix("claude-sonnet-4.6", "Claude Sonnet 4.6", "anthropic", 200_000, 64_000,
                  "3", "15", True, True),
        _majestix("claude-haiku-4.5", "Claude Haiku 4.5", "anthropic", 200_000, 64_000,
                  "1", "5", True, True),
        _majestix("gemini-3-flash", "Gemini 3 Flash", "vertex", 1_048_576, 65_536,
                  "0.5", "3", True, True),
        _majestix("llama-4-maverick", "Llama 4 Maverick", "openrouter", 1_048_576, 16_384,
                  "0.15", "0.6", False, True),
    ]
}  # fmt: skip


def _routstr_seed(
    model_id: str, created: int, owner: str, prompt: float, completion: float, context: int
) -> dict[str, Any]:
    # 004_*.txt: pricing in USD per 1,000 tokens, as JSON numbers.
    return {
        "id": model_id,
        "object": "model",
        "created": created,
        "owned_by": owner,
        "permission": [],
        "pricing": {"prompt": prompt, "completion": completion},
        "context_length": context,
    }


_ROUTSTR: dict[str, Any] = {
    "object": "list",
    "data": [
        _routstr_seed("gpt-4", 1686935002, "openai", 0.03, 0.06, 8192),
        _routstr_seed("claude-3-opus", 1708473090, "anthropic", 0.015, 0.075, 200000),
        _routstr_seed("llama-3-70b-chat", 1714475790, "meta", 0.0007, 0.0014, 8192),
        # $0.10 / $0.20 and $0.13 / $0.90 per 1M
        _routstr_seed("deepseek/deepseek-v4-flash", 1776902400, "deepseek", 0.0001, 0.0002,
                      1_000_000),
        _routstr_seed("qwen/qwen3.6-35b-a3b", 1776124800, "qwen", 0.00013, 0.0009, 262_144),
    ],
}  # fmt: skip

# routstr-core's live /v1/models: OpenRouter's schema with pricing as numbers in USD per
# token, plus "sats_pricing" (sats per token at $0.001 per sat, i.e. BTC at $100k).
_USD_PER_SAT = Decimal("0.001")
_PRICE_KEYS = (
    "prompt",
    "completion",
    "request",
    "image",
    "web_search",
    "internal_reasoning",
    "input_cache_read",
    "input_cache_write",
)


def _routstr_live(
    model_id: str,
    name: str,
    created: int,
    context: int,
    max_out: int,
    inputs: list[str],
    tokenizer: str,
    prices: dict[str, str],
) -> dict[str, Any]:
    usd = {k: Decimal(prices.get(k, "0")) for k in _PRICE_KEYS}
    # routstr-core also states the most one request can cost, from the limits below.
    usd["max_prompt_cost"] = usd["prompt"] * context
    usd["max_completion_cost"] = usd["completion"] * max_out
    usd["max_cost"] = usd["max_prompt_cost"] + usd["max_completion_cost"] + usd["request"]
    return {
        "id": model_id,
        "name": name,
        "created": created,
        "description": f"{name}, proxied through Routstr.",
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": {k: float(v) for k, v in usd.items()},
        "sats_pricing": {k: float(v / _USD_PER_SAT) for k, v in usd.items()},
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_out,
            "is_moderated": False,
        },
    }


ROUTSTR_LIVE_CATALOG: dict[str, Any] = {
    "data": [
        _routstr_live(
            "deepseek/deepseek-v4-flash", "DeepSeek: DeepSeek V4 Flash", 1776902400, 1_000_000,
            65_536, ["text"], "DeepSeek",
            {"prompt": "0.0000001", "completion": "0.0000002", "input_cache_read": "0.00000002"},
        ),
        _routstr_live(
            "openai/gpt-5-mini", "OpenAI: GPT-5 Mini", 1754587413, 400_000, 128_000,
            ["text", "image"], "GPT",
            {"prompt": "0.00000025", "completion": "0.000002", "input_cache_read": "0.000000025"},
        ),
        _routstr_live(
            "qwen/qwen3.6-35b-a3b", "Qwen: Qwen3.6 35B A3B", 1776124800, 262_144, 32_768,
            ["text"], "Qwen3", {"prompt": "0.00000013", "completion": "0.0000009"},
        ),
    ]
}  # fmt: skip
"""Routstr's live routstr-core catalog shape (USD per *token*); set it with set_catalog."""


def _openrouter(
    model_id: str,
    name: str,
    created: int,
    context: int,
    max_out: int | None,
    inputs: list[str],
    tokenizer: str,
    pricing: dict[str, Any],
    params: list[str],
) -> dict[str, Any]:
    # OpenRouter's GET /api/v1/models entry; prices are USD per token, as strings.
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": created,
        "description": f"{name}.",
        "context_length": context,
        "architecture": {
            "modality": "+".join(inputs) + "->text",
            "input_modalities": inputs,
            "output_modalities": ["text"],
            "tokenizer": tokenizer,
            "instruct_type": None,
        },
        "pricing": pricing,
        "top_provider": {
            "context_length": context,
            "max_completion_tokens": max_out,
            "is_moderated": model_id.startswith("openai/"),
        },
        "per_request_limits": None,
        "supported_parameters": params,
    }


_SAMPLING = ["max_tokens", "temperature", "top_p", "stop", "seed", "response_format"]
_TOOLS = ["tools", "tool_choice"]
_ZERO = {"request": "0", "image": "0", "web_search": "0", "internal_reasoning": "0"}

_OPENROUTER: dict[str, Any] = {
    "data": [
        _openrouter(
            "deepseek/deepseek-v4-flash", "DeepSeek: DeepSeek V4 Flash", 1776902400, 1_000_000,
            65_536, ["text"], "DeepSeek",
            {"prompt": "0.00000009", "completion": "0.00000018", **_ZERO,
             "input_cache_read": "0.000000018"},
            _TOOLS + _SAMPLING,
        ),
        _openrouter(
            "openai/gpt-5-mini", "OpenAI: GPT-5 Mini", 1754587413, 400_000, 128_000,
            ["text", "image", "file"], "GPT",
            {"prompt": "0.00000025", "completion": "0.000002", **_ZERO,
             "input_cache_read": "0.000000025"},
            [*_TOOLS, "reasoning", "include_reasoning", "structured_outputs", *_SAMPLING],
        ),
        _openrouter(
            "anthropic/claude-sonnet-4.6", "Anthropic: Claude Sonnet 4.6", 1771286400, 1_000_000,
            64_000, ["text", "image", "file"], "Claude",
            {"prompt": "0.000003", "completion": "0.000015", **_ZERO, "image": "0.0048",
             "input_cache_read": "0.0000003", "input_cache_write": "0.00000375",
             "input_cache_write_1h": "0.000006"},
            [*_TOOLS, "reasoning", "include_reasoning", *_SAMPLING],
        ),
        # Long prompts cost more: from 200,000 prompt tokens the override's rates apply.
        _openrouter(
            "google/gemini-2.5-pro", "Google: Gemini 2.5 Pro", 1750169544, 1_048_576, 65_536,
            ["text", "image", "file"], "Gemini",
            {"prompt": "0.00000125", "completion": "0.00001", **_ZERO,
             "input_cache_read": "0.00000031", "input_cache_write": "0.000001625",
             "overrides": [{"min_prompt_tokens": 200000, "prompt": "0.0000025",
                            "completion": "0.000015", "input_cache_read": "0.000000625"}]},
            [*_TOOLS, "reasoning", "include_reasoning", *_SAMPLING],
        ),
        # No "tools" in supported_parameters: a model that cannot take a tool request.
        _openrouter(
            "google/gemma-3-27b-it", "Google: Gemma 3 27B", 1741756800, 131_072, 16_384,
            ["text", "image"], "Gemini",
            {"prompt": "0.000000067", "completion": "0.000000267", **_ZERO},
            [*_SAMPLING],
        ),
        # OpenRouter's router pseudo-model really lists its prices as "-1" (variable).
        _openrouter(
            "openrouter/auto", "Auto Router", 1699401600, 2_000_000, None,
            ["text", "image"], "Router", {"prompt": "-1", "completion": "-1"}, [],
        ),
    ]
}  # fmt: skip

_VLLM_PERMISSION = {
    "id": "modelperm-0f4c8a9e2b7d4c31",
    "object": "model_permission",
    "created": 1767225600,
    "allow_create_engine": False,
    "allow_sampling": True,
    "allow_logprobs": True,
    "allow_search_indices": False,
    "allow_view": True,
    "allow_fine_tuning": False,
    "organization": "*",
    "group": None,
    "is_blocking": False,
}

# vLLM's /v1/models: no pricing; a LoRA adapter is listed with its base as "parent"
# and (as vLLM does for adapters) no max_model_len.
_OPENAI: dict[str, Any] = {
    "object": "list",
    "data": [
        {
            "id": "Qwen/Qwen3-8B",
            "object": "model",
            "created": 1767225600,
            "owned_by": "vllm",
            "root": "Qwen/Qwen3-8B",
            "parent": None,
            "max_model_len": 32768,
            "permission": [_VLLM_PERMISSION],
        },
        {
            "id": "qwen3-8b-sql-lora",
            "object": "model",
            "created": 1767225600,
            "owned_by": "vllm",
            "root": "/adapters/qwen3-8b-sql-lora",
            "parent": "Qwen/Qwen3-8B",
            "max_model_len": None,
            "permission": [_VLLM_PERMISSION],
        },
    ],
}

# Anthropic's GET /v1/models: newest first, no prices (genai-prices or model_info give
# them); "claude-mythos-5" is a model no price list knows.
_ANTHROPIC: dict[str, Any] = {
    "data": [
        {
            "type": "model",
            "id": model_id,
            "display_name": name,
            "created_at": created,
            "max_input_tokens": context,
            "max_tokens": max_out,
            "capabilities": {"image_input": {"supported": True}},
        }
        for model_id, name, created, context, max_out in (
            ("claude-mythos-5", "Claude Mythos 5", "2026-11-01T00:00:00Z", 1_000_000, 128_000),
            ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", 1_000_000, 64_000),
            ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z", 200_000, 64_000),
        )
    ],
    "has_more": False,
    "first_id": "claude-mythos-5",
    "last_id": "claude-haiku-4-5",
}

# Gemini's OpenAI-compatible GET /models: ids prefixed "models/", no prices, no context.
_GEMINI: dict[str, Any] = {
    "object": "list",
    "data": [
        {"id": f"models/{model_id}", "object": "model", "owned_by": "google"}
        for model_id in (
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-experimental-0",
            "text-embedding-004",
        )
    ],
}

CATALOGS: dict[str, object] = {
    "pinstripes": _PINSTRIPES,
    "pipellm": _PIPELLM,
    "inference-api": _INFERENCE_API,
    "routstr": _ROUTSTR,
    "openrouter": _OPENROUTER,
    "openai": _OPENAI,
    "anthropic": _ANTHROPIC,
    "gemini": _GEMINI,
}
"""The JSON each provider's catalog route serves by default (never mutated by a Simulator)."""
