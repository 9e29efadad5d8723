"""`FormScreen`: the shared frame of the control room's modal forms.

A subclass yields its fields from `fields()` and turns them into a result in
`collect()`, raising `Invalid` with a message naming the field when the input
is wrong. Enter on the last input (or ctrl+s, or the OK button) submits;
escape cancels and the screen is dismissed with None.

With a `submit` callback the form does its own core call, in a thread worker:
the form stays open until the core accepts, so a refusal (a duplicate name, an
unknown dependency, a lease no longer held) never costs the user what they
typed. Every error is one line shown inside the form: under its field when the
field is known (`Invalid.field`, or a `REFUSALS` pattern matching the core's
message), which then gets the focus; otherwise at the top of the form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

Submit = Callable[[dict[str, Any]], Any]
"""Runs in a thread with the collected values; returns the outcome or raises the refusal."""


class Invalid(Exception):
    """Bad input in a form field: `field` is the widget id to focus."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def one_line(error: BaseException) -> str:
    """The core's one-line message; an unexpected error also names its type."""
    message = getattr(error, "message", None)
    if isinstance(message, str) and message:
        return message
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class FormScreen(ModalScreen[Any]):
    """A titled modal form with OK / Cancel, validation and an error line per field."""

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
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(regex, field id), first match wins: where a refusal from the core belongs."""

    def __init__(self, *, submit: Submit | None = None) -> None:
        super().__init__()
        self.submit = submit
        self.busy = False
        self.closed = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form") as box:
            box.border_title = self.TITLE
            yield Static("", id="form-error", classes="form-error", markup=False)
            yield from self.fields()
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
        """One line: the label, then the field (compact); its error line; an optional hint."""
        if hasattr(widget, "compact"):
            widget.compact = True
        yield Horizontal(Label(label, classes="form-label"), widget, classes="form-row")
        if widget.id:
            yield Static(
                "", id=f"{widget.id}-error", classes="form-error field-error", markup=False
            )
        if hint:
            yield Static(hint, classes="form-hint")

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def field_for(self, error: BaseException) -> str | None:
        """The field a refusal is about: `details["field"]`, else the first matching REFUSALS."""
        named = getattr(error, "details", {}).get("field")
        text = one_line(error).lower()
        candidates = [named] if isinstance(named, str) else []
        candidates += [field for pattern, field in self.REFUSALS if re.search(pattern, text)]
        for field in candidates:
            if self.query(f"#{field}-error"):
                return field
        return None

    def clear_error(self) -> None:
        for line in self.query(".form-error").results(Static):
            line.update("")
            line.remove_class("-shown")

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show `message` under `field` (and focus it), or at the top of the form."""
        self.clear_error()
        line = self.query_one("#form-error", Static)
        if field is not None:
            try:
                line = self.query_one(f"#{field}-error", Static)
                self.query_one(f"#{field}").focus()
            except NoMatches:
                pass
        line.update(message)
        line.add_class("-shown")
        self.call_after_refresh(line.scroll_visible, animate=False)

    def action_cancel(self) -> None:
        self.closed = True
        self.dismiss(None)

    def action_submit(self) -> None:
        if self.busy:
            return
        try:
            values = self.collect()
        except Invalid as bad:
            self.show_error(bad.message, bad.field)
            return
        if self.submit is None:
            self.closed = True
            self.dismiss(values)
            return
        self.clear_error()
        self._set_busy(True)
        self.run_worker(
            partial(self._send, self.app, self.submit, values),
            name=f"{self.TITLE}: submit",
            group="form",
            thread=True,
            exit_on_error=False,
        )

    def _send(self, app: App[Any], submit: Submit, values: dict[str, Any]) -> None:
        """In the worker thread: the core call, then its answer back on the event loop."""
        try:
            outcome = submit(values)
        except Exception as exc:
            app.call_from_thread(self._refused, app, exc)
        else:
            app.call_from_thread(self._accepted, outcome)

    def _accepted(self, outcome: Any) -> None:
        self._set_busy(False)
        if not self.closed:
            self.closed = True
            self.dismiss(outcome)

    def _refused(self, app: App[Any], error: Exception) -> None:
        """Keep the form and what was typed; if it was closed meanwhile, tell the app."""
        self._set_busy(False)
        if self.closed:
            app.notify(one_line(error), title="ctui", severity="error", timeout=8)
        else:
            self.show_error(one_line(error), self.field_for(error))

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        for button in self.query("#ok").results(Button):
            button.disabled = busy

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
