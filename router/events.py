"""What the observation hooks receive: one :class:`AttemptEvent` per try of a deployment,
one :class:`ResultEvent` per routed request.

Both are immutable records built after the fact (the request is not held up while a
plugin looks at them). Times are wall-clock seconds since the epoch (``started``) and
durations in seconds measured on the monotonic clock. Money is ``Decimal`` USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from router.planning.route import Route

__all__ = ["AttemptEvent", "ResultEvent"]


@dataclass(frozen=True, slots=True)
class AttemptEvent:
    """One try of one deployment for one request, successful or not."""

    request_id: int
    """Shared by the attempts and the result of one request (unique within a Router)."""
    number: int
    """1 for the first attempt of the request, 2 for the next, ..."""
    ref: str
    """The deployment tried (``provider:model id``)."""
    provider: str
    """The configured provider name."""
    model: str
    """The provider's model id."""
    stream: bool
    """Whether the request was streamed."""
    started: float
    """When the attempt began (``time.time()``)."""
    latency: float
    """Seconds from the attempt's start to its answer (for a stream: its first chunk) or
    its failure."""
    ttft: float | None = None
    """Seconds to the first chunk (streams that produced one); None otherwise."""
    status: int | None = None
    """HTTP status: 200 for a success, the provider's status for a failure, None for a
    failure without one (refused connection, timeout)."""
    error: str | None = None
    """What went wrong (redacted, as in ``route.attempts``); None for a success."""
    error_kind: str | None = None
    """The error's class name (``RateLimited``, ``Unavailable``, ...); None for a success."""

    @property
    def ok(self) -> bool:
        """Whether this attempt answered."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """The outcome of one routed request: answered, failed, or a stream left unfinished."""

    request_id: int
    """The ``request_id`` of its attempts."""
    model: str
    """The ``model`` the caller asked for (a ref, a group, ``auto``)."""
    stream: bool
    """Whether the request was streamed."""
    route: Route
    """Candidates, exclusions, failed attempts, who answered and the exact cost."""
    attempts: tuple[AttemptEvent, ...]
    """Every attempt, in order, the successful one last (empty when nothing was sent)."""
    started: float
    """When the router began routing the request (``time.time()``)."""
    latency: float
    """Seconds from then to the answer (a stream: to its last chunk) or the failure."""
    ttft: float | None = None
    """Seconds from the start to the first chunk the caller received (streams)."""
    provider: str | None = None
    """The configured provider that answered; None when none did."""
    response_model: str | None = None
    """The model the provider says answered (``model`` of its response)."""
    prompt_tokens: int | None = None
    """Prompt tokens billed (cached ones included); None when nothing was answered."""
    completion_tokens: int | None = None
    """Completion tokens billed."""
    cached_tokens: int | None = None
    """Prompt tokens read from the provider's cache."""
    usage_estimated: bool = False
    """True when the provider gave no token counts and the router estimated them."""
    cost: Decimal | None = None
    """Exact USD of the answer (``route.cost``): from the live prices and the usage, or the
    provider's own charge where it states one."""
    stated_cost: Decimal | None = None
    """The provider's own charge in USD where it states one (Majestix ``credits_used``)."""
    user: str | None = None
    """The request's OpenAI ``user`` field."""
    metadata: Mapping[str, str] | None = None
    """The request's ``metadata`` (a string map)."""
    client: str | None = None
    """The name of the client key the request came with (``router serve``), or the
    ``client`` passed to the Router's methods."""
    error: BaseException | None = None
    """Why the request failed (``AllProvidersFailed``, ``StreamInterrupted``,
    ``BudgetExceeded``, ...); None when it was answered or abandoned."""
    complete: bool = True
    """False for a stream the caller stopped reading or that broke after its first chunk:
    the tokens and cost are then the router's estimate of what was produced."""

    @property
    def ok(self) -> bool:
        """Whether the request was answered in full."""
        return self.error is None and self.complete
