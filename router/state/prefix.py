"""The prefix-cache model: which deployment is warm for a request, and how warm.

For every answered request the router remembers, per deployment, the prefixes it sent
(a chain of hashes over a canonical serialization of tools, system and messages, cut
at message boundaries and at fixed-size blocks inside long messages). A new request's
expected cached tokens on a deployment are the longest remembered prefix it shares,
still within the provider's cache lifetime, rounded down by the provider's caching
rule, times the deployment's learned hit rate: how many cached tokens its usage
actually reported against how many were predicted. The same memory calibrates the
prompt-token estimate against the ``prompt_tokens`` providers report.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cachetools import LRUCache
from pydantic import BaseModel, ConfigDict, Field

from router.types import CHARS_PER_TOKEN, ChatRequest

__all__ = [
    "BLOCK_CHARS",
    "HIT_RATE_PRIOR",
    "LEARNING_ALPHA",
    "CacheOutlook",
    "CacheRule",
    "MemoryPrefixes",
    "Prefix",
    "PrefixState",
    "hit_ratio",
    "prefix_chain",
    "token_ratio",
]

BLOCK_CHARS = 512
"""Long message contents are hashed in blocks of this many characters (~128 tokens)."""


class CacheRule(BaseModel):
    """How a provider caches prompt prefixes (the YAML ``providers[].cache`` block)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    mode: Literal["automatic", "explicit", "none"] = "automatic"
    """``automatic``: every prompt is cached (OpenAI style); ``explicit``: only up to
    ``cache_control`` breakpoints (Anthropic); ``none``: no caching assumed."""
    min_tokens: int = Field(default=1024, ge=0)
    """Shortest prefix the provider caches."""
    step: int = Field(default=128, ge=1)
    """Above ``min_tokens``, cached lengths grow in steps of this many tokens."""
    lifetime: float = Field(default=300.0, gt=0)
    """Seconds a cached prefix stays warm after its last use. With explicit caching, a
    lifetime over 300 s asks for Anthropic's one-hour cache (``"ttl": "1h"`` on the
    router's breakpoints), whose writes cost the catalog's ``cache_write_1h`` rate."""

    @property
    def one_hour(self) -> bool:
        """Whether the router's breakpoints ask for the one-hour cache (lifetime > 5 min)."""
        return self.lifetime > 300

    def cacheable(self, tokens: int) -> int:
        """The cached tokens a shared prefix of ``tokens`` tokens yields under this rule."""
        if self.mode == "none" or tokens < self.min_tokens or tokens <= 0:
            return 0
        return self.min_tokens + (tokens - self.min_tokens) // self.step * self.step


NO_CACHE = CacheRule(mode="none")


@dataclass(frozen=True, slots=True)
class CacheOutlook:
    """What a deployment's prefix cache is expected to do for one request."""

    rule: CacheRule
    shared_tokens: int
    """Tokens of the longest prefix this deployment saw within the cache lifetime."""
    predicted_tokens: int
    """``shared_tokens`` rounded down by the rule: what a perfect cache would serve."""
    hit_rate: float
    """The deployment's learned share of predicted cached tokens really served."""
    write_tokens: int = 0
    """Tokens expected to be written at the cache-write premium (explicit caching)."""
    breakpoints: bool = False
    """Whether the router adds ``cache_control`` breakpoints to this request."""

    @property
    def cached_tokens(self) -> int:
        """Expected cached tokens: ``predicted_tokens`` times the hit rate."""
        return int(self.predicted_tokens * self.hit_rate)


@dataclass(frozen=True, slots=True)
class Prefix:
    """One prefix of a request: its hash and its estimated length in tokens."""

    digest: bytes
    tokens: int
    boundary: bool = False
    """Whether the prefix ends where a message (or the tools) ends."""


def _plain(value: Any) -> Any:
    # cache_control marks where to cache, not what: a breakpoint that moves to the newest
    # message each turn must not change the identity of the prefix before it.
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _elements(request: ChatRequest) -> list[str]:
    elements = []
    if request.tools:
        elements.append("tools\x00" + json.dumps(_plain(request.tools), sort_keys=True))
    for message in request.messages:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(_plain(content), sort_keys=True)
        extra = {k: v for k, v in message.items() if k not in ("role", "content", "cache_control")}
        elements.append(f"{message.get('role')}\x00{json.dumps(extra, sort_keys=True)}\x00{text}")
    return elements


def prefix_chain(request: ChatRequest) -> tuple[Prefix, ...]:
    """Every prefix of ``request`` at block and message boundaries, shortest first.

    Each hash covers everything before it, so equal hashes mean equal prefixes.
    """
    chain: list[Prefix] = []
    digest = b""
    chars = 0
    for element in _elements(request):
        for start in range(0, len(element), BLOCK_CHARS):
            block = element[start : start + BLOCK_CHARS]
            digest = hashlib.blake2b(digest + block.encode(), digest_size=16).digest()
            chars += len(block)
            last = start + BLOCK_CHARS >= len(element)
            chain.append(Prefix(digest, math.ceil(chars / CHARS_PER_TOKEN), boundary=last))
        # the end of an element is part of the identity: "ab" + "c" != "a" + "bc"
        digest = hashlib.blake2b(digest + b"\x01", digest_size=16).digest()
        if chain:
            chain[-1] = Prefix(digest, chain[-1].tokens, boundary=True)
    return tuple(chain)


def hit_ratio(predicted: int, reported: int) -> float | None:
    """One observation of a hit rate: reported over predicted cached tokens, in [0, 1]
    (None without a prediction: no evidence about the deployment's cache)."""
    if predicted <= 0:
        return None
    return min(1.0, max(0.0, reported / predicted))


def token_ratio(estimated: int, reported: int) -> float | None:
    """One observation of calibration: reported over estimated prompt tokens, in
    [0.25, 4] (None when either is not positive)."""
    if estimated <= 0 or reported <= 0:
        return None
    return min(4.0, max(0.25, reported / estimated))


HIT_RATE_PRIOR = 0.9
"""The hit rate before any evidence at all."""
LEARNING_ALPHA = 0.5
"""Weight of the newest observation in hit rates and calibration."""

LEARNED_MAX = 50_000
"""Most refs :meth:`MemoryPrefixes.learned` lists (it stops tracking beyond)."""


CALIBRATION_WEIGHT_TOKENS = 1_000
"""An estimate this long (or longer) counts fully when calibrating; a shorter one counts
in proportion, so a six-token request barely moves what long ones taught."""


def next_calibration(current: float | None, estimated: int, reported: int, alpha: float) -> float:
    """The prompt-token calibration of a deployment after it reported ``reported``
    tokens for a request estimated at ``estimated`` (both > 0).

    The ratio ``reported / estimated`` (clamped to 0.25-4) moves the calibration by a
    share ``weight`` of the way, ``weight = min(1, estimated / 1,000)``: the first
    observation from 1.0, later ones by ``alpha x weight`` (a moving average)."""
    ratio = min(4.0, max(0.25, reported / estimated))
    weight = min(1.0, estimated / CALIBRATION_WEIGHT_TOKENS)
    if current is None:
        return 1.0 + weight * (ratio - 1.0)
    return current + alpha * weight * (ratio - current)


class PrefixState(Protocol):
    """Where the prefix memory lives: in-process by default; a shared backend implements this."""

    def remember(self, ref: str, chain: Sequence[Prefix], lifetime: float | None = None) -> None:
        """``ref`` has just been sent a request with these prefixes; they stay warm for
        ``lifetime`` seconds after (the provider's cache lifetime; None: unknown)."""
        ...

    def longest(self, ref: str, chain: Sequence[Prefix], lifetime: float) -> int:
        """Tokens of the longest prefix of ``chain`` sent to ``ref`` within ``lifetime`` s."""
        ...

    def observe(self, ref: str, predicted: int, reported: int) -> None:
        """``ref`` reported ``reported`` cached tokens where ``predicted`` were expected."""
        ...

    def hit_rate(self, ref: str) -> float:
        """The learned share of predicted cached tokens that ``ref`` really serves."""
        ...

    def calibrate(self, key: str, estimated: int, reported: int) -> None:
        """A provider reported ``reported`` prompt tokens for an estimate of ``estimated``."""
        ...

    def calibration(self, key: str) -> float:
        """The learned ratio of reported to estimated prompt tokens (1.0 before evidence)."""
        ...


class MemoryPrefixes:
    """In-process prefix memory, LRU-bounded to ``maxsize`` remembered prefixes.

    Hit rates and calibration ratios are exponentially weighted moving averages
    (weight ``alpha`` on the newest observation). A deployment not yet observed is
    expected to hit as the caches observed so far do: the mean of their hit rates
    (``prior`` when none was); its own average starts at ``prior`` (as the shared
    state's does). The mean is of the rates this memory holds, so routers sharing a
    state agree on it.
    """

    def __init__(
        self,
        *,
        maxsize: int = 200_000,
        prior: float = HIT_RATE_PRIOR,
        alpha: float = LEARNING_ALPHA,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._seen: LRUCache[tuple[str, bytes], float] = LRUCache(maxsize)
        self._rates: LRUCache[str, float] = LRUCache(10_000)
        self._ratios: LRUCache[str, float] = LRUCache(10_000)
        self._prior = prior
        self._pooled: float | None = None  # the mean of _rates, None: to work out again
        self._alpha = alpha
        self._timer = timer
        self._lock = threading.Lock()
        self._learned: dict[str, None] = {}  # refs with any state, in first-learned order

    def __len__(self) -> int:
        return len(self._seen)

    def learned(self) -> set[str] | None:
        """The refs this memory has any state for (calibration, hit rate, prefixes): where
        a cost may differ from the list-price estimate. None once there are more than
        ``LEARNED_MAX`` of them (then the router judges every candidate)."""
        with self._lock:
            return set(self._learned) if len(self._learned) <= LEARNED_MAX else None

    def _learn(self, ref: str) -> None:
        if len(self._learned) <= LEARNED_MAX:
            self._learned[ref] = None

    def remember(self, ref: str, chain: Sequence[Prefix], lifetime: float | None = None) -> None:
        # ``longest`` is told the lifetime when it reads: the LRU bound is enough here.
        self.merge(ref, (prefix.digest for prefix in chain), self._timer())

    def merge(self, ref: str, digests: Iterable[bytes], at: float) -> None:
        """Remember ``digests`` for ``ref`` as sent at ``at`` (this memory's clock), keeping
        a later time already known (what another router sent, learned from a shared state)."""
        with self._lock:
            self._learn(ref)
            seen = self._seen
            for digest in digests:
                key = (ref, digest)
                if seen.get(key, at) <= at:
                    seen[key] = at

    def longest(self, ref: str, chain: Sequence[Prefix], lifetime: float) -> int:
        oldest = self._timer() - lifetime
        with self._lock:
            for prefix in reversed(chain):
                used = self._seen.get((ref, prefix.digest))
                if used is not None and used >= oldest:
                    return prefix.tokens
        return 0

    def observe(self, ref: str, predicted: int, reported: int) -> None:
        ratio = hit_ratio(predicted, reported)
        if ratio is None:
            return
        with self._lock:
            self._learn(ref)
            rate = self._rates.get(ref, self._prior)
            self._rates[ref] = (1 - self._alpha) * rate + self._alpha * ratio
            self._pooled = None

    def hit_rate(self, ref: str) -> float:
        with self._lock:
            rate = self._rates.get(ref)
            if rate is not None:
                return rate
            if self._pooled is None:
                rates = self._rates.values()
                self._pooled = sum(rates) / len(rates) if rates else self._prior
            return self._pooled

    def set_hit_rate(self, ref: str, rate: float) -> None:
        """Take ``rate`` as ``ref``'s hit rate (as a shared state computed it)."""
        with self._lock:
            self._learn(ref)
            self._rates[ref] = rate
            self._pooled = None

    def set_calibration(self, key: str, ratio: float) -> None:
        """Take ``ratio`` as ``key``'s calibration (as a shared state computed it)."""
        with self._lock:
            self._learn(key)
            self._ratios[key] = ratio

    def calibrate(self, key: str, estimated: int, reported: int) -> None:
        ratio = token_ratio(estimated, reported)
        if ratio is None:
            return
        with self._lock:
            self._learn(key)
            current = self._ratios.get(key)
            self._ratios[key] = next_calibration(current, estimated, reported, self._alpha)

    def calibration(self, key: str) -> float:
        if key not in self._ratios:  # nothing reported yet (or forgotten)
            return 1.0
        with self._lock:
            return self._ratios.get(key, 1.0)
