"""`DecisionScreen`: the form behind `d` — log a decision every agent will see.

The category rule lives in the core alone (`decisions.CATEGORY_RE`): the form
sends what was typed and shows the core's refusal under the Category field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual.widget import Widget
from textual.widgets import Input, Select

from ctui.tui.screens.form import FormScreen, Invalid

SCOPES = ("file", "module", "service", "system")
STATUSES = ("accepted", "proposed", "superseded", "rejected")


class DecisionScreen(FormScreen):
    """Log a decision (category, title, description, scope, status)."""

    TITLE = "Log a decision"
    OK = "Log"
    REFUSALS: ClassVar[tuple[tuple[str, str], ...]] = (
        (r"category", "category"),
        (r"title", "title"),
        (r"scope", "scope"),
        (r"status", "status"),
    )

    def fields(self) -> Iterable[Widget]:
        yield from self.labelled(
            "Category", Input(placeholder="api-design", id="category"), "a short lowercase word"
        )
        yield from self.labelled(
            "Title", Input(placeholder="Cursor pagination on list routes", id="title")
        )
        yield from self.labelled(
            "Description", Input(placeholder="why, and what it rules out", id="description")
        )
        yield from self.labelled(
            "Scope", Select([(s, s) for s in SCOPES], value="module", allow_blank=False, id="scope")
        )
        yield from self.labelled(
            "Status",
            Select([(s, s) for s in STATUSES], value="accepted", allow_blank=False, id="status"),
        )

    def collect(self) -> dict[str, Any]:
        title = self.value("title")
        if not title:
            raise Invalid("title", "Give the decision a title.")
        return {
            "category": self.value("category"),
            "title": title,
            "description": self.value("description"),
            "scope": str(self.query_one("#scope", Select).value),
            "status": str(self.query_one("#status", Select).value),
        }
