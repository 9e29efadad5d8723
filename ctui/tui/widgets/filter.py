"""`FilterBar`: the one-line filter `/` opens for the focused pane.

It remembers which pane it filters, posts `FilterBar.Applied` on every
keystroke (the pane narrows as you type), and closes on enter (keeping the
filter) or escape (clearing it); either way focus goes back to the pane.

Bindings: `escape` clears the filter and closes the bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    """A filter for one pane, hidden until `/`."""

    DEFAULT_CSS = """
    FilterBar { dock: bottom; display: none; margin-bottom: 1; }
    FilterBar.shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "clear",
            "Clear filter",
            id="filter.clear",
            tooltip="Clear the filter and close",
        ),
    ]

    @dataclass
    class Applied(Message):
        """The filter of `pane` is now `needle` (lowercase); `done` when the bar closed."""

        pane: str
        needle: str
        done: bool

    def __init__(self) -> None:
        super().__init__(
            placeholder="filter the pane (enter keeps it, escape clears it)", id="filter"
        )
        self.pane = ""

    def open(self, pane: str, needle: str) -> None:
        self.pane = pane
        self.value = needle
        self.add_class("shown")
        self.focus()

    def _close(self, needle: str) -> None:
        self.remove_class("shown")
        self.post_message(self.Applied(self.pane, needle, done=True))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.pane and self.has_class("shown"):
            self.post_message(self.Applied(self.pane, event.value.strip().lower(), done=False))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close(self.value.strip().lower())

    def action_clear(self) -> None:
        self.value = ""
        self._close("")
