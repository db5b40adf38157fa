"""Every error the router raises.

The tree::

    RouterError
    ├── ConfigError            a YAML key is wrong: carries the key path and the problem
    ├── PluginError            a plugin registered a duplicate or malformed name
    ├── CatalogError           a provider's catalog could not be read: provider and status
    ├── InvalidRequest         the request itself is malformed (caught before routing)
    ├── NoRouteError           no candidate passed the policy chain: every exclusion and why
    ├── BudgetExceeded         a budget has no room for the request's worst-case cost
    ├── UpstreamError          one provider's answer to one request: provider, model, status
    │   ├── RateLimited        429 (may carry retry_after)
    │   ├── Unavailable        5xx, 529, connection refused or reset, an unreadable answer
    │   ├── Timeout            connect, read or first-byte timeout
    │   └── Rejected           4xx the caller or the account must fix (400-404, 422, ...)
    │       └── ContextTooLong the prompt does not fit this model
    ├── AllProvidersFailed     every attempt failed: lists each (ref, status, error)
    │   └── DeadlineExceeded   the request's deadline ran out first
    ├── StreamInterrupted      a stream broke after chunks reached the caller
    └── StateUnavailable       the shared state (Redis) is away and ``on_unavailable: fail``

Messages never contain a secret: API keys and Cashu tokens are held as
``pydantic.SecretStr`` from the moment they are read, provider error texts are redacted
before they are kept, and no config error quotes a configured value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "BudgetExceeded",
    "CatalogError",
    "ConfigError",
    "ContextTooLong",
    "DeadlineExceeded",
    "InvalidRequest",
    "NoRouteError",
    "PluginError",
    "RateLimited",
    "Rejected",
    "RouterError",
    "StateUnavailable",
    "StreamInterrupted",
    "Timeout",
    "Unavailable",
    "UpstreamError",
    "error_for_status",
]


class RouterError(Exception):
    """Base class of every error the router raises."""


class ConfigError(RouterError):
    """The configuration is invalid.

    ``key_path`` is where, in YAML terms (``providers[1].usd_per_credit``);
    ``problem`` is what is wrong with it.
    """

    def __init__(self, key_path: str, problem: str) -> None:
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{key_path}: {problem}" if key_path else problem)


class PluginError(RouterError):
    """A plugin registered something the router cannot accept (a duplicate name, a bad class)."""


class CatalogError(RouterError):
    """A provider's model catalog could not be fetched or read.

    ``status`` is the HTTP status when the provider answered, else ``None``
    (connection refused, timeout, a body that is not JSON).
    """

    def __init__(
        self,
        provider: str,
        problem: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.problem = problem
        self.status = status
        self.retry_after = retry_after
        """Seconds the provider asked to wait before fetching again (its ``Retry-After``)."""
        self.transient = status is None or status in (408, 429) or status >= 500
        """Whether the failure may pass: no answer (refused, reset, timed out), 408, 429 or
        a 5xx; a 4xx such as 401 or an unreadable document will not by waiting."""
        where = f"HTTP {status}" if status is not None else "no usable answer"
        super().__init__(f"catalog of provider {provider!r}: {where}: {problem}")


class InvalidRequest(RouterError, ValueError):
    """The request is not a valid Chat Completions request (no messages, a bad field)."""


class NoRouteError(RouterError):
    """No candidate is left for the request. ``excluded`` maps each ref to why it was dropped.

    ``retry_after``: when every candidate was left out only for a while (cooling down,
    rate limited, its catalog failing in a way that passes) and none came back within the
    request's deadline and wait budget, the seconds until the earliest may; else None.
    """

    def __init__(
        self, model: str, excluded: Mapping[str, str], *, retry_after: float | None = None
    ) -> None:
        self.model = model
        self.excluded = dict(excluded)
        self.retry_after = retry_after
        lines = "".join(f"\n  {ref}: {why}" for ref, why in self.excluded.items())
        super().__init__(f"no route for model {model!r}:{lines or ' no candidates at all'}")


class BudgetExceeded(RouterError):
    """A budget cannot take the request: its worst-case cost does not fit what is left.

    ``budget`` is the budget's name, ``key`` the key it counts under (the user, the client
    key's name, the metadata value, ``*`` for ``key: all``), ``limit`` and ``spent`` USD
    of the current period, ``reserved`` USD held by requests in flight, ``needed`` the
    worst case of this request (on the cheapest candidate that was considered).
    """

    def __init__(
        self,
        budget: str,
        key: str,
        limit: Decimal,
        spent: Decimal,
        *,
        reserved: Decimal = Decimal(0),
        needed: Decimal | None = None,
        period: str = "",
    ) -> None:
        self.budget = budget
        self.key = key
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.needed = needed
        self.period = period
        left = max(Decimal(0), limit - spent - reserved)
        when = {"hour": " this hour", "day": " today", "week": " this week"}.get(period)
        when = when or (" this month" if period == "month" else "")
        text = f"budget {budget!r} for {key!r}: spent ${_usd(spent)} of ${_usd(limit)}{when}"
        if reserved:
            text += f", ${_usd(reserved)} reserved by requests in flight"
        if needed is not None:
            text += f"; this request may cost up to ${_usd(needed)}, ${_usd(left)} is left"
        super().__init__(text)


def _usd(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class UpstreamError(RouterError):
    """A provider failed one request.

    ``status`` is the HTTP status (None for connection failures and timeouts),
    ``retry_after`` the seconds the provider asked to wait, ``code`` the provider's
    error code when it gave one (``invalid_model``, ``overloaded_error``, ...).
    """

    def __init__(
        self,
        provider: str,
        model: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.code = code
        where = f"HTTP {status}" if status is not None else type(self).__name__
        super().__init__(f"{provider}:{model}: {where}: {message}")


class RateLimited(UpstreamError):
    """429: too many requests (retried elsewhere, and here after ``retry_after``)."""


class Unavailable(UpstreamError):
    """5xx, 529, a refused or reset connection, or an answer that could not be read."""


class Timeout(UpstreamError):
    """The provider did not connect, answer or send its first byte in time."""


class Rejected(UpstreamError):
    """A 4xx the request or the account must fix: never retried on the same deployment."""


class ContextTooLong(Rejected):
    """The prompt does not fit this model's context: a longer-context candidate may serve."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one deployment."""

    ref: str
    status: int | None
    error: str
    kind: str
    """The error class name (``RateLimited``, ``Unavailable``, ...)."""

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else self.kind
        return f"{self.ref}: {status}: {self.error}"


class AllProvidersFailed(RouterError):
    """Every attempt failed. ``attempts`` lists them in order; ``excluded`` the policy drops."""

    def __init__(
        self, model: str, attempts: Sequence[Attempt], excluded: Mapping[str, str] | None = None
    ) -> None:
        self.model = model
        self.attempts = list(attempts)
        self.excluded = dict(excluded or {})
        lines = "".join(f"\n  {a}" for a in self.attempts)
        super().__init__(f"all {len(self.attempts)} attempts for {model!r} failed:{lines}")


class DeadlineExceeded(AllProvidersFailed):
    """``fallback.deadline_seconds`` ran out before any attempt succeeded."""

    def __init__(self, model: str, attempts: Sequence[Attempt], seconds: float | None) -> None:
        super().__init__(model, attempts)
        self.seconds = seconds
        self.args = (f"deadline of {seconds} s for {model!r} exceeded; {self.args[0]}",)


class StreamInterrupted(RouterError):
    """A stream broke after chunks had reached the caller; it is not replayed elsewhere.

    ``received`` is the text content delivered before the break, ``chunks`` how many
    chunks were delivered, ``cause`` the upstream failure.
    """

    def __init__(self, ref: str, received: str, chunks: int, cause: UpstreamError) -> None:
        self.ref = ref
        self.received = received
        self.chunks = chunks
        self.cause = cause
        super().__init__(f"stream from {ref} broke after {chunks} chunks: {cause}")


_BY_STATUS: dict[int, type[UpstreamError]] = {429: RateLimited, 408: Timeout}


def error_for_status(status: int, body: Any = None) -> type[UpstreamError]:
    """The error class for an HTTP error status (and, for context and spend-limit errors,
    the body)."""
    if status == 429 and "spend_limit" in str(body).lower():
        # Anthropic's enforced_spend_limit_reached: a billing stop, not congestion.
        # Waiting does not help; another provider may serve.
        return Rejected
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return Unavailable
    if status in (400, 413, 422) and _mentions_context(body):
        return ContextTooLong
    return Rejected


def _mentions_context(body: Any) -> bool:
    text = str(body).lower() if body is not None else ""
    return "context_length" in text or "context length" in text or "too long" in text


class StateUnavailable(RouterError):
    """The shared state (``state: backend: redis``) cannot be reached and the configuration
    says to fail rather than route on this process's state (``on_unavailable: fail``).

    ``since`` is how many seconds the outage has lasted. The message never carries the
    URL (it may hold a password).
    """

    def __init__(self, since: float) -> None:
        self.since = since
        super().__init__(f"shared state unavailable for {since:.1f} s (state.on_unavailable: fail)")
