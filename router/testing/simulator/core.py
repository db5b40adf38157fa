"""The :class:`Simulator`: the simulated providers on one loopback HTTP server, their
scripts, records, keys, catalogs and prefix caches."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from router.testing.simulator.answers import AnswerLength
from router.testing.simulator.catalogs import CATALOGS
from router.testing.simulator.http import (
    _UNSET,
    Recorded,
    Reply,
    _Cacheable,
    _Call,
    _merge,
    _phrase,
    _Response,
    _Server,
)
from router.testing.simulator.model import (
    _answer,
    _count,
    _Element,
    _elements,
)
from router.testing.simulator.openai import _SimProvider
from router.testing.simulator.providers import _PROVIDERS, API_KEYS, _provider
from router.testing.simulator.sandbox import ENV_PREFIXES, REMOTE, config_yaml, environ


@dataclass(frozen=True)
class _CacheRule:
    """A provider's prefix-caching rule (see :meth:`Simulator.set_cache_rule`)."""

    min_tokens: int = 1024
    step: int = 128
    lifetime: float = 300.0
    enabled: bool = True
    all_models: bool = False

    def rounded(self, tokens: int) -> int:
        """Cached tokens for a shared prefix of ``tokens``: 0 below the minimum, else
        the minimum plus whole steps."""
        if tokens < self.min_tokens or tokens <= 0:
            return 0
        return self.min_tokens + (tokens - self.min_tokens) // self.step * self.step


_DEFAULT_RULE = _CacheRule()


@dataclass(frozen=True)
class _Profile:
    """How fast a deployment answers (see :meth:`Simulator.set_latency`)."""

    ttft: float = 0.0
    tokens_per_second: float | None = None
    jitter: float = 0.0


@dataclass
class _Window:
    """An enforced rate limit (see :meth:`Simulator.set_rate_limit`): requests and tokens
    in a moving window of ``seconds``, on the real monotonic clock."""

    requests: int | None
    tokens: int | None
    seconds: float
    style: str
    used: deque[tuple[float, int]] = field(default_factory=deque)  # (time, tokens)
    refused: int = 0

    def _expire(self, now: float) -> None:
        while self.used and self.used[0][0] <= now - self.seconds:
            self.used.popleft()

    def admit(self, now: float, tokens: int) -> tuple[bool, dict[str, str]]:
        """Whether a request of ``tokens`` fits now (then it is counted), and the headers
        announcing what is left after it."""
        self._expire(now)
        used_tokens = sum(t for _, t in self.used)
        fits = (self.requests is None or len(self.used) < self.requests) and (
            self.tokens is None or used_tokens + tokens <= self.tokens
        )
        if fits:
            self.used.append((now, tokens))
            used_tokens += tokens
        else:
            self.refused += 1
        reset = 0.0 if not self.used else max(0.0, self.used[0][0] + self.seconds - now)
        headers: dict[str, str] = {}
        for kind, limit, used in (
            ("requests", self.requests, len(self.used)),
            ("tokens", self.tokens, used_tokens),
        ):
            if limit is None:
                continue
            left = str(max(0, limit - used))
            if self.style == "anthropic":
                at = datetime.now(UTC) + timedelta(seconds=reset)
                headers[f"anthropic-ratelimit-{kind}-limit"] = str(limit)
                headers[f"anthropic-ratelimit-{kind}-remaining"] = left
                headers[f"anthropic-ratelimit-{kind}-reset"] = at.isoformat(timespec="seconds")
            else:
                headers[f"x-ratelimit-limit-{kind}"] = str(limit)
                headers[f"x-ratelimit-remaining-{kind}"] = left
                headers[f"x-ratelimit-reset-{kind}"] = f"{reset:.3f}s"
        if not fits:
            headers["retry-after"] = str(max(1, math.ceil(reset)))
        return fits, headers


def _positive_rate(value: object) -> bool:
    """Whether ``value`` is a price above zero (a number or a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return False
    try:
        return Decimal(str(value)) > 0
    except (InvalidOperation, ValueError):
        return False


def _prefix_keys(elements: list[_Element]) -> list[bytes]:
    """One key per prefix of ``elements`` (k = 1..n): a hash chained over the identities."""
    keys: list[bytes] = []
    digest = b""
    for element in elements:
        digest = hashlib.blake2b(digest + element.identity.encode(), digest_size=16).digest()
        keys.append(digest)
    return keys


class Simulator:
    """The simulated providers on one loopback HTTP server (see the module docstring).

    ``with Simulator() as sim:`` starts and stops it; all methods are thread-safe.
    ``port``: the loopback port to bind (0, the default: any free one).
    ``answer_length``: how long every written answer is (an :class:`AnswerLength`, or an
    int for a fixed number of tokens); None, the default: the short echo
    ``"You said: ..."``. :meth:`set_answer_length` changes it per provider or model.
    ``image_tokens``: the prompt tokens each image part counts (0, the default: none).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        answer_length: AnswerLength | int | None = None,
        image_tokens: int = 0,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            msg = f"port must be an int in 0-65535, not {port!r}"
            raise ValueError(msg)
        if _count(image_tokens) is None:
            msg = f"image_tokens must be an int >= 0, not {image_tokens!r}"
            raise ValueError(msg)
        self._image_tokens = image_tokens
        self._port = port
        self._default_length = _length_arg(answer_length)
        self._lengths: dict[tuple[str | None, str | None], AnswerLength | None] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._scripts: dict[str, deque[Reply]] = {}
        self._records: dict[str, list[Recorded]] = {}
        self._down: set[str] = set()
        self._catalogs: dict[str, object] = {}
        self._keys: dict[str, str] = {}
        self._cache_read: dict[str, int] = {}
        self._cache_write: dict[str, int] = {}
        self._rules: dict[str, _CacheRule] = {}
        # provider -> (model, prefix key) -> the simulator time of its last use
        self._prefixes: dict[str, dict[tuple[str, bytes], float]] = {}
        self._clock = 0.0
        self._profiles: dict[tuple[str, str | None], _Profile] = {}
        self._windows: dict[tuple[str, str | None], _Window] = {}
        self._random = random.Random(0)
        self.reset()

    # lifecycle

    def start(self) -> Simulator:
        """Bind 127.0.0.1 (on a free port unless one was given) and serve in a daemon
        thread; returns self. Raises ``OSError`` when the port is taken."""
        if self._server is None:
            self._server = _Server(self, self._port)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
                name="router-simulator",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; a no-op when not running."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on (only once started)."""
        if self._server is None:
            msg = "the simulator is not running: call start() first"
            raise RuntimeError(msg)
        return self._server.server_port

    def base_url(self, provider: str) -> str:
        """The base URL a router config should use for ``provider``."""
        p = _provider(provider)
        return f"http://127.0.0.1:{self.port}{p.mount}{p.api_root}"

    # a sandbox: what points a router at the running simulator

    def environ(self, *providers: str) -> dict[str, str]:
        """The environment variables that point the YAML of :meth:`config_yaml` (and the
        documented ``examples/router.yaml``) at this simulator: ``<PREFIX>_BASE_URL`` and
        the key variable of each provider (default: all six; ``PINSTRIPES_API_KEY``,
        ``ROUTSTR_CASHU_TOKEN``, ... as :data:`ENV_PREFIXES` names them).

        ``os.environ.update(sim.environ())`` (or pytest's ``monkeypatch.setenv``), then
        ``Router.from_yaml(...)`` routes to the simulator.
        """
        return environ(providers or tuple(ENV_PREFIXES), self.base_url, self.api_key)

    def config_yaml(self, *providers: str) -> str:
        """A ready router YAML over ``providers`` reading its URLs and keys from
        :meth:`environ`'s variables; ``router sim`` writes it. Default: the five remote
        providers (the vLLM-like ``openai`` server is free, so it would win every request)."""
        for provider in providers:
            _provider(provider)  # an unknown name fails here, with the known ones
        return config_yaml(providers or REMOTE)

    def config(self, *providers: str, **top: Any) -> dict[str, Any]:
        """A router configuration (a mapping for ``Router.from_config``) with one provider
        per simulated kind (default: all six), each named after its kind, URLs and keys
        written in; ``top`` adds sections (``policy=[...]``, ``models={...}``)."""
        return {
            "providers": [
                {
                    "name": provider,
                    "kind": provider,
                    "base_url": self.base_url(provider),
                    "api_key": self.api_key(provider),
                }
                for provider in providers or tuple(ENV_PREFIXES)
            ],
            **top,
        }

    # scripting and inspection

    def api_key(self, provider: str) -> str:
        """The key ``provider`` currently accepts (``API_KEYS`` unless changed)."""
        with self._lock:
            return self._keys[_provider(provider).name]

    def set_api_key(self, provider: str, key: str) -> None:
        """Make ``provider`` accept ``key`` instead (until :meth:`reset`)."""
        with self._lock:
            self._keys[_provider(provider).name] = key

    def script(self, provider: str, replies: Iterable[Reply]) -> None:
        """Append ``replies`` to ``provider``'s queue: one per request, any route."""
        queued = list(replies)
        if not all(isinstance(r, Reply) for r in queued):
            msg = "script() takes Reply objects"
            raise TypeError(msg)
        with self._lock:
            self._scripts[_provider(provider).name].extend(queued)

    def catalog(self, provider: str) -> object:
        """A deep copy of the payload ``provider``'s catalog route serves now."""
        with self._lock:
            return copy.deepcopy(self._catalogs[_provider(provider).name])

    def set_catalog(self, provider: str, payload: object) -> None:
        """Serve ``payload`` (any JSON-able object, deep-copied) on the catalog route."""
        json.dumps(payload)  # fail here, not in the server thread
        with self._lock:
            self._catalogs[_provider(provider).name] = copy.deepcopy(payload)

    def set_down(self, provider: str, down: bool) -> None:
        """While down, every request to ``provider`` not answered by the script gets 503."""
        name = _provider(provider).name
        with self._lock:
            if down:
                self._down.add(name)
            else:
                self._down.discard(name)

    def set_cached_tokens(self, provider: str, tokens: int) -> None:
        """Make every chat answer of ``provider`` report ``min(tokens, prompt)`` cached
        prompt tokens (until :meth:`reset`). Majestix reports no tokens.

        This override wins over the prefix cache: while it (or
        :meth:`set_cache_write_tokens`) is set, ``provider``'s answers report exactly the
        overrides (0 for one not set) and its prefix cache is neither read nor written.
        """
        name = _provider(provider).name
        with self._lock:
            self._cache_read[name] = _tokens_arg(tokens)

    def set_cache_write_tokens(self, provider: str, tokens: int) -> None:
        """Make PipeLLM's Anthropic route (``/v1/messages``) report
        ``min(tokens, prompt - cached)`` as ``cache_creation_input_tokens``."""
        name = _provider(provider).name
        if name != "pipellm":
            msg = f"cache-write tokens are reported by pipellm's /v1/messages only, not {name!r}"
            raise ValueError(msg)
        with self._lock:
            self._cache_write[name] = _tokens_arg(tokens)

    def set_cache_rule(
        self,
        provider: str,
        *,
        min_tokens: int = 1024,
        step: int = 128,
        lifetime: float = 300.0,
        enabled: bool = True,
        all_models: bool = False,
    ) -> None:
        """Set how ``provider`` caches prompt prefixes (until :meth:`reset`).

        ``min_tokens``: shortest prefix cached; ``step``: automatic caching rounds the
        cached tokens above ``min_tokens`` down to whole steps (the Anthropic route does
        not); ``lifetime``: seconds a prefix stays cached after its last use, on the
        simulator's clock (:meth:`advance`); ``enabled=False``: a deployment that never
        reports cache hits; ``all_models=True``: cache every model, whatever its catalog
        lists (how to make the vLLM-like ``openai`` server cache). Every argument left
        out takes its default; the cached prefixes are kept.
        """
        name = _provider(provider).name
        if _count(min_tokens) is None:
            msg = f"min_tokens must be an int >= 0, not {min_tokens!r}"
            raise ValueError(msg)
        if _count(step) is None or step < 1:
            msg = f"step must be an int >= 1, not {step!r}"
            raise ValueError(msg)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            msg = f"lifetime must be a number of seconds > 0, not {lifetime!r}"
            raise ValueError(msg)
        rule = _CacheRule(min_tokens, step, float(lifetime), bool(enabled), bool(all_models))
        with self._lock:
            self._rules[name] = rule

    def set_answer_length(
        self,
        length: AnswerLength | int | None,
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        """Make written answers ``length`` long (until :meth:`reset`): an
        :class:`AnswerLength`, an int (a fixed number of tokens), or None (the short echo
        ``"You said: ..."``). For ``model`` of ``provider``, every model of ``provider``,
        or (neither given) every provider; the narrowest setting wins, and one left unset
        falls back to the constructor's ``answer_length``. Tool calls keep their length."""
        if model is not None and provider is None:
            msg = "set_answer_length: a model needs its provider"
            raise ValueError(msg)
        checked = _length_arg(length)
        name = None if provider is None else _provider(provider).name
        with self._lock:
            self._lengths[name, model] = checked

    @property
    def image_tokens(self) -> int:
        """The prompt tokens each image part of a chat request counts (a constructor
        argument; 0 by default)."""
        return self._image_tokens

    def answer_length(self, provider: str, model: str) -> AnswerLength | None:
        """How long ``provider``'s written answers from ``model`` are now (None: the echo)."""
        name = _provider(provider).name
        with self._lock:
            for scope in ((name, model), (name, None), (None, None)):
                if scope in self._lengths:
                    return self._lengths[scope]
            return self._default_length

    def set_latency(
        self,
        provider: str,
        model: str | None = None,
        *,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        jitter: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Make ``provider``'s chat answers (of ``model``, or every model) take time, in
        real seconds (until :meth:`reset`): ``ttft`` before the first event of a stream,
        then the completion tokens at ``tokens_per_second``, spread over the events; a
        complete answer arrives after the same total. ``jitter`` scales each answer's
        TTFT and throughput by a log-normal factor of that sigma (``seed``: the random
        sequence, for a repeatable run). Scripted bodies and errors are not paced."""
        if isinstance(ttft, bool) or not isinstance(ttft, int | float) or ttft < 0:
            msg = f"ttft must be a number of seconds >= 0, not {ttft!r}"
            raise ValueError(msg)
        if tokens_per_second is not None and not tokens_per_second > 0:
            msg = f"tokens_per_second must be > 0, not {tokens_per_second!r}"
            raise ValueError(msg)
        if not jitter >= 0:
            msg = f"jitter must be >= 0, not {jitter!r}"
            raise ValueError(msg)
        name = _provider(provider).name
        with self._lock:
            self._profiles[name, model] = _Profile(float(ttft), tokens_per_second, jitter)
            if seed is not None:
                self._random.seed(seed)

    def set_rate_limit(
        self,
        provider: str,
        model: str | None = None,
        *,
        requests: int | None = None,
        tokens: int | None = None,
        window: float = 60.0,
        style: str = "openai",
    ) -> None:
        """Enforce a rate limit on ``provider``'s chat route (for ``model``, or one shared
        by every model) until :meth:`reset`: at most ``requests`` requests and ``tokens``
        tokens (prompt + completion of the answer) in any ``window`` real seconds. Every
        chat answer announces what is left in headers (``style``: ``openai``,
        ``x-ratelimit-remaining-requests`` / ``-tokens`` and ``x-ratelimit-reset-*``; or
        ``anthropic``, ``anthropic-ratelimit-*``); a request over the limit gets a 429
        with them and ``Retry-After``. :meth:`refused` counts those 429s."""
        if style not in ("openai", "anthropic"):
            msg = f"style must be 'openai' or 'anthropic', not {style!r}"
            raise ValueError(msg)
        for label, value in (("requests", requests), ("tokens", tokens)):
            if value is not None and _count(value) is None:
                msg = f"{label} must be an int >= 0, not {value!r}"
                raise ValueError(msg)
        if not window > 0:
            msg = f"window must be a number of seconds > 0, not {window!r}"
            raise ValueError(msg)
        name = _provider(provider).name
        with self._lock:
            self._windows[name, model] = _Window(requests, tokens, float(window), style)

    def refused(self, provider: str, model: str | None = None) -> int:
        """How many requests the rate limit of ``provider`` (``model``) refused with 429."""
        name = _provider(provider).name
        with self._lock:
            window = self._windows.get((name, model))
            return 0 if window is None else window.refused

    def now(self) -> float:
        """The simulator's clock, in seconds (starts at 0; only :meth:`advance` moves it)."""
        with self._lock:
            return self._clock

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward by ``seconds`` (>= 0): cached prefixes age
        without the test sleeping. :meth:`reset` does not turn it back."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            msg = f"seconds must be a number >= 0, not {seconds!r}"
            raise ValueError(msg)
        with self._lock:
            self._clock += seconds

    def cache_size(self, provider: str) -> int:
        """How many prefixes ``provider``'s caches hold now (all models, expired ones
        dropped)."""
        name = _provider(provider).name
        with self._lock:
            self._expire(name)
            return len(self._prefixes[name])

    def _expire(self, name: str) -> dict[tuple[str, bytes], float]:
        """``name``'s cached prefixes, those past their lifetime dropped (lock held)."""
        held = self._prefixes[name]
        oldest = self._clock - self._rules.get(name, _DEFAULT_RULE).lifetime
        for key in [k for k, used in held.items() if used < oldest]:
            del held[key]
        return held

    def _prompt_cache(
        self,
        provider: _Cacheable,
        call: _Call,
        entry: Mapping[str, Any],
        body: Mapping[str, Any],
        *,
        explicit: bool,
    ) -> tuple[int, int]:
        """Cache-read and cache-write tokens of an answer to ``body`` on ``provider``.

        Reads ``provider``'s prefix cache for the model (``entry`` is its catalog
        entry) and, when the answer completes, writes the prompt's prefixes to it:
        automatically, or at ``cache_control`` breakpoints when ``explicit``.
        """
        name, model = provider.name, str(body.get("model"))
        elements = _elements(body, self._image_tokens)
        totals = [0]  # totals[k] = tokens of the first k elements
        for element in elements:
            totals.append(totals[-1] + element.tokens)
        prompt = totals[-1]
        keys = _prefix_keys(elements)
        with self._lock:
            if name in self._cache_read or name in self._cache_write:
                read = min(self._cache_read.get(name, 0), prompt)
                return read, min(self._cache_write.get(name, 0), prompt - read)
            rule = self._rules.get(name, _DEFAULT_RULE)
            if not rule.enabled:
                return 0, 0
            if not rule.all_models and not _positive_rate(provider.cache_read_rate(entry)):
                return 0, 0
            held = self._expire(name)
            now = self._clock
            if explicit:
                ends = [k for k, element in enumerate(elements, 1) if element.breakpoint]
                if not ends:
                    return 0, 0
                last = ends[-1]
            else:
                ends, last = list(range(1, len(elements) + 1)), len(elements)
            hit = max(
                (k for k in range(1, last + 1) if (model, keys[k - 1]) in held),
                default=0,
            )
            read = totals[hit] if totals[hit] >= rule.min_tokens else 0
            if call.completes:
                for k in range(1, hit + 1):  # using a prefix refreshes it
                    if (model, keys[k - 1]) in held:
                        held[model, keys[k - 1]] = now
                for k in ends:
                    if totals[k] >= rule.min_tokens and totals[k] > 0:
                        held[model, keys[k - 1]] = now
        if explicit:
            written = totals[last] - read if totals[last] >= rule.min_tokens else 0
            return read, max(written, 0)
        return min(rule.rounded(read), prompt), 0

    def requests(self, provider: str) -> list[Recorded]:
        """Every request ``provider`` received (401s included), oldest first."""
        with self._lock:
            return list(self._records[_provider(provider).name])

    def reset(self) -> None:
        """Clear scripts, records, down flags and cache-token settings; restore the
        default catalogs, keys and cache rules; empty every prefix cache (the clock
        keeps its time); answers take the constructor's ``answer_length`` again."""
        with self._lock:
            self._lengths = {}
            self._scripts = {name: deque() for name in _PROVIDERS}
            self._records = {name: [] for name in _PROVIDERS}
            self._down = set()
            self._catalogs = {name: copy.deepcopy(CATALOGS[name]) for name in _PROVIDERS}
            self._keys = dict(API_KEYS)
            self._cache_read = {}
            self._cache_write = {}
            self._rules = {}
            self._prefixes = {name: {} for name in _PROVIDERS}
            self._profiles = {}
            self._windows = {}

    # dispatch (called from the server's threads)

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Response:
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        provider = next(
            (p for p in _PROVIDERS.values() if path == p.mount or path.startswith(p.mount + "/")),
            None,
        )
        if provider is None:
            return _Response.of_json(404, {"error": f"no simulated provider at {path}"})
        rest = path[len(provider.mount) :] or "/"
        with self._lock:
            self._records[provider.name].append(Recorded(method, target, headers, body))
            queue = self._scripts[provider.name]
            reply = queue.popleft() if queue else None
            down = provider.name in self._down
            key = self._keys[provider.name]
        if reply is not None and reply.delay:
            time.sleep(reply.delay)
        if reply is not None and reply.scripted_body:
            response = self._scripted(provider, rest, reply)
        else:
            call = _Call(self, method, rest, query, headers, body, key, reply)
            chat = None if down else _chat(method, body, provider.name, self)
            limited: dict[str, str] = {}
            if chat is not None and provider.authorized(headers, key):
                admitted, limited = self._admit(provider.name, *chat)
                if not admitted:
                    message = "Rate limit reached (simulated): retry after the reset"
                    payload = provider.error_payload(429, message, rest)
                    return _Response.of_json(429, payload, limited)
            response = self._normal(provider, call, down, key)
            if chat is not None and response.status == 200:
                response = self._paced(provider.name, chat, response, limited)
            if reply is not None and reply.headers:
                response = replace(response, headers=_merge(response.headers, reply.headers))
        if reply is not None and reply.cut_after is not None:
            response = response.broken(reply.cut_after)
        return response

    def _admit(
        self, name: str, model: str, tokens: int, _completion: int
    ) -> tuple[bool, dict[str, str]]:
        """Whether the rate limit of ``name`` (``model``) takes a request of ``tokens``."""
        with self._lock:
            window = self._windows.get((name, model)) or self._windows.get((name, None))
            if window is None:
                return True, {}
            return window.admit(time.monotonic(), tokens)

    def _paced(
        self,
        name: str,
        chat: tuple[str, int, int],
        response: _Response,
        limited: Mapping[str, str],
    ) -> _Response:
        """``response`` with the deployment's latency profile and rate-limit headers."""
        model, _tokens, completion = chat
        headers = _merge(response.headers, limited) if limited else response.headers
        with self._lock:
            profile = self._profiles.get((name, model)) or self._profiles.get((name, None))
            if profile is None:
                return replace(response, headers=headers)
            scale = self._random.lognormvariate(0, profile.jitter) if profile.jitter else 1.0
            speed = self._random.lognormvariate(0, profile.jitter) if profile.jitter else 1.0
        ttft = profile.ttft * scale
        tps = profile.tokens_per_second
        generation = 0.0 if tps is None else completion / (tps / speed)
        if response.events is not None:
            gap = generation / max(1, len(response.events) - 1)
            return replace(response, headers=headers, ttft=ttft, gap=gap)
        return replace(response, headers=headers, ttft=ttft, gap=generation)

    @staticmethod
    def _scripted(provider: _SimProvider, path: str, reply: Reply) -> _Response:
        if reply.json is not _UNSET:
            return _Response.of_json(reply.status, reply.json, reply.headers)
        if reply.body is not None:
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            html = data.lstrip().startswith(b"<")
            kind = "text/html; charset=utf-8" if html else "application/json"
            return _Response(reply.status, data, _merge({"Content-Type": kind}, reply.headers))
        message = f"{_phrase(reply.status)} (simulated)"
        payload = provider.error_payload(reply.status, message, path)
        return _Response.of_json(reply.status, payload, reply.headers)

    @staticmethod
    def _normal(provider: _SimProvider, call: _Call, down: bool, key: str) -> _Response:
        def error(status: int, message: str, headers: Mapping[str, str] = {}) -> _Response:
            payload = provider.error_payload(status, message, call.path)
            return _Response.of_json(status, payload, headers)

        if down:
            return error(503, f"{provider.name} is temporarily unavailable (simulated outage)")
        if not provider.authorized(call.headers, key):
            return error(401, "Invalid or missing API key")
        handler = provider.routes.get((call.method, call.path))
        if handler is not None:
            return handler(call)
        allowed = sorted(m for m, p in provider.routes if p == call.path)
        if allowed:
            return error(405, "Method not allowed", {"Allow": ", ".join(allowed)})
        return error(404, f"Not found: {call.method} {call.path}")


def _chat(method: str, body: bytes, provider: str, sim: Simulator) -> tuple[str, int, int] | None:
    """(model, prompt + completion tokens, completion tokens) of a chat request to
    ``provider`` as ``sim`` answers it, or None for anything else."""
    if method != "POST" or not body:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        return None
    limit = payload.get("max_completion_tokens")  # as the Chat Completions route reads it
    limit = payload.get("max_tokens") if limit is None else limit
    try:
        length = sim.answer_length(provider, str(payload.get("model")))
        answer = _answer(payload, _count(limit), length, image_tokens=sim.image_tokens)
        prompt = answer.prompt
    except (TypeError, ValueError, AttributeError):
        return None
    return str(payload.get("model")), prompt + answer.completion, answer.completion


def _length_arg(length: object) -> AnswerLength | None:
    """``length`` as an :class:`AnswerLength` (an int is a fixed number of tokens)."""
    if length is None or isinstance(length, AnswerLength):
        return length
    if isinstance(length, int) and not isinstance(length, bool):
        return AnswerLength(length)
    msg = f"answer_length must be an AnswerLength, an int or None, not {length!r}"
    raise TypeError(msg)


def _tokens_arg(tokens: int) -> int:
    if _count(tokens) is None:
        msg = f"tokens must be an int >= 0, not {tokens!r}"
        raise ValueError(msg)
    return tokens
