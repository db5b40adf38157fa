"""Quick A/B of the async HTTP pool: client CPU per request, ``http: httpx`` vs ``http: aiohttp``.

    python bench/transport_micro.py [--requests 600] [--repeats 3]

Starts ``bench/upstream.py`` (pinned to CPU 1 when there are two), then, in fresh client
processes pinned to CPU 0 and interleaved, measures ``Router.acomplete`` / ``astream``
at concurrency 1 and 32 with each provider's ``http`` set to ``httpx`` and ``aiohttp``
(``router-aiohttp-send``: on aiohttp, through ``client.send`` instead of the transport),
and three call styles on the aiohttp transport: ``client.post``, ``client.send`` of a
built request, the transport's ``handle_async_request``. Prints the median client CPU
(``time.process_time``) per request, p99 latency and req/s. Not part of ``bench/run.py``:
a few minutes' check of which pool and which call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from client import GROUP, MAX_TOKENS, MESSAGES, base_url, router_yaml  # noqa: E402
from upstream import CHEAPEST, CHUNKS  # noqa: E402

CELLS = [
    (what, mode, conc)
    for conc in (1, 32)
    for mode in ("plain", "stream")
    for what in ("router-httpx", "router-aiohttp", "router-aiohttp-send")
] + [(what, "plain", conc) for conc in (1, 32) for what in ("post", "send", "transport")]


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def contender(what: str, mode: str, port: int) -> Any:
    stream = mode == "stream"
    if what.startswith("router-"):
        from router import Router

        http = what.removeprefix("router-").removesuffix("-send")
        if what.endswith("-send"):
            _through_client_send()
        yaml = router_yaml(port).replace(
            "    api_key: bench-key\n", f"    api_key: bench-key\n    http: {http}\n"
        )
        router = Router.from_yaml(yaml)

        async def plain() -> None:
            await router.acomplete(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS)

        async def streamed() -> None:
            async for _ in router.astream(model=GROUP, messages=MESSAGES, max_tokens=MAX_TOKENS):
                pass

        return streamed if stream else plain

    import httpx

    from router.wire.aiohttp_transport import AiohttpClient

    client = AiohttpClient()
    url = base_url(port, CHEAPEST, CHUNKS) + "/chat/completions"
    headers = {"Authorization": "Bearer bench-key"}
    body = {"model": "bench/model", "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    timeout = httpx.Timeout(30.0)

    async def post() -> None:
        response = await client.post(url, json=body, headers=headers, timeout=timeout)
        json.loads(response.content)

    async def send() -> None:
        request = client.build_request("POST", url, json=body, headers=headers, timeout=timeout)
        response = await client.send(request)
        json.loads(response.content)

    async def direct() -> None:
        request = client.build_request("POST", url, json=body, headers=headers, timeout=timeout)
        response = await client._transport_for_url(request.url).handle_async_request(request)
        try:
            json.loads(await response.aread())
        finally:
            await response.aclose()
        if "set-cookie" in response.headers:
            client.cookies.extract_cookies(response)

    return {"post": post, "send": send, "transport": direct}[what]


def _through_client_send() -> None:
    """Make the providers POST through ``client.send`` (what ``client.post`` and
    ``client.stream`` do) instead of straight to the transport: the A/B of that choice."""
    from router.provider import Outgoing, Provider

    async def send(self: Provider, out: Outgoing, *, stream: bool) -> Any:
        client = self.aclient()
        built = client.build_request(
            "POST",
            out.url,
            json=out.json,
            headers=out.headers,
            timeout=self.request_timeouts(stream=stream),
        )
        return await client.send(built, stream=True)

    Provider._apost = send  # type: ignore[method-assign]


async def measure(what: str, mode: str, conc: int, port: int, requests: int) -> dict[str, Any]:
    call = contender(what, mode, port)
    for _ in range(20 * conc if conc > 1 else 50):  # warm-up: connections, catalogs, caches
        await call()
    latencies: list[float] = []
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latencies.sort()
    return {
        "cpu_ms": 1000 * cpu / requests,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "rps": requests / wall,
    }


def cell(argv: list[str]) -> None:
    what, mode, conc, port, requests = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    pin(0)
    print(json.dumps(asyncio.run(measure(what, mode, conc, port, requests))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cell", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        cell(args.cell)
        return
    command = [sys.executable, str(HERE / "upstream.py")]
    if (os.cpu_count() or 1) > 1:
        command += ["--cpu", "1"]
    upstream = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline().split()[1])
        results: dict[tuple[str, str, int], list[dict[str, Any]]] = {c: [] for c in CELLS}
        for _ in range(args.repeats):
            for what, mode, conc in CELLS:
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--cell",
                        what,
                        mode,
                        str(conc),
                        str(port),
                        str(args.requests),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results[(what, mode, conc)].append(json.loads(done.stdout.splitlines()[-1]))
    finally:
        upstream.terminate()
        upstream.wait(10)
    print("| contender | mode | conc. | client CPU ms/req (min..max) | p99 ms | req/s |")
    print("|---|---|---|---|---|---|")
    for (what, mode, conc), runs in results.items():
        cpu = [r["cpu_ms"] for r in runs]
        print(
            f"| {what} | {mode} | {conc} | {statistics.median(cpu):.3f}"
            f" ({min(cpu):.3f}..{max(cpu):.3f})"
            f" | {statistics.median(r['p99_ms'] for r in runs):.1f}"
            f" | {statistics.median(r['rps'] for r in runs):,.0f} |"
        )


if __name__ == "__main__":
    main()
