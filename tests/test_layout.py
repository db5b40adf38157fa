"""The layout of ``router/`` (issue 12): the core never reaches into plugins, no module
imports one that imports it back, and each folder holds what it says.

Imports are read from the source (no module is executed). Counted: every import at
module level, including those under ``if TYPE_CHECKING:`` (a cycle in annotations is a
cycle in the design). Not counted: imports inside a function, which is how the facade
reaches an optional layer built on top of it (``Router.transport()`` → ``serving``) and
how the CLI loads a command's modules only when it runs. ``router/__init__.py`` (the
public names, imported lazily) is left out of the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "router"

MAX_LINES = 500
LONGER = {
    # the reason each is longer stands in its module docstring or beside the code
    "router.cli",
    "router.provider",
    "router.serving.server",
    "router.serving.transport",
    "router.wire.anthropic_messages",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements, with the bodies of ``if`` blocks (TYPE_CHECKING) and
    ``try`` blocks, but not of functions or classes' methods."""
    found: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If | ast.Try):
            todo.extend(node.body)
            todo.extend(node.orelse)
            if isinstance(node, ast.Try):
                todo.extend(h for handler in node.handlers for h in handler.body)
    return found


def imports(name: str, *, everywhere: bool = False) -> set[str]:
    """The modules ``name`` imports (module level only, unless ``everywhere``)."""
    tree = ast.parse(MODULES[name].read_text())
    nodes = list(ast.walk(tree)) if everywhere else _top_level(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from router.wire import safe_json``: a submodule
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return found


def test_router_imports_no_plugin():
    for name in MODULES:
        plugins = {
            m
            for m in imports(name, everywhere=True)
            if m.split(".")[0] in ("policies", "providers")
        }
        assert not plugins, f"{name} imports {sorted(plugins)}"


def test_no_import_cycles():
    graph = {
        name: {m for m in imports(name) if m in MODULES and m != "router"}
        for name in MODULES
        if name != "router"
    }
    # Tarjan's strongly connected components: a component of more than one module, or a
    # module importing itself, is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_subpackages_hold_what_their_names_say():
    # planning decides, dispatch sends, state remembers, wire translates: none of them
    # reaches up into the Router facade, the CLI or the HTTP surface.
    above = {"router.core", "router.cli", "router.demo"}
    for name in MODULES:
        layer = name.split(".")[1] if name.count(".") >= 1 else ""
        if layer in ("planning", "dispatch", "state", "wire"):
            reached = {m for m in imports(name) if m in above or m.startswith("router.serving")}
            assert not reached, f"{name} imports {sorted(reached)}"


def test_modules_stay_short_or_say_why():
    for name, path in MODULES.items():
        if name.startswith("router.testing.simulator") or name in LONGER:
            continue
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{name} has {lines} lines"
