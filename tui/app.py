"""The app: a workflows view and a launches view in tabs, the launch form and a run's details
as screens on top; every action goes through the public runner API in a thread."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

import runner
from runner.tui.dialogs import ConfirmScreen, HelpScreen
from runner.tui.focus import focus_now
from runner.tui.form_values import FORMS_FILE, Call, FormValues, RememberedForms
from runner.tui.launch_curves import LaunchCurvesScreen
from runner.tui.launch_form import LaunchScreen
from runner.tui.launches import LaunchesPane
from runner.tui.run_detail import RunScreen
from runner.tui.text import short_path
from runner.tui.workflows import Entity, WorkflowsPane


class MainScreen(Screen[None]):
    """The two views, switched by tab or by number."""

    BINDINGS = [
        Binding("1", "view('workflows-tab')", "workflows"),
        Binding("2", "view('launches-tab')", "launches"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="workflows-tab"):
            with TabPane("Workflows [1]", id="workflows-tab"):
                yield WorkflowsPane()
            with TabPane("Launches [2]", id="launches-tab"):
                yield LaunchesPane()
        yield Footer(compact=True)

    def action_view(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(WorkflowsPane if tab == "workflows-tab" else LaunchesPane)
        focus = "#wf-list" if tab == "workflows-tab" else "#launch-table"
        focus_now(pane.query_one(focus))

    @on(LaunchesPane.OpenRun)
    def _open_run(self, event: LaunchesPane.OpenRun) -> None:
        self.app.push_screen(RunScreen(event.run_id, focus_log=event.log))

    @on(LaunchesPane.OpenCurves)
    def _open_curves(self, event: LaunchesPane.OpenCurves) -> None:
        self.app.push_screen(LaunchCurvesScreen(event.launch_id))


class RunnerApp(App[None]):
    CSS_PATH = "runner.tcss"
    TITLE = "runner"
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("ctrl+t", "toggle_theme", "theme", show=False),
    ]

    def __init__(
        self, config_dir: str | Path | None = None, home: str | Path | None = None
    ) -> None:
        super().__init__()
        self.config_dir = config_dir
        # The searches a launch form offers (the project's own too, once the catalog is read)
        self.searches: tuple[str, ...] = tuple(runner.SAMPLERS)
        # Resolved once: worker threads must not depend on the current directory.
        self.home = Path(home or os.environ.get("RUNNER_HOME") or ".runner").resolve()
        chosen = config_dir or os.environ.get("RUNNER_CONFIG_DIR")
        self.forms = RememberedForms(self.home / FORMS_FILE)
        if chosen is None and not Path("conf").is_dir():
            self.sub_title = "built-in workflows (no ./conf)"
        else:
            self.sub_title = short_path(str(chosen or "conf"))

    def on_mount(self) -> None:
        self.push_screen(MainScreen())

    @property
    def launches(self) -> LaunchesPane:
        return self.get_screen_stack_main().query_one(LaunchesPane)

    def get_screen_stack_main(self) -> Screen[Any]:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    # -- what the views ask for -------------------------------------------------------------

    def open_form(self, entity: Entity, *, fresh: bool = False) -> None:
        """The launch form of a workflow or saved run definition, holding what was last
        launched of it (`fresh`: its defaults)."""
        self.push_screen(
            LaunchScreen(
                entity.target,
                entity.workflow,
                preset=entity.preset is not None,
                remembered=None if fresh else self.forms.get(entity.target),
            )
        )

    def start_launch(self, call: Call, values: FormValues) -> None:
        """Detached: the runs go on in their own process when the TUI quits."""
        self._launch(call, values)

    @work(thread=True, group="launch")
    def _launch(self, call: Call, values: FormValues) -> None:
        try:
            launch = runner.launch(
                call.target,
                call.overrides,
                config_dir=self.config_dir,
                home=self.home,
                wait=False,
                **call.options,
            )
        except runner.RunnerError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.forms.remember(values)
        # A search's runs are recorded as its trials are asked: it says how many it makes.
        search = launch.record.definition.get("search")
        what = f"a search of {search['n_trials']:,} trials" if search else None
        self.call_from_thread(self._launched, launch.id, launch.record.run_count, what)

    def _launched(self, launch_id: str, runs: int, what: str | None = None) -> None:
        while isinstance(self.screen, LaunchScreen | RunScreen | LaunchCurvesScreen):
            self.pop_screen()
        main = self.get_screen_stack_main()
        main.action_view("launches-tab")  # type: ignore[attr-defined]
        self.launches.show_launch(launch_id)
        self.notify(f"launched {launch_id[:12]}: {what or f'{runs:,} run' + 's' * (runs != 1)}")

    @work(thread=True, group="launch")
    def rerun(self, run_id: str) -> None:
        try:
            launch = runner.rerun(run_id, home=self.home, wait=False)
        except runner.RunnerError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.call_from_thread(self._launched, launch.id, 1)

    def confirm_resume(self, record: runner.LaunchRecord) -> None:
        """As cancel does, resume asks first: it starts runs again, in a process of its own."""
        again = sum(n for s, n in record.counts.items() if s not in ("succeeded", "cached"))
        runs = f"the {again:,} run{'s' * (again != 1)}" if again else "the runs"

        def answered(yes: bool | None) -> None:
            if yes:
                self.resume(record.id)

        self.push_screen(
            ConfirmScreen(
                f"Resume launch {record.id[:12]}: run again {runs} that did not succeed?"
            ),
            answered,
        )

    @work(thread=True, group="launch")
    def resume(self, launch_id: str) -> None:
        try:
            launch = runner.resume(launch_id, home=self.home, wait=False)
        except runner.RunnerError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.call_from_thread(self.notify, f"resumed {launch.id[:12]}")

    def confirm_cancel(self, target: str, is_run: bool) -> None:
        kind = "run" if is_run else "launch"

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel(target)

        self.push_screen(ConfirmScreen(f"Cancel {kind} {target[:12]}?"), answered)

    @work(thread=True, group="cancel")
    def _cancel(self, target: str) -> None:
        try:
            runner.cancel([target], home=self.home)
        except runner.RunnerError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.call_from_thread(self.notify, f"cancelled {target[:12]}")

    # -- keys -------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
