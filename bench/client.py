"""One benchmark measurement in a fresh process; ``bench/run.py`` starts it and reads its JSON.

Subcommands (each prints one JSON object on the last line of stdout):

- ``load``: one contender, one mode (plain or stream), one concurrency; warm-up, then
  ``--requests`` requests timed: client CPU (``time.process_time``, every thread of this
  process), wall time, each request's latency;
- ``select``: ``router.explain`` (and the internal ``Planner.plan`` alone) over synthetic
  catalogs of the given sizes, through the default policy chain;
- ``profile``: cProfile of the Router's ``acomplete`` / ``astream`` at concurrency 1.

Module-level imports are the standard library only: what a contender needs is imported
by that contender, so its import cost and memory are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from upstream import (  # noqa: E402
    CHEAPEST,
    CHUNKS,
    MODEL_ID,
    PRICES_PER_MTOK,
    per_token,
    synthetic_id,
)

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Say hello in five words."},
]
MAX_TOKENS = 64
GROUP = "bench"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def base_url(port: int, index: int, chunks: int) -> str:
    segment = f"/c{chunks}" if chunks != CHUNKS else ""
    return f"http://127.0.0.1:{port}/p{index}{segment}/api/v1"


def router_yaml(port: int, chunks: int = CHUNKS, http: str | None = None) -> str:
    """The Router's config: four ``openrouter`` providers, one group of their deployments
    (``http``: the providers' async pool; default, the library's)."""
    lines = ["providers:"]
    for i in range(len(PRICES_PER_MTOK)):
        lines += [
            f"  - name: up{i}",
            "    kind: openrouter",
            f"    base_url: {base_url(port, i, chunks)}",
            "    api_key: bench-key",
        ]
        if http is not None:
            lines.append(f"    http: {http}")
    lines += ["models:", f"  {GROUP}:"]
    lines += [f"    - up{i}:{MODEL_ID}" for i in range(len(PRICES_PER_MTOK))]
    return "\n".join(lines) + "\n"


def versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


# -- contenders ---------------------------------------------------------------------------
#
# Each returns (call, close, packages): ``call()`` makes one request and returns the
# number of content chunks received (1 for a plain answer); ``close()`` releases the
# client. Sync contenders return a plain function, async ones a coroutine function.


def _sse_content(line: str) -> bool | None:
    """One line of an SSE answer: None at ``data: [DONE]``, else whether it carries content."""
    if not line.startswith("data: "):
        return False
    data = line[6:]
    if data == "[DONE]":
        return None
    payload = json.loads(data)
    return bool(payload["choices"] and payload["choices"][0]["delta"].get("content"))


def _count_sse_lines(lines: Any) -> int:
    chunks = 0
    for line in lines:
        content = _sse_content(line)
        if content is None:
            break
        chunks += content
    return chunks


def _raw_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL_ID, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def httpx_sync(port: int, stream: bool, chunks: int) -> tuple[Callable[[], int], Any, list[str]]:
    import httpx

    client = httpx.Client()
    url = base_url(port, CHEAPEST, chunks) + "/chat/completions"
    headers = {"Authorization": "Bearer bench-key"}
    body = _raw_body(stream)

    def plain() -> int:
        response = client.post(url, json=body, headers=headers)
        response.raise_for_status()
        return 1 if response.json()["choices"][0]["message"]["content"] else 0

    def streamed() -> int:
        with client.stream("POST", url, json=body, headers=headers) as response:
            response.raise_for_status()
            return _count_sse_lines(response.iter_lines())

    return (streamed if stream else plain), client.close, ["httpx"]


def httpx_async(
    port: int, stream: bool, chunks: int, keepalive: int | None = None, transport: Any = None
) -> tuple[Any, Any, list[str]]:
    import httpx

    if transport is not None:
        client = httpx.AsyncClient(transport=transport)
    elif keepalive is None:
        client = httpx.AsyncClient()  # default limits: 100 connections, 20 kept alive
    else:
        limits = httpx.Limits(max_connections=keepalive, max_keepalive_connections=keepalive)
        client = httpx.AsyncClient(limits=limits)
    url = base_url(port, CHEAPEST, chunks) + "/chat/completions"
    headers = {"Authorization": "Bearer bench-key"}
    body = _raw_body(stream)

    async def plain() -> int:
        response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        return 1 if response.json()["choices"][0]["message"]["content"] else 0

    async def streamed() -> int:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            response.raise_for_status()
            found = 0
            async for line in response.aiter_lines():
                content = _sse_content(line)
                if content is None:
                    break
                found += content
            return found

    return (streamed if stream else plain), client.aclose, ["httpx"]


def httpx_async_pooled(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    """Raw httpx ``AsyncClient`` whose pool keeps 64 connections alive (default: 20)."""
    return httpx_async(port, stream, chunks, keepalive=64)


def httpx_aiohttp(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    """Raw httpx ``AsyncClient`` on the aiohttp-backed transport (``httpx-aiohttp``)."""
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError as exc:
        raise Skip(f"httpx-aiohttp is not installed here ({exc})") from None
    call, close, packages = httpx_async(port, stream, chunks, transport=AiohttpTransport())
    return call, close, [*packages, "httpx-aiohttp", "aiohttp"]


def aiohttp_raw(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    import aiohttp

    session: aiohttp.ClientSession | None = None
    url = base_url(port, CHEAPEST, chunks) + "/chat/completions"
    headers = {"Authorization": "Bearer bench-key"}
    body = _raw_body(stream)

    def client() -> aiohttp.ClientSession:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession()
        return session

    async def plain() -> int:
        async with client().post(url, json=body, headers=headers) as response:
            response.raise_for_status()
            payload = await response.json()
            return 1 if payload["choices"][0]["message"]["content"] else 0

    async def streamed() -> int:
        async with client().post(url, json=body, headers=headers) as response:
            response.raise_for_status()
            found = 0
            async for raw in response.content:
                if raw.startswith(b"data: "):
                    data = raw[6:].rstrip()
                    if data == b"[DONE]":
                        break
                    payload = json.loads(data)
                    if payload["choices"] and payload["choices"][0]["delta"].get("content"):
                        found += 1
            return found

    async def close() -> None:
        if session is not None:
            await session.close()

    return (streamed if stream else plain), close, ["aiohttp"]


def openai_sdk(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    import openai

    client = openai.AsyncOpenAI(
        base_url=base_url(port, CHEAPEST, chunks), api_key="bench-key", max_retries=0
    )
    calls = _sdk_calls(client.chat.completions.create, MODEL_ID, stream)
    return calls, client.close, ["openai", "httpx"]


def _sdk_calls(
    create: Callable[..., Awaitable[Any]], model: str, stream: bool
) -> Callable[[], Awaitable[int]]:
    """One request through an OpenAI-shaped ``create`` (the SDK's, litellm's): the number
    of content chunks it gave."""

    async def plain() -> int:
        reply = await create(model=model, messages=MESSAGES, max_tokens=MAX_TOKENS)
        return 1 if reply.choices[0].message.content else 0

    async def streamed() -> int:
        found = 0
        response = await create(
            model=model,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in response:
            if chunk.choices and chunk.choices[0].delta.content:
                found += 1
        return found

    return streamed if stream else plain


ROUTER_PACKAGES = [
    "router",
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "pydantic",
    "pydantic-core",
    "tenacity",
    "httpx-sse",
]


def _router(port: int, chunks: int, http: str | None = None) -> Any:
    from router import Router

    return Router.from_yaml(router_yaml(port, chunks, http))


def _check_cost(reply: Any) -> None:
    if reply.provider != f"up{CHEAPEST}" or reply.usage is None or reply.usage.cost is None:
        msg = f"routed to {reply.provider!r} with usage {reply.usage!r}: expected up{CHEAPEST}"
        raise AssertionError(msg)


def router_sync(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    router = _router(port, chunks)

    def plain() -> int:
        reply = router.complete(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS)
        _check_cost(reply)
        return 1 if reply.choices[0].message.content else 0

    def streamed() -> int:
        found = 0
        last = None
        for chunk in router.stream(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS):
            if chunk.choices and chunk.choices[0].delta.content:
                found += 1
            last = chunk
        _check_cost(last)
        return found

    return (streamed if stream else plain), router.close, ROUTER_PACKAGES


def router_async(
    port: int, stream: bool, chunks: int, http: str | None = None
) -> tuple[Any, Any, list[str]]:
    router = _router(port, chunks, http)
    return _async_calls(router, stream), router.aclose, ROUTER_PACKAGES


def _async_calls(router: Any, stream: bool) -> Any:
    """One request through ``router``'s async API: the number of content chunks it gave."""

    async def plain() -> int:
        reply = await router.acomplete(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS)
        _check_cost(reply)
        return 1 if reply.choices[0].message.content else 0

    async def streamed() -> int:
        found = 0
        last = None
        async for chunk in router.astream(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS):
            if chunk.choices and chunk.choices[0].delta.content:
                found += 1
            last = chunk
        _check_cost(last)
        return found

    return streamed if stream else plain


class Skip(Exception):
    """This contender cannot run here; the message says why."""


def router_httpx(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    """The Router with ``http: httpx``: httpx's own async pool instead of the default,
    aiohttp's (``router.wire.aiohttp_transport``)."""
    return router_async(port, stream, chunks, http="httpx")


def router_redis(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    """The Router with its state on a local redis-server (``$BENCH_REDIS_URL``, started by
    ``run.py``): what sharing what it learns costs a request."""
    url = os.environ.get("BENCH_REDIS_URL")
    if not url:
        raise Skip("no redis-server ($BENCH_REDIS_URL is not set)")
    from router import Router

    config = router_yaml(port, chunks)
    config += f"state:\n  backend: redis\n  url: {url}\n  key_prefix: 'bench{os.getpid()}:'\n"
    router = Router.from_yaml(config)
    return _async_calls(router, stream), router.aclose, [*ROUTER_PACKAGES, "redis"]


def router_sdk(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    try:
        from router.serving.transport import AsyncRouterTransport
    except ImportError as exc:
        raise Skip(f"AsyncRouterTransport is not there yet ({exc})") from None
    import httpx
    import openai

    router = _router(port, chunks)
    client = openai.AsyncOpenAI(
        base_url="http://router.invalid/v1",
        api_key="unused",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=AsyncRouterTransport(router)),
    )

    async def close() -> None:
        await client.close()
        await router.aclose()

    calls = _sdk_calls(client.chat.completions.create, GROUP, stream)
    return calls, close, [*ROUTER_PACKAGES, "openai"]


def litellm_router(port: int, stream: bool, chunks: int) -> tuple[Any, Any, list[str]]:
    # The model cost map is otherwise downloaded at import: this benchmark stays on loopback.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    try:
        import litellm
        from litellm import Router
    except ImportError as exc:
        raise Skip(f"litellm is not installed in this environment ({exc})") from None
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    model_list = []
    for i, (prompt, completion, _cache) in enumerate(PRICES_PER_MTOK):
        model_list.append(
            {
                "model_name": GROUP,
                "litellm_params": {
                    "model": f"openai/{MODEL_ID}",
                    "api_base": base_url(port, i, chunks),
                    "api_key": "bench-key",
                    "input_cost_per_token": float(per_token(prompt)),
                    "output_cost_per_token": float(per_token(completion)),
                },
                "model_info": {"id": f"up{i}"},
            }
        )
    router = Router(model_list=model_list)

    async def close() -> None:
        pass

    calls = _sdk_calls(router.acompletion, GROUP, stream)
    return calls, close, ["litellm", "httpx", "openai", "aiohttp"]


CONTENDERS: dict[str, Callable[[int, bool, int], tuple[Any, Any, list[str]]]] = {
    "httpx-sync": httpx_sync,
    "httpx-async": httpx_async,
    "httpx-async-pool64": httpx_async_pooled,
    "httpx-aiohttp": httpx_aiohttp,
    "aiohttp": aiohttp_raw,
    "openai-sdk": openai_sdk,
    "router-sync": router_sync,
    "router": router_async,
    "router-httpx": router_httpx,
    "router-redis": router_redis,
    "router-sdk": router_sdk,
    "litellm": litellm_router,
}


# -- the load loop ------------------------------------------------------------------------


class Tally:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    def fail(self, problem: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = problem[:300]


def run_sync(call: Callable[[], int], n: int, tally: Tally) -> None:
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        try:
            got = call()
        except Exception as exc:
            tally.fail(f"{type(exc).__name__}: {exc}")
            continue
        tally.latencies.append(clock() - start)
        if got != tally.expected:
            tally.fail(f"{got} content chunks, expected {tally.expected}")


async def run_async(call: Callable[[], Awaitable[int]], n: int, workers: int, tally: Tally) -> None:
    clock = time.perf_counter
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = clock()
            try:
                got = await call()
            except Exception as exc:
                tally.fail(f"{type(exc).__name__}: {exc}")
                continue
            tally.latencies.append(clock() - start)
            if got != tally.expected:
                tally.fail(f"{got} content chunks, expected {tally.expected}")

    await asyncio.gather(*(worker() for _ in range(min(workers, n))))


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(args: argparse.Namespace) -> dict[str, Any]:
    stream = args.mode == "stream"
    expected = args.chunks if stream else 1
    factory = CONTENDERS[args.contender]
    result: dict[str, Any] = {
        "contender": args.contender,
        "mode": args.mode,
        "concurrency": args.concurrency,
        "chunks": args.chunks if stream else 0,
    }
    try:
        call, close, packages = factory(args.port, stream, args.chunks)
    except Skip as exc:
        return result | {"skipped": str(exc)}
    result["versions"] = versions(*packages)
    warm, timed = Tally(expected), Tally(expected)
    is_async = asyncio.iscoroutinefunction(call)
    if not is_async and args.concurrency != 1:
        return result | {"skipped": "a sync client runs at concurrency 1 only"}

    def measure(run: Callable[[int, Tally], Any]) -> tuple[float, float]:
        run(args.warmup, warm)
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        run(args.requests, timed)
        return time.process_time() - cpu, time.perf_counter() - wall

    if is_async:

        async def main() -> tuple[float, float]:
            async def go(n: int, tally: Tally) -> None:
                await run_async(call, n, args.concurrency, tally)

            await go(args.warmup, warm)
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            await go(args.requests, timed)
            spent = time.process_time() - cpu, time.perf_counter() - wall
            await close()
            return spent

        cpu_s, wall_s = asyncio.run(main())
    else:
        cpu_s, wall_s = measure(lambda n, tally: run_sync(call, n, tally))
        close()
    ordered = sorted(timed.latencies)
    done = len(ordered)
    return result | {
        "requests": args.requests,
        "completed": done,
        "errors": timed.errors + warm.errors,
        "first_error": timed.first_error or warm.first_error,
        "cpu_ms": 1000 * cpu_s / max(done, 1),
        "wall_s": wall_s,
        "rps": done / wall_s if wall_s else 0.0,
        "p50_ms": 1000 * percentile(ordered, 0.50),
        "p99_ms": 1000 * percentile(ordered, 0.99),
        "maxrss_mb": _maxrss_mb(),
    }


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- selection ----------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], budget: float, least: int) -> dict[str, float]:
    """Time ``fn`` for ``budget`` seconds, at least ``least`` calls, at most 5,000."""
    fn()  # warm: the first call may fill lazily built state
    samples: list[float] = []
    clock = time.perf_counter
    deadline = clock() + budget
    while len(samples) < 5000 and (len(samples) < least or clock() < deadline):
        start = clock()
        fn()
        samples.append(clock() - start)
    samples.sort()
    return {
        "median_ms": 1000 * percentile(samples, 0.5),
        "min_ms": 1000 * samples[0],
        "p90_ms": 1000 * percentile(samples, 0.9),
        "calls": len(samples),
    }


def select(args: argparse.Namespace) -> dict[str, Any]:
    rows = [_select_one(args.port, size, args.budget, args.min_calls) for size in args.sizes]
    return {"selection": rows, "versions": versions(*ROUTER_PACKAGES)}


def _select_one(port: int, size: int, budget: float, least: int) -> dict[str, Any]:
    """``explain`` over one synthetic catalog of ``size`` entries (one provider)."""
    from router import Router

    config = (
        "providers:\n"
        "  - name: cat\n"
        "    kind: openrouter\n"
        f"    base_url: http://127.0.0.1:{port}/cat{size}/api/v1\n"
        "    api_key: bench-key\n"
        "    catalog_ttl: 3600\n"
    )
    four = [synthetic_id(k) for k in (0, size // 4, size // 2, 3 * size // 4)]
    router = Router.from_yaml(
        config + "models:\n  four: [" + ", ".join(f"cat:{i}" for i in four) + "]\n"
    )
    catalog = router.catalog("cat")  # fetched once; fresh for the whole measurement
    request = {"messages": MESSAGES, "tools": TOOLS, "max_tokens": 256}
    auto = router.explain(model="auto", **request)
    row: dict[str, Any] = {
        "entries": size,
        "cards": len(catalog.models),
        "auto_candidates": len(auto.candidates),
        "auto_excluded": len(auto.excluded),
        "explain_auto": _timed(lambda: router.explain(model="auto", **request), budget, least),
        "explain_group": _timed(lambda: router.explain(model="four", **request), budget, least),
    }
    try:  # the internal planning step alone: no request validation, no catalog lookup
        from router.core import _request

        catalogs = {"cat": catalog}
        first = router.fallback.attempts
        row["plan_auto"] = _timed(
            lambda: router.planner.plan(_request({"model": "auto", **request}), catalogs),
            budget,
            least,
        )
        # What a sent request pays: validation and the plan of its first attempts
        # (shortlisted over a large catalog), as in complete()/acomplete().
        row["send_auto"] = _timed(
            lambda: router.planner.plan(
                _request({"model": "auto", **request}), catalogs, first=first
            ),
            budget,
            least,
        )
        sent = router.planner.plan(_request({"model": "auto", **request}), catalogs, first=first)
        row["send_examined"] = len(catalog.models) - sent[0].unexamined
    except Exception as exc:  # an internal API that moved: report it, do not fail
        row["plan_auto_error"] = f"{type(exc).__name__}: {exc}"
    router.close()
    return row


# -- profile ------------------------------------------------------------------------------


def profile(args: argparse.Namespace) -> dict[str, Any]:
    sections = [
        "# Where the Router's client CPU goes (cProfile, CPU-time clock)\n\n"
        "Per request, after a warm-up, at concurrency 1 against the loopback upstream."
        " cProfile's own overhead inflates every figure (compare with the unprofiled"
        " CPU/req in results.md); the shares are what matter. A coroutine's calls/req counts"
        " each resumption.",
    ]
    sections += [_profile_mode(args, mode) for mode in ("plain", "stream")]
    sections.append(_profile_selection(args))
    Path(args.out).write_text("\n\n".join(sections) + "\n", encoding="utf-8")
    return {"written": args.out}


def _profile_mode(args: argparse.Namespace, mode: str) -> str:
    import cProfile
    import pstats

    call, close, _ = router_async(args.port, mode == "stream", CHUNKS)
    profiler = cProfile.Profile(time.process_time)
    tally = Tally(CHUNKS if mode == "stream" else 1)

    async def main() -> float:
        await run_async(call, args.warmup, 1, tally)
        cpu = time.process_time()
        profiler.enable()
        await run_async(call, args.requests, 1, tally)
        profiler.disable()
        spent = time.process_time() - cpu
        await close()
        return spent

    cpu_s = asyncio.run(main())
    if tally.errors:
        raise RuntimeError(tally.first_error)
    title = (
        f"## Router.{'astream' if mode == 'stream' else 'acomplete'} at concurrency 1"
        f" ({mode}, {args.requests} requests)"
    )
    return _profile_text(title, pstats.Stats(profiler), args.requests, cpu_s, args.top)


def _profile_selection(args: argparse.Namespace) -> str:
    """``explain(model="auto")`` over a 1,000-entry catalog: the per-candidate costs."""
    import cProfile
    import pstats

    from router import Router

    size, calls = 1000, 10
    router = Router.from_yaml(
        "providers:\n  - {name: cat, kind: openrouter, api_key: bench-key,"
        f" base_url: 'http://127.0.0.1:{args.port}/cat{size}/api/v1'}}\n"
    )
    request = {"messages": MESSAGES, "tools": TOOLS, "max_tokens": 256}
    router.explain(model="auto", **request)
    profiler = cProfile.Profile(time.process_time)
    cpu = time.process_time()
    profiler.enable()
    for _ in range(calls):
        router.explain(model="auto", **request)
    profiler.disable()
    cpu_s = time.process_time() - cpu
    router.close()
    title = f'## Router.explain(model="auto") over a {size:,}-entry catalog ({calls} calls)'
    return _profile_text(title, pstats.Stats(profiler), calls, cpu_s, args.top)


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    path = Path(filename)
    if path.is_relative_to(HERE.parent):  # the project's own files: from its root
        filename = path.relative_to(HERE.parent).as_posix()
    else:
        parts = path.parts
        for anchor in ("site-packages", "lib"):
            if anchor in parts:
                index = len(parts) - 1 - parts[::-1].index(anchor)
                filename = "/".join(parts[index + 1 :])
                break
    return f"{filename}:{line}({name})"


OWN_PACKAGES = ("router", "providers", "policies", "bench")


_MODULE_NAMES: dict[str, str] = {}


def _module_name(filename: str) -> str:
    """The dotted name of the imported module whose source is ``filename``
    (``router.planning.plan``); its stem for code no module was imported from."""
    if filename not in _MODULE_NAMES:  # a module imported since the last look
        for name, module in list(sys.modules.items()):
            if isinstance(source := getattr(module, "__file__", None), str):
                _MODULE_NAMES.setdefault(source, name)
        _MODULE_NAMES.setdefault(filename, Path(filename).stem)
    return _MODULE_NAMES[filename]


def _package(key: tuple[str, int, str]) -> str:
    """The distribution or top-level package a profiled function belongs to: a module of a
    subpackage (``router/planning/plan.py``) counts to its top-level package (``router``)."""
    filename = key[0]
    if filename == "~":
        return "builtins (C)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if Path(filename).parent == HERE:  # bench/client.py runs as __main__
        return "bench"
    top = _module_name(filename).split(".")[0]
    return top if top in OWN_PACKAGES else f"stdlib: {top}"


def _profile_text(title: str, stats: Any, n: int, cpu_s: float, top: int) -> str:
    raw = stats.stats  # key -> (primitive calls, calls, tottime, cumtime, callers)
    total = sum(v[2] for v in raw.values())
    lines = [
        title,
        "",
        f"CPU under the profiler: {1000 * cpu_s / n:.3f} ms per call;"
        f" profiled: {1000 * total / n:.3f} ms per call",
        "",
        "### by package (own time, per call; C functions charged to their caller's package)",
        "",
    ]
    by_package: dict[str, float] = {}
    for key, value in raw.items():
        if key[0] == "~":  # C functions: charged to the package that called them
            for caller, (_, _, own, _) in value[4].items():
                package = _package(caller)
                by_package[package] = by_package.get(package, 0.0) + own
        else:
            by_package[_package(key)] = by_package.get(_package(key), 0.0) + value[2]
    for package, spent in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"{1e6 * spent / n:9.1f} us  {100 * spent / total:5.1f}%  {package}")
    ours = [
        (key, value)
        for key, value in raw.items()
        if _package(key) in ("router", "providers", "policies")
    ]
    lines += [
        "",
        "### the router's own functions by cumulative time (callees included), per call",
        "",
        f"{'calls':>9} {'own us':>8} {'cum us':>8}  function",
    ]
    for key, (_, calls, tottime, cumtime, _) in sorted(ours, key=lambda kv: -kv[1][3])[:top]:
        lines.append(
            f"{calls / n:9.1f} {1e6 * tottime / n:8.1f} {1e6 * cumtime / n:8.1f}  {_where(key)}"
        )
    for what, column in (("own time (tottime)", 2), ("cumulative time", 3)):
        lines += [
            "",
            f"### top {top} functions by {what}, per call",
            "",
            f"{'calls':>9} {'own us':>8} {'cum us':>8}  function",
        ]
        ordered = sorted(raw.items(), key=lambda kv: -kv[1][column])[:top]
        for key, (_, calls, tottime, cumtime, _) in ordered:
            lines.append(
                f"{calls / n:9.1f} {1e6 * tottime / n:8.1f} {1e6 * cumtime / n:8.1f}  {_where(key)}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="one benchmark measurement")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("load")
    one.add_argument("--contender", choices=sorted(CONTENDERS), required=True)
    one.add_argument("--mode", choices=("plain", "stream"), required=True)
    one.add_argument("--concurrency", type=int, default=1)
    one.add_argument("--requests", type=int, default=2000)
    one.add_argument("--warmup", type=int, default=100)
    one.add_argument("--chunks", type=int, default=CHUNKS)
    sel = sub.add_parser("select")
    sel.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], required=True)
    sel.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    sel.add_argument("--min-calls", type=int, default=5)
    prof = sub.add_parser("profile")
    prof.add_argument("--requests", type=int, default=1000)
    prof.add_argument("--warmup", type=int, default=50)
    prof.add_argument("--top", type=int, default=30)
    prof.add_argument("--out", required=True)
    for each in (one, sel, prof):
        each.add_argument("--port", type=int, required=True)
        each.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    args = parser.parse_args()
    pin(getattr(args, "cpu", None))
    handler = {
        "load": load,
        "select": select,
        "profile": profile,
    }[args.command]
    print(json.dumps(handler(args)), flush=True)


if __name__ == "__main__":
    main()
