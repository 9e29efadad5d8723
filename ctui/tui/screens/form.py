"""`FormScreen`: the shared frame of the control room's modal forms.

A subclass yields its fields from `fields()` and turns them into a result in
`collect()`, raising `Invalid` with a message naming the field when the input
is wrong; the form then stays open, shows the message and focuses the field.
Enter on the last input (or ctrl+s, or the OK button) submits; escape cancels
and the screen is dismissed with None.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static


class Invalid(Exception):
    """Bad input in a form field: `field` is the widget id to focus."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """A titled modal form with OK / Cancel, validation and an error line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape", "cancel", "Cancel", id="form.cancel", tooltip="Close without doing anything"
        ),
        Binding(
            "ctrl+s", "submit", "Submit", id="form.submit", tooltip="Check the form and submit it"
        ),
    ]
    AUTO_FOCUS = "Input"
    TITLE = "Form"
    OK = "OK"

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form") as box:
            box.border_title = self.TITLE
            yield from self.fields()
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(self.OK, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if not getattr(self.app, "live", True):
            for box in self.query(Input):
                box.cursor_blink = False

    def fields(self) -> Iterable[Widget]:
        return ()

    def collect(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def labelled(label: str, widget: Widget, hint: str = "") -> Iterable[Widget]:
        """One line: the label, then the field (compact), then an optional hint line."""
        if hasattr(widget, "compact"):
            widget.compact = True
        yield Horizontal(Label(label, classes="form-label"), widget, classes="form-row")
        if hint:
            yield Static(hint, classes="form-hint")

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        try:
            result = self.collect()
        except Invalid as bad:
            self.query_one("#form-error", Static).update(bad.message)
            try:
                self.query_one(f"#{bad.field}").focus()
            except Exception:
                pass
            return
        self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        if inputs and event.input is inputs[-1]:
            self.action_submit()
        else:
            self.focus_next()
