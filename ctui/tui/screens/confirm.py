"""`ConfirmScreen` (yes / no) and `ReasonScreen` (a required reason).

Stop asks for a yes; force-release asks for a reason, because the event it
logs tells the holder who took the lease away and why. If the lease is gone by
the time the core is asked, the prompt stays open and says so at its top.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from ctui.tui.screens.form import FormScreen, Invalid, Submit


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; `y` or enter on Yes confirms, `n` or escape declines."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Do it"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Leave it as it is"),
    ]

    def __init__(self, title: str, question: str, *, yes: str = "Yes") -> None:
        super().__init__()
        self.title_text, self.question, self.yes = title, question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="form confirm") as box:
            box.border_title = self.title_text
            yield Static(self.question, id="question")
            with Horizontal(classes="form-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ReasonScreen(FormScreen):
    """Ask why, before taking a lease away from its holder."""

    TITLE = "Force-release a lease"
    OK = "Force-release"
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = ((r"reason", "reason"),)

    def __init__(
        self, path: str, holder: str, token: Any = None, *, submit: Submit | None = None
    ) -> None:
        super().__init__(submit=submit)
        self.path, self.holder, self.token = path, holder, token

    def fields(self) -> Iterable[Widget]:
        yield Static(
            f"Take [b]{self.path}[/b] away from [b]{self.holder}[/b] (token {self.token}).\n"
            "The holder's next edit will be refused until it acquires the lease again.",
            classes="form-note",
        )
        yield from self.labelled(
            "Reason",
            Input(placeholder="agent is stuck; taking over", id="reason"),
            "required: it is logged in the event the holder sees",
        )

    def collect(self) -> dict[str, Any]:
        reason = self.value("reason")
        if not reason:
            raise Invalid("reason", "A force-release needs a reason: it is logged for the holder.")
        return {"path": self.path, "reason": reason}
