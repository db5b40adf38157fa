"""Answers of realistic length: how many completion tokens a written answer has, and its
words.

By default the simulated model echoes the prompt (``"You said: ..."``, a handful of
tokens), which keeps every figure in the tests small and easy to predict. An
:class:`AnswerLength` makes written answers as long as real ones instead: a fixed number
of tokens, or a deterministic draw around a typical length. Tool calls keep their short
arguments either way (real ones are short too).

The draw depends only on the seed and the prompt's texts (the system prompt, then each
message's text pieces, in order; ids, roles and dialect left out), so the same
conversation gets the same length on every provider, every dialect and every run, in
any order of requests. The words are plain English sentences from a fixed list, chosen by
the same hash; one word is one completion token (the simulator's rule for answers).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["REALISTIC", "REALISTIC_IMAGE_TOKENS", "AnswerLength"]


@dataclass(frozen=True)
class AnswerLength:
    """How long the simulated model's written answers are, in completion tokens.

    ``AnswerLength(300)``: every answer has 300 tokens. ``AnswerLength(300, spread=0.3,
    seed=7)``: each answer's length is drawn uniformly from the whole numbers between
    ``round(300 * 0.7)`` and ``round(300 * 1.3)`` (210..390), deterministically from
    ``seed`` and the prompt's texts. Either way the request's ``max_tokens`` (or
    ``max_completion_tokens``) caps it, and an answer cut by the cap ends with
    ``finish_reason: "length"`` (Anthropic: ``stop_reason: "max_tokens"``).
    """

    typical: int
    """Completion tokens of an answer: the fixed figure, or the middle of the draw."""
    spread: float = 0.0
    """Half the width of the draw, as a share of ``typical`` (0 to 1; 0: fixed)."""
    seed: int = 0
    """Which draw: another seed gives other lengths and words for the same prompt."""

    def __post_init__(self) -> None:
        if isinstance(self.typical, bool) or not isinstance(self.typical, int):
            msg = f"AnswerLength.typical must be an int >= 1, not {self.typical!r}"
            raise TypeError(msg)
        if self.typical < 1:
            msg = f"AnswerLength.typical must be an int >= 1, not {self.typical!r}"
            raise ValueError(msg)
        spread = self.spread
        if isinstance(spread, bool) or not isinstance(spread, int | float):
            msg = f"AnswerLength.spread must be a number in 0-1, not {spread!r}"
            raise TypeError(msg)
        if not 0 <= spread <= 1 or math.isnan(spread):
            msg = f"AnswerLength.spread must be a number in 0-1, not {spread!r}"
            raise ValueError(msg)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            msg = f"AnswerLength.seed must be an int, not {self.seed!r}"
            raise TypeError(msg)

    @property
    def bounds(self) -> tuple[int, int]:
        """The shortest and longest lengths the draw gives (equal when fixed)."""
        low = max(1, round(self.typical * (1 - self.spread)))
        return low, max(low, round(self.typical * (1 + self.spread)))

    def draw(self, texts: Sequence[str]) -> int:
        """The length of the answer to a prompt whose texts are ``texts``, uncapped."""
        low, high = self.bounds
        if low == high:
            return low
        return low + _hash(self.seed, "length", _digest(texts)) % (high - low + 1)

    def words(self, texts: Sequence[str], count: int) -> tuple[str, ...]:
        """The ``count`` words of the answer to a prompt whose texts are ``texts``: whole
        sentences from a fixed list, in an order picked by the hash (none repeated before
        every one has been said), the last ones short enough to end the answer on a full
        stop at exactly ``count`` words. (A cut answer is the first words of the whole
        one: it stops mid-sentence, where it was cut.)"""
        digest = _digest(texts)
        # the body: every long sentence once, in an order fixed by the hash, then again
        order = sorted(_BODY, key=lambda s: _hash(self.seed, " ".join(s), digest))
        words: list[str] = []
        n = 0
        while count - len(words) > _LONGEST:
            words.extend(order[n % len(order)])
            n += 1
        while len(words) < count:
            fits = _closing(count - len(words))
            words.extend(fits[_hash(self.seed, f"closing {n}", digest) % len(fits)])
            n += 1
        return tuple(words)


REALISTIC = AnswerLength(300, spread=0.25, seed=7)
"""The answers of ``router demo`` and ``router sim``: 225-375 tokens, around the 300 the
router's cost estimates assume by default (``expected_output_tokens``)."""

REALISTIC_IMAGE_TOKENS = 255
"""The prompt tokens an image counts in ``router demo`` and ``router sim``
(``Simulator(image_tokens=...)``): what OpenAI bills for a small image in high detail,
85 + 170 for its one 512 x 512 tile. (The router's estimate assumes 765, a large image.)"""


def _closing(left: int) -> list[tuple[str, ...]]:
    """The sentences that can come next when ``left`` words remain (at most the longest
    sentence): those exactly that long, else the longer half of a pair that ends it (a
    short sign-off such as "Good luck." comes last)."""
    exact = [s for s in _SENTENCES if len(s) == left]
    return exact or [s for s in _SENTENCES if left - len(s) in _LENGTHS and 2 * len(s) > left]


def _digest(texts: Sequence[str]) -> bytes:
    """A fingerprint of the prompt's texts, read once per answer."""
    data = json.dumps(list(texts), ensure_ascii=False).encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def _hash(seed: int, purpose: str, digest: bytes) -> int:
    """A 64-bit number fixed by ``seed``, ``purpose`` and the prompt's ``digest`` (stable
    across runs, platforms and Python versions: no ``hash()``, no ``random``)."""
    data = f"{seed}\x00{purpose}\x00".encode() + digest
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


_SENTENCES: tuple[tuple[str, ...], ...] = tuple(
    tuple(sentence.split())
    for sentence in (
        "Here is a short answer, followed by the details that matter most.",
        "The main point is simple: start with the smallest step that could work.",
        "In practice, most cases need far less than the largest option available.",
        "It depends a little on the details, so let me explain the usual case first.",
        "First, check what you already have, because it often answers the question.",
        "Second, compare the options side by side before you commit to one of them.",
        "A good rule of thumb is to measure before you change anything important.",
        "If the first attempt fails, wait a moment and try again with the same request.",
        "Keep a record of what you tried, so that the next person can follow it.",
        "That way you spend less time guessing and more time on the real problem.",
        "Most of the cost comes from a few large items, not from the many small ones.",
        "When something looks wrong, the simplest explanation is usually the right one.",
        "You can always come back to this later and refine it step by step.",
        "There are a few exceptions, and they are worth knowing about in advance.",
        "For example, a busy service may ask you to slow down for a little while.",
        "In that case the polite answer is to wait as long as it asks and then retry.",
        "On the other hand, a permanent error will not go away however long you wait.",
        "So the question to ask is whether waiting can change the outcome at all.",
        "To sum up, choose the cheapest option that does the job well enough.",
        "Please share a little more context if your situation is different from this.",
        "The same idea applies to larger projects, only with more steps in between.",
        "Write down the goal in one sentence before you decide how to reach it.",
        "Small, steady improvements tend to add up faster than one big rewrite.",
        "Here is the reasoning behind that, step by step.",
        "The details below explain why this is so.",
        "Feel free to ask a follow-up question.",
        "Let me know how it goes.",
        "That is the short version.",
        "I hope that helps.",
        "Hope this helps.",
        "Good luck.",
        "Thanks.",
    )
)
"""The sentences answers are made of: plain words, one token each by the simulator's rule,
of every length from 1 word up, so that an answer of any length ends on a full stop."""

_LENGTHS = {len(s) for s in _SENTENCES}
_LONGEST = max(_LENGTHS)
_BODY = [s for s in _SENTENCES if len(s) >= 10]
"""The sentences the body of an answer is made of (the short ones only close it)."""
