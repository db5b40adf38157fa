"""The ``router`` command line: ``models``, ``check``, ``explain``, ``chat``, ``serve``,
``sim``, ``spend`` and ``demo``.

The configuration comes from ``--config F``, else ``$ROUTER_CONFIG``, else ``./router.yaml``
(``sim`` and ``demo`` need none; ``sim`` writes one for its simulated providers).
``models``, ``check`` and ``explain`` print tables (with rich, when it is installed and
stdout is a terminal; plain aligned text otherwise) or, with
``--json``, JSON; ``chat --json`` prints the completion instead of streaming it.
``serve`` runs the OpenAI-compatible server (the ``server`` extra) on ``--host`` /
``--port``, else the config's ``server:`` block, else 127.0.0.1:8000, and refuses a
non-loopback address unless ``server.api_keys`` is set.
Exit status: 0 ok; 1 a provider or the request failed, or a command could not run (a
missing extra); 2 the configuration, the command line or the request given is wrong.

Longer than most modules: every command is a short function of its own, and they share
the parser, the config lookup and the table printers kept here.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from router.errors import CatalogError, ConfigError, InvalidRequest, PluginError, RouterError

if TYPE_CHECKING:
    from rich.console import Console

    from router.catalog import Catalog, ModelCard, PriceTier
    from router.core import Router
    from router.planning.lengths import ContextLength
    from router.planning.route import Route
    from router.state.latency import Speed

_MTOK = Decimal(1_000_000)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "demo":
        return _demo()
    if args.command == "sim":
        return _sim(args, sys.stdout)
    if args.command == "spend" and args.url:
        return _remote_spend(args, sys.stdout)
    # Imported here, not at the top: ``router --help`` and a command line error need
    # neither pydantic nor httpx.
    from router.config import load_yaml, server_settings
    from router.core import Router

    try:
        document = load_yaml(args.config)
        router = Router.from_config(document)
        # The Router ignores the server: block; serve reads it from the same document.
        args.server = server_settings(document) if args.command == "serve" else None
    except (ConfigError, PluginError) as exc:
        print(f"router: configuration error: {exc}", file=sys.stderr)
        return 2
    with router:
        status: int = args.run(router, args, sys.stdout)
        return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="router", description="A cost-aware LLM router.")
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    configured = argparse.ArgumentParser(add_help=False, parents=[verbose])
    configured.add_argument(
        "--config",
        "-c",
        default=os.environ.get("ROUTER_CONFIG", "router.yaml"),
        help="YAML configuration file (default: $ROUTER_CONFIG or ./router.yaml)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[configured])
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser(
        "models", parents=[common], help="list the merged catalog of every provider"
    )
    models.add_argument("--provider", action="append", help="only this provider (repeatable)")
    models.add_argument("--tools", action="store_true", help="only models known to support tools")
    models.add_argument("--vision", action="store_true", help="only models known to take images")
    models.add_argument("--min-context", type=int, default=0, metavar="N", help="context >= N")
    models.add_argument(
        "--sort",
        choices=("price", "context"),
        help="cheapest prompt first, or longest context first",
    )
    models.add_argument("--all", action="store_true", help="include generation (non-chat) models")
    models.add_argument(
        "--stats",
        action="store_true",
        help="add the measured speed of each deployment (TTFT p50/p90, tok/s, latency p90,"
        " error rate) from the router's state",
    )
    models.set_defaults(run=_models)

    check = commands.add_parser(
        "check", parents=[common], help="validate the config and fetch every catalog"
    )
    check.set_defaults(run=_check)

    request = argparse.ArgumentParser(add_help=False)
    request.add_argument("--model", "-m", default="auto", help="deployment ref, group or auto")
    request.add_argument("--max-tokens", type=int, help="max_tokens of the request")

    explain = commands.add_parser(
        "explain", parents=[common, request], help="show how a request would be routed"
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", "-p", help="a one-message request with this text")
    source.add_argument("--request", "-r", metavar="FILE", help="a Chat Completions request (JSON)")
    explain.set_defaults(run=_explain)

    chat = commands.add_parser(
        "chat", parents=[configured, request], help="send one message, stream the answer"
    )
    chat.add_argument("text", help="the message")
    chat.add_argument(
        "--json", action="store_true", help="print the completion as JSON instead of streaming"
    )
    chat.add_argument("--system", "-s", help="a system prompt")
    chat.set_defaults(run=_chat)

    serve = commands.add_parser(
        "serve",
        parents=[configured],
        help="run the OpenAI-compatible HTTP server (needs 'router[server]')",
        description="Serve /v1/chat/completions, /v1/responses, /v1/models and /health. "
        "Binds 127.0.0.1 "
        "unless told otherwise; any other address needs client keys (server.api_keys).",
    )
    serve.add_argument("--host", help="address to bind (default: server.host or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: server.port or 8000)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve from N processes (default 1); they share what they learn when the"
        " config's state: is shared (backend: redis)",
    )
    serve.set_defaults(run=_serve)

    sim = commands.add_parser(
        "sim",
        parents=[verbose],
        help="run the simulated providers on 127.0.0.1 with a ready config (offline, no keys)",
        description="Start the provider simulator on 127.0.0.1, write a router YAML for it and"
        " a file of the variables it reads, and print what to export. Every other command, and"
        " the Python API, can then be tried offline. Runs until Ctrl-C.",
    )
    sim.add_argument("--port", type=int, default=0, help="port to bind (default: any free one)")
    sim.add_argument(
        "--write",
        default="router-sim.yaml",
        metavar="FILE",
        help="the YAML to write (default: ./router-sim.yaml); the variables go beside it"
        " (router-sim.env)",
    )
    spend = commands.add_parser(
        "spend",
        parents=[common],
        help="spend per budget and key in the current periods",
        description="The ledger of this config's state backend (the memory backend holds "
        "one process's spend: ask a running server with --url), or of a running "
        "'router serve' (GET /v1/spend, an admin client key).",
    )
    spend.add_argument("--url", help="a running server's base URL (http://127.0.0.1:8000)")
    spend.add_argument(
        "--key",
        default=os.environ.get("ROUTER_API_KEY"),
        help="the server's admin client key (default: $ROUTER_API_KEY)",
    )
    spend.set_defaults(run=_spend)

    commands.add_parser(
        "demo",
        parents=[verbose],
        help="route a short workload through simulated providers (offline, no keys)",
    )
    return parser


# -- router models -------------------------------------------------------------------

_MODEL_HEADERS = (
    "provider",
    "model",
    "context",
    "$/1M in",
    "$/1M out",
    "$/1M cached",
    "$/1M write",
    "$/1M write 1h",
    "tools",
    "vision",
    "tiers",
    "price source",
    "context elsewhere",
    "canonical",
    "stale",
)


def _models(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    failed = False
    rows: list[tuple[ModelCard, bool]] = []
    for name in router.providers:
        if args.provider and name not in args.provider:
            continue
        try:
            catalog = router.catalog(name)
        except CatalogError as exc:
            print(f"router: {exc}", file=sys.stderr)
            failed = True
            continue
        rows.extend((card, catalog.stale) for card in catalog.models if _wanted(card, args))
    if args.sort == "price":
        rows.sort(key=lambda row: _price_key(row[0]))
    elif args.sort == "context":
        rows.sort(key=lambda row: -(row[0].context_length or 0))
    # A context length the catalog does not state, as another loaded catalog states it for
    # the same model (what context_fit judges by; the card itself stays as stated).
    known = router.planner.lengths.current()
    lent = {c.ref: f for c, _ in rows if c.context_length is None and (f := known.lend(c))}
    table = [_model_row(card, stale, lent.get(card.ref)) for card, stale in rows]
    if args.stats:
        return _models_stats(router, rows, table, args, out, failed)
    if args.json:
        _dump(
            [
                {**c.model_dump(mode="json"), **_lent_json(lent.get(c.ref)), "stale": s}
                for c, s in rows
            ],
            out,
        )
    elif (console := _console(out)) is not None:
        _rich_models(console, table)
    else:
        _table(out, _MODEL_HEADERS, table)
    return 1 if failed else 0


_STATS_HEADERS = ("model", "answers", "ttft p50", "ttft p90", "tok/s", "latency p90", "errors")


def _models_stats(
    router: Router,
    rows: list[tuple[ModelCard, bool]],
    table: list[tuple[str, ...]],
    args: argparse.Namespace,
    out: TextIO,
    failed: bool,
) -> int:
    """``router models --stats``: each deployment's measured speed beside its card. The
    figures are the router's state: this process's (nothing measured yet in a fresh
    ``router`` command) or the shared backend's."""
    speeds = router.latency.speeds()

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} s"

    if args.json:
        _dump(
            [
                {
                    **c.model_dump(mode="json"),
                    "stale": s,
                    "speed": None if c.ref not in speeds else speeds[c.ref].to_dict(),
                }
                for c, s in rows
            ],
            out,
        )
        return 1 if failed else 0
    stats: list[tuple[str, ...]] = []
    for card, _stale in rows:
        speed = speeds.get(card.ref)
        if speed is None:
            stats.append((card.ref, "0", "-", "-", "-", "-", "-"))
            continue
        tps = speed.tokens_per_second
        stats.append(
            (
                card.ref,
                str(speed.samples),
                seconds(speed.ttft_p50),
                seconds(speed.ttft_p90),
                "-" if tps is None else f"{tps:.0f}",
                seconds(speed.latency_p90),
                f"{speed.error_rate:.0%}",
            )
        )
    _table(out, _STATS_HEADERS, stats)
    if not speeds:
        out.write("(no answers measured yet in this router's state)\n")
    return 1 if failed else 0


def _wanted(card: ModelCard, args: argparse.Namespace) -> bool:
    return (
        (args.all or card.kind == "chat")
        and (not args.tools or card.supports_tools is True)
        and (not args.vision or card.supports_vision is True)
        and (not args.min_context or (card.context_length or 0) >= args.min_context)
    )


def _price_key(card: ModelCard) -> tuple[int, Decimal, Decimal]:
    if card.pricing is None:
        return (1, Decimal(0), Decimal(0))
    return (0, card.pricing.prompt, card.pricing.completion)


def _per_mtok(rate: Decimal | None) -> str:
    return "-" if rate is None else format((rate * _MTOK).normalize(), "f")


def _flag(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _lent_json(lent: ContextLength | None) -> dict[str, Any]:
    return {
        "context_length_elsewhere": None if lent is None else lent.tokens,
        "context_from": None if lent is None else lent.source,
    }


def _model_row(card: ModelCard, stale: bool, lent: ContextLength | None) -> tuple[str, ...]:
    pricing = card.pricing
    return (
        card.provider,
        card.ref,
        "?" if card.context_length is None else f"{card.context_length:,}",
        _per_mtok(pricing.prompt if pricing else None),
        _per_mtok(pricing.completion if pricing else None),
        _per_mtok(pricing.cache_read if pricing else None),
        _per_mtok(pricing.cache_write if pricing else None),
        _per_mtok(pricing.cache_write_1h if pricing else None),
        _flag(card.supports_tools),
        _flag(card.supports_vision),
        _tiers(pricing.tiers) if pricing and pricing.tiers else "-",
        card.price_source or "-",
        # the provider is enough here (the canonical name is beside it); --json has the ref
        "-" if lent is None else f"{lent.tokens:,} from {(lent.source or '').partition(':')[0]}",
        card.canonical,
        "STALE" if stale else "",
    )


def _tiers(tiers: Sequence[PriceTier]) -> str:
    """Each tier as ``>=<first prompt token it applies to>:<in>/<out>`` ($ per 1M; a rate
    the tier does not restate is the base one, ``=``)."""
    return ",".join(
        f">={t.above_prompt_tokens + 1}:"
        f"{'=' if t.prompt is None else _per_mtok(t.prompt)}/"
        f"{'=' if t.completion is None else _per_mtok(t.completion)}"
        for t in tiers
    )


# -- router check --------------------------------------------------------------------


def _check(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    from router.checks import config_findings

    reports: list[dict[str, Any]] = []
    refs: set[str] = set()
    fetched: list[Catalog] = []
    for name, provider in router.providers.items():
        report: dict[str, Any] = {"provider": name, "kind": provider.options.kind, "ok": False}
        try:
            catalog = provider.catalog.get()
        except CatalogError as exc:
            report["error"] = str(exc)
        else:
            report.update(_catalog_report(catalog))
            refs.update(card.ref for card in catalog.models)
            fetched.append(catalog)
        reports.append(report)
    missing = [
        {"group": group, "ref": ref}
        for group, members in router.groups.items()
        for ref in members
        if ref.partition(":")[0] in {r["provider"] for r in reports if r["ok"]} and ref not in refs
    ]
    findings = [
        {"key_path": f.key_path, "problem": f.problem, "severity": f.severity}
        for f in config_findings(router, fetched)
    ]
    ok = (
        all(r["ok"] for r in reports)
        and not missing
        and all(f["severity"] != "problem" for f in findings)
    )
    if args.json:
        _dump(
            {
                "ok": ok,
                "providers": reports,
                "missing_group_members": missing,
                "findings": findings,
            },
            out,
        )
    elif (console := _console(out)) is not None:
        _rich_check(console, reports, missing, findings, ok)
    else:
        _plain_check(out, reports, missing, findings, ok)
    return 0 if ok else 1


def _verdict(findings: list[dict[str, str]], ok: bool) -> str:
    """The last line of ``check``: all good, all good but for warnings, or problems."""
    if not ok:
        return "problems found"
    warnings = sum(f["severity"] == "warning" for f in findings)
    if warnings:
        return f"all good, but {warnings} warning{'s' if warnings > 1 else ''} above"
    return "all good"


def _plain_check(
    out: TextIO,
    reports: list[dict[str, Any]],
    missing: list[dict[str, str]],
    findings: list[dict[str, str]],
    ok: bool,
) -> None:
    for r in reports:
        if "error" in r:
            out.write(f"FAIL   {r['provider']} ({r['kind']}): {r['error']}\n")
            continue
        state = "STALE " if r["stale"] else "ok    "
        out.write(
            f"{state} {r['provider']} ({r['kind']}): {r['models']} models read"
            f" ({r['chat']} chat), {len(r['skipped'])} skipped\n"
        )
        for skip in r["skipped"]:
            out.write(f"         skipped {skip}\n")
        if r["stale"]:
            out.write(f"         last refresh failed: {r['stale_error']}\n")
    for m in missing:
        out.write(f"FAIL   models.{m['group']}: {m['ref']} is not in its provider's catalog\n")
    for f in findings:
        label = "FAIL  " if f["severity"] == "problem" else "WARN  "
        out.write(f"{label} {f['key_path']}: {f['problem']}\n")
    out.write(_verdict(findings, ok) + "\n")


def _catalog_report(catalog: Catalog) -> dict[str, Any]:
    return {
        "ok": not catalog.stale,
        "models": len(catalog.models),
        "chat": sum(card.kind == "chat" for card in catalog.models),
        "skipped": [str(skip) for skip in catalog.skipped],
        "stale": catalog.stale,
        "stale_error": catalog.error,
    }


# -- router explain / chat -------------------------------------------------------------


class _BadRequest(Exception):
    """The request given on the command line cannot be read."""


def _request_from(args: argparse.Namespace) -> dict[str, Any]:
    """The request the command line describes; raises ``_BadRequest`` saying what is wrong."""
    request: dict[str, Any]
    if getattr(args, "request", None):
        try:
            with open(args.request, encoding="utf-8") as file:
                request = json.load(file)
        except OSError as exc:
            raise _BadRequest(f"cannot read {args.request}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _BadRequest(f"{args.request}: not valid JSON: {exc}") from None
        if not isinstance(request, dict):
            raise _BadRequest(f"{args.request}: not a JSON object")
        if "self" in request:  # would collide with the method's own parameter
            raise _BadRequest(f"{args.request}: unknown field 'self'")
        request.setdefault("model", args.model)
    else:
        messages = (
            [{"role": "system", "content": args.system}] if getattr(args, "system", None) else []
        )
        text = args.prompt if getattr(args, "prompt", None) is not None else args.text
        messages.append({"role": "user", "content": text})
        request = {"model": args.model, "messages": messages}
    if args.max_tokens:
        request["max_tokens"] = args.max_tokens
    return request


def _explain(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    try:
        route = router.explain(**_request_from(args))
    except (_BadRequest, InvalidRequest) as exc:
        print(f"router: bad request: {exc}", file=sys.stderr)
        return 2
    except RouterError as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _dump(route.to_dict(), out)
    elif (console := _console(out)) is not None:
        _rich_route(console, route)
    else:
        out.write(f"{route}\n")
    return 0 if route.candidates else 1


def _chat(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    from router.planning.route import Route

    try:
        request = _request_from(args)
        if args.json:
            completion = router.complete(**request)
            route = completion.route
            payload = completion.model_dump(mode="json", exclude_none=True)
            if isinstance(route, Route):
                payload["route"] = route.to_dict()
            _dump(payload, out)
            return 0
        route = None
        try:
            for chunk in router.stream(**request):
                for choice in chunk.choices:
                    if choice.delta.content:
                        out.write(choice.delta.content)
                        out.flush()
                route = chunk.route or route
        finally:
            out.write("\n")
    except (_BadRequest, InvalidRequest) as exc:
        print(f"router: bad request: {exc}", file=sys.stderr)
        return 2
    except RouterError as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 1
    if route is not None:
        cost = "unknown" if route.cost is None else f"${format(route.cost.normalize(), 'f')}"
        note = " (usage estimated)" if route.usage_estimated else ""
        print(f"-- {route.chosen}  cost {cost}{note}", file=sys.stderr)
    return 0


# -- router serve ----------------------------------------------------------------------


def _serve(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    settings = args.server
    host: str = (args.host or settings.host).strip("[]")  # [::1] as in a URL
    port: int = settings.port if args.port is None else args.port
    keys = settings.api_keys
    if not keys and not _is_loopback(host):
        print(
            f"router: refusing to bind {host}: it is not a loopback address and no client"
            " keys are configured; set server.api_keys in the config (for example"
            " [${ROUTER_CLIENT_KEY}]) or bind 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    if not 0 <= port <= 65535:
        print(f"router: --port {port}: not a TCP port (0-65535)", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 256:
        print(f"router: --workers {args.workers}: between 1 and 256", file=sys.stderr)
        return 2
    if args.workers > 1:
        return _serve_workers(router, args, host, port)
    try:
        import uvicorn

        from router.serving.server import create_app, uvicorn_config

        app = create_app(
            router,
            api_keys=keys,
            max_body_bytes=settings.max_body_bytes,
            body_timeout_seconds=settings.body_timeout_seconds,
        )
    except ImportError:
        from router.serving.server import MISSING_EXTRA

        print(f"router: {MISSING_EXTRA}", file=sys.stderr)
        return 1
    where = f"[{host}]" if ":" in host else host
    auth = "client keys required" if keys else "no client keys: loopback only"
    print(
        f"router: serving {len(router.providers)} providers at http://{where}:{port}/v1 ({auth})",
        file=sys.stderr,
    )
    server = uvicorn.Server(
        uvicorn_config(
            app,
            settings,
            host=host,
            port=port,
            log_level="debug" if args.verbose > 1 else "info",
            server_header=False,
        )
    )
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down gracefully, then re-raised it
        pass
    except SystemExit:  # uvicorn exits when it cannot bind; it has logged why
        return 1
    return 0 if server.started else 1


def _serve_workers(router: Router, args: argparse.Namespace, host: str, port: int) -> int:
    """``serve --workers N``: uvicorn's supervisor binds the socket and runs N processes on
    it, each building its Router from the same config file (``router.serving.worker``)."""
    try:
        import uvicorn

        from router.serving import worker
    except ImportError:
        from router.serving.server import MISSING_EXTRA

        print(f"router: {MISSING_EXTRA}", file=sys.stderr)
        return 1
    if router.state.backend == "memory":
        print(
            "router: warning: state is 'memory': each of the workers learns alone (cooldowns,"
            " warm caches); set state.backend: redis to share it",
            file=sys.stderr,
        )
    router.close()  # the workers build their own
    os.environ[worker.CONFIG] = os.path.abspath(args.config)
    where = f"[{host}]" if ":" in host else host
    print(
        f"router: serving {len(router.providers)} providers at http://{where}:{port}/v1"
        f" from {args.workers} worker processes",
        file=sys.stderr,
    )
    try:
        uvicorn.run(
            "router.serving.worker:app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            http="router.serving.worker:HTTPProtocol",
            # uvicorn counts the connection asking among those open: N + 1 lets N be served
            limit_concurrency=args.server.max_connections + 1,
            log_level="debug" if args.verbose > 1 else "info",
            server_header=False,
        )
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # uvicorn exits when it cannot bind; it has logged why
        return 1 if exc.code else 0
    return 0


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- router sim ------------------------------------------------------------------------


def _sim(args: argparse.Namespace, out: TextIO) -> int:
    import shlex
    import threading
    from pathlib import Path

    from router.testing.simulator import REALISTIC, REALISTIC_IMAGE_TOKENS, Simulator

    if not 0 <= args.port <= 65535:
        print(f"router: --port {args.port}: not a TCP port (0-65535)", file=sys.stderr)
        return 2
    sim = Simulator(port=args.port, answer_length=REALISTIC, image_tokens=REALISTIC_IMAGE_TOKENS)
    try:
        sim.start()
    except OSError as exc:
        print(f"router: cannot bind 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        config = Path(args.write).resolve()
        env_file = config.with_suffix(".env")
        providers = ("pinstripes", "pipellm", "inference-api", "routstr", "openrouter")
        variables = {"ROUTER_CONFIG": str(config), **sim.environ(*providers)}
        exports = [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]
        try:
            config.write_text(sim.config_yaml(*providers), encoding="utf-8")
            env_file.write_text("\n".join(exports) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"router: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
            return 1
        here = Path.cwd()
        low, high = REALISTIC.bounds
        shown = str(env_file.relative_to(here)) if env_file.is_relative_to(here) else str(env_file)
        lines = [
            f"router sim: 5 simulated providers on http://127.0.0.1:{sim.port}"
            " (pinstripes, pipellm, majestix, routstr, openrouter); offline, fake keys",
            f"  they answer in plain sentences of {low}-{high} tokens, as long as a real model's"
            " answers (max_tokens cuts them)",
            f"wrote {config}",
            f"  and {env_file}: in another shell, run  source {shlex.quote(shown)}",
            "  or export these:",
            *(f"    {line}" for line in exports),
            "then try:",
            "  router check",
            "  router models --sort price",
            "  router explain -p 'Summarise our refund policy'",
            "  router chat 'Hello'",
            f"  in Python: Router.from_yaml({str(config)!r}).complete(model='auto', messages=...)",
            "Ctrl-C stops the simulator.",
        ]
        out.write("\n".join(lines) + "\n")
        out.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("router sim: stopped", file=sys.stderr)
        return 0
    finally:
        sim.stop()


# -- router demo -----------------------------------------------------------------------


def _demo() -> int:
    try:
        from router.demo import run_demo  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        print(f"router: the demo cannot run: {exc}", file=sys.stderr)
        return 1
    status: int = run_demo()
    return status


# -- output --------------------------------------------------------------------------


_SPEND_HEADERS = ("budget", "key", "period", "since (UTC)", "spent", "reserved", "limit", "left")
_SPEND_FIELDS = (
    "budget", "key", "period", "since", "spent_usd", "reserved_usd", "limit_usd", "left_usd",
)  # fmt: skip


def _spend(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    from router.state.ledger import MemoryLedger

    rows = [row.to_dict() for row in router.spend()]
    if not rows and isinstance(router.ledger, MemoryLedger):
        print(
            "router: the memory state backend holds only this process's spend;"
            " ask a running server with --url",
            file=sys.stderr,
        )
    _print_spend(rows, args, out)
    return 0


def _remote_spend(args: argparse.Namespace, out: TextIO) -> int:
    import httpx

    headers = {"authorization": f"Bearer {args.key}"} if args.key else {}
    url = args.url.rstrip("/") + ("/spend" if args.url.rstrip("/").endswith("/v1") else "/v1/spend")
    try:
        response = httpx.get(url, headers=headers, timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        print(f"router: cannot reach {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        print(f"router: {args.url}: {message}", file=sys.stderr)
        return 1
    _print_spend(response.json().get("data", []), args, out)
    return 0


def _print_spend(rows: list[dict[str, str]], args: argparse.Namespace, out: TextIO) -> None:
    if args.json:
        _dump(rows, out)
        return
    cells = [
        [*(row[f] for f in _SPEND_FIELDS[:4]), *(f"${row[f]}" for f in _SPEND_FIELDS[4:])]
        for row in rows
    ]
    _table(out, _SPEND_HEADERS, cells, empty="(no spend recorded)")


def _dump(payload: object, out: TextIO) -> None:
    json.dump(payload, out, indent=2)
    out.write("\n")


def _table(
    out: TextIO,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    empty: str = "(no models)",
) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    for line in (headers, *rows):
        out.write(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n"
        )
    if not rows:
        out.write(empty + "\n")


def _console(out: TextIO) -> Console | None:
    """A rich console on ``out`` when it is a terminal and rich is installed, else None
    (plain text: what scripts and pipes get)."""
    isatty = getattr(out, "isatty", None)
    if isatty is None or not isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=out, highlight=False)


def _rich_models(console: Console, rows: Sequence[tuple[str, ...]]) -> None:
    from rich.table import Table
    from rich.text import Text

    # Narrower than the plain table: a context length from elsewhere is starred in the
    # context column, its provider said below the table.
    table = Table(box=None, header_style="bold", pad_edge=False)
    elsewhere = _MODEL_HEADERS.index("context elsewhere")
    for i, header in enumerate(_MODEL_HEADERS):
        if i != elsewhere:
            table.add_column(header, justify="right" if 2 <= i <= 7 else "left")
    starred = []
    for row in rows:
        *cells, stale = row
        lent = cells.pop(elsewhere)
        if lent != "-":
            figure, _, provider = lent.partition(" from ")
            cells[2] = f"{figure}*"
            starred.append(f"{cells[1]}: {provider}")
        table.add_row(*(Text(cell) for cell in cells), Text(stale, style="yellow"))
    console.print(table)
    if starred:
        console.print(
            Text(
                "* not in the provider's catalog: the smallest context length another catalog"
                f" states for the same model ({'; '.join(starred)})"
            )
        )
    if not rows:
        console.print("(no models)")


def _rich_check(
    console: Console,
    reports: list[dict[str, Any]],
    missing: list[dict[str, str]],
    findings: list[dict[str, str]],
    ok: bool,
) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for header in ("", "provider", "kind", "models", "chat", "skipped", "note"):
        right = header in {"models", "chat", "skipped"}
        table.add_column(header, justify="right" if right else "left")
    for r in reports:
        if "error" in r:
            state, counts, note = Text("FAIL", "bold red"), ("", "", ""), r["error"]
        else:
            state = Text("STALE", "yellow") if r["stale"] else Text("ok", "green")
            counts = (str(r["models"]), str(r["chat"]), str(len(r["skipped"])))
            note = f"last refresh failed: {r['stale_error']}" if r["stale"] else ""
        table.add_row(state, Text(r["provider"]), Text(r["kind"]), *counts, Text(note))
    console.print(table)
    for r in reports:
        for skip in r.get("skipped", ()):
            console.print(Text(f"skipped  {r['provider']}: {skip}", style="dim"))
    for m in missing:
        line = f"FAIL  models.{m['group']}: {m['ref']} is not in its provider's catalog"
        console.print(Text(line, style="red"))
    for f in findings:
        problem = f["severity"] == "problem"
        line = f"{'FAIL' if problem else 'WARN'}  {f['key_path']}: {f['problem']}"
        console.print(Text(line, style="red" if problem else "yellow"))
    console.print(Text(_verdict(findings, ok), "green" if ok else "bold red"))


def _speed_cell(speed: Speed | None, seconds: float | None) -> str:
    if speed is None:
        return ""
    expected = f"~{seconds:.2f} s; " if seconds is not None else ""
    return expected + speed.describe()


def _rich_route(console: Console, route: Route) -> None:
    from rich.table import Table
    from rich.text import Text

    def usd(value: Decimal | None) -> str:
        return "unpriced" if value is None else f"${format(value.normalize(), 'f')}"

    if route.chain:
        console.print(Text(f"chain: {' -> '.join(route.chain)}"))
    console.print(Text(f"model {route.model!r}: {len(route.candidates)} candidates", "bold"))
    if route.candidates:
        table = Table(box=None, header_style="bold", pad_edge=False)
        lent = any(c.context_from is not None for c in route.candidates)
        headers = ["#", "deployment", "prompt tok", "output tok", "est. cost", "speed", "cache"]
        for header in [*headers, *(["context (lent)"] if lent else []), "ranked after"]:
            right = header in {"#", "prompt tok", "output tok", "est. cost"}
            table.add_column(header, justify="right" if right else "left")
        for i, c in enumerate(route.candidates, 1):
            cache = ""
            if c.hit_rate is not None:
                saved = usd(c.saved) if c.saved is not None else "?"
                cache = f"~{c.cached_tokens} tok, hit rate {c.hit_rate:.2f}, saves {saved}"
            context = []
            if lent:  # a context length filled in from another provider's catalog
                figure = c.context_length
                context = [Text("" if figure is None else f"{figure:,} from {c.context_from}")]
            table.add_row(
                str(i),
                Text(c.ref, "bold" if i == 1 else ""),
                f"~{c.prompt_tokens}",
                str(c.output_tokens),
                usd(c.cost),
                Text(_speed_cell(c.speed, c.seconds)),
                Text(cache),
                *context,
                Text("; ".join(c.unsure)),
            )
        console.print(table)
    if route.excluded:
        console.print(Text(f"excluded ({len(route.excluded)}):", "bold"))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for header in ("deployment", "by", "reason"):
            table.add_column(header)
        for e in route.excluded:
            table.add_row(Text(e.ref), Text(e.policy, "dim"), Text(e.reason))
        console.print(table)
