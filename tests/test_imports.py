"""What importing the package loads, checked in fresh interpreters (issue 6: import time).

No timings here: a shared CI machine makes them flaky. What is checked is which
modules an import pulls in, which is what the time depends on.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import router

ROOT = Path(__file__).parents[1]

HEAVY = ("httpx", "pydantic", "yaml", "rich", "click", "pygments", "starlette", "uvicorn")
"""Third-party packages an import should only load when it needs them."""

HTTPX_CLI = ("rich", "click", "pygments")
"""What ``httpx`` itself imports, for its ``httpx._main`` command line, when installed."""


def python(*args: str) -> str:
    """The output of a fresh interpreter started in the repository root (so it imports
    this tree) with ``args``; it must succeed."""
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def loaded_after(code: str) -> set[str]:
    """The packages of :data:`HEAVY` in ``sys.modules`` after running ``code`` in a fresh
    interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    modules = set(json.loads(python("-c", probe).splitlines()[-1]))
    return {name for name in HEAVY if name in modules} | (
        {"httpx._main"} if "httpx._main" in modules else set()
    )


def test_import_router_loads_no_dependency():
    assert loaded_after("import router") == set()


def test_import_router_then_an_error_class_loads_no_dependency():
    assert loaded_after("from router import ConfigError, NoRouteError, RouterError") == set()


def test_from_router_import_router_loads_no_cli_server_or_yaml():
    loaded = loaded_after("from router import Router")
    assert not loaded & {"yaml", "starlette", "uvicorn"}
    # rich, click and pygments may come only through httpx's own CLI module (httpx
    # imports httpx._main when they are installed), never through the router.
    assert not loaded & set(HTTPX_CLI) or "httpx._main" in loaded


def test_router_from_config_does_not_load_yaml():
    code = (
        "from router import Router\n"
        "Router.from_config({'providers': [{'name': 'a', 'kind': 'openrouter',"
        " 'base_url': 'http://127.0.0.1:9/v1', 'api_key': 'k'}]})"
    )
    loaded = loaded_after(code)
    assert "yaml" not in loaded
    assert not loaded & {"starlette", "uvicorn"}


def test_cli_help_loads_neither_pydantic_nor_httpx():
    code = (
        "import contextlib, io, router.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    router.cli.main(['--help'])"
    )
    assert loaded_after(code) == set()


def test_python_m_router_help_runs():
    out = python("-m", "router", "--help")
    assert out.startswith("usage: router")
    for command in ("models", "check", "explain", "chat", "serve", "demo"):
        assert command in out


# -- the lazy exports ---------------------------------------------------------------------


def type_checking_imports() -> dict[str, str]:
    """Name → module of the imports under ``if TYPE_CHECKING:`` in router/__init__.py."""
    tree = ast.parse((ROOT / "router" / "__init__.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
                for alias in stmt.names:
                    found[alias.asname or alias.name] = f"{stmt.module}"
    return found


def test_static_imports_match_the_lazy_table():
    # What mypy and IDEs see (the TYPE_CHECKING imports) is what runs (_EXPORTS).
    assert type_checking_imports() == router._EXPORTS
    assert set(router._EXPORTS) == set(router.__all__)


def test_dir_lists_every_export():
    assert set(router.__all__) <= set(dir(router))


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        router.Nope  # noqa: B018
    with pytest.raises(ImportError):
        from router import Nope  # type: ignore[attr-defined]  # noqa: F401


SIMULATOR_LAYERS = (
    "answers",
    "http",
    "model",
    "openai",
    "anthropic",
    "majestix",
    "anthropic_api",
    "gemini",
    "providers",
    "catalogs",
    "sandbox",
    "core",
)
"""The simulator's modules, lowest first: each may import only those before it."""


def test_simulator_modules_import_only_lower_ones():
    package = ROOT / "router" / "testing" / "simulator"
    assert {p.stem for p in package.glob("*.py")} == {"__init__", *SIMULATOR_LAYERS}
    for index, name in enumerate(SIMULATOR_LAYERS):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        } | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        ours = {m for m in imported if m == "router" or m.startswith("router.")}
        allowed = {f"router.testing.simulator.{lower}" for lower in SIMULATOR_LAYERS[:index]}
        assert ours <= allowed, f"{name} imports {sorted(ours - allowed)}"
        assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
