"""`AgentList`: the control room's main list, one row per agent, columns fitted to its width.

A `Pane` whose columns follow its width: on a resize the lowest-priority
columns drop (or come back) and DOING takes the rest, so nothing is cut off
half-way at any terminal size. Moving the cursor posts `AgentList.Selected`
so the preview follows the selection; the selection stays on its agent when
a change of state moves the agent's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from ctui.tui.agent_rows import AgentColumn, fit, spec
from ctui.tui.rows import Record
from ctui.tui.widgets.pane import Pane


class AgentList(Pane):
    """Agents: state, name, what each is doing, files held, task, branch, runtime, cost.

    Enter opens the agent's details as in any pane (kept out of the footer: the
    preview beside the list already shows them)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", id="agents.details", show=False),
    ]
    keep_selection = True

    @dataclass
    class Selected(Message):
        """The cursor moved to another agent (or the list changed under it)."""

        agent: Record | None

    def __init__(self, **kw: Any) -> None:
        self.fitted: tuple[AgentColumn, ...] = fit(120)
        super().__init__(spec(self.fitted), **kw)
        self._shown: tuple[list[Record], float, int | None, str] = ([], 0.0, None, "")
        self._last_key: Record | None = None
        """The agent last announced as selected."""
        self._announced = False

    def show(
        self,
        records: list[Record],
        now: float,
        *,
        total: int | None = None,
        needle: str = "",
        tick: bool = False,
    ) -> None:
        self._shown = (records, now, total, needle)
        super().show(records, now, total=total, needle=needle, tick=tick)
        self._announce()

    def same(self, old: Record, new: Record) -> bool:
        """Unchanged but for the runtime, which the one-second tick redraws."""
        return old.keys() == new.keys() and all(old[k] == new[k] for k in old if k != "runtime")

    def on_resize(self, event: events.Resize) -> None:
        self.refit(self.size.width)  # inside the border (the event's size includes it)

    def refit(self, width: int) -> None:
        """Choose the columns for `width`; rebuild the table only when they change."""
        wanted = fit(width)
        if wanted == self.fitted:
            return
        self.fitted = wanted
        self.spec = spec(wanted)
        key = self.selected.get("key") if self.selected else None
        self.clear(columns=True)
        self._cells.clear()
        self._drawn.clear()
        self._order = []
        for col in self.spec.columns:
            self.add_column(col.label, key=col.key, width=col.width)
        self.sort_column = None
        records, now, total, needle = self._shown
        Pane.show(self, records, now, total=total, needle=needle)
        if key is not None:
            self._follow(str(key))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._announce()

    def _announce(self) -> None:
        """Tell the preview when the selection moved, or its agent changed (not when a read
        only brought the same agent again: that would restart the preview's read)."""
        rec = self.selected
        last, first = self._last_key, not self._announced
        self._last_key, self._announced = rec, True
        moved = (rec is None) != (last is None) or (
            rec is not None and last is not None and not self.same(last, rec)
        )
        if first or moved:
            self.post_message(self.Selected(rec))
