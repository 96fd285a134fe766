"""The import graph of runner/ (each module a room, each import an arrow): cycles, imports
that run up the layers, imports of another module's `_private` names. Top-level and
function-level imports count; those under `if TYPE_CHECKING:` do not.

    python -m tests.import_graph        # prints what is wrong, or "clean"
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

RUNNER = Path(__file__).resolve().parent.parent / "runner"

# DESIGN.md's layers, top first: an import goes to its own layer or one below.
LAYERS = [
    "__main__ cli cli_completion cli_file cli_help render pipes cluster",  # front-end: the CLI
    "__init__ api handles",  # the public face
    "launching execution lifecycle reads background",  # services
    "composer validate plan entrypoints inputs engine launchers worker dask_launcher catalog"
    " decorated pyfile snapshots provenance cancellation detach documents demos store_check",
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
            if node.module == "runner":
                yield from ((alias.name, None) for alias in node.names)
            elif node.module.startswith("runner."):
                module = node.module.split(".")[1]
                yield from ((module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("runner."):
                    yield alias.name.split(".")[1], None
        else:
            yield from imports(node)


def graph(root: Path = RUNNER) -> tuple[dict[str, set[str]], list[str]]:
    """The arrows between runner's modules, and the imports of `_private` names."""
    arrows: dict[str, set[str]] = {}
    private: list[str] = []
    for path in sorted(root.glob("*.py")):
        me = path.stem
        for module, name in imports(ast.parse(path.read_text())):
            if module == me or not (root / f"{module}.py").exists():
                continue  # a name of the package itself (runner.workflow), or a subpackage
            arrows.setdefault(me, set()).add(module)
            if name and name.startswith("_") and not name.startswith("__"):
                private.append(f"{me} imports {module}.{name}")
    return arrows, private


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


def problems(root: Path = RUNNER) -> list[str]:
    arrows, private = graph(root)
    found = [f"private: {line}" for line in private]
    found += [f"cycle: {' <-> '.join(part)}" for part in cycles(arrows)]
    for me, targets in sorted(arrows.items()):
        if me not in RANK:
            found.append(f"no layer: {me}")
            continue
        for target in sorted(targets):
            if target in RANK and RANK[target] < RANK[me]:
                found.append(f"up: {me} (layer {RANK[me]}) -> {target} (layer {RANK[target]})")
    return found


if __name__ == "__main__":
    print("\n".join(problems()) or "clean")
    sys.exit(0)
