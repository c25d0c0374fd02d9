"""The import rules of orchestration_core (docs/architecture.md), checked on the source with ast.

Each package of the core is a room; the table below says which rooms a room may import. The
diagram in docs/architecture.md is the same table: a test holds the two together.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core" / "orchestration_core"
DOC = ROOT / "docs" / "architecture.md"
PKG = "orchestration_core"

# room -> the rooms it may import (besides itself). "services" is the composition root.
ALLOWED: dict[str, set[str]] = {
    "shared": set(),
    "auth": {"shared"},
    "tasktypes": {"shared"},
    "workflows": {"shared"},
    "engine": {"shared", "tasktypes", "workflows"},
    "executions": {"shared", "tasktypes", "workflows", "engine"},
    "schedules": {"shared", "workflows", "executions"},
    "services": {"shared", "auth", "tasktypes", "workflows", "engine", "executions", "schedules"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The orchestration_core modules a file imports (at any depth unless top_level_only)."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    known = modules()
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == PKG)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module.split(".")[0] != PKG:
                continue
            for a in node.names:  # `from orchestration_core.x import sub` imports the submodule
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m != PKG}


def test_every_module_is_in_a_room_of_the_table() -> None:
    for module in modules():
        room = room_of(module)
        assert room is None or room in ALLOWED, f"{module}: room {room!r} is not in the table"


def test_rooms_import_only_what_the_table_allows() -> None:
    bad = []
    for module, path in modules().items():
        room = room_of(module)
        if room is None:
            continue
        for imported in imports_of(path):
            other = room_of(imported)
            if other is not None and other != room and other not in ALLOWED[room]:
                bad.append(f"{module} imports {imported} ({room} -> {other})")
    assert not bad, "imports the table of docs/architecture.md forbids:\n" + "\n".join(bad)


def test_nothing_in_the_core_imports_the_composition_root() -> None:
    bad = [
        f"{module} imports {PKG}.services"
        for module, path in modules().items()
        if module != f"{PKG}.services" and f"{PKG}.services" in imports_of(path)
    ]
    assert not bad, "only handlers and the embedded runtime import services:\n" + "\n".join(bad)


def test_package_files_are_empty() -> None:
    for path in CORE.rglob("__init__.py"):
        body = ast.parse(path.read_text()).body
        code = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert not code, f"{path.relative_to(ROOT)} must stay empty (a docstring at most)"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "all-imports"])
def test_no_import_cycles_between_modules(top_level_only: bool) -> None:
    graph = {m: imports_of(p, top_level_only=top_level_only) & set(modules()) for m, p in modules().items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_table_has_no_cycles() -> None:
    cycle = find_cycle(ALLOWED)
    assert cycle is None, "the table of rooms has a cycle: " + " -> ".join(cycle or [])


def test_the_diagram_in_the_doc_is_the_table() -> None:
    text = DOC.read_text()
    block = re.search(r"```mermaid\n(graph[^\n]*\n.*?)```", text, re.S)
    assert block, "docs/architecture.md has no mermaid graph"
    drawn: dict[str, set[str]] = {room: set() for room in ALLOWED}
    for src, dst in re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", block.group(1), re.M):
        drawn.setdefault(src, set()).add(dst)
    assert drawn == ALLOWED, "the mermaid graph of docs/architecture.md and ALLOWED differ"
