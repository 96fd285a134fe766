"""The TUI, driven by Textual's Pilot: find a workflow, fill the form, launch, watch, rerun,
cancel; and SVG snapshots of each main screen at 80x24 and 120x40."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, OptionList, Select, Static

import runner
from runner.store import Store
from runner.tui import make_app
from runner.tui.launch_form import LaunchScreen
from runner.tui.run_detail import RunScreen
from tests.conftest import launch_record, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DAY = 1_767_261_600.0  # 2026-01-01 10:00 UTC: fixed times, so snapshots are the same every run


def fixed_store(home: Path) -> dict[str, str]:
    """A store whose ids, times and results never change: a sweep of pi with a failure and a
    single hello run that printed something. Returns the ids."""
    from runner.records import RunOutcome, RunSpec, RunStatus

    store = Store(home)
    ids: dict[str, str] = {}

    def launch(
        key: str,
        workflow: str,
        version: str,
        name: str | None,
        points: list[dict],
        repeat: int,
        created: float,
    ) -> list[RunSpec]:
        launch_id = f"{key * 8}{'0' * 24}"
        specs = [
            RunSpec(
                id=f"{key}{i:x}{key * 6}{'1' * 24}",
                index=i,
                workflow_id=workflow,
                workflow_version=version,
                entrypoint="runner.demos:x",
                params=params,
                seed=1000 + r,
                repeat_index=r,
            )
            for i, (params, r) in enumerate((p, r) for p in points for r in range(repeat))
        ]
        store.record_launch(
            launch_record(
                id=launch_id if len(specs) > 1 else specs[0].id,
                created=created,
                workflow_id=workflow,
                workflow_version=version,
                name=name,
                tags=["demo"],
                seed=7,
                repeat=repeat,
                definition={"repeat": repeat},
                run_count=len(specs),
            ),
            specs,
        )
        ids[key] = launch_id if len(specs) > 1 else specs[0].id
        return specs

    sweep = launch(
        "a", "pi", "2.0", "convergence", [{"samples": n} for n in (1000, 10000, 100000)], 2, DAY
    )
    outcomes = []
    for i, spec in enumerate(sweep):
        started = DAY + 1 + i
        if i == 3:
            outcomes.append(
                RunOutcome(
                    spec.id,
                    RunStatus.FAILED,
                    started,
                    started + 0.5,
                    error="ValueError: the sampler ran dry",
                    traceback="Traceback (most recent call last):\n  ...\nValueError: the sampler ran dry",
                )
            )
        else:
            n = spec.params["samples"]
            result = {
                "pi": round(3.1416 + 0.1 / n * (i + 1), 6),
                "error": round(0.1 / n * (i + 1), 6),
            }
            import json

            outcomes.append(
                RunOutcome(
                    spec.id,
                    RunStatus.SUCCEEDED,
                    started,
                    started + 0.25,
                    result_json=json.dumps(result),
                )
            )
    store.record_outcomes(outcomes)
    (hello,) = launch("b", "hello", "1.0", None, [{"name": "world"}], 1, DAY + 60)
    run_dir = store.run_dir(hello.id)
    run_dir.mkdir(parents=True)
    (run_dir / "log.txt").write_text("Hello, world.\n\x1b[2Jnot a clear screen\n")
    store.record_outcomes(
        [
            RunOutcome(
                hello.id,
                RunStatus.SUCCEEDED,
                DAY + 61,
                DAY + 61.5,
                result_json='"Hello, world."',
                run_dir=str(run_dir),
            )
        ]
    )
    ids["sweep_run"] = sweep[0].id
    ids["failed_run"] = sweep[3].id
    ids["hello_run"] = hello.id
    return ids


def long_launch(home: Path) -> str:
    """A launch of 12 runs (9 succeeded, 3 failed) of a Python file's workflow, whose id is
    long (`digits_py:4027f04d72d0`), the newest in the store."""
    from runner.records import RunOutcome, RunSpec, RunStatus

    store = Store(home)
    specs = [
        RunSpec(
            id=f"c{i:x}{'c' * 6}{'2' * 24}",
            index=i,
            workflow_id="digits_py",
            workflow_version="4027f04d72d0",
            entrypoint="digits:svc",
            params={"C": i},
            seed=i,
            repeat_index=0,
        )
        for i in range(12)
    ]
    launch_id = "c" * 8 + "0" * 24
    store.record_launch(
        launch_record(
            id=launch_id,
            created=DAY + 120,
            workflow_id="digits_py",
            workflow_version="4027f04d72d0",
            name="svc grid search",
            seed=7,
            run_count=12,
        ),
        specs,
    )
    store.record_outcomes(
        [
            RunOutcome(s.id, RunStatus.SUCCEEDED, DAY + 121, DAY + 122, result_json="0.97")
            if s.index < 9
            else RunOutcome(s.id, RunStatus.FAILED, DAY + 121, DAY + 122, error="ValueError: C")
            for s in specs
        ]
    )
    return launch_id


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def snap_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test project as the current directory, so that paths show relative and the same."""
    monkeypatch.chdir(project)
    return Path("conf")


async def settle(pilot, seconds: float = 0.0) -> None:
    """Let the app's thread workers finish and the screen catch up."""
    deadline = time.monotonic() + seconds
    while True:
        running = [w for w in pilot.app.workers if not w.is_finished]
        while any(not w.is_finished for w in running):  # cancelled ones count as finished
            await pilot.pause(0.05)
        await pilot.pause()
        if time.monotonic() >= deadline:
            return
        await pilot.pause(0.1)


async def until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the TUI did not get there in time"
        await pilot.pause(0.1)


def shown_workflows(app) -> list[str]:
    listing = app.screen.query_one("#wf-list", OptionList)
    return [listing.get_option_at_index(i).id for i in range(listing.option_count)]


async def checked(pilot, form: LaunchScreen) -> None:
    """Wait until the form has been checked since its last change (debounce, then a thread)."""
    await pilot.pause(0.05)
    await until(pilot, lambda: not form.dirty and not form.checking)
    await settle(pilot)


def shown_problems(form: LaunchScreen) -> dict[str, str]:
    return {e.id: str(e.render()) for e in form.query(".error").results(Static) if e.display}


async def open_form(pilot, name: str) -> LaunchScreen:
    await pilot.press("slash", *name, "enter")  # enter opens the first match
    await until(pilot, lambda: isinstance(pilot.app.screen, LaunchScreen))
    await settle(pilot, 0.5)
    screen = pilot.app.screen
    assert isinstance(screen, LaunchScreen)
    return screen


def burst(app, keys: str) -> None:
    """Keys as a terminal delivers them when typed fast or pasted: all queued at once,
    before the app has handled the first."""
    from textual import events

    for key in keys:
        name = {"/": "slash", "\r": "enter", "\t": "tab"}.get(key, key)
        app.post_message(events.Key(name, key))


def measured(table: DataTable) -> bool:
    """Whether the table has measured its rows (Textual does it when its app is idle): each
    column as wide as its widest cell. A busy machine may take a snapshot before that."""
    from rich.text import Text

    def width(cell: object) -> int:
        return cell.cell_len if isinstance(cell, Text) else len(str(cell))

    return all(
        column.content_width >= max((width(c) for c in table.get_column(key)), default=0)
        for key, column in table.columns.items()
    )


def in_view(widget, container) -> bool:
    return container.region.contains_region(widget.region)


async def test_the_filter_finds_a_workflow_and_shows_what_it_is(project: Path, home: Path) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "wf:pi" in shown_workflows(app) and "preset:nightly" in shown_workflows(app)
        await pilot.press("slash", *"prim")
        await settle(pilot)
        assert shown_workflows(app) == ["wf:primes"]
        about = str(app.screen.query_one("#wf-about", Static).render())
        assert "Count the primes" in about and "primes.yaml" in about
        params = app.screen.query_one("#wf-params", DataTable)
        assert [str(c) for c in params.get_row_at(0)] == ["below", "integer", "100000"]


@pytest.mark.slow
async def test_an_invalid_field_shows_its_message_and_launches_nothing(
    project: Path, home: Path
) -> None:
    before = snapshot(home)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "typed")
        count = form.query_one("#val-1", Input)  # typed(name, count, ...): count is second
        count.value = "many"
        await checked(pilot, form)
        messages = shown_problems(form)
        assert messages["err-param-1"] == "'many' is not an integer"
        assert messages["err-param-0"].startswith("required")  # name has no default
        assert str(form.query_one("#summary", Static).render()) == "2 problems: nothing to launch"
        form.query_one("#opt-repeat", Input).value = "0"
        await checked(pilot, form)
        assert shown_problems(form) == {"err-opt-repeat": "0 is below the minimum of 1"}
        await pilot.press("ctrl+l")
        await settle(pilot, 0.5)
        assert isinstance(app.screen, LaunchScreen)  # still on the form
    assert snapshot(home) == before  # nothing stored


@pytest.mark.slow
async def test_the_form_counts_the_runs_before_launching(project: Path, home: Path) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "add")
        form.query_one("#sweep-0", Input).value = "1,2,3"
        form.query_one("#opt-repeat", Input).value = "4"
        await checked(pilot, form)
        assert str(form.query_one("#summary", Static).render()) == "3 points x 4 repeats = 12 runs"
        form.query_one("#sweep-0", Input).value = "range(1,2),5"
        await checked(pilot, form)
        shown = str(form.query_one("#err-param-0", Static).render())
        assert "cannot be a sweep itself" in shown


async def test_keys_typed_in_one_burst_all_land(project: Path, home: Path) -> None:
    """A "/" then a filter, as fast as a terminal sends them: every key lands in the filter
    (none goes to the list or its bindings); keys typed while the form is being built land
    in its first field."""
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        burst(app, "/prim")
        await settle(pilot)
        assert app.screen.query_one("#wf-filter", Input).value == "prim"
        assert shown_workflows(app) == ["wf:primes"]

        await pilot.press("down", "2")  # to the list, then the launches view
        burst(app, "/hel")  # the launches view has bindings on letters (l, r, c...)
        await settle(pilot)
        assert app.screen.query_one("#launch-filter", Input).value == "hel"
        assert app.screen_stack[-1] is app.get_screen_stack_main()  # no dialog opened

        pane = app.screen.query_one("WorkflowsPane")
        (add,) = [e for e in pane.entities if e.target == "add"]
        app.open_form(add)
        burst(app, "42")  # before the form has mounted
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await settle(pilot)
        # As typed once it has the focus: the first key replaces the default (selected), "10".
        assert app.screen.query_one("#val-0", Input).value == "42"
        burst(app, "\t1,2\t8")  # tab, then type: each into the field tab went to
        await settle(pilot)
        values = {i.id: i.value for i in app.screen.query(Input).results(Input)}
        assert (values["val-0"], values["sweep-0"], values["val-1"]) == ("42", "1,2", "8")


@pytest.mark.slow
async def test_enter_opens_the_first_match_and_a_sweep_in_a_value_field_is_pointed_away(
    project: Path, home: Path
) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "down")  # down: from the filter to the list, opening nothing
        assert app.screen.focused is app.screen.query_one("#wf-list")
        form = await open_form(pilot, "ad")  # "/ad" enter: add, the first that matches
        assert form.target == "add"
        form.query_one("#val-0", Input).value = "1,2"
        await checked(pilot, form)
        assert shown_problems(form) == {
            "err-param-0": "1,2 is a sweep: this field takes one value; type the sweep in the"
            " sweep field to its right"
        }
        form.query_one("#val-0", Input).value = ""
        form.query_one("#sweep-0", Input).value = "1,2"  # where it goes
        await checked(pilot, form)
        assert shown_problems(form) == {}
        assert str(form.query_one("#summary", Static).render()) == "2 points x 1 repeat = 2 runs"


@pytest.mark.slow
async def test_the_form_shows_every_launch_option_when_one_has_the_focus(
    project: Path, home: Path
) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "echo")  # seven params: the options start below
        scroll = form.query_one("#form")
        assert not in_view(form.query_one("#opt-seed"), scroll)
        form.query_one("#sweep-6").focus()  # the last param's sweep
        await pilot.press("tab")  # to the first option, name
        await settle(pilot)
        assert form.focused is form.query_one("#opt-name")
        for option in ("#opt-name", "#opt-seed", "#opt-max_parallelism", "#opt-launcher"):
            assert in_view(form.query_one(option), scroll), option
        await pilot.press("shift+tab")  # back to the last param: it shows with its problems
        await settle(pilot)
        assert in_view(form.focused.parent.parent, scroll)


async def test_the_launches_table_keeps_the_counts_of_a_long_workflow_id(
    project: Path, home: Path, utc
) -> None:
    fixed_store(home)
    long_launch(home)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        table = app.screen.query_one("#launch-table", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        await settle(pilot)
        widths = {key.value: c.get_render_width(table) for key, c in table.columns.items()}
        keys = list(widths)
        through_counts = sum(widths[k] for k in keys[: keys.index("runs") + 1])
        assert through_counts <= table.scrollable_content_region.width
        row = [str(cell) for cell in table.get_row_at(0)]
        assert row[:4] == ["cccccccc", "failed", "12/12", "3 failed 9 succeeded"]
        assert row[4].startswith("digits_py:") and row[4].endswith("…")
        assert row[5].startswith("svc") and row[5].endswith("…")
        await pilot.resize_terminal(160, 40)  # room enough: nothing cut
        await until(pilot, lambda: str(table.get_row_at(0)[4]) == "digits_py:4027f04d72d0")
        assert str(table.get_row_at(0)[5]) == "svc grid search"


async def test_notifications_do_not_cover_the_selected_row(project: Path, home: Path) -> None:
    fixed_store(home)
    launch_id = long_launch(home)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("2")
        runs = app.screen.query_one("#run-table", DataTable)
        await until(pilot, lambda: app.launches.launch_id == launch_id and runs.row_count == 12)
        runs.focus()
        runs.move_cursor(row=11)  # the last run, at the bottom of the screen
        await settle(pilot)
        await pilot.press("y")  # copy its id: a notification
        await until(pilot, lambda: len(app.screen.query("Toast")) == 1)
        await settle(pilot)
        (toast,) = app.screen.query("Toast")
        launches = app.screen.query_one("#launch-table", DataTable)
        for table in (launches, runs):
            row_y = table.content_region.y + table.header_height + table.cursor_row
            row_y -= round(table.scroll_y)
            assert not toast.region.contains_point((toast.region.x, row_y)), table.id
        assert toast.region.bottom <= launches.region.y  # above the tables: over no row


async def test_resume_asks_first(project: Path, home: Path) -> None:
    ids = fixed_store(home)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        app.launches.show_launch(ids["a"])  # the sweep with a failed run
        await until(pilot, lambda: app.launches.selected_launch is not None)
        before = snapshot(home)
        await pilot.press("R")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        question = str(app.screen.query_one("#question", Static).render())
        assert question == "Resume launch aaaaaaaa0000: run again the 1 run that did not succeed?"
        await pilot.press("n")
        await settle(pilot)
        assert type(app.screen).__name__ == "MainScreen"
    assert snapshot(home) == before  # nothing resumed


def test_the_form_remembers_the_last_values_launched_in_runner_home(tmp_path: Path) -> None:
    from runner.tui.form_values import FORMS_FILE, FormValues, RememberedForms

    path = tmp_path / FORMS_FILE
    forms = RememberedForms(path)
    assert forms.get("add") is None
    launched = FormValues(
        target="add",
        params={"b": "7", "flag": True},
        sweeps={"a": "1,2", "c": " "},
        options={"name": "mine", "notes": "once", "repeat": "2", "seed": "42", "tags": ""},
        launcher="threads",
    )
    forms.remember(launched)
    kept = FormValues(
        target="add",
        params={"b": "7", "flag": True},
        sweeps={"a": "1,2"},
        options={"repeat": "2", "seed": "42"},  # a name and notes describe one launch only
        launcher="threads",
    )
    assert forms.get("add") == kept
    assert RememberedForms(path).get("add") == kept  # the next session
    path.write_text('{"add": {"params": 1}, "other": [], "x": {"target": "x"}}')
    assert RememberedForms(path).get("add") is None  # not a form's values: not used
    assert RememberedForms(path).get("x") == FormValues(target="x")
    path.write_text("{")
    assert RememberedForms(path).get("add") is None


@pytest.mark.parametrize(
    ("param", "hint"),
    [
        pytest.param(runner.Param("d", {}, None, True), "default: null", id="None"),
        pytest.param(runner.Param("s", {"type": "string"}, "", True), 'default: ""', id="empty"),
        pytest.param(runner.Param("x", {"type": "number"}, 0.5, True), "default: 0.5", id="number"),
        pytest.param(runner.Param("w", {"type": "string"}, "rbf", True), "default: rbf", id="text"),
        pytest.param(
            runner.Param("n", {"type": "integer"}, None, False, True), "required", id="req"
        ),
    ],
)
def test_an_empty_value_field_says_its_default_as_overrides_spell_it(param, hint) -> None:
    from runner.tui.form_values import default_hint

    assert default_hint(param) == hint


def test_form_values_become_the_call_the_cli_would_make() -> None:
    from runner.tui.form_values import FormValues, to_call

    params = [
        runner.Param("n", {"type": "integer"}, 1, True),
        runner.Param("x", {"type": "number"}, 0.5, True),
        runner.Param("w", {"type": "object"}, {"a": 1}, True),
        runner.Param("s", {"type": "string"}, "", True),
        runner.Param("any", {}, None, True),
    ]
    values = FormValues(
        target="wf",
        params={"n": "12", "x": "1e-3", "w": '{"b": 2}', "s": "007", "any": "[1, 2]"},
        sweeps={"x": " range(0,3) ", "s": ""},
        options={"tags": "a, b,", "repeat": "3", "seed": "abc", "name": ""},
        launcher="threads",
    )
    call = to_call(values, params)
    assert call.overrides == ["params.x=range(0,3)", "launcher=threads"]
    assert call.options == {
        "inputs": {"n": 12, "w": {"b": 2}, "s": "007", "any": [1, 2]},
        "inputs_label": "the form",
        "tags": ["a", "b"],
        "repeat": 3,
        "seed": "abc",  # left for validation to name
    }
    broken = to_call(FormValues(target="wf", params={"w": "{b: 2"}), params)
    assert broken.problems == {
        "params.w": ["not valid JSON: Expecting property name enclosed in double quotes (column 2)"]
    }


def test_problems_land_on_the_fields_they_name() -> None:
    from runner.errors import CompositionError, ValidationError
    from runner.tui.form_values import problems_by_field

    params = [runner.Param("count", {}), runner.Param("name", {})]
    error = ValidationError(
        "invalid params:",
        problems=[
            "params.count: 'x' is not an integer (from the form)",
            "params.nope: unknown key (from override 'params.nope=1')",
            "repeat: 0 is below the minimum of 1 (from option --repeat)",
        ],
        hint="declare it",
    )
    assert problems_by_field(error, params) == {
        "params.count": ["'x' is not an integer"],
        "general": [
            "params.nope: unknown key (from override 'params.nope=1')",
            "hint: declare it",
        ],
        "repeat": ["0 is below the minimum of 1"],
    }
    sweep = CompositionError("cannot expand sweep 'params.name=range(1,2,0)': step must not be 0")
    assert list(problems_by_field(sweep, params)) == ["params.name"]


# -- metrics: the runs table's latest values, a run's charts, a launch's curves -------------


def running_launch(home: Path) -> tuple[Store, str, list[str]]:
    """A launch of this process (so its unfinished runs are not lost) of 2 runs, lr 0.1 and
    0.2: the first running for 5 s, the second pending. Returns the store, the launch's id
    and the runs'."""
    import os

    from runner.records import RunSpec

    store = Store(home)
    launch_id = "d" * 8 + "0" * 24
    specs = [
        RunSpec(
            id=f"d{i}{'d' * 6}{'3' * 24}",
            index=i,
            workflow_id="train",
            workflow_version="1.0",
            entrypoint="flows:train",
            params={"lr": lr, "epochs": 10},
            seed=1,
            repeat_index=0,
        )
        for i, lr in enumerate((0.1, 0.2))
    ]
    record = launch_record(
        id=launch_id,
        workflow_id="train",
        pid=os.getpid(),
        run_count=2,
        definition={"swept": {"params.lr": [0.1, 0.2]}},  # as a launch records its sweep
    )
    store.record_launch(record, specs)
    store.record_running([(specs[0].id, time.time() - 5, os.getpid(), None, None)])
    return store, launch_id, [spec.id for spec in specs]


class Logged:
    """Points written to the store as a launch writes what its runs log (packed arrays,
    Store.record_points), each key's steps counted on."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.series: dict = {}  # Store.record_points's, kept from call to call
        self.sends: dict[str, int] = {}
        self.steps: dict[tuple[str, str], int] = {}

    def __call__(self, run_id: str, **values: list[float]) -> None:
        from array import array

        chunks = []
        for key, points in values.items():
            first = self.steps.get((run_id, key), 0)
            self.steps[run_id, key] = first + len(points)
            steps = array("q", range(first, first + len(points)))
            times = array("d", [time.time()] * len(points))
            chunks.append((key, steps.tobytes(), array("d", points).tobytes(), times.tobytes()))
        seq = self.sends.get(run_id, 0)
        self.sends[run_id] = seq + 1
        self.store.record_points([(run_id, 1.0, seq, chunks)], self.series)


def cell(table: DataTable, row: str, column: str) -> str:
    return str(table.get_cell(row, column))


async def test_the_runs_table_shows_a_running_runs_latest_metrics_as_they_come(
    project: Path, home: Path
) -> None:
    store, launch_id, (running, pending) = running_launch(home)
    log = Logged(store)
    log(running, loss=[0.9, 0.5], acc=[0.5])
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        runs = app.screen.query_one("#run-table", DataTable)
        await until(pilot, lambda: app.launches.launch_id == launch_id and runs.row_count == 2)
        await until(pilot, lambda: "metric:loss" in runs.columns)
        labels = [str(c.label) for c in runs.columns.values()]
        assert labels[:5] == ["run", "status", "lr", "acc.last", "loss.last"]
        status = cell(runs, running, "status")
        assert status.startswith("running ") and status.endswith("s"), status  # and how long
        assert cell(runs, running, "metric:loss") == "0.5"  # the latest, not the best
        assert cell(runs, running, "metric:acc") == "0.5"
        assert (cell(runs, pending, "status"), cell(runs, pending, "metric:loss")) == (
            "pending",
            "",
        )
        log(running, loss=[0.25])
        await until(pilot, lambda: cell(runs, running, "metric:loss") == "0.25")
        log(running, f1=[0.125])  # a metric logged later: a column of its own
        await until(pilot, lambda: "metric:f1" in runs.columns)
        assert cell(runs, running, "metric:f1") == "0.125"
        assert cell(runs, running, "metric:loss") == "0.25"


async def test_a_runs_charts_follow_its_points_and_say_how_to_log_when_it_has_none(
    project: Path, home: Path
) -> None:
    from runner.tui.charts import Chart

    store, _, (running, pending) = running_launch(home)
    log = Logged(store)
    log(running, loss=[3.0, 2.0, 1.5])
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(RunScreen(pending))
        await settle(pilot, 0.3)
        empty = str(app.screen.query_one("#no-metrics", Static).render())
        assert empty.startswith("no metrics: call runner.log(...) in the workflow")
        assert not app.screen.query(Chart)
        app.pop_screen()

        app.push_screen(RunScreen(running))
        await until(pilot, lambda: len(app.screen.query(Chart)) == 1)
        chart = app.screen.query_one(Chart)
        await until(pilot, lambda: chart.drawn)
        assert chart.name == "loss"
        assert chart.heading == "loss  1.5 at step 2  min 1.5  max 3  (3 points)"
        assert list(chart.sources[0].values) == [3.0, 2.0, 1.5]
        assert not app.screen.query("#no-metrics")
        log(running, loss=[1.0, 0.5], acc=[0.5])  # more points, and a second metric
        await until(
            pilot, lambda: len(app.screen.query(Chart)) == 2 and len(chart.sources[0].values) == 5
        )
        await until(pilot, lambda: chart.drawn)
        assert chart.heading == "loss  0.5 at step 4  min 0.5  max 3  (5 points)"
        plotted = "".join(chart.plt.build())
        assert any("\u2800" < ch <= "\u28ff" for ch in plotted)  # braille dots: the curve
        await pilot.press("m")  # the charts alone
        await settle(pilot)
        assert not app.screen.query_one("#run-log").display
        assert {c.name for c in app.screen.query(Chart).results(Chart)} == {"acc", "loss"}


async def test_a_launchs_curves_of_one_metric_coloured_by_the_param_that_varies(
    project: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.tui import launch_curves
    from runner.tui.charts import Chart, colour, rich_colour
    from runner.tui.launch_curves import LaunchCurvesScreen

    # The launch's first page of runs says what it swept; a run past it is read on its own.
    monkeypatch.setattr(launch_curves, "PAGE", 1)

    store, launch_id, (first, second) = running_launch(home)
    log = Logged(store)
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.launches.launch_id == launch_id)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, LaunchCurvesScreen))
        screen = app.screen
        legend = screen.query_one("#curves-legend", Static)
        await until(pilot, lambda: str(legend.render()).startswith("no metrics: call runner.log("))
        assert not screen.query_one(Chart).display

        log(first, loss=[1.0, 0.5, 0.25], acc=[0.1, 0.2])  # the launch logs: live
        log(second, loss=[2.0, 1.0])
        chart = screen.query_one(Chart)
        await until(pilot, lambda: chart.display and screen.key is not None)
        # First the metric a run logged most often (a curve; a search's objective is a point)
        await until(pilot, lambda: screen.key == "loss" and len(chart.sources) == 2)
        assert [list(s.values) for s in chart.sources] == [[1.0, 0.5, 0.25], [2.0, 1.0]]
        assert [s.colour for s in chart.sources] == [colour(0), colour(1)]  # by lr
        shown = legend.render()
        assert str(shown) == "lr: ━━ 0.1  ━━ 0.2"
        assert {str(span.style) for span in shown.spans} >= {
            rich_colour(colour(0)),
            rich_colour(colour(1)),
        }
        assert str(screen.query_one("#curves-head", Static).render()).endswith("loss of 2 runs")
        await pilot.press("b")  # colour by: each run its own
        await until(pilot, lambda: str(legend.render()).startswith("run: "))
        assert str(legend.render()) == f"run: ━━ {first[:8]}  ━━ {second[:8]}"
        log(second, loss=[0.5])
        await until(pilot, lambda: len(chart.sources) == 2 and len(chart.sources[1].values) == 3)
        await pilot.press("k")  # the next metric
        await until(pilot, lambda: screen.key == "acc" and len(chart.sources) == 1)
        assert [len(s.values) for s in chart.sources] == [2]  # only the first logged acc


def test_a_series_is_cut_to_the_charts_width_keeping_its_spikes() -> None:
    import math

    from runner.tui.charts import envelope

    steps = list(range(100_000))
    values = [1.0] * 100_000
    values[31_337] = 50.0  # one point in a hundred thousand
    values[70_000] = math.nan
    values[70_001] = math.inf
    xs, ys = envelope(steps, values, 80)
    assert len(xs) == len(ys) <= 160
    assert max(ys) == 50.0 and min(ys) == 1.0  # the spike is drawn
    assert all(math.isfinite(y) for y in ys)
    assert xs == sorted(xs) and xs[0] >= 0 and xs[-1] <= 99_999
    # Few points are drawn as they are; steps logged out of order are put in order.
    assert envelope([2, 0, 1], [0.2, 0.0, math.nan], 80) == ([0.0, 2.0], [0.0, 0.2])


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
# Snapshots take 3 s each: CI runs them (a layout regression fails it), the quick suite not.
snapshot_test = pytest.mark.slow


async def _ready(pilot) -> None:
    await settle(pilot, 0.3)


@snapshot_test
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_workflows(size, snap_compare, snap_project: Path, home: Path, utc) -> None:
    fixed_store(home)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"draw", "down")  # a project workflow: a relative path
        await settle(pilot, 0.3)

    assert snap_compare(make_app(snap_project, home), terminal_size=size, run_before=run_before)


@snapshot_test
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_launch_form(size, snap_compare, snap_project: Path, home: Path, utc) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        await open_form(pilot, "typed")
        form = pilot.app.screen
        form.query_one("#val-1", Input).value = "many"
        form.query_one("#sweep-2", Input).value = "0.1,0.2"
        await checked(pilot, form)
        form.set_focus(None)  # a blinking cursor would make every snapshot differ
        await pilot.pause()

    assert snap_compare(make_app(snap_project, home), terminal_size=size, run_before=run_before)


@snapshot_test
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_launches(size, snap_compare, snap_project: Path, home: Path, utc) -> None:
    ids = fixed_store(home)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        pane = pilot.app.screen.query_one("LaunchesPane")
        pane.show_launch(ids["a"])
        runs = pilot.app.screen.query_one("#run-table", DataTable)
        await until(pilot, lambda: runs.row_count == 6 and pane.launch_id == ids["a"])
        await until(pilot, lambda: measured(runs))
        await settle(pilot, 0.3)
        launches = pilot.app.screen.query_one("#launch-table", DataTable)
        launches.focus()
        launches.move_cursor(row=1)  # the sweep: the hello launch is newer
        runs.move_cursor(row=0)
        await settle(pilot, 0.3)

    assert snap_compare(make_app(snap_project, home), terminal_size=size, run_before=run_before)


@snapshot_test
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_run_details(size, snap_compare, snap_project: Path, home: Path, utc) -> None:
    ids = fixed_store(home)

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.push_screen(RunScreen(ids["failed_run"]))
        await settle(pilot, 0.8)

    assert snap_compare(make_app(snap_project, home), terminal_size=size, run_before=run_before)


@snapshot_test
def test_snapshot_light_theme_and_help(snap_compare, snap_project: Path, home: Path, utc) -> None:
    fixed_store(home)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+t", "question_mark")
        await settle(pilot, 0.3)

    assert snap_compare(make_app(snap_project, home), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.slow
def test_the_real_tui_in_a_terminal(project: Path, home: Path, tmp_path: Path) -> None:
    """`runner tui` in tmux at 80x24: it lists the demo workflows, launches one, shows its
    result, quits with q, and leaves the terminal sane (cooked mode, echo on)."""
    import os
    import shutil
    import subprocess

    from tests.conftest import RUNNER

    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("needs tmux (apt-get install tmux); nothing is installed by the tests")
    socket = str(tmp_path / "tmux.sock")
    env = {
        **os.environ,
        "RUNNER_HOME": str(home),
        "RUNNER_CONFIG_DIR": str(project / "conf"),
        "TERM": "xterm-256color",
    }
    script = f"{RUNNER} tui; echo EXITED $?; stty -a | tr ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo; sleep 60"

    def tm(*args: str) -> str:
        done = subprocess.run([tmux, "-S", socket, *args], env=env, capture_output=True, text=True)
        return done.stdout

    def screen() -> str:
        return tm("capture-pane", "-p", "-t", "t")

    def wait_for(text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{screen()}")

    tm("new-session", "-d", "-x", "80", "-y", "24", "-s", "t", "-c", str(tmp_path), script)
    try:
        shown = wait_for("Workflows [1]")
        wait_for("hello")  # a demo workflow, listed beside the project's
        tm("send-keys", "-t", "t", "/primes", "Enter")  # in one burst: enter opens the match
        shown = wait_for("Launch primes")
        wait_for("1 run")  # validated: one run
        tm("send-keys", "-t", "t", "C-l")
        shown = wait_for("succeeded", timeout=60)
        assert "primes:1.0" in shown
        wait_for("9592")  # count_primes(100000), in the runs table's result column
        tm("send-keys", "-t", "t", "q")
        shown = wait_for("EXITED 0")
        after = shown.split("EXITED 0", 1)[1].split()
        assert "icanon" in after and "echo" in after, shown  # the terminal is sane again
    finally:
        tm("kill-server")


def stored_runs(home: Path) -> list[runner.RunRecord]:
    return runner.runs(home=home, limit=None)


@pytest.mark.slow
async def test_the_form_launches_what_it_shows(project: Path, home: Path) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "add")
        form.query_one("#val-1", Input).value = "7"  # b
        form.query_one("#sweep-0", Input).value = "1,2"  # a
        form.query_one("#opt-repeat", Input).value = "2"
        form.query_one("#opt-seed", Input).value = "42"
        form.query_one("#opt-name", Input).value = "from the form"
        await checked(pilot, form)
        assert str(form.query_one("#summary", Static).render()) == "2 points x 2 repeats = 4 runs"
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        await until(pilot, lambda: len(stored_runs(home)) == 4)
        (launch,) = runner.status(home=home)
        assert launch.record.name == "from the form" and launch.record.seed == 42
        finished = launch.wait(timeout=60)  # detached: it runs in a process of its own
        assert sorted(r.params["a"] for r in finished.runs) == [1, 1, 2, 2]
        assert {r.params["b"] for r in finished.runs} == {7}
        assert sorted(finished.results) == [8, 8, 9, 9]
        # The view switched to the new launch and shows its runs.
        await until(pilot, lambda: app.launches.launch_id == launch.id)
        table = app.screen.query_one("#run-table", DataTable)
        await until(pilot, lambda: table.row_count == 4)
        # The form opens again with what was launched, but a new name; ctrl+r: the defaults.
        await pilot.press("1")
        form = await open_form(pilot, "add")
        shown = {i.id: i.value for i in form.query(Input).results(Input) if i.value}
        assert shown == {
            "val-0": "10",  # a's default, beside its sweep
            "val-1": "7",
            "sweep-0": "1,2",
            "opt-repeat": "2",
            "opt-seed": "42",
        }
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.screen is not form and isinstance(app.screen, LaunchScreen))
        await settle(pilot)
        fresh = {i.id: i.value for i in app.screen.query(Input).results(Input) if i.value}
        assert fresh == {"val-0": "10", "val-1": "5"}  # add_v2's defaults


# -- a search from the form -----------------------------------------------------------------------


def test_a_search_in_the_form_becomes_the_search_argument() -> None:
    from runner.tui.form_values import FormValues, to_call

    params = [runner.Param("lr", {"type": "number"}, 0.1, True)]
    chosen = FormValues(
        target="wf",
        sweeps={"lr": "tag(log, interval(1e-5, 1e-1))"},
        options={"n_trials": "12", "objective": " loss ", "direction": ""},
        search="tpe",
    )
    call = to_call(chosen, params)
    assert call.overrides == ["params.lr=tag(log, interval(1e-5, 1e-1))"]
    assert call.options == {"search": {"sampler": "tpe", "n_trials": 12, "objective": "loss"}}
    assert to_call(FormValues(target="wf", search="random"), params).options == {"search": "random"}
    # Settings without a search chosen: a saved definition's own search takes them.
    kept = to_call(FormValues(target="wf", options={"n_trials": "many"}), params)
    assert kept.options == {"search": {"n_trials": "many"}}  # left for validation to name


def test_a_searchs_problems_land_on_its_fields() -> None:
    from runner.errors import CompositionError, ValidationError
    from runner.tui.form_values import problems_by_field

    params = [runner.Param("lr", {})]
    error = ValidationError(
        "invalid run definition (2 problems):",
        problems=[
            "search.n_trials: 0 is below the minimum of 1 (from argument search=)",
            "search.direction: 'up' is not one of 'minimize', 'maximize' or a list (from"
            " argument search=)",
        ],
    )
    assert problems_by_field(error, params) == {
        "n_trials": ["0 is below the minimum of 1"],
        "direction": ["'up' is not one of 'minimize', 'maximize' or a list"],
    }
    empty = CompositionError("search=tpe has no space to search: make params its dimensions")
    assert problems_by_field(empty, params) == {
        "search": ["search=tpe has no space to search: make params its dimensions"]
    }


@pytest.mark.slow
async def test_the_form_offers_the_project_s_own_searches(project: Path, home: Path) -> None:
    """A project's conf/search/NAME.yaml is a search of its own: listed after runner's
    (runner.searches()), offered by the form, and launched with its settings."""
    pytest.importorskip("optuna")
    (project / "conf" / "search").mkdir(parents=True, exist_ok=True)
    (project / "conf" / "search" / "quick.yaml").write_text("sampler: random\nn_trials: 4\n")
    assert runner.searches(config_dir=project / "conf") == [*runner.SAMPLERS, "quick"]
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "add")
        form.query_one("#sweep-0", Input).value = "int(interval(1, 9))"
        form.query_one("#opt-search", Select).value = "quick"  # (refused were it no option)
        await checked(pilot, form)
        assert shown_problems(form) == {}
        assert str(form.query_one("#summary", Static).render()) == "search random: 4 trials"


@pytest.mark.slow
async def test_the_form_chooses_a_search_and_shows_what_it_is(project: Path, home: Path) -> None:
    pytest.importorskip("optuna")
    (project / "conf" / "run" / "tune.yaml").write_text(
        "workflow: add\nsearch: {sampler: random, n_trials: 3}\n"
        "sweep: {params.a: 'int(interval(1, 9))'}\n"
    )
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "add")  # add(a: int, b: int) -> a + b
        sweep = form.query_one("#sweep-0", Input)
        assert sweep.placeholder == "sweep: 1,2,3  range(0,10)"
        assert form.query_one("#opt-search", Select).value is Select.NULL  # none: a grid
        sweep.value = "int(interval(1, 9))"
        await checked(pilot, form)
        assert shown_problems(form) == {
            "err-param-0": "interval() is a search's dimension; choose a search to draw from it"
            " (search=tpe, or random, cmaes, gp, qmc, nsga2), or sweep a grid of lists (a,b),"
            " range() and choice()"
        }
        form.query_one("#opt-search", Select).value = "random"
        form.query_one("#opt-n_trials", Input).value = "5"
        await checked(pilot, form)
        assert sweep.placeholder == "int(interval(1,8))  1,2,4"  # what a search's space takes
        assert shown_problems(form) == {}
        summary = str(form.query_one("#summary", Static).render())
        assert summary == "search random: 5 trials"
        about = form.query_one("#search-about", Static)
        assert about.display
        lines = str(about.render()).splitlines()
        assert lines[0] == "search       random (Optuna's RandomSampler), 5 trials"
        assert lines[-1] == "  params.a  int in [1, 9]"
        # A float interval for an integer param, and no trials: each problem on its field.
        sweep.value = "interval(0.5, 2)"
        form.query_one("#opt-n_trials", Input).value = "0"
        await checked(pilot, form)
        assert shown_problems(form) == {"err-opt-n_trials": "0 is below the minimum of 1"}
        form.query_one("#opt-n_trials", Input).value = ""
        await checked(pilot, form)
        problems = shown_problems(form)
        assert problems["err-param-0"].startswith("0.5 is not an integer")
        assert problems["err-general"] == "hint: int(interval(a,b)) draws integers"
        assert not about.display
        # A saved run definition's own search: described, its sweep fields a search's.
        await pilot.press("escape")
        form = await open_form(pilot, "tune")
        await checked(pilot, form)
        assert str(form.query_one("#summary", Static).render()) == "search random: 3 trials"
        assert str(form.query_one("#search-about", Static).render()).endswith(
            "  params.a  int in [1, 9]"
        )
        assert form.query_one("#sweep-1", Input).placeholder == "int(interval(1,8))  1,2,4"


@pytest.mark.slow
async def test_the_form_launches_a_search(project: Path, home: Path) -> None:
    pytest.importorskip("optuna")
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        form = await open_form(pilot, "add")
        form.query_one("#sweep-0", Input).value = "int(interval(1, 9))"
        form.query_one("#val-1", Input).value = "100"
        form.query_one("#opt-search", Select).value = "random"
        form.query_one("#opt-n_trials", Input).value = "4"
        form.query_one("#opt-direction", Select).value = "maximize"
        form.query_one("#opt-seed", Input).value = "3"
        form.query_one("#opt-launcher", Select).value = "sequential"
        await checked(pilot, form)
        assert str(form.query_one("#summary", Static).render()).endswith("4 trials")
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not isinstance(app.screen, LaunchScreen))
        (launch,) = runner.status(home=home)
        finished = launch.wait(timeout=60)  # detached: in a process of its own
        assert finished.status() == "succeeded" and len(finished.runs) == 4
        assert all(1 <= run.params["a"] <= 9 and run.params["b"] == 100 for run in finished.runs)
        search = finished.record.definition["search"]
        assert (search["sampler"], search["n_trials"], search["directions"]) == (
            "random",
            4,
            ["maximize"],
        )
        await until(pilot, lambda: app.launches.launch_id == launch.id)
        # The form opens again with the search that was launched.
        await pilot.press("1")
        form = await open_form(pilot, "add")
        assert form.query_one("#opt-search", Select).value == "random"
        assert form.query_one("#opt-n_trials", Input).value == "4"
        assert form.query_one("#opt-direction", Select).value == "maximize"
        assert form.query_one("#sweep-0", Input).placeholder == "int(interval(1,8))  1,2,4"


async def test_rerun_reproduces_params_and_seed(project: Path, home: Path) -> None:
    first = runner.launch(
        "draw",
        ["params.n=2", "launcher=sequential"],
        config_dir=project / "conf",
        home=home,
        seed=5,
    )
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await until(pilot, lambda: app.launches.launch_id == first.id)
        table = app.screen.query_one("#run-table", DataTable)
        await until(pilot, lambda: table.row_count == 1)
        table.focus()
        await pilot.press("r")
        await until(pilot, lambda: len(stored_runs(home)) == 2)
    again = next(r for r in stored_runs(home) if r.id != first.runs[0].id)
    again = runner.wait(again.launch_id, home=home, timeout=60).runs[0]
    assert (again.params, again.seed) == (first.runs[0].params, first.runs[0].seed)
    assert again.result == first.runs[0].result


async def test_cancel_stops_a_running_launch_and_cli_launches_appear(
    project: Path, home: Path, cli
) -> None:
    app = make_app(config_dir=project / "conf", home=home)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        # Launched from the command line while the TUI runs: it appears without a restart.
        done = cli("slow", "params.seconds=30", "--detach", "-q")
        assert done.code == 0, done.err
        launch_id = done.out.split()[0]
        await until(pilot, lambda: app.launches.launch_id == launch_id, timeout=30)
        launches = app.screen.query_one("#launch-table", DataTable)
        launches.focus()
        await pilot.press("c")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        await pilot.press("y")
        await until(pilot, lambda: runner.get(launch_id, home=home).record.cancelled, timeout=30)
    record = runner.wait(launch_id, home=home, timeout=30).record
    assert record.counts == {"cancelled": 1}
