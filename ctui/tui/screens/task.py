"""`TaskScreen`: the form behind `t` — add a task to the queue.

The result is the arguments of `tasks.add`: description, priority 1 (first)
to 10, the ids it depends on, files it touches and hints for the worker. The
core checks the dependencies exist; its refusal is shown under "Depends on".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from textual.widget import Widget
from textual.widgets import Input

from ctui.tui.screens.form import FormScreen, Invalid


def split(text: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[,\s]+", text) if part)


class TaskScreen(FormScreen):
    """Add a task for agents to claim."""

    TITLE = "Add a task"
    OK = "Add"
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = (
        (r"dependency", "depends_on"),
        (r"description", "description"),
        (r"priority", "priority"),
        (r"\bfile", "files"),
        (r"\bhint", "hint"),
    )

    def fields(self) -> Iterable[Widget]:
        yield from self.labelled(
            "Description", Input(placeholder="Add rate limiting to login", id="description")
        )
        yield from self.labelled(
            "Priority", Input(value="5", id="priority"), "1 is first, 10 is last"
        )
        yield from self.labelled(
            "Depends on", Input(placeholder="task-0001, task-0002", id="depends_on")
        )
        yield from self.labelled("Files", Input(placeholder="src/auth.py, src/db/**", id="files"))
        yield from self.labelled("Hint", Input(placeholder="see DEC-20261121-0003", id="hint"))

    def collect(self) -> dict[str, Any]:
        description = self.value("description")
        if not description:
            raise Invalid("description", "Describe the task.")
        try:
            priority = int(self.value("priority") or "5")
        except ValueError:
            priority = 0
        if not 1 <= priority <= 10:
            raise Invalid("priority", "Priority: a whole number from 1 (first) to 10 (last).")
        hint = self.value("hint")
        return {
            "description": description,
            "priority": priority,
            "depends_on": split(self.value("depends_on")),
            "files": split(self.value("files")),
            "hints": (hint,) if hint else (),
        }
