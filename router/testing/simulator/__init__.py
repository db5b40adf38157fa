"""A provider simulator: real HTTP on 127.0.0.1 in each provider's real wire format.

One :class:`Simulator` runs one ``ThreadingHTTPServer`` on a random loopback port and
mounts every simulated provider under its own path prefix (``/pinstripes/v1/models``,
``/pipellm/v1/models``, ...). Each provider serves its model catalog exactly as the
provider's API page (``/work/shared/seeds``) shows it, and checks that provider's auth.

Each provider also serves chat in its real format: OpenAI Chat Completions (pinstripes,
Routstr, OpenRouter, an OpenAI-compatible server, PipeLLM's ``openai`` family and its
converter route), Anthropic Messages (PipeLLM ``/v1/messages``) and Majestix's own SSE
events (``/inference-api/chat`` and ``/code``), streamed or not. The "model" behind them
is deterministic so that tests can predict every number:

- prompt tokens = :func:`prompt_tokens_of` the request body (4 characters per token);
- the answer is ``"You said: " + <last user text>`` cut to ``max_tokens`` words, one
  completion token per word; or, with an :class:`AnswerLength` (``Simulator(answer_length=
  ...)``, :meth:`Simulator.set_answer_length`), plain sentences of a realistic length, a
  fixed figure or a seeded draw around a typical one, cut to ``max_tokens`` with
  ``finish_reason: "length"`` (see :mod:`~router.testing.simulator.answers`);
- with tools and a user message last, the answer is one call to the first tool with
  arguments ``{"query": <last user text>}`` (completion tokens =
  ``count_tokens(json.dumps(arguments))``); with a tool result last it is
  ``"Tool said: " + <the result's text>``;
- cached prompt tokens come from a prefix cache per (provider, model) that behaves like
  the real providers' (see "Prefix caching" below), unless
  :meth:`Simulator.set_cached_tokens` / :meth:`Simulator.set_cache_write_tokens` fix them.

Prefix caching. A prompt is the ordered list of its *elements*: ``tools`` (if any), a
top-level ``system`` (Anthropic, Majestix ``/code``; if any), then each message. Two prompts
share a prefix of k elements when their first k elements serialize the same
(``json.dumps(..., sort_keys=True)``, ``cache_control`` markers left out, as a provider's
cache key ignores where the breakpoints sit); a prefix's tokens are its elements' tokens,
counted as :func:`prompt_tokens_of` counts them. Only models whose served catalog entry
has a cache-read rate cache (pinstripes ``pricing.cached_tokens``, OpenRouter and Routstr
``pricing.input_cache_read``, PipeLLM ``pricing.cache.read``; the vLLM-like ``openai``
server only with ``set_cache_rule("openai", all_models=True)``); Majestix reports no tokens.

- Automatic caching (every OpenAI Chat Completions route): after each successful answer
  every prefix of the prompt of at least ``min_tokens`` tokens is remembered with the
  simulator's time; a request's cached tokens are the tokens of its longest remembered
  prefix still within ``lifetime`` seconds of its last use, rounded down by the rule
  (0 below ``min_tokens``, else ``min_tokens + (t - min_tokens) // step * step``).
- Explicit caching (PipeLLM's Anthropic route ``/v1/messages``): only prefixes ending at an
  element that carries ``"cache_control": {"type": "ephemeral"}`` (a tool, a system block,
  a content block) are written and read. ``cache_read_input_tokens`` = tokens of the
  longest remembered breakpoint prefix shared (up to the request's last breakpoint),
  ``cache_creation_input_tokens`` = tokens from there to the request's last breakpoint,
  ``input_tokens`` = the rest. No breakpoint, no caching.

The rule per provider is :meth:`Simulator.set_cache_rule` (defaults: ``min_tokens=1024``,
``step=128``, ``lifetime=300``); time is the simulator's own clock, moved by
:meth:`Simulator.advance`. A failed request (an error status, a cut answer, an error
event) leaves the cache as it was.

Faults are scripted per provider: a queue of :class:`Reply` objects (429 with
``Retry-After``, 5xx, an HTML page, malformed JSON, a slow first byte, a cut stream or
body, an error event mid-stream) consumed one per request, and a "down" switch that
answers 503 to everything.

The package uses only the standard library and imports nothing from the rest of ``router``
so that it can run while the rest of the package is broken.

Modules, lowest first (each imports only those above it; none imports :class:`Simulator`):

- :mod:`~router.testing.simulator.answers`: answers of realistic length
  (:class:`AnswerLength`);
- :mod:`~router.testing.simulator.http`: replies, records, responses, the call a handler
  sees, the threaded server;
- :mod:`~router.testing.simulator.model`: the deterministic model (tokens, elements, answers);
- :mod:`~router.testing.simulator.openai`: OpenAI Chat Completions, the base provider, and
  pinstripes, Routstr, OpenRouter and the OpenAI-compatible server;
- :mod:`~router.testing.simulator.anthropic`: Anthropic Messages and PipeLLM;
- :mod:`~router.testing.simulator.majestix`: Majestix's inference-api;
- :mod:`~router.testing.simulator.providers`: the registry of providers and their keys;
- :mod:`~router.testing.simulator.catalogs`: the default catalogs;
- :mod:`~router.testing.simulator.sandbox`: the environment variables and YAML that point a
  router at a running simulator (``sim.environ()``, ``sim.config_yaml()``, ``router sim``);
- :mod:`~router.testing.simulator.core`: :class:`Simulator`.

Adding a route means adding one ``(method, path) -> handler`` entry to a provider's
``routes``; a handler takes a :class:`~router.testing.simulator.http._Call` and returns a
:class:`~router.testing.simulator.http._Response` (a JSON body, or SSE frames that are sent
as one HTTP chunk each). Adding a dialect means a module beside ``anthropic`` and
``majestix`` whose provider subclasses ``_SimProvider``, registered in ``providers``, with
its default catalog in ``catalogs``.
"""

from __future__ import annotations

from router.testing.simulator.answers import REALISTIC, REALISTIC_IMAGE_TOKENS, AnswerLength
from router.testing.simulator.catalogs import CATALOGS, ROUTSTR_LIVE_CATALOG
from router.testing.simulator.core import Simulator
from router.testing.simulator.http import Recorded, Reply
from router.testing.simulator.model import count_tokens, prompt_tokens_of
from router.testing.simulator.providers import API_KEYS, PROVIDERS

__all__ = [
    "API_KEYS",
    "CATALOGS",
    "PROVIDERS",
    "REALISTIC",
    "REALISTIC_IMAGE_TOKENS",
    "ROUTSTR_LIVE_CATALOG",
    "AnswerLength",
    "Recorded",
    "Reply",
    "Simulator",
    "count_tokens",
    "prompt_tokens_of",
]
