"""Typed reads of one raw catalog entry, each failure naming the field it concerns.

Provider plugins read their JSON through :class:`Entry` so that a malformed entry
is skipped with a precise reason (``pricing.prompt: not a number: 'abc'``) instead of
crashing the whole catalog or, worse, being read as a price of zero.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Entry", "EntryError"]

_MISSING: Any = object()


class EntryError(Exception):
    """One catalog entry is unusable: ``field`` (a dotted path) and ``problem`` say why."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Entry:
    """A raw catalog entry (a JSON object) with typed, path-naming accessors."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise EntryError("", f"not a JSON object: {_show(raw)}")
        self.raw: dict[str, Any] = raw

    def get(self, path: str) -> Any:
        """The value at a dotted ``path``, or None when any step is missing or null."""
        node: Any = self.raw
        for step in path.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(step)
            if node is None:
                return None
        return node

    def has(self, path: str) -> bool:
        """Whether the dotted ``path`` is present and not null."""
        return self.get(path) is not None

    def text(self, path: str) -> str:
        """A required non-empty string."""
        value = self.get(path)
        if value is None:
            raise EntryError(path, "missing")
        if not isinstance(value, str) or not value.strip():
            raise EntryError(path, f"not a non-empty string: {_show(value)}")
        return value

    def opt_text(self, path: str) -> str | None:
        """An optional string."""
        return None if self.get(path) is None else self.text(path)

    def opt_int(self, path: str) -> int | None:
        """An optional non-negative integer (an integral float such as ``8192.0`` is accepted)."""
        value = self.get(path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EntryError(path, f"not an integer: {_show(value)}")
        if isinstance(value, float) and not value.is_integer():
            raise EntryError(path, f"not an integer: {_show(value)}")
        if value < 0:
            raise EntryError(path, f"negative: {_show(value)}")
        return int(value)

    def opt_bool(self, path: str) -> bool | None:
        """An optional boolean."""
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise EntryError(path, f"not a boolean: {_show(value)}")
        return value

    def opt_list(self, path: str) -> list[Any] | None:
        """An optional JSON array."""
        value = self.get(path)
        if value is None:
            return None
        if not isinstance(value, list):
            raise EntryError(path, f"not a list: {_show(value)}")
        return value

    def price(self, path: str, scale: Decimal = Decimal(1)) -> Decimal:
        """A required price: a JSON number or numeric string, finite and >= 0, times ``scale``.

        ``Decimal(str(x))`` keeps what the provider wrote: ``Decimal(0.1)`` would keep
        the binary float's noise.
        """
        value = self.get(path)
        if value is None:
            raise EntryError(path, "missing")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise EntryError(path, f"not a number: {_show(value)}")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise EntryError(path, f"not a number: {_show(value)}") from None
        if not amount.is_finite():
            raise EntryError(path, f"not a finite number: {_show(value)}")
        if amount < 0:
            raise EntryError(path, f"negative price: {_show(value)}")
        if amount.adjusted() > 9:
            # no model costs billions of dollars (or credits) a token; 9e999999999 would
            # also overflow the decimal context when converted
            raise EntryError(path, f"implausible price: {_show(value)}")
        return amount * scale

    def opt_price(self, path: str, scale: Decimal = Decimal(1)) -> Decimal | None:
        """An optional price (see :meth:`price`)."""
        return None if self.get(path) is None else self.price(path, scale)
