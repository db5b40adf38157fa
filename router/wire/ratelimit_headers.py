"""What a provider says about its rate limits in response headers, read before the 429.

OpenAI style (OpenAI, and the OpenAI-compatible servers that copy it)::

    x-ratelimit-limit-requests: 60        x-ratelimit-remaining-requests: 59
    x-ratelimit-limit-tokens: 150000      x-ratelimit-remaining-tokens: 149984
    x-ratelimit-reset-requests: 1s        x-ratelimit-reset-tokens: 6m0s

Anthropic style (resets are RFC 3339 times; ``tokens`` is the most restrictive of the
token limits, input and output tokens have their own)::

    anthropic-ratelimit-requests-remaining: 49
    anthropic-ratelimit-requests-reset: 2026-12-01T23:00:12Z
    anthropic-ratelimit-tokens-remaining / -input-tokens- / -output-tokens- ...
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from router.state.ratelimits import KINDS, Budget

__all__ = ["parse_duration", "parse_rate_limits"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float | None:
    """Seconds in an OpenAI reset value (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``, a plain
    number of seconds); None when unreadable."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if math.isfinite(value) and value >= 0 else None
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        number, unit = float(match.group(1)), match.group(2)
        total += number * {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[unit]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _rfc3339(text: str, now: float) -> float | None:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_rate_limits(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> Budget | None:
    """The budget the headers announce (remaining and seconds to reset, per kind:
    ``requests``, ``tokens``, ``input_tokens``, ``output_tokens``), or None when they
    announce none. A remaining count without a readable reset is kept with no reset (it
    holds until the next answer says otherwise)."""
    lowered = {k.lower(): v for k, v in headers.items() if "ratelimit" in k.lower()}
    if not lowered:  # most answers: no budget announced
        return None
    left: dict[str, tuple[int, float | None]] = {}
    for kind in KINDS:
        openai = kind.replace("_", "-")
        remaining = _count(lowered.get(f"x-ratelimit-remaining-{openai}"))
        if remaining is not None:
            raw = lowered.get(f"x-ratelimit-reset-{openai}")
            left[kind] = (remaining, None if raw is None else parse_duration(raw))
            continue
        remaining = _count(lowered.get(f"anthropic-ratelimit-{openai}-remaining"))
        if remaining is not None:
            raw = lowered.get(f"anthropic-ratelimit-{openai}-reset")
            left[kind] = (remaining, None if raw is None else _rfc3339(raw, now()))
    return Budget(left) if left else None
