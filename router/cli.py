"""The ``router`` command line: ``models``, ``check``, ``explain`` and ``chat``.

The configuration comes from ``--config F``, else ``$ROUTER_CONFIG``, else ``./router.yaml``.
Exit status: 0 ok, 1 a provider failed, 2 the configuration or the command line is wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

from router.catalog import Catalog, ModelCard
from router.core import Router
from router.errors import CatalogError, ConfigError, PluginError, RouterError

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
    try:
        router = Router.from_yaml(args.config)
    except (ConfigError, PluginError) as exc:
        print(f"router: configuration error: {exc}", file=sys.stderr)
        return 2
    with router:
        status: int = args.run(router, args, sys.stdout)
        return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="router", description="A cost-aware LLM router.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        default=os.environ.get("ROUTER_CONFIG", "router.yaml"),
        help="YAML configuration file (default: $ROUTER_CONFIG or ./router.yaml)",
    )
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
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
        "chat", parents=[common, request], help="send one message, stream the answer"
    )
    chat.add_argument("text", help="the message")
    chat.add_argument("--system", "-s", help="a system prompt")
    chat.set_defaults(run=_chat)
    return parser


# -- router models -------------------------------------------------------------------


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
    if args.json:
        json.dump([{**c.model_dump(mode="json"), "stale": s} for c, s in rows], out, indent=2)
        out.write("\n")
    else:
        headers = (
            "provider",
            "model",
            "context",
            "$/1M in",
            "$/1M out",
            "$/1M cached",
            "tools",
            "vision",
            "stale",
        )
        _table(out, headers, [_model_row(card, stale) for card, stale in rows])
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


def _model_row(card: ModelCard, stale: bool) -> tuple[str, ...]:
    pricing = card.pricing
    return (
        card.provider,
        card.ref,
        "?" if card.context_length is None else f"{card.context_length:,}",
        _per_mtok(pricing.prompt if pricing else None),
        _per_mtok(pricing.completion if pricing else None),
        _per_mtok(pricing.cache_read if pricing else None),
        _flag(card.supports_tools),
        _flag(card.supports_vision),
        "STALE" if stale else "",
    )


# -- router check --------------------------------------------------------------------


def _check(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    reports: list[dict[str, Any]] = []
    refs: set[str] = set()
    for name, provider in router.providers.items():
        report: dict[str, Any] = {"provider": name, "kind": _kind(provider), "ok": False}
        try:
            catalog = provider.catalog.get()
        except CatalogError as exc:
            report["error"] = str(exc)
        else:
            report.update(_catalog_report(catalog))
            refs.update(card.ref for card in catalog.models)
        reports.append(report)
    missing = [
        {"group": group, "ref": ref}
        for group, members in router.groups.items()
        for ref in members
        if ref.partition(":")[0] in {r["provider"] for r in reports if r["ok"]} and ref not in refs
    ]
    ok = all(r["ok"] for r in reports) and not missing
    if args.json:
        json.dump({"ok": ok, "providers": reports, "missing_group_members": missing}, out, indent=2)
        out.write("\n")
        return 0 if ok else 1
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
    out.write("all good\n" if ok else "problems found\n")
    return 0 if ok else 1


def _kind(provider: Any) -> str:
    return str(provider.options.kind)


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


def _request_from(args: argparse.Namespace) -> dict[str, Any]:
    request: dict[str, Any]
    if getattr(args, "request", None):
        with open(args.request, encoding="utf-8") as file:
            request = json.load(file)
        if not isinstance(request, dict):
            msg = f"{args.request}: not a JSON object"
            raise ValueError(msg)
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
    except (RouterError, ValueError, OSError) as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(route.to_dict(), out, indent=2)
        out.write("\n")
    else:
        out.write(f"{route}\n")
    return 0 if route.candidates else 1


def _chat(router: Router, args: argparse.Namespace, out: TextIO) -> int:
    request = _request_from(args)
    route = None
    try:
        for chunk in router.stream(**request):
            for choice in chunk.choices:
                if choice.delta.content:
                    out.write(choice.delta.content)
                    out.flush()
            route = chunk.route or route
    except RouterError as exc:
        out.write("\n")
        print(f"router: {exc}", file=sys.stderr)
        return 1
    out.write("\n")
    if route is not None:
        cost = "unknown" if route.cost is None else f"${format(route.cost.normalize(), 'f')}"
        note = " (usage estimated)" if route.usage_estimated else ""
        print(f"-- {route.chosen}  cost {cost}{note}", file=sys.stderr)
    return 0


# -- output --------------------------------------------------------------------------


def _table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    for line in (headers, *rows):
        out.write(
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() + "\n"
        )
    if not rows:
        out.write("(no models)\n")
