"""The registry of simulated providers: one instance per provider, by name, and the key
each accepts by default.

A new dialect's provider is added here (and its default catalog in :mod:`.catalogs`).
"""

from __future__ import annotations

from router.testing.simulator.anthropic import _PipeLLM
from router.testing.simulator.anthropic_api import _Anthropic
from router.testing.simulator.gemini import _Gemini
from router.testing.simulator.majestix import _InferenceAPI
from router.testing.simulator.openai import (
    _OpenAICompatible,
    _OpenRouter,
    _Pinstripes,
    _Routstr,
    _SimProvider,
)

_PROVIDERS: dict[str, _SimProvider] = {
    p.name: p
    for p in (
        _Pinstripes(),
        _PipeLLM(),
        _InferenceAPI(),
        _Routstr(),
        _OpenRouter(),
        _OpenAICompatible(),
        _Anthropic(),
        _Gemini(),
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
    "anthropic": "sk-ant-api03-sim-0123456789abcdef",
    "gemini": "AIzaSy-sim-0123456789abcdef",
}
"""The fake key each simulated provider accepts by default."""


def _provider(name: str) -> _SimProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        msg = f"unknown simulated provider {name!r}; known: {', '.join(_PROVIDERS)}"
        raise ValueError(msg) from None
