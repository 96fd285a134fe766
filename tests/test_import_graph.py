"""The import graph of runner/ and tui/ (tests/import_graph.py draws it): no cycles, every
import down the layers, no other module's `_private` names, the front-ends on the public API."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests import import_graph


def test_no_import_cycles() -> None:
    arrows, _ = import_graph.graph()
    assert import_graph.cycles(arrows) == []


def test_imports_run_down_the_layers() -> None:
    arrows, _ = import_graph.graph()
    assert import_graph.up(arrows) == []


def test_no_module_imports_another_modules_private_names() -> None:
    _, private = import_graph.graph()
    assert private == []


def test_the_cli_and_the_tui_import_only_the_public_face() -> None:
    assert import_graph.front_ends() == []


def test_a_package_is_one_room(tmp_path: Path) -> None:
    """runner/store/ is the room `store`: arrows into it and out of its files count, and
    TYPE_CHECKING imports do not."""
    root = tmp_path / "runner"
    (root / "store").mkdir(parents=True)
    (root / "store" / "__init__.py").write_text("from runner.store.rows import Rows\n")
    (root / "store" / "rows.py").write_text("from runner.worker import Batch\n")
    (root / "worker.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from runner.api import Launch
            def f():
                from runner.store import _cache
            """
        )
    )
    (root / "api.py").write_text("")
    (root / "cli.py").write_text("def f():\n    from runner.store import default_home\n")
    tui = tmp_path / "tui"
    tui.mkdir()
    (tui / "text.py").write_text("import runner\nfrom runner.tui.app import App\n")
    arrows, private = import_graph.graph(root, tui)
    assert arrows == {"store": {"worker"}, "worker": {"store"}, "cli": {"store"}}
    assert import_graph.cycles(arrows) == [["store", "worker"]]
    assert "up: store (layer 6) -> worker (layer 3)" in import_graph.up(arrows)
    assert private == ["worker imports store._cache"]
    assert import_graph.front_ends(root, tui) == ["front-end: runner/cli.py imports runner.store"]
