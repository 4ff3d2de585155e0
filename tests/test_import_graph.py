"""The code's rooms keep their rules: no import cycle among the app's modules, and nothing
of Django, Channels or Celery in the pure rooms.

Only imports at a module's top level count: an import inside a function (a Celery task
importing its service, a service queueing its task after commit) runs after every
module has loaded, which is how the cycles are broken on purpose (HackSoft's rule).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("arena", "judges", "ratings", "simulator")
# Rooms that know nothing of the web framework or the task queue (docs/ARCHITECTURE.md).
PURE = (
    "ratings",
    "arena/formats",
    "judges",
    "simulator",
    "arena/standings.py",
    "arena/evidence.py",
    "arena/listwise.py",
)
FRAMEWORKS = ("django", "channels", "celery", "kombu", "asgiref", "arena.models")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _top_level_imports(path: Path, name: str) -> Iterator[str]:
    """Modules imported at the top level (under ``if TYPE_CHECKING`` excepted)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for child in [node] if not isinstance(node, ast.Try) else node.body:
            if isinstance(child, ast.Import):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - child.level + 1]
                        + ([base] if base else [])
                    )
                yield base
                yield from (f"{base}.{alias.name}" for alias in child.names)


def _with_parents(name: str) -> Iterator[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` first."""
    parts = name.split(".")
    yield from (".".join(parts[:i]) for i in range(1, len(parts) + 1))


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {
            target
            for imported in _top_level_imports(path, name)
            for target in _with_parents(imported)
            if target in modules and target != name and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _pure_files() -> Iterator[Path]:
    for room in PURE:
        where = ROOT / room
        yield from [where] if where.is_file() else where.rglob("*.py")


def test_the_pure_rooms_import_nothing_of_django_channels_or_celery() -> None:
    offending = []
    for path in _pure_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offending += [
                f"{path.relative_to(ROOT)}: {n}"
                for n in names
                if n.split(".")[0] in FRAMEWORKS or n.startswith(FRAMEWORKS)
            ]
    assert offending == []
