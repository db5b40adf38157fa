"""The provider simulator's old home, kept so that ``router.simulator.Simulator`` works.

It moved to :mod:`router.testing.simulator` (one module per provider dialect); import from
there.
"""

from __future__ import annotations

from router.testing.simulator import (
    API_KEYS,
    CATALOGS,
    PROVIDERS,
    REALISTIC,
    REALISTIC_IMAGE_TOKENS,
    ROUTSTR_LIVE_CATALOG,
    AnswerLength,
    Recorded,
    Reply,
    Simulator,
    count_tokens,
    prompt_tokens_of,
)

__all__ = [
    "API_KEYS",
    "CATALOGS",
    "PROVIDERS",
    "REALISTIC",
    "REALISTIC_IMAGE_TOKENS",
    "ROUTSTR_LIVE_CATALOG",
    "AnswerLength",
    "Recorded",
    "Reply",
    "Simulator",
    "count_tokens",
    "prompt_tokens_of",
]
