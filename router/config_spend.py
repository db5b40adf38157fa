"""The ``budgets:`` and ``telemetry:`` blocks of the configuration (validated in
:func:`router.config.resolve`, which reports every problem with its key path)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["BudgetConfig", "TelemetryConfig"]

_METADATA_FIELD = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class BudgetConfig(BaseModel):
    """One item of ``budgets:``: a spending limit per key and period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Unique; what ``router spend`` and ``BudgetExceeded`` call it."""
    key: str
    """What the limit is per: ``user`` (the request's OpenAI ``user``), ``api_key`` (the
    name of the server's client key), ``metadata.<field>`` (a value of the request's
    ``metadata``), or ``all`` (every request together). A request without that key
    (no ``user``, no such metadata field) does not fall under the budget."""
    limit_usd: Decimal = Field(gt=0, allow_inf_nan=False)
    """USD per key and period, settled and reserved together."""
    period: Literal["hour", "day", "week", "month", "total"] = "day"
    """The period, on UTC boundaries (weeks start on Monday); ``total``: never resets."""
    on_exceeded: Literal["reject", "downgrade"] = "reject"
    """``reject``: refuse a request whose worst case does not fit (``BudgetExceeded``);
    ``downgrade``: route it only to candidates whose worst case fits."""

    @field_validator("key")
    @classmethod
    def _known_key(cls, key: str) -> str:
        if key in ("user", "api_key", "all"):
            return key
        kind, dot, field = key.partition(".")
        if kind == "metadata" and dot:
            if not _METADATA_FIELD.fullmatch(field):
                raise ValueError("a metadata field name is 1-64 letters, digits, '_', '-' or '.'")
            return key
        raise ValueError("expected user, api_key, all or metadata.<field>")


class TelemetryConfig(BaseModel):
    """The ``telemetry:`` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    otel: bool = False
    """Emit OpenTelemetry spans and metrics through the global providers (extra ``otel``)."""
