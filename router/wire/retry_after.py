"""How long a provider asks us to wait: ``retry-after-ms``, or ``Retry-After`` seconds or date."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping

__all__ = ["parse_retry_after"]


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date).

    None when absent or unreadable; never negative.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return _seconds(float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return _seconds(float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return _seconds(when.timestamp() - now())


def _seconds(value: float) -> float | None:
    # "inf", "nan" or a wait of more than a day is not an answer anyone will wait for.
    if not math.isfinite(value) or value > 86_400:
        return None
    return max(0.0, value)
