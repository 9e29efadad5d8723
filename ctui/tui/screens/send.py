"""`SendScreen`: a message for one thread (typed into its terminal, or a follow-up run)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.widget import Widget
from textual.widgets import Input, Static

from ctui.tui.screens.form import FormScreen, Invalid, Submit


class SendScreen(FormScreen):
    """Ask for the message; the core says how it went (`ctui send` makes the same call)."""

    TITLE = "Send a message"
    OK = "Send"
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = ((r"message", "message"),)

    def __init__(self, name: str, how: str, *, submit: Submit | None = None) -> None:
        super().__init__(submit=submit)
        self.thread, self.how = name, how

    def fields(self) -> Iterable[Widget]:
        yield Static(f"To [b]{self.thread}[/b]: {self.how}.", classes="form-note")
        yield from self.labelled(
            "Message", Input(placeholder="also cover the empty cart", id="message")
        )

    def collect(self) -> dict[str, Any]:
        text = self.value("message")
        if not text:
            raise Invalid("message", "Say what the agent should do.")
        return {"text": text}
