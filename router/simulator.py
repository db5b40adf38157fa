"""A provider simulator: real HTTP on 127.0.0.1 in each provider's real wire format.

One :class:`Simulator` runs one ``ThreadingHTTPServer`` on a random loopback port and
mounts every simulated provider under its own path prefix (``/pinstripes/v1/models``,
``/pipellm/v1/models``, ...). Each provider serves its model catalog exactly as the
provider's API page (``/work/shared/seeds``) shows it, and checks that provider's auth.
Faults are scripted per provider: a queue of :class:`Reply` objects (429 with
``Retry-After``, 5xx, an HTML page, malformed JSON, a slow first byte) consumed one per
request, and a "down" switch that answers 503 to everything.

The module uses only the standard library and imports nothing from ``router`` so that it
can run while the rest of the package is broken.

Adding a route (say, chat completions) means adding one ``(method, path) -> handler``
entry to a provider's ``routes``; a handler takes a :class:`_Call` and returns a
:class:`_Response`.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

__all__ = [
    "API_KEYS",
    "CATALOGS",
    "PROVIDERS",
    "ROUTSTR_LIVE_CATALOG",
    "Recorded",
    "Reply",
    "Simulator",
]


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


@dataclass(frozen=True)
class Reply:
    """One scripted answer: ``status``, then ``json`` or raw ``body``, extra ``headers``.

    With neither ``json`` nor ``body``: a 200 serves the provider's normal response (so
    ``Reply(200, delay=0.5)`` is the normal catalog with a slow first byte) and any other
    status serves a generated error body in the provider's style. ``delay`` seconds are
    slept before anything is sent. A raw ``body`` defaults to ``text/html`` when it
    starts with ``<`` and ``application/json`` otherwise; a ``Content-Type`` in
    ``headers`` overrides either.
    """

    status: int = 200
    json: object = _UNSET
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            msg = f"Reply.status must be an HTTP status (100-599), not {self.status}"
            raise ValueError(msg)
        if self.json is not _UNSET and self.body is not None:
            msg = "Reply takes json or body, not both"
            raise ValueError(msg)
        if self.delay < 0:
            msg = f"Reply.delay must be >= 0, not {self.delay}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Recorded:
    """One request a simulated provider received; ``path`` is the raw request target."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, payload: object, headers: Mapping[str, str] = {}) -> _Response:
        data = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, data, _merge({"Content-Type": "application/json"}, headers))


def _merge(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``, header names compared case-insensitively."""
    taken = {k.lower() for k in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in taken}, **extra}


@dataclass(frozen=True)
class _Call:
    """What a route handler sees: the request, relative to the provider's mount."""

    sim: Simulator
    method: str
    path: str  # relative to the mount, without the query string
    query: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


Handler = Callable[[_Call], _Response]


def _phrase(status: int) -> str:
    if status == 529:  # Anthropic / PipeLLM "overloaded", not in http.HTTPStatus
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


# -- providers -----------------------------------------------------------------------

_OPENAI_ERROR_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class _SimProvider:
    """One simulated provider: its mount, its auth rule, its error style, its routes."""

    name: ClassVar[str]
    mount: ClassVar[str]  # path prefix on the shared server
    api_root: ClassVar[str]  # mount + api_root = base_url's path
    catalog_path: ClassVar[str]  # relative to the mount, as on the real API

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {("GET", self.catalog_path): self.models}

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        """Whether the request carries ``key`` the way this provider wants it."""
        return _bearer(headers) == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        """The JSON error body this provider sends (OpenAI style by default)."""
        kind = _OPENAI_ERROR_TYPES.get(status)
        if kind is None:
            kind = "server_error" if status >= 500 else "invalid_request_error"
        code = _phrase(status).lower().replace(" ", "_").replace("-", "_")
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def models(self, call: _Call) -> _Response:
        """The catalog route: the current catalog payload, as set on the simulator."""
        return _Response.of_json(200, call.sim.catalog(self.name))


class _Pinstripes(_SimProvider):
    # 000_*.txt: GET /v1/models, "Authorization: Bearer sk-ps-..."
    name, mount, api_root, catalog_path = "pinstripes", "/pinstripes", "/v1", "/v1/models"


class _PipeLLM(_SimProvider):
    # 002_*.txt: GET /v1/models, "Authorization: Bearer" or "x-api-key". The base URL
    # has no /v1 because PipeLLM serves both /v1/... and /openai/v1/... routes.
    name, mount, api_root, catalog_path = "pipellm", "/pipellm", "", "/v1/models"

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key or _bearer(headers) == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        if path.startswith("/v1/messages"):  # the native Anthropic route (DESIGN wire facts)
            kind = _OPENAI_ERROR_TYPES.get(status, "api_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        return super().error_payload(status, message, path)


class _InferenceAPI(_SimProvider):
    # 003_*.txt: GET /models with "X-Api-Key"; a FastAPI service, errors are {"detail"}.
    name, mount, api_root, catalog_path = "inference-api", "/inference-api", "", "/models"

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        return headers.get("x-api-key") == key

    def error_payload(self, status: int, message: str, path: str) -> object:
        return {"detail": message}


class _Routstr(_SimProvider):
    # 004_*.txt: GET /v1/models, "Authorization: Bearer <Cashu token>"; DESIGN wire facts:
    # the token is "cashuA..." or an "sk-..." key.
    name, mount, api_root, catalog_path = "routstr", "/routstr", "/v1", "/v1/models"

    def authorized(self, headers: Mapping[str, str], key: str) -> bool:
        token = _bearer(headers)
        return token is not None and token.startswith(("cashuA", "sk-")) and token == key


class _OpenRouter(_SimProvider):
    # openrouter.ai/api/v1/models; OpenRouter's errors are {"error": {"code": <int>, ...}}.
    name, mount, api_root, catalog_path = "openrouter", "/openrouter", "/api/v1", "/api/v1/models"

    def error_payload(self, status: int, message: str, path: str) -> object:
        return {"error": {"message": message, "code": status}}


class _OpenAICompatible(_SimProvider):
    # A vLLM-like OpenAI-compatible server (vllm serve --api-key ...).
    name, mount, api_root, catalog_path = "openai", "/openai", "/v1", "/v1/models"


_PROVIDERS: dict[str, _SimProvider] = {
    p.name: p
    for p in (
        _Pinstripes(),
        _PipeLLM(),
        _InferenceAPI(),
        _Routstr(),
        _OpenRouter(),
        _OpenAICompatible(),
    )
}
PROVIDERS: tuple[str, ...] = tuple(_PROVIDERS)
"""The simulated providers' keys, in a fixed order."""

API_KEYS: dict[str, str] = {
    "pinstripes": "sk-ps-sim-0123456789abcdef",
    "pipellm": "sk-pipellm-sim-0123456789abcdef",
    "inference-api": "inf_sim_0123456789abcdef",  # 003: "inf_your_api_key_here"
    "routstr": "cashuAeyJ0b2tlbiI6W3sibWludCI6Imh0dHBzOi8vbWludC5leGFtcGxlIn1dfQ",
    "openrouter": "sk-or-v1-sim-0123456789abcdef",
    "openai": "sk-vllm-sim-0123456789abcdef",
}
"""The fake key each simulated provider accepts by default."""

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
    pricing: dict[str, str],
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
             "input_cache_read": "0.0000003", "input_cache_write": "0.00000375"},
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

CATALOGS: dict[str, object] = {
    "pinstripes": _PINSTRIPES,
    "pipellm": _PIPELLM,
    "inference-api": _INFERENCE_API,
    "routstr": _ROUTSTR,
    "openrouter": _OPENROUTER,
    "openai": _OPENAI,
}
"""The JSON each provider's catalog route serves by default (never mutated by a Simulator)."""


# -- the server ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    # Track connections so that stop() can end kept-alive ones: otherwise their handler
    # threads would go on answering after the simulator was stopped.
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can stall.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response has a Content-Length
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            response = _Response.of_json(400, {"error": "send a Content-Length"})
        else:
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            sim = cast(_Server, self.server).sim
            response = sim._handle(self.command, self.path, headers, body)
        try:
            self.send_response(response.status, _phrase(response.status))
            for name, value in response.headers.items():
                if name.lower() != "content-length":  # always computed below
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class Simulator:
    """The simulated providers on one loopback HTTP server (see the module docstring).

    ``with Simulator() as sim:`` starts and stops it; all methods are thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._scripts: dict[str, deque[Reply]] = {}
        self._records: dict[str, list[Recorded]] = {}
        self._down: set[str] = set()
        self._catalogs: dict[str, object] = {}
        self._keys: dict[str, str] = {}
        self.reset()

    # lifecycle

    def start(self) -> Simulator:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread; returns self."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
                name="router-simulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a no-op when not running."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only once started)."""
        if self._server is None:
            msg = "the simulator is not running: call start() first"
            raise RuntimeError(msg)
        return self._server.server_port

    def base_url(self, provider: str) -> str:
        """The base URL a router config should use for ``provider``."""
        p = _provider(provider)
        return f"http://127.0.0.1:{self.port}{p.mount}{p.api_root}"

    # scripting and inspection

    def api_key(self, provider: str) -> str:
        """The key ``provider`` currently accepts (``API_KEYS`` unless changed)."""
        with self._lock:
            return self._keys[_provider(provider).name]

    def set_api_key(self, provider: str, key: str) -> None:
        """Make ``provider`` accept ``key`` instead (until :meth:`reset`)."""
        with self._lock:
            self._keys[_provider(provider).name] = key

    def script(self, provider: str, replies: Iterable[Reply]) -> None:
        """Append ``replies`` to ``provider``'s queue: one per request, any route."""
        queued = list(replies)
        if not all(isinstance(r, Reply) for r in queued):
            msg = "script() takes Reply objects"
            raise TypeError(msg)
        with self._lock:
            self._scripts[_provider(provider).name].extend(queued)

    def catalog(self, provider: str) -> object:
        """A deep copy of the payload ``provider``'s catalog route serves now."""
        with self._lock:
            return copy.deepcopy(self._catalogs[_provider(provider).name])

    def set_catalog(self, provider: str, payload: object) -> None:
        """Serve ``payload`` (any JSON-able object, deep-copied) on the catalog route."""
        json.dumps(payload)  # fail here, not in the server thread
        with self._lock:
            self._catalogs[_provider(provider).name] = copy.deepcopy(payload)

    def set_down(self, provider: str, down: bool) -> None:
        """While down, every request to ``provider`` not answered by the script gets 503."""
        name = _provider(provider).name
        with self._lock:
            if down:
                self._down.add(name)
            else:
                self._down.discard(name)

    def requests(self, provider: str) -> list[Recorded]:
        """Every request ``provider`` received (401s included), oldest first."""
        with self._lock:
            return list(self._records[_provider(provider).name])

    def reset(self) -> None:
        """Clear scripts, records and down flags; restore the default catalogs and keys."""
        with self._lock:
            self._scripts = {name: deque() for name in _PROVIDERS}
            self._records = {name: [] for name in _PROVIDERS}
            self._down = set()
            self._catalogs = {name: copy.deepcopy(CATALOGS[name]) for name in _PROVIDERS}
            self._keys = dict(API_KEYS)

    # dispatch (called from the server's threads)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Response:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        provider = next(
            (p for p in _PROVIDERS.values() if path == p.mount or path.startswith(p.mount + "/")),
            None,
        )
        if provider is None:
            return _Response.of_json(404, {"error": f"no simulated provider at {path}"})
        rest = path[len(provider.mount) :] or "/"
        with self._lock:
            self._records[provider.name].append(Recorded(method, target, headers, body))
            queue = self._scripts[provider.name]
            reply = queue.popleft() if queue else None
            down = provider.name in self._down
            key = self._keys[provider.name]
        if reply is not None and reply.delay:
            time.sleep(reply.delay)
        if reply is not None and (
            reply.json is not _UNSET or reply.body is not None or reply.status != 200
        ):
            return self._scripted(provider, rest, reply)
        call = _Call(self, method, rest, query, headers, body)
        response = self._normal(provider, call, down, key)
        if reply is not None and reply.headers:
            response = _Response(
                response.status, response.body, _merge(response.headers, reply.headers)
            )
        return response

    @staticmethod
    def _scripted(provider: _SimProvider, path: str, reply: Reply) -> _Response:
        if reply.json is not _UNSET:
            return _Response.of_json(reply.status, reply.json, reply.headers)
        if reply.body is not None:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            html = data.lstrip().startswith(b"<")
            kind = "text/html; charset=utf-8" if html else "application/json"
            return _Response(reply.status, data, _merge({"Content-Type": kind}, reply.headers))
        message = f"{_phrase(reply.status)} (simulated)"
        payload = provider.error_payload(reply.status, message, path)
        return _Response.of_json(reply.status, payload, reply.headers)

    @staticmethod
    def _normal(provider: _SimProvider, call: _Call, down: bool, key: str) -> _Response:
        def error(status: int, message: str, headers: Mapping[str, str] = {}) -> _Response:
            payload = provider.error_payload(status, message, call.path)
            return _Response.of_json(status, payload, headers)

        if down:
            return error(503, f"{provider.name} is temporarily unavailable (simulated outage)")
        if not provider.authorized(call.headers, key):
            return error(401, "Invalid or missing API key")
        handler = provider.routes.get((call.method, call.path))
        if handler is not None:
            return handler(call)
        allowed = sorted(m for m, p in provider.routes if p == call.path)
        if allowed:
            return error(405, "Method not allowed", {"Allow": ", ".join(allowed)})
        return error(404, f"Not found: {call.method} {call.path}")


def _provider(name: str) -> _SimProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        msg = f"unknown simulated provider {name!r}; known: {', '.join(_PROVIDERS)}"
        raise ValueError(msg) from None
