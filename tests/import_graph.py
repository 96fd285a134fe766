"""The import graph of runner/ and tui/ (each module a room, each import an arrow): cycles,
imports that run up the layers, imports of another module's `_private` names, and what the
front-ends (the CLI, the TUI) may import. A package (runner/store/, tui/ shipped as
runner.tui) is one room: its files' imports are its arrows. Top-level and function-level
imports count; those under `if TYPE_CHECKING:` do not. tests/test_import_graph.py asserts it.

    python -m tests.import_graph        # prints what is wrong, or "clean"
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "runner"
TUI = ROOT / "tui"  # installed as runner.tui

# DESIGN.md's layers, top first: an import goes to its own layer or one below.
LAYERS = [
    "__main__ cli cli_completion cli_file cli_help cli_metrics render pipes cluster tui",  # front-ends
    "__init__ api handles live",  # the public face
    "launching execution lifecycle reads background",  # services
    "composer validate plan entrypoints inputs engine launchers worker dask_launcher catalog"
    " decorated pyfile snapshots provenance cancellation detach documents demos store_check"
    " metrics running search_space search studies",
    "display frames export progress",  # views fed plain data
    "results printable",  # the table model they are fed
    "records result_files store errors",  # records
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names.split()}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.AST) -> Iterator[tuple[str, str | None]]:
    """(runner module, name taken from it or None) for each import, at any depth."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            for other in node.orelse:
                yield from imports(ast.Module([other], []))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "runner":  # a module (from runner import api) or a public name
                yield from ((alias.name, None) for alias in node.names)
            elif node.module.startswith("runner."):
                module = node.module.split(".")[1]
                yield from ((module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "runner":
                    yield "__init__", None
                elif alias.name.startswith("runner."):
                    yield alias.name.split(".")[1], None
        else:
            yield from imports(node)


def files(root: Path = RUNNER, tui: Path = TUI) -> dict[Path, str]:
    """Each source file and the room it belongs to: runner/X.py is X, a package's files
    (runner/store/*.py, tui/*.py) are the package."""
    found = {path: path.stem for path in sorted(root.glob("*.py"))}
    for package in sorted(root.iterdir()):
        if (package / "__init__.py").is_file():
            found |= dict.fromkeys(sorted(package.rglob("*.py")), package.name)
    if tui.is_dir():
        found |= dict.fromkeys(sorted(tui.rglob("*.py")), "tui")
    return found


def targets(path: Path, rooms: set[str]) -> Iterator[tuple[str, str | None]]:
    """(room, name) for each import of runner in one file: `import runner` and the package's
    public names (from runner import Param) are the room __init__."""
    for module, name in imports(ast.parse(path.read_text())):
        yield (module if module in rooms else "__init__"), name


def graph(root: Path = RUNNER, tui: Path = TUI) -> tuple[dict[str, set[str]], list[str]]:
    """The arrows between runner's modules, and the imports of `_private` names."""
    located = files(root, tui)
    rooms = set(located.values())
    arrows: dict[str, set[str]] = {}
    private: list[str] = []
    for path, me in located.items():
        for module, name in targets(path, rooms):
            if module in (me, "__init__"):
                continue  # within the room, or a public name of the package
            arrows.setdefault(me, set()).add(module)
            if name and name.startswith("_") and not name.startswith("__"):
                private.append(f"{me} imports {module}.{name}")
    return arrows, private


# What the front-ends may import: the public face and the public data, and their own rooms
# (cluster is the `runner cluster` command's, pipes the CLI's handling of closed readers).
CLI = {
    "__main__",
    "cli",
    "cli_completion",
    "cli_file",
    "cli_help",
    "cli_metrics",
    "cluster",
    "render",
}
CLI_MAY = CLI | {"__init__", "api", "errors", "records", "results", "printable", "pipes", "tui"}
TUI_MAY = {"__init__", "tui"}


def front_ends(root: Path = RUNNER, tui: Path = TUI) -> list[str]:
    """The imports of a CLI module or the TUI outside what it may import."""
    located = files(root, tui)
    rooms = set(located.values())
    found: list[str] = []
    for path, me in located.items():
        may = CLI_MAY if me in CLI else TUI_MAY if me == "tui" else None
        if may is None:
            continue
        for module, _ in targets(path, rooms):
            line = f"front-end: {path.relative_to(root.parent)} imports runner.{module}"
            if module not in may and line not in found:
                found.append(line)
    return found


def cycles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in arrows.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(arrows):
        if v not in index:
            visit(v)
    return found


def up(arrows: dict[str, set[str]]) -> list[str]:
    """The arrows that run up the layers, and the rooms in no layer."""
    found = []
    for me, targets in sorted(arrows.items()):
        if me not in RANK:
            found.append(f"no layer: {me}")
            continue
        for target in sorted(targets):
            if target in RANK and RANK[target] < RANK[me]:
                found.append(f"up: {me} (layer {RANK[me]}) -> {target} (layer {RANK[target]})")
    return found


def problems(root: Path = RUNNER, tui: Path = TUI) -> list[str]:
    arrows, private = graph(root, tui)
    found = [f"private: {line}" for line in private]
    found += [f"cycle: {' <-> '.join(part)}" for part in cycles(arrows)]
    return found + up(arrows) + front_ends(root, tui)


if __name__ == "__main__":
    print("\n".join(problems()) or "clean")
    sys.exit(0)
