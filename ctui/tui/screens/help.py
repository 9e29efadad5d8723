"""`HelpScreen`: F1 — the keys and what the panes mean, from `help.md`."""

from __future__ import annotations

from importlib.resources import files
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown


class HelpScreen(ModalScreen[None]):
    """The control room's help, closed with escape, q or F1."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,f1", "app.pop_screen", "Close", id="help.close", tooltip="Close the help"
        ),
    ]

    def compose(self) -> ComposeResult:
        text = files("ctui.tui").joinpath("help.md").read_text()
        with VerticalScroll(id="help-body") as box:
            box.border_title = "ctui help  (escape to close)"
            yield Markdown(text)
