"""The benchmark: our Router against the raw-HTTP floors and LiteLLM's Router, on loopback.

    python bench/run.py            # the full run: 2,000 requests per cell, 3 runs (~10 min)
    python bench/run.py --quick    # a smoke test: 200 requests, 1 run (< 2 min)

Run it with the interpreter the project is installed in (``pip install -e .``): our
Router (on its default async pool, httpx-aiohttp), raw httpx and the OpenAI SDK run
there. Raw aiohttp and LiteLLM run in the benchmark's own virtualenv, ``bench/.venv``,
which this script creates and fills (``aiohttp``, ``uvloop``, ``litellm``; of these only
aiohttp is also a project dependency, of the Router's async pool). A contender
that cannot be had is skipped with a message.

One upstream process (``bench/upstream.py``) serves every contender, pinned to CPU 1;
every measurement is a fresh client process (``bench/client.py``) pinned to CPU 0.
Prints the markdown report and writes it to ``bench/results.md``; the profile of the
Router's hot path goes to ``bench/profile.txt``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv"
CLIENT = HERE / "client.py"
UPSTREAM = HERE / "upstream.py"
RESULTS = HERE / "results.md"
PROFILE = HERE / "profile.txt"
PYCACHE = HERE / ".cache" / "pycache"

sys.path.insert(0, str(HERE))

from client import router_yaml  # noqa: E402
from upstream import CHUNKS  # noqa: E402

# Contender -> concurrencies measured (each in plain and streaming mode).
MATRIX: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("httpx-sync", (1,)),
    ("httpx-async", (1, 32)),
    ("httpx-async-pool64", (32,)),
    ("aiohttp", (1, 32)),
    ("openai-sdk", (1,)),
    ("httpx-aiohttp", (1, 32)),
    ("router-sync", (1,)),
    ("router", (1, 32)),
    ("router-httpx", (1, 32)),
    ("router-redis", (1, 32)),
    ("router-sdk", (1, 32)),
    ("litellm", (1, 32)),
)
LABELS = {
    "httpx-sync": "raw httpx (sync `Client`)",
    "httpx-async": "raw httpx (`AsyncClient`)",
    "httpx-async-pool64": "raw httpx (`AsyncClient`, 64 kept-alive connections)",
    "aiohttp": "raw aiohttp",
    "openai-sdk": "OpenAI SDK direct (`AsyncOpenAI`)",
    "httpx-aiohttp": "raw httpx (`AsyncClient` on `httpx-aiohttp`)",
    "router-sync": "Router `complete`/`stream`",
    "router-httpx": "Router `acomplete`/`astream` with `http: httpx` (httpx's own pool)",
    "router": "**Router `acomplete`/`astream`** (default `http: aiohttp`)",
    "router-sdk": "Router via `AsyncRouterTransport` + `AsyncOpenAI`",
    "router-redis": "Router `acomplete`/`astream` with `state: redis` (a local redis-server)",
    "litellm": "LiteLLM `Router.acompletion`",
}
FULL_ONLY = {"httpx-async-pool64"}
"""Evidence for one question (does a bigger httpx pool help?), left out of ``--quick``."""
EXTRAS = {
    "openai-sdk",
    "httpx-aiohttp",
    "router-sync",
    "router-httpx",
    "httpx-async-pool64",
}
"""Contenders beyond issue 6's list, measured in the first run only (time: ~10 minutes)."""
# What runs where: "venv" contenders need packages that are never project dependencies.
# (httpx-aiohttp and aiohttp are project dependencies now: raw httpx on httpx-aiohttp runs
# in the project's interpreter, like the Router it is the floor of.)
VENV_CONTENDERS = {
    "aiohttp": ("aiohttp",),
    "litellm": ("litellm",),
}
# pip name -> module
VENV_PACKAGES = {
    "aiohttp": "aiohttp",
    "uvloop": "uvloop",
    "litellm": "litellm",
}
CHUNK_CONTENDERS = (
    "httpx-async",
    "httpx-aiohttp",
    "aiohttp",
    "openai-sdk",
    "router",
    "router-sdk",
)
# What each contender's per-chunk cost is compared with: the client it is built on (the
# Router's async default: httpx on the aiohttp transport).
CHUNK_FLOOR = {
    "router": "httpx-aiohttp",
    "router-sdk": "openai-sdk",
    "openai-sdk": "httpx-async",
    "httpx-aiohttp": "aiohttp",
}
LONG_STREAM = 200
SELECTION_SIZES = (10, 100, 1_000, 10_000)
CLIENT_CPU, UPSTREAM_CPU = 0, 1
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


STARTED = time.perf_counter()


def log(message: str) -> None:
    elapsed = time.perf_counter() - STARTED
    print(f"{elapsed // 60:02.0f}:{elapsed % 60:02.0f} {message}", file=sys.stderr, flush=True)


# -- the machine --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    head = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--", "router", "providers", "policies")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "kernel": platform.release(),
        "commit": head + (" + uncommitted changes in router/" if dirty else ""),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return "?"
    return done.stdout.strip()


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


class Load:
    """CPU time the whole machine spent, to tell how much others used during a measurement."""

    def __init__(self, upstream_pid: int | None) -> None:
        self.upstream_pid = upstream_pid
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float, float]:
        busy = 0.0
        with contextlib.suppress(OSError), open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
            busy = (sum(fields[:3]) + sum(fields[5:8])) / TICK
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        return (
            busy,
            children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime,
            upstream_cpu(self.upstream_pid),
            time.perf_counter(),
        )

    def finish(self) -> dict[str, float]:
        """Upstream CPU share and the share of the machine's CPUs used by other processes."""
        end = self._sample()
        busy, ours, upstream, wall = (b - a for a, b in zip(self.start, end, strict=True))
        cpus = os.cpu_count() or 1
        others = max(0.0, busy - ours - upstream)
        return {
            "upstream_share": upstream / wall if wall else 0.0,
            "background": others / (wall * cpus) if wall else 0.0,
        }


def upstream_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def quiet_check(seconds: float = 2.0) -> float:
    """Share of the machine's CPUs busy with other processes right now."""
    load = Load(None)
    time.sleep(seconds)
    return load.finish()["background"]


class Patience:
    """How long, in all, the run may wait for other processes to leave the CPUs alone."""

    def __init__(self, minutes: float, threshold: float) -> None:
        self.left = 60 * minutes
        self.threshold = threshold
        self.waited = 0.0

    def wait(self) -> bool:
        """Wait for a quiet machine; False when the budget ran out first."""
        while self.left > 0:
            start = time.monotonic()
            busy = quiet_check()
            spent = time.monotonic() - start
            self.left -= spent
            self.waited += spent
            if busy <= self.threshold:
                return True
        return False


def measure(
    python: str, argv: list[str], pid: int, patience: Patience, retries: int
) -> dict[str, Any]:
    """One cell; measured again (after waiting for quiet) when others were busy meanwhile.

    Keeps the run during which other processes used the least CPU.
    """
    best: dict[str, Any] | None = None
    for attempt in range(1 + retries):
        load = Load(pid)
        result = run_client(python, argv)
        result |= load.finish() | {"attempts": attempt + 1}
        if best is None or result["background"] < best["background"]:
            best = result
        if "skipped" in result or "failed" in result or result["background"] <= patience.threshold:
            break
        log(f"others used {100 * result['background']:.0f}% of the CPUs meanwhile: again")
        if not patience.wait():
            break
    assert best is not None
    return best


def wait_quiet(minutes: float) -> float:
    """Wait up to ``minutes`` for other processes to use under 10% of the CPUs."""
    deadline = time.monotonic() + 60 * minutes
    busy = quiet_check()
    while busy > 0.1 and time.monotonic() < deadline:
        log(f"others use {100 * busy:.0f}% of the CPUs; waiting for a quieter machine")
        time.sleep(10)
        busy = quiet_check()
    return busy


# -- environments -------------------------------------------------------------------------


@dataclass
class Envs:
    project: str = sys.executable
    venv: str | None = None
    has: dict[tuple[str, str], bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def importable(self, python: str | None, module: str) -> bool:
        if python is None:
            return False
        key = (python, module)
        if key not in self.has:
            done = subprocess.run(
                [python, "-c", f"import {module}"],
                capture_output=True,
                timeout=120,
                check=False,
                env=child_env(),
            )
            self.has[key] = done.returncode == 0
        return self.has[key]

    def python_for(self, contender: str) -> str | None:
        modules = VENV_CONTENDERS.get(contender)
        if modules is None:
            return self.project
        for python in (self.venv, self.project):
            if all(self.importable(python, m) for m in modules):
                return python
        return None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Loopback only: LiteLLM would otherwise download its model cost map at import.
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["LITELLM_TELEMETRY"] = "False"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), str(ROOT), env.get("PYTHONPATH")]))
    # Imports are timed as users see them, from cached bytecode; the cache is kept out of
    # the source tree (bench/.cache is gitignored).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def prepare(args: argparse.Namespace) -> Envs:
    envs = Envs()
    if not envs.importable(envs.project, "router"):
        sys.exit(f"{envs.project} cannot import router: run `pip install -e .` first")
    python = VENV / "bin" / "python"
    if args.no_venv:
        envs.notes.append("bench/.venv not used (--no-venv)")
        return envs
    if not python.exists():
        log(f"creating {VENV.relative_to(ROOT)} (python -m venv)")
        done = subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
        if done.returncode != 0 or not python.exists():
            envs.notes.append("could not create bench/.venv: aiohttp and LiteLLM skipped")
            return envs
    envs.venv = str(python)
    wanted = VENV_PACKAGES
    missing = [p for p, module in wanted.items() if not envs.importable(envs.venv, module)]
    if missing:
        litellm = os.environ.get("BENCH_LITELLM", "litellm")  # e.g. litellm==1.109.1
        spec = [litellm if p == "litellm" else p for p in missing]
        log(f"installing {' '.join(spec)} into bench/.venv (once; log: bench/.venv/install.log)")
        with open(VENV / "install.log", "ab") as out:
            subprocess.run(
                [envs.venv, "-m", "pip", "install", "--disable-pip-version-check", *spec],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
        envs.has = {k: v for k, v in envs.has.items() if k[0] != envs.venv}
        for package in missing:
            if not envs.importable(envs.venv, wanted[package]):
                envs.notes.append(f"{package} could not be installed into bench/.venv")
    return envs


# -- the upstream -------------------------------------------------------------------------


@contextlib.contextmanager
def upstream(envs: Envs) -> Iterator[tuple[int, int, str]]:
    python = envs.venv if envs.importable(envs.venv, "uvloop") else envs.project
    command = [python, str(UPSTREAM)]
    if can_pin():
        command += ["--cpu", str(UPSTREAM_CPU)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            sys.exit(f"the upstream did not start: {line!r} {process.stderr.read()}")
        loop = process.stderr.readline().strip().removeprefix("LOOP ")
        yield int(line.split()[1]), process.pid, loop
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# -- measurements -------------------------------------------------------------------------


def run_client(python: str, argv: list[str], timeout: float = 900) -> dict[str, Any]:
    command = [python, str(CLIENT), *argv]
    if can_pin():
        command += ["--cpu", str(CLIENT_CPU)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=child_env(), check=False
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"failed": f"exit {done.returncode}: {' | '.join(tail)[:400]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@dataclass
class Plan:
    requests: int
    warmup_1: int
    warmup_32: int
    repeats: int
    chunk_requests: int
    chunk_repeats: int
    selection_budget: float
    profile_requests: int


def load_cells(
    args: argparse.Namespace, plan: Plan, envs: Envs, port: int, pid: int, patience: Patience
) -> list[Any]:
    retries = args.retries
    cells = [
        (contender, mode, concurrency)
        for contender, levels in MATRIX
        if (not args.only or contender in args.only) and not (args.quick and contender in FULL_ONLY)
        for concurrency in levels
        for mode in ("plain", "stream")
    ]
    skipped: dict[str, str] = {}
    runs: list[dict[str, Any]] = []
    total = len(cells) * plan.repeats
    done = 0
    total -= (plan.repeats - 1) * sum(1 for c in cells if c[0] in EXTRAS)
    for repeat in range(plan.repeats):
        for contender, mode, concurrency in cells:
            if contender in skipped or (repeat and contender in EXTRAS):
                continue
            done += 1
            python = envs.python_for(contender)
            if python is None:
                need = " and ".join(VENV_CONTENDERS[contender])
                skipped[contender] = f"{need} cannot be imported (not installed)"
                log(f"skip {contender}: {skipped[contender]}")
                continue
            warmup = plan.warmup_1 if concurrency == 1 else plan.warmup_32
            argv = ["load", "--contender", contender, "--mode", mode]
            argv += ["--concurrency", str(concurrency), "--requests", str(plan.requests)]
            argv += ["--warmup", str(warmup), "--port", str(port)]
            result = measure(python, argv, pid, patience, retries)
            result |= {"repeat": repeat, "python": python}
            result.setdefault("contender", contender)
            result.setdefault("mode", mode)
            result.setdefault("concurrency", concurrency)
            if "skipped" in result:
                skipped[contender] = result["skipped"]
                log(f"skip {contender}: {result['skipped']}")
                continue
            runs.append(result)
            log(f"[{done}/{total}] {describe(result)}")
    for contender, why in skipped.items():
        envs.notes.append(f"{contender} skipped: {why}")
    return runs


def describe(r: dict[str, Any]) -> str:
    what = f"{r['contender']} {r['mode']} c{r['concurrency']}"
    if "failed" in r:
        return f"{what}: FAILED {r['failed']}"
    errors = f", {r['errors']} errors ({r['first_error']})" if r.get("errors") else ""
    return (
        f"{what}: {r['cpu_ms']:.3f} ms CPU/req, {r['rps']:.0f} req/s,"
        f" p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms,"
        f" upstream {100 * r['upstream_share']:.0f}%, others {100 * r['background']:.0f}%{errors}"
    )


def chunk_runs(
    args: argparse.Namespace, plan: Plan, envs: Envs, port: int, pid: int, patience: Patience
) -> list[Any]:
    retries = args.retries
    runs = []
    for repeat in range(plan.chunk_repeats):
        for contender in CHUNK_CONTENDERS:
            if args.only and contender not in args.only:
                continue
            python = envs.python_for(contender)
            if python is None:
                continue
            for chunks in (CHUNKS, LONG_STREAM):
                argv = ["load", "--contender", contender, "--mode", "stream"]
                argv += ["--requests", str(plan.chunk_requests), "--warmup", str(plan.warmup_1)]
                argv += ["--chunks", str(chunks), "--port", str(port)]
                result = measure(python, argv, pid, patience, retries)
                result |= {"repeat": repeat}
                if "skipped" in result:
                    break
                result.setdefault("contender", contender)
                result.setdefault("mode", "stream")
                result.setdefault("concurrency", 1)
                runs.append(result | {"chunks": chunks})
                log(f"chunks={chunks} {describe(result)}")
    return runs


def import_times(envs: Envs, runs: int, *, peer: bool) -> dict[str, Any]:
    snippet = "import time; t = time.perf_counter(); {s}; print(time.perf_counter() - t)"
    out: dict[str, Any] = {}
    for label, python, module, statement, n in (
        ("router", envs.project, "router", "import router", runs),
        # what using it costs: the Router and what it needs (httpx comes with a provider)
        ("router-class", envs.project, "router", "from router import Router", runs),
        ("litellm", envs.venv if peer else None, "litellm", "import litellm", 1),
    ):
        if python is None or not envs.importable(python, module):
            continue
        samples = []
        for _ in range(n):
            done = subprocess.run(
                [python, "-c", snippet.format(s=statement)],
                capture_output=True,
                text=True,
                env=child_env(),
                check=False,
            )
            with contextlib.suppress(ValueError, IndexError):
                samples.append(float(done.stdout.split()[-1]))
        if samples:
            out[label] = {"median_ms": 1000 * statistics.median(samples), "samples": len(samples)}
    done = subprocess.run(
        [envs.project, "-X", "importtime", "-c", "from router import Router"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    heavy = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            heavy.append((int(parts[0]), int(parts[1]), parts[2].rstrip()))
    out["importtime_top"] = sorted(heavy, key=lambda h: -h[1])[:25]
    return out


MEMORY_SNIPPET = """
import sys
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
base = rss()
import {module}
after_import = rss()
built = after_import
if "{module}" == "router":
    r = router.Router.from_yaml(sys.argv[1])
    built = rss()
print(base, after_import, built)
"""


def memory(envs: Envs, port: int, *, peer: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, python in (("router", envs.project), ("litellm", envs.venv if peer else None)):
        if python is None or not envs.importable(python, label):
            continue
        done = subprocess.run(
            [python, "-c", MEMORY_SNIPPET.format(module=label), router_yaml(port)],
            capture_output=True,
            text=True,
            env=child_env(),
            check=False,
        )
        with contextlib.suppress(ValueError):
            base, imported, built = (float(x) for x in done.stdout.split())
            out[label] = {"baseline": base, "import": imported, "router": built}
    return out


# -- the report ---------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]], key: str) -> tuple[float, float, float] | None:
    values = [r[key] for r in runs if key in r and "failed" not in r]
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def group(runs: list[dict[str, Any]]) -> dict[tuple[str, str, int], list[dict[str, Any]]]:
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in runs:
        cells.setdefault((r["contender"], r["mode"], r["concurrency"]), []).append(r)
    return cells


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}"


def spread(stat: tuple[float, float, float] | None, digits: int = 2) -> str:
    if stat is None:
        return "—"
    mid, low, high = stat
    if low == high:
        return fmt(mid, digits)
    return f"{fmt(mid, digits)} ({fmt(low, digits)}..{fmt(high, digits)})"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def num(value: float) -> str:
    """Three significant digits, without an exponent."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def xfmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def value(
    cells: dict[tuple[str, str, int], list[dict[str, Any]]], cell: tuple[str, str, int], key: str
) -> float | None:
    stat = median_of(cells.get(cell, []), key)
    return None if stat is None else stat[0]


def floors_for(mode: str, concurrency: int) -> tuple[tuple[str, str, int], tuple[str, str, int]]:
    httpx = ("httpx-sync", mode, 1) if concurrency == 1 else ("httpx-async", mode, concurrency)
    return httpx, ("aiohttp", mode, concurrency)


def main_table(cells: dict[tuple[str, str, int], list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| contender | mode | conc. | client CPU ms/req | xhttpx | xaiohttp | xLiteLLM"
        " | p50 ms | p99 ms | req/s | req/s xhttpx | req/s xaiohttp | req/s xLiteLLM | others |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for concurrency in (1, 32):
        for mode in ("plain", "stream"):
            httpx, aio = floors_for(mode, concurrency)
            peer = ("litellm", mode, concurrency)
            for contender, levels in MATRIX:
                cell = (contender, mode, concurrency)
                if concurrency not in levels or cell not in cells:
                    continue
                runs = cells[cell]
                cpu = value(cells, cell, "cpu_ms")
                rps = value(cells, cell, "rps")
                errors = sum(r.get("errors", 0) for r in runs)
                failed = [r["failed"] for r in runs if "failed" in r]
                note = f" ⚠ {errors} errors" if errors else ""
                note += f" ⚠ {len(failed)} runs failed" if failed else ""
                lines.append(
                    f"| {LABELS[contender]}{note} | {mode} | {concurrency}"
                    f" | {spread(median_of(runs, 'cpu_ms'), 3)}"
                    f" | {xfmt(ratio(cpu, value(cells, httpx, 'cpu_ms')))}"
                    f" | {xfmt(ratio(cpu, value(cells, aio, 'cpu_ms')))}"
                    f" | {xfmt(ratio(cpu, value(cells, peer, 'cpu_ms')))}"
                    f" | {fmt(value(cells, cell, 'p50_ms'))}"
                    f" | {fmt(value(cells, cell, 'p99_ms'))}"
                    f" | {spread(median_of(runs, 'rps'), 0)}"
                    f" | {xfmt(ratio(rps, value(cells, httpx, 'rps')))}"
                    f" | {xfmt(ratio(rps, value(cells, aio, 'rps')))}"
                    f" | {xfmt(ratio(rps, value(cells, peer, 'rps')))}"
                    f" | {fmt(100 * (value(cells, cell, 'background') or 0), 0)}% |"
                )
    return lines


def chunk_table(runs: list[dict[str, Any]]) -> tuple[list[str], dict[str, float]]:
    slopes: dict[str, float] = {}
    lines = [
        f"| contender (stream, conc. 1) | CPU ms/req, {CHUNKS} chunks"
        f" | CPU ms/req, {LONG_STREAM} chunks | µs per chunk | µs per chunk over what it is"
        " built on |",
        "|---|--:|--:|--:|--:|",
    ]
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in runs:
        if "failed" not in r:
            by.setdefault((r["contender"], r["chunks"]), []).append(r)
    rows = []
    for contender in CHUNK_CONTENDERS:
        short = median_of(by.get((contender, CHUNKS), []), "cpu_ms")
        long = median_of(by.get((contender, LONG_STREAM), []), "cpu_ms")
        if short is None or long is None:
            continue
        slopes[contender] = 1000 * (long[0] - short[0]) / (LONG_STREAM - CHUNKS)
        rows.append((contender, short, long))
    for contender, short, long in rows:
        floor = CHUNK_FLOOR.get(contender)
        over = "—"
        if floor in slopes:
            over = f"{fmt(slopes[contender] - slopes[floor], 1)} (over {LABELS[floor]})"
        lines.append(
            f"| {LABELS[contender]} | {spread(short, 3)} | {spread(long, 3)}"
            f" | {fmt(slopes[contender], 1)} | {over} |"
        )
    return lines, slopes


def selection_table(selection: dict[str, Any]) -> list[str]:
    if "selection" not in selection:
        return [f"(selection benchmark failed: {selection.get('failed')})"]
    lines = [
        "| catalog entries | chat cards | selection of a sent request ms (median, min)"
        ' | cards it examined | `explain(model="auto")` ms, every card judged'
        " | candidates / excluded | `explain` of a 4-deployment group ms |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in selection["selection"]:
        auto, group_, send = row["explain_auto"], row["explain_group"], row.get("send_auto")
        sent = (
            f"{fmt(send['median_ms'], 3)} ({fmt(send['min_ms'], 3)})"
            if send
            else row.get("plan_auto_error", "—")
        )
        lines.append(
            f"| {row['entries']:,} | {row['cards']:,} | {sent}"
            f" | {row.get('send_examined', '—')}"
            f" | {fmt(auto['median_ms'], 3)} ({fmt(auto['min_ms'], 3)})"
            f" | {row['auto_candidates']:,} / {row['auto_excluded']:,}"
            f" | {fmt(group_['median_ms'], 3)} |"
        )
    return lines


def target_rows(
    cells: dict[tuple[str, str, int], list[dict[str, Any]]],
    slopes: dict[str, float],
    selection: dict[str, Any],
    imports: dict[str, Any],
    mem: dict[str, Any],
) -> list[str]:
    def v(contender: str, mode: str, conc: int, key: str) -> float | None:
        return value(cells, (contender, mode, conc), key)

    rows: list[tuple[str, str, str, bool | None]] = []

    def at_most(what: str, measured: float | None, goal: float, shown: str, unit: str) -> None:
        if measured is None:
            rows.append((what, "not measured", shown, None))
            return
        met = measured <= goal
        gap = (
            f"met ({measured / goal:.2f} of the limit)"
            if met
            else f"missed: {measured / goal:.1f}x the limit"
        )
        rows.append((what, f"{num(measured)}{unit} — {gap}", shown, met))

    for mode in ("plain", "stream"):
        at_most(
            f"client CPU, Router `a{'complete' if mode == 'plain' else 'stream'}` vs raw httpx,"
            " conc. 1",
            ratio(v("router", mode, 1, "cpu_ms"), v("httpx-sync", mode, 1, "cpu_ms")),
            1.3,
            "≤ 1.3x",
            "x",
        )
    for mode in ("plain", "stream"):
        at_most(
            f"client CPU, Router vs LiteLLM Router, {mode}, conc. 1",
            ratio(v("router", mode, 1, "cpu_ms"), v("litellm", mode, 1, "cpu_ms")),
            0.1,
            "≤ 0.1x",
            "x",
        )
    for mode in ("plain", "stream"):
        ours, peer = v("router", mode, 32, "rps"), v("litellm", mode, 32, "rps")
        got = ratio(ours, peer)
        rows.append(
            (
                f"req/s at conc. 32, Router vs LiteLLM, {mode}",
                "not measured" if got is None else f"{got:.2f}x ({ours:,.0f} vs {peer:,.0f} req/s)",
                "≥ 10x",
                None if got is None else got >= 10,
            )
        )
        ours, floor = v("router", mode, 32, "p99_ms"), v("httpx-async", mode, 32, "p99_ms")
        rows.append(
            (
                f"p99 at conc. 32, Router vs raw httpx, {mode}",
                "not measured"
                if ours is None or floor is None
                else f"{ours:.1f} ms vs {floor:.1f} ms ({ours / floor:.2f}x)",
                "below raw httpx's",
                None if ours is None or floor is None else ours < floor,
            )
        )
    for mode in ("plain", "stream"):
        shared, alone = v("router-redis", mode, 1, "cpu_ms"), v("router", mode, 1, "cpu_ms")
        at_most(
            f"client CPU, `state: redis` over `memory`, {mode}, conc. 1",
            None if shared is None or alone is None else shared - alone,
            0.15,
            "≤ +0.15 ms",
            " ms",
        )
        shared, alone = v("router-redis", mode, 32, "rps"), v("router", mode, 32, "rps")
        got = ratio(shared, alone)
        rows.append(
            (
                f"req/s at conc. 32, `state: redis` vs `memory`, {mode}",
                "not measured"
                if got is None
                else f"{got:.2f}x ({shared:,.0f} vs {alone:,.0f} req/s)",
                "≥ 0.8x",
                None if got is None else got >= 0.8,
            )
        )
    biggest = (selection.get("selection") or [{}])[-1]
    at_most(
        f"selection of a sent `model: auto` request over {biggest.get('entries', 0):,} entries",
        (biggest.get("send_auto") or {}).get("median_ms"),
        1.0,
        "< 1 ms",
        " ms",
    )
    over = (
        slopes["router"] - slopes["httpx-aiohttp"]
        if {"router", "httpx-aiohttp"} <= set(slopes)
        else None
    )
    at_most(
        "streaming overhead per chunk (over raw httpx on the same aiohttp transport)",
        over,
        20.0,
        "< 20 µs",
        " µs",
    )
    at_most(
        "`import router`",
        imports.get("router", {}).get("median_ms"),
        150.0,
        "< 150 ms",
        " ms",
    )
    at_most(
        "(not the target, what using it costs) `from router import Router`",
        imports.get("router-class", {}).get("median_ms"),
        150.0,
        "< 150 ms",
        " ms",
    )
    at_most(
        "RSS after `import router`", mem.get("router", {}).get("import"), 60.0, "< 60 MB", " MB"
    )
    lines = ["| target | measured | goal | met |", "|---|---|---|:-:|"]
    for what, measured, goal, met in rows:
        mark = "—" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {what} | {measured} | {goal} | {mark} |")
    return lines


def render(
    args: argparse.Namespace,
    plan: Plan,
    info: dict[str, str],
    envs: Envs,
    loop: str,
    runs: list[dict[str, Any]],
    chunk: list[dict[str, Any]],
    selection: dict[str, Any],
    imports: dict[str, Any],
    mem: dict[str, Any],
    quiet: tuple[float, float],
    elapsed: float,
    waited: float,
) -> str:
    cells = group(runs)
    chunk_lines, slopes = chunk_table(chunk)
    command = "python bench/run.py" + (" --quick" if args.quick else "")
    background = [r["background"] for r in runs + chunk if "background" in r]
    upstream_peak = max((r["upstream_share"] for r in runs if "upstream_share" in r), default=0)
    versions: dict[str, str] = {}
    for r in runs:
        for name, version in r.get("versions", {}).items():
            where = "bench/.venv" if r.get("python") == envs.venv else "project"
            versions.setdefault(f"{name} {version} ({where})", "")
    out = [
        "# Benchmark results",
        "",
        f"`{command}` — {info['date']}, {elapsed / 60:.1f} min"
        f" ({waited / 60:.1f} of them waiting for other processes to quiet down).",
        "",
        f"Machine: {info['nproc']} CPUs, {info['cpu']}, {info['python']}, Linux {info['kernel']};"
        f" commit {info['commit']}.",
        (
            f"Clients pinned to CPU {CLIENT_CPU}, the upstream to CPU {UPSTREAM_CPU}"
            if can_pin()
            else "No CPU pinning (fewer than 2 CPUs or no sched_setaffinity)"
        )
        + f"; upstream event loop: {loop}; the upstream's busiest share of its CPU:"
        f" {100 * upstream_peak:.0f}% (well under 100%: it was never the bottleneck).",
        "",
        f"Each cell: a fresh client process, {plan.warmup_1} (conc. 1) or {plan.warmup_32}"
        f" (conc. 32) warm-up requests, then {plan.requests:,} timed requests;"
        f" {plan.repeats} run(s) of the whole matrix, interleaved"
        f" ({plan.repeats * plan.requests:,} timed requests per cell in all; contenders"
        " beyond issue 6's list — the OpenAI SDK direct, httpx-aiohttp, the sync Router, the"
        " Router with `http: httpx`, the bigger httpx pool — in the first run only)."
        " Figures are medians of the"
        " runs, (min..max) across runs. Floors: conc. 1 is raw httpx's sync `Client`,"
        " conc. 32 its `AsyncClient` (default pool limits); aiohttp's `ClientSession`."
        f" Streams: {CHUNKS} content chunks + a usage chunk + `[DONE]`.",
        "",
        "Other processes on the machine used"
        f" {100 * quiet[0]:.0f}% of its CPUs before the run and"
        f" {100 * (statistics.median(background) if background else 0):.0f}% (median;"
        f" max {100 * max(background, default=0):.0f}%) during the measurements"
        + (
            ": wall-clock figures (latency, req/s) are disturbed, CPU per request less so."
            if statistics.median(background or [0]) > 0.1
            else ": see the *others* column for the cells that were disturbed."
        ),
        "",
        "## Requests",
        "",
        *main_table(cells),
        "",
        "CPU is the client process's `time.process_time()` (all its threads) over the timed"
        " requests, per request; xfloor columns divide by the floor of the same mode and"
        " concurrency measured in this run (conc. 1: sync httpx; conc. 32: httpx"
        " `AsyncClient`); xLiteLLM divides by LiteLLM's Router in the same cell. *others*:"
        " the share of the machine's CPUs that other processes used while the cell ran"
        " (median of the runs); a cell is measured again, after waiting for quiet, when it"
        " exceeds the `--max-noise` share.",
        "",
        "## Targets (issue 6)",
        "",
        *target_rows(cells, slopes, selection, imports, mem),
        "",
        "## Streaming overhead per chunk",
        "",
        *chunk_lines,
        "",
        f"µs per chunk = (CPU per request at {LONG_STREAM} chunks - at {CHUNKS}) /"
        f" {LONG_STREAM - CHUNKS}, {plan.chunk_requests} requests per cell,"
        f" {plan.chunk_repeats} run(s); the last column"
        " subtracts raw httpx's own per-chunk cost (reading lines, `json.loads`).",
        "",
        "## Selection (no request sent)",
        "",
        *selection_table(selection),
        "",
        "One provider whose catalog has that many OpenRouter-style entries (varied prices,"
        " contexts, capabilities; 1 in 50 an image model), the default policy chain"
        " (capabilities, context_fit, cheapest), a request with one tool and `max_tokens`."
        " `Planner.plan` alone skips request validation and the catalog lookup.",
        "",
        "## Import and memory",
        "",
        "| | import ms (median) | RSS before import MB | RSS after import MB"
        " | RSS after `Router.from_yaml` MB |",
        "|---|--:|--:|--:|--:|",
    ]
    rows = (
        ("router", "router", "import router"),
        ("router-class", None, "from router import Router"),
        ("litellm", "litellm", "import litellm"),
    )
    for label, memory_label, statement in rows:
        imp, mem_ = imports.get(label, {}), mem.get(memory_label or "", {})
        if imp or mem_:
            built = fmt(mem_.get("router"), 1) if label == "router" else "—"
            out.append(
                f"| `{statement}` | {fmt(imp.get('median_ms'), 0)}"
                f" | {fmt(mem_.get('baseline'), 1)} | {fmt(mem_.get('import'), 1)} | {built} |"
            )
    out += [
        "",
        "Import time: `import …` timed inside a fresh interpreter (median of"
        f" {imports.get('router', {}).get('samples', 0)}). RSS: VmRSS of that process.",
        "",
        "## Environments",
        "",
        f"- project interpreter: `{envs.project}`",
        f"- bench virtualenv: `{envs.venv or 'none'}`",
        *[f"- {v}" for v in sorted(versions)],
        *[f"- note: {n}" for n in envs.notes],
        "",
    ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 requests, 1 run: a smoke test")
    parser.add_argument("--requests", type=int, help="timed requests per cell and run (700)")
    parser.add_argument("--repeats", type=int, help="runs of the whole matrix")
    parser.add_argument("--only", nargs="*", help="only these contenders (and skip the extras)")
    parser.add_argument("--no-venv", action="store_true", help="do not create bench/.venv")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--max-noise",
        type=float,
        default=0.15,
        metavar="SHARE",
        help="measure a cell again when other processes used more than this share of the CPUs",
    )
    parser.add_argument("--retries", type=int, default=2, help="most re-measurements per cell")
    parser.add_argument(
        "--noise-wait",
        type=float,
        default=None,
        metavar="MINUTES",
        help="most time spent in all waiting for quiet between re-measurements"
        " (default 0.5, full run 3)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="first wait up to this long for other processes to leave the CPUs alone",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    quick = args.quick
    if args.noise_wait is None:
        args.noise_wait = 0.5 if quick else 3.0
    plan = Plan(
        # 3 runs x 700 = 2,100 timed requests per cell in the full run: 3 x 2,000 would take
        # ~20 minutes on 2 cores (LiteLLM and the OpenAI SDK spend 10-40 ms of CPU per
        # streamed request).
        requests=args.requests or (200 if quick else 700),
        warmup_1=20 if quick else 50,
        warmup_32=64 if quick else 200,
        repeats=args.repeats or (1 if quick else 3),
        chunk_requests=20 if quick else 100,
        chunk_repeats=1 if quick else 2,
        selection_budget=0.15 if quick else 0.6,
        profile_requests=100 if quick else 500,
    )
    started = time.perf_counter()
    info = machine()
    envs = prepare(args)
    before = time.perf_counter()
    quiet = wait_quiet(args.wait_quiet)
    first_wait = time.perf_counter() - before
    if quiet > 0.1:
        log(
            f"warning: other processes use {100 * quiet:.0f}% of the machine's CPUs;"
            " wall-clock figures will be noisy"
        )
    with upstream(envs) as (port, pid, loop), redis_for_bench():
        patience = Patience(args.noise_wait, args.max_noise)
        runs = load_cells(args, plan, envs, port, pid, patience)
        chunk = chunk_runs(args, plan, envs, port, pid, patience)
        sizes = ",".join(str(s) for s in SELECTION_SIZES)
        log("selection ...")
        selection = run_client(
            envs.project,
            [
                "select",
                "--sizes",
                sizes,
                "--budget",
                str(plan.selection_budget),
                "--port",
                str(port),
            ],
        )
        log("import time and memory ...")
        imports = import_times(envs, 3 if quick else 7, peer=not quick)
        mem = memory(envs, port, peer=not quick)
        if not args.no_profile:
            log("profile ...")
            profiled = run_client(
                envs.project,
                [
                    *("profile", "--requests", str(plan.profile_requests)),
                    *("--out", str(PROFILE), "--port", str(port)),
                ],
            )
            if "failed" in profiled:
                envs.notes.append(f"profile failed: {profiled['failed']}")
            else:
                append_imports(imports)
    report = render(
        args,
        plan,
        info,
        envs,
        loop,
        runs,
        chunk,
        selection,
        imports,
        mem,
        (quiet, 0.0),
        time.perf_counter() - started,
        patience.waited + first_wait,
    )
    print(report)
    args.out.write_text(report, encoding="utf-8")
    raw = args.out.with_suffix(".json")
    raw.write_text(
        json.dumps(
            {"machine": info, "runs": runs, "chunks": chunk, "selection": selection}
            | {"imports": imports, "memory": mem},
            indent=1,
        ),
        encoding="utf-8",
    )
    log(f"wrote {args.out}, {raw} and {PROFILE}")


@contextlib.contextmanager
def redis_for_bench() -> Iterator[None]:
    """A private redis-server for the ``router-redis`` contender (its URL in
    ``$BENCH_REDIS_URL``, which client processes inherit); none when not installed."""
    from router.testing.redis_server import RedisServer, find_redis_server

    binary = find_redis_server()
    if binary is None:
        log("redis-server is not installed: the router-redis contender is skipped")
        yield
        return
    with RedisServer(binary) as server:
        os.environ["BENCH_REDIS_URL"] = server.url
        try:
            yield
        finally:
            os.environ.pop("BENCH_REDIS_URL", None)


def append_imports(imports: dict[str, Any]) -> None:
    top = imports.get("importtime_top")
    if not top:
        return
    lines = [
        "",
        "## `python -X importtime -c 'from router import Router'`: the heaviest imports"
        " (cumulative µs)",
        "",
        f"{'self us':>9} {'cumul. us':>10}  module",
    ]
    lines += [f"{own:9d} {cumulative:10d}  {name}" for own, cumulative, name in top]
    with open(PROFILE, "a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
