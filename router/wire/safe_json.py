"""JSON from providers, read defensively: a document nested too deep is a ValueError.

``json.loads`` raises ``RecursionError`` on pathological nesting (a hostile or broken
upstream can send ``[[[[…]]]]`` 100,000 deep); everything that reads provider JSON goes
through :func:`loads` so that such a body is "unreadable", like any other bad JSON.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["loads"]


def loads(data: str | bytes) -> Any:
    """``json.loads``, with nesting too deep reported as ``ValueError``."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
