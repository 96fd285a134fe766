"""The workflows view: every workflow and saved run definition, a filter, and the selected
one's description, source, params and last launches."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

import runner
from runner.tui.focus import focus_now
from runner.tui.text import clean, plain, short_path, status_text, when
from runner.tui.threads import still_shown


@dataclass
class Entity:
    """One line of the list: a workflow, or a saved run definition of one."""

    key: str  # "wf:ID" or "preset:NAME"
    target: str  # what runner.launch takes: the workflow id, or the preset's name
    workflow: runner.WorkflowInfo | None  # the preset's workflow, for its params
    preset: runner.PresetInfo | None = None

    @property
    def label(self) -> Text:
        if self.preset is not None:
            text = Text()
            text.append("▸ ", style="dim")
            text.append(clean(self.preset.name))
            return text
        assert self.workflow is not None
        text = Text(clean(self.workflow.id))
        text.append(f"  {clean(self.workflow.version)}", style="dim")
        return text

    def matches(self, needle: str) -> bool:
        words = [self.target]
        if self.workflow is not None:
            words += [self.workflow.id, self.workflow.description]
        if self.preset is not None:
            words += [self.preset.description, self.preset.workflow or ""]
        return needle.lower() in " ".join(words).lower()


class WorkflowsPane(Horizontal):
    """Lists entities; asks the app for the launch form of the one chosen."""

    BINDINGS = [
        # Priority: taken as it arrives, so the keys typed right after it go to the filter.
        Binding("slash", "filter", "filter", priority=True),
        Binding("ctrl+l", "open", "launch form"),
        Binding("down", "to_list", "list", show=False),  # from the filter to the list
    ]

    def __init__(self) -> None:
        super().__init__(id="workflows")
        self.entities: list[Entity] = []
        self.shown: list[Entity] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="wf-side"):
            yield Input(placeholder="/ filter", id="wf-filter")
            yield OptionList(id="wf-list")
        with VerticalScroll(id="wf-detail"):
            yield Static("Loading workflows…", id="wf-about")
            yield DataTable(id="wf-params", cursor_type="row", show_cursor=False)
            yield Static("", id="wf-recent")

    def on_mount(self) -> None:
        table = self.query_one("#wf-params", DataTable)
        table.add_columns("param", "type", "default")
        self.load()

    @work(thread=True, exclusive=True, group="entities")
    def load(self) -> None:
        app = self.app
        config_dir, home = app.config_dir, app.home  # type: ignore[attr-defined]
        workflows = runner.workflows(config_dir=config_dir, home=home)
        presets = runner.presets(config_dir=config_dir)
        app.searches = tuple(runner.searches(config_dir=config_dir))  # type: ignore[attr-defined]
        app.call_from_thread(self.show_entities, workflows, presets)

    def show_entities(
        self, workflows: list[runner.WorkflowInfo], presets: list[runner.PresetInfo]
    ) -> None:
        if not self.is_attached:
            return  # read while the app closed
        by_id = {w.id: w for w in workflows}
        self.entities = [Entity(f"wf:{w.id}", w.id, w) for w in workflows]
        for preset in presets:
            workflow_id = (preset.workflow or "").split(":")[0]
            self.entities.append(
                Entity(f"preset:{preset.name}", preset.name, by_id.get(workflow_id), preset)
            )
        box = self.query_one("#wf-filter", Input)
        self.refilter(box.value)
        if not box.has_focus:  # the user may have started filtering while the list loaded
            focus_now(self.query_one("#wf-list", OptionList))

    def refilter(self, needle: str) -> None:
        listing = self.query_one("#wf-list", OptionList)
        self.shown = [e for e in self.entities if e.matches(needle.strip())]
        listing.clear_options()
        listing.add_options(Option(e.label, id=e.key) for e in self.shown)
        if self.shown:
            listing.highlighted = 0
            self.describe(self.shown[0])
        else:
            self.query_one("#wf-about", Static).update("Nothing matches the filter.")

    @property
    def selected(self) -> Entity | None:
        index = self.query_one("#wf-list", OptionList).highlighted
        return self.shown[index] if index is not None and index < len(self.shown) else None

    # -- events -----------------------------------------------------------------------------

    @on(Input.Changed, "#wf-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.refilter(event.value)

    @on(Input.Submitted, "#wf-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        """Enter opens the first match, as a finder does (down goes to the list instead)."""
        self.refilter(event.value)  # what was typed, even if its Changed is still on its way
        focus_now(self.query_one("#wf-list", OptionList))
        self.action_open()

    def action_to_list(self) -> None:
        focus_now(self.query_one("#wf-list", OptionList))

    @on(OptionList.OptionHighlighted, "#wf-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index < len(self.shown):
            self.describe(self.shown[event.option_index])

    @on(OptionList.OptionSelected, "#wf-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.shown):
            self.app.open_form(self.shown[event.option_index])  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":  # in the filter itself, "/" is text
            return not any(box.has_focus for box in self.query("#wf-filter"))
        return True

    def action_filter(self) -> None:
        focus_now(self.query_one("#wf-filter", Input))

    def action_open(self) -> None:
        if self.selected is not None:
            self.app.open_form(self.selected)  # type: ignore[attr-defined]

    # -- the detail -------------------------------------------------------------------------

    def describe(self, entity: Entity) -> None:
        about = Text()
        workflow = entity.workflow
        if entity.preset is not None:
            about.append(clean(entity.preset.name), style="bold")
            about.append("  saved run definition\n", style="dim")
            if entity.preset.description:
                about.append(clean(entity.preset.description) + "\n")
            if entity.preset.error:
                about.append(clean(entity.preset.error) + "\n", style="red")
            about.append(f"runs workflow {clean(entity.preset.workflow or '?')}\n\n")
        if workflow is not None:
            about.append(clean(workflow.id), style="bold")
            about.append(f"  {clean(workflow.version)}  ({workflow.kind})\n", style="dim")
            if workflow.description:
                about.append(clean(workflow.description) + "\n")
            about.append("defined in ", style="dim")
            about.append(clean(short_path(workflow.where)) + "\n")
            others = [v for v in workflow.versions if v != workflow.version]
            if others or workflow.registered:
                about.append("versions: ", style="dim")
                about.append(clean(", ".join([*workflow.versions, *workflow.registered])) + "\n")
            if workflow.error:
                about.append(clean(workflow.error) + "\n", style="red")
        self.query_one("#wf-about", Static).update(about)
        table = self.query_one("#wf-params", DataTable)
        table.clear()
        for param in workflow.params if workflow else []:
            name = plain(param.name + (" *" if param.required else ""))
            default = plain(param.default) if param.has_default else Text("required", "red")
            table.add_row(name, param.type, default)
        self.recent(entity)

    @work(thread=True, exclusive=True, group="recent")
    def recent(self, entity: Entity) -> None:
        if entity.workflow is None:
            return
        home = self.app.home  # type: ignore[attr-defined]
        launches = runner.status(home=home, limit=5, workflow=entity.workflow.id)
        text = Text()
        text.append("last launches\n" if launches else "never launched", style="bold")
        for launch in launches:
            assert isinstance(launch, runner.Launch)
            record = launch.record
            text.append(f"{record.id[:8]}  {when(record.created)}  ")
            if record.name:
                text.append(clean(record.name) + "  ", style="italic")
            for status, count in sorted(record.counts.items()):
                text.append_text(status_text(f"{count:,} {status}"))
                text.append(" ")
            text.append("\n")
        self.app.call_from_thread(self._show_recent, text)

    def _show_recent(self, text: Text) -> None:
        if still_shown(self, "#wf-recent"):
            self.query_one("#wf-recent", Static).update(text)
