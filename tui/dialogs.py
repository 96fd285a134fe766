"""Small modal screens: a yes/no confirmation and the key help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from runner.tui.focus import focus_now

HELP = """\
[b]Views[/b]
  1 2, tab   workflows, launches
  /          filter; enter opens the first match
  enter      open: a launch form, a run's details
  escape     back

[b]Workflows[/b]
  ctrl+l     the launch form of the selected one

[b]Launch form[/b]  (it opens with what you last launched)
  ctrl+l     launch (runs go on after you quit)
  ctrl+r     every field back to its default
  escape     back, launching nothing

[b]Launches and runs[/b]
  l          the selected run's log, followed live
  m          curves: the launch's, a line per run
             (k metric, b colour by), or the run's
  r          rerun the run (same params and seed)
  R          resume the launch (asks first)
  c          cancel the run or launch (asks first)
  y          copy the selected id
  f          the newest launch

[b]Anywhere[/b]
  ?          this help      ctrl+t  light or dark
  q          quit
"""


class ConfirmScreen(ModalScreen[bool]):
    """Asks before something that cannot be undone; dismissed with True for yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Grid(id="confirm"):
            yield Label(self.question, id="question", markup=False)
            yield Button("Yes (y)", variant="error", id="yes")
            yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        focus_now(self.query_one("#no", Button))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    """Every key, on one page."""

    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):  # at 80x24 it is taller than the screen
            yield Static(HELP, id="help-text")
            with Horizontal(id="help-buttons"):
                yield Button("Close", id="close")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.app.pop_screen()
