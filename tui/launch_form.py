"""The launch form: one field per param (from the workflow's params JSON Schema) with a sweep
beside it, the launch's options, live validation by runner itself, and the run count."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

import runner
from runner.tui.focus import focus_now
from runner.tui.form_values import (
    DIRECTIONS,
    GENERAL,
    RUN_FIELDS,
    SEARCH,
    SEARCH_FIELDS,
    Call,
    FormValues,
    default_hint,
    kind_of,
    problems_by_field,
    shown_default,
    summary,
    sweep_hint,
    to_call,
)
from runner.tui.text import clean


def short_type(kind: str) -> str:
    """'array | null' as 'array?': the type column is narrow."""
    parts = [p for p in kind.split(" | ") if p != "null"]
    text = " | ".join(parts) + ("?" if len(parts) < len(kind.split(" | ")) else "")
    return text if len(text) <= 8 else text[:7] + "…"


LAUNCHERS = ("local", "threads", "sequential")
CHECK_DELAY = 0.3  # seconds of quiet typing before the form is checked


class LaunchScreen(Screen[None]):
    """Fills a launch of one workflow (or a saved run definition); launches it detached."""

    BINDINGS = [
        Binding("ctrl+l", "launch", "launch", priority=True),
        Binding("ctrl+r", "defaults", "defaults"),
        Binding("escape", "app.pop_screen", "back"),
        # Priority: the focus moves as the key arrives, so what is typed right after it (in
        # one burst from the terminal) goes to the next field, not to the one left.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(
        self,
        target: str,
        workflow: runner.WorkflowInfo | None,
        preset: bool = False,
        remembered: FormValues | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        self.workflow = workflow
        self.preset = preset
        self.remembered = remembered  # what was last launched from this form, shown again
        self.params = list(workflow.params) if workflow else []
        self.call: Call | None = None  # the last call checked, and whether it was valid
        self.valid = False
        self.checking = False
        self.dirty = False  # changed since the last check
        self.launch_when_checked = False  # ctrl+l came while a check was due
        self._timer: Timer | None = None

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        title = Text()
        title.append("Launch ", style="bold")
        title.append(clean(self.target), style="bold")
        if self.workflow is not None and not self.preset:
            title.append(f"  {clean(self.workflow.version)}", style="dim")
        elif self.preset:
            title.append("  (saved run definition: empty fields keep its values)", style="dim")
        with VerticalScroll(id="form"):
            yield Static(title, id="form-title")
            if self.params:
                yield Static(Text("params", style="bold"), classes="section")
            for index, param in enumerate(self.params):
                yield from self._param_row(index, param)
            yield Static(Text("launch", style="bold"), classes="section")
            fields = list(RUN_FIELDS)
            for left, right in zip(fields[::2], fields[1::2], strict=True):
                with Vertical(classes="field"):
                    with Horizontal(classes="row"):
                        for key, label, placeholder in (left, right):
                            yield Label(label, classes="run-label")
                            yield Input(
                                value=self.remembered.options.get(key, "")
                                if self.remembered
                                else "",
                                placeholder=placeholder,
                                id=f"opt-{key}",
                                classes="run-input",
                                compact=True,
                            )
                    yield Static("", id=f"err-opt-{left[0]}", classes="error")
                    yield Static("", id=f"err-opt-{right[0]}", classes="error")
            with Horizontal(classes="row field"):
                yield Label("launcher", classes="run-label")
                launcher = self.remembered.launcher if self.remembered else None
                yield Select(
                    [(name, name) for name in LAUNCHERS],
                    value=launcher if launcher in LAUNCHERS else Select.NULL,
                    prompt="default (local)",
                    id="opt-launcher",
                    compact=True,
                )
            yield from self._search_row()
            yield Static("", id="err-general", classes="error")
        with Horizontal(id="form-footer"):
            yield Static("checking…", id="summary")
            yield Button("Launch ^l", variant="success", id="launch", compact=True)
            yield Button("Back esc", id="back", compact=True)
        yield Footer(compact=True)

    def _search_row(self) -> ComposeResult:
        """A search instead of a grid (none by default), its trials, objective and direction,
        and what it is once checked (SearchConfig.describe)."""
        chosen = self.remembered.search if self.remembered else None
        last = self.remembered.options if self.remembered else {}
        (trials, trials_label, trials_hint), objective, direction = SEARCH_FIELDS
        with Vertical(classes="field"):
            with Horizontal(classes="row"):
                yield Label("search", classes="run-label")
                searches = self.app.searches  # type: ignore[attr-defined]
                yield Select(
                    [(name, name) for name in searches],
                    value=chosen if chosen in searches else Select.NULL,
                    prompt="(the definition's)" if self.preset else "none (a grid)",
                    id=f"opt-{SEARCH}",
                    classes="run-input",
                    compact=True,
                )
                yield Label(trials_label, classes="run-label")
                yield Input(
                    value=last.get(trials, ""),
                    placeholder=trials_hint,
                    id=f"opt-{trials}",
                    classes="run-input",
                    compact=True,
                )
            yield Static("", id=f"err-opt-{SEARCH}", classes="error")
            yield Static("", id=f"err-opt-{trials}", classes="error")
        with Vertical(classes="field"):
            with Horizontal(classes="row"):
                yield Label(objective[1], classes="run-label")
                yield Input(
                    value=last.get(objective[0], ""),
                    placeholder=objective[2],
                    id=f"opt-{objective[0]}",
                    classes="run-input",
                    compact=True,
                )
                yield Label(direction[1], classes="run-label")
                yield Select(
                    [(name, name) for name in DIRECTIONS],
                    value=last.get(direction[0])
                    if last.get(direction[0]) in DIRECTIONS
                    else Select.NULL,
                    prompt=direction[2],
                    id=f"opt-{direction[0]}",
                    classes="run-input",
                    compact=True,
                )
            yield Static("", id=f"err-opt-{objective[0]}", classes="error")
            yield Static("", id=f"err-opt-{direction[0]}", classes="error")
            yield Static("", id="search-about")

    def _param_row(self, index: int, param: runner.Param) -> ComposeResult:
        """Widget ids use the param's index: a param's name need not be a valid id."""
        kind = kind_of(param)
        label = Text()
        label.append(clean(param.name), style="bold" if param.required else "")
        if param.required:
            label.append(" *", style="red")
        with Vertical(classes="field"):
            with Horizontal(classes="row param"):
                yield Label(label, classes="param-label")
                yield Label(short_type(param.type), classes="param-type")
                default = None if self.preset else param.default
                last = self.remembered.params if self.remembered else {}
                if kind == "bool":
                    on = last[param.name] if isinstance(last.get(param.name), bool) else default
                    yield Switch(value=bool(on), id=f"val-{index}")
                    yield Static("", classes="spacer")
                elif kind == "enum":
                    choices = [(clean(v), v) for v in param.schema.get("enum", [])]
                    chosen = last.get(param.name, default)
                    yield Select(
                        choices,
                        value=chosen if chosen in param.schema.get("enum", []) else Select.NULL,
                        prompt="(default)" if self.preset else "choose",
                        id=f"val-{index}",
                        compact=True,
                    )
                else:
                    text = "" if self.preset else shown_default(param)
                    if isinstance(last.get(param.name), str):
                        text = last[param.name]
                    yield Input(
                        value=text,
                        placeholder=default_hint(param),
                        id=f"val-{index}",
                        classes="value",
                        compact=True,
                    )
                if kind != "bool":
                    searching = bool(self.remembered and self.remembered.search)
                    yield Input(
                        value=self.remembered.sweeps.get(param.name, "") if self.remembered else "",
                        placeholder=sweep_hint(param, searching),
                        id=f"sweep-{index}",
                        classes="sweep",
                        compact=True,
                    )
            yield Static("", id=f"err-param-{index}", classes="error")

    def on_mount(self) -> None:
        first = self.query("#form Input, #form Switch, #form Select").first()
        focus_now(first)
        self.check()

    def on_key(self, event: events.Key) -> None:
        """A key typed while the form was being built came to the screen, no field having
        the focus yet: it goes to the field that has it now, as typed."""
        if isinstance(self.focused, Input) and event.is_printable and event.character:
            event.stop()
            self.focused.post_message(events.Key(event.key, event.character))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """A field in view with its problems; any of the launch's options, all of them (seed,
        parallelism, launcher and the problems of no one field)."""
        form = self.query_one("#form", VerticalScroll)
        if (event.widget.id or "").startswith("opt-"):
            form.scroll_end(animate=False, immediate=True)
            return
        block = next(
            (a for a in event.widget.ancestors if isinstance(a, Widget) and a.has_class("field")),
            None,
        )
        if block is not None:
            form.scroll_to_widget(block, animate=False, immediate=True)

    # -- what the form holds ----------------------------------------------------------------

    def values(self) -> FormValues:
        values = FormValues(target=self.target)
        for index, param in enumerate(self.params):
            widget = self.query_one(f"#val-{index}")
            if isinstance(widget, Switch):
                if not self.preset or widget.value != bool(param.default):
                    values.params[param.name] = widget.value
            elif isinstance(widget, Select):
                if widget.value is not Select.NULL:
                    values.params[param.name] = widget.value
            elif isinstance(widget, Input) and (
                widget.value.strip() != shown_default(param) or self.preset
            ):
                values.params[param.name] = widget.value
            sweeps = self.query(f"#sweep-{index}")
            if sweeps:
                values.sweeps[param.name] = sweeps.first(Input).value
        for key, _, _ in RUN_FIELDS:
            values.options[key] = self.query_one(f"#opt-{key}", Input).value
        launcher = self.query_one("#opt-launcher", Select).value
        values.launcher = None if launcher is Select.NULL else str(launcher)
        search = self.query_one(f"#opt-{SEARCH}", Select).value
        values.search = None if search is Select.NULL else str(search)
        for key, _, _ in SEARCH_FIELDS:
            widget = self.query_one(f"#opt-{key}")
            if isinstance(widget, Select):
                values.options[key] = "" if widget.value is Select.NULL else str(widget.value)
            elif isinstance(widget, Input):
                values.options[key] = widget.value
        return values

    # -- checking, as the user types ---------------------------------------------------------

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _changed(self, _event: Any) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.valid = False
        self.dirty = True
        self._timer = self.set_timer(CHECK_DELAY, self.check)

    @on(Select.Changed, f"#opt-{SEARCH}")
    def _search_changed(self, event: Select.Changed) -> None:
        self._sweep_hints(event.value is not Select.NULL)

    def _sweep_hints(self, searching: bool) -> None:
        """The sweep fields say what they take: a grid's values, or a search's dimensions."""
        for index, param in enumerate(self.params):
            for field in self.query(f"#sweep-{index}").results(Input):
                field.placeholder = sweep_hint(param, searching)

    def check(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.dirty = False
        self.checking = True
        self.query_one("#summary", Static).update(Text("checking…", style="dim"))
        self._check(self.values())

    @work(thread=True, exclusive=True, group="check")
    def _check(self, values: FormValues) -> None:
        """runner's own validation, the CLI's: runner.show composes, validates and plans."""
        call = to_call(values, self.params)
        problems = dict(call.problems)
        preview = None
        if not problems:
            app = self.app
            try:
                preview = runner.show(
                    call.target,
                    call.overrides,
                    config_dir=app.config_dir,  # type: ignore[attr-defined]
                    home=app.home,  # type: ignore[attr-defined]
                    **call.options,
                )
            except runner.RunnerError as exc:
                problems = problems_by_field(exc, self.params)
        self.app.call_from_thread(self._checked, call, problems, preview)

    def _checked(self, call: Call, problems: dict[str, list[str]], preview: Any) -> None:
        self.checking = False
        if not self.is_attached:
            return  # the form was closed while its check ran
        self.call = call
        self.valid = not problems
        index_of = {param.name: str(i) for i, param in enumerate(self.params)}
        for error in self.query(".error").results(Static):
            kind, _, which = (error.id or "").removeprefix("err-").partition("-")
            if kind == "param":
                key = next((f"params.{n}" for n, i in index_of.items() if i == which), "")
            else:
                key = which or GENERAL
            lines = problems.get(key, [])
            error.update(Text("\n".join(clean(line) for line in lines), style="red"))
            error.display = bool(lines)
        status = self.query_one("#summary", Static)
        if problems:
            count = sum(len(v) for v in problems.values())
            status.update(Text(f"{count} problem{'s' * (count != 1)}: nothing to launch", "red"))
        else:
            status.update(Text(summary(preview), style="green"))
        # A search is described whole under its field (its first line is the summary).
        about = self.query_one("#search-about", Static)
        search = None if problems or preview is None else preview.search
        about.update(Text("\n".join(clean(line) for line in search.describe())) if search else "")
        about.display = search is not None
        if preview is not None:  # (a saved definition's own search, too)
            self._sweep_hints(search is not None)
        if self.launch_when_checked and not self.dirty:
            self.launch_when_checked = False
            self.action_launch()

    # -- launching --------------------------------------------------------------------------

    def action_defaults(self) -> None:
        """The form again with every field at its default, not what was last launched."""
        self.app.pop_screen()
        self.app.push_screen(LaunchScreen(self.target, self.workflow, preset=self.preset))

    @on(Button.Pressed, "#launch")
    def _launch_pressed(self) -> None:
        self.action_launch()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.app.pop_screen()

    def action_launch(self) -> None:
        if self.dirty or self.checking:  # launch what the form holds now, once checked
            self.launch_when_checked = True
            if self.dirty:
                self.check()
            return
        if not self.valid or self.call is None:
            self.notify("The form has problems: nothing launched.", severity="error")
            return
        self.app.start_launch(self.call, self.values())  # type: ignore[attr-defined]
