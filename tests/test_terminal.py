"""Launch metadata printed for a person is shown, never obeyed: escape sequences escaped,
rich markup literal; --json keeps the exact values."""

from __future__ import annotations

import json
import re

ESC = "\x1b"
NAME = f"n{ESC}[2J{ESC}[1A[/red]x"
TAG = "[link=http://x/]click[/link]"
VALUES = ["[/red]x", f"{ESC}[2Jwiped", "[link=http://x/]c[/link]"]


def test_escape_and_markup_laden_metadata_reach_no_terminal(cli) -> None:
    launch = cli(
        "echo",
        "--name",
        NAME,
        "--tags",
        f"{TAG},t{ESC}]8;;http://x{ESC}\\",
        "--notes",
        f"{ESC}[31mred",
        "--labels",
        f"k={ESC}[1A",
        "params.s=" + ",".join(f"'{v}'" for v in VALUES),
        "params.x=1,2",
        env={"COLUMNS": "200"},
    )
    assert launch.code == 0, launch.err
    launch_id = re.search(r"launch ([0-9a-f]{32})", launch.out)[1]
    outputs = {
        "launch": launch,  # the end-of-launch results table
        "status": cli("status", env={"COLUMNS": "200"}),
        "status ID": cli("status", launch_id, env={"COLUMNS": "200"}),
        "compare": cli("compare", launch_id, "--by-run", env={"COLUMNS": "200"}),
    }
    for what, done in outputs.items():
        assert done.code == 0, (what, done.err)
        assert ESC not in done.out and ESC not in done.err, what
        assert "\\x1b[2J" in done.out or what == "status", what
    assert "\\x1b[2J\\x1b[1A[/red]x" in outputs["status"].out  # the name, whole and literal
    for value in ("[/red]x", "[link=http://x/]c[/link]", "\\x1b[2Jwiped"):
        assert value in outputs["compare"].out and value in outputs["launch"].out
    detail = outputs["status ID"].out
    assert f"tags: {TAG}, t\\x1b]8;;http://x\\x1b\\" in detail and "notes: \\x1b[31mred" in detail
    # --json keeps the exact values.
    (record,) = json.loads(cli("status", launch_id, "--json").out)
    assert record["name"] == NAME and record["notes"] == f"{ESC}[31mred"
    assert sorted({run["params"]["s"] for run in record["runs"]}) == sorted(VALUES)


def test_error_messages_quote_user_input_escaped(cli) -> None:
    done = cli(f"no{ESC}[2Jsuch")
    assert done.code != 0 and ESC not in done.err and "no\\x1b[2Jsuch" in done.err
    done = cli("status", f"--no{ESC}[2Jsuch")  # click's own message quotes it
    assert done.code == 1 and ESC not in done.err and "--no\\x1b[2Jsuch" in done.err


async def test_the_tui_shows_names_escaped_and_literal(project, home) -> None:
    import dataclasses

    from textual.widgets import DataTable

    from runner.store import Store
    from runner.tui import make_app
    from tests.test_store import make_launch

    record, specs = make_launch("abcd" + "0" * 28, 2)
    Store(home).record_launch(dataclasses.replace(record, name=NAME), specs)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("2")
        table = app.screen.query_one("#launch-table", DataTable)
        for _ in range(100):
            if table.row_count:
                break
            await pilot.pause(0.05)
        cells = [str(cell) for cell in table.get_row_at(0)]
    assert "n\\x1b[2J\\x1b[1A[/red]x" in cells and not any(ESC in cell for cell in cells)
