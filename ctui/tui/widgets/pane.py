"""`Pane`: a DataTable that shows one kind of record, updated in place by key.

`show()` diffs the new rows against what is on screen: unchanged cells are
left alone, changed cells are updated, gone rows removed and new rows added,
so a refresh (or the one-second countdown tick) never clears the table and
never flickers. Clicking a header, or `o`, sorts by that column; the sort is
kept across refreshes. The border title shows how many rows are shown of how
many exist; an empty pane says what to do.

Bindings: `enter` opens the row's details, `o` cycles the sort column, `O` reverses it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey

from ctui.tui.rows import Cell, PaneSpec, Record, matches


class Pane(DataTable[Any]):
    """One pane of the control room."""

    keep_selection: ClassVar[bool] = False
    """Whether the cursor stays on its record when a re-read moves its row (the agents
    list); the other views keep the row, so a cursor at the top follows the newest."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Details",
            id="pane.details",
            tooltip="Details of the selected row (a thread's live log)",
        ),
        Binding(
            "o", "sort_next", "Sort", id="pane.sort", tooltip="Sort by the next column", show=False
        ),
        Binding(
            "O",
            "sort_reverse",
            "Reverse",
            id="pane.reverse",
            tooltip="Reverse the sort",
            show=False,
        ),
    ]

    def __init__(self, spec: PaneSpec, **kw: Any) -> None:
        super().__init__(id=spec.id, cursor_type="row", zebra_stripes=False, **kw)
        self.spec = spec
        self.records: dict[str, Record] = {}
        self._cells: dict[str, list[Cell]] = {}
        self._order: list[str] = []
        self.sort_column: int | None = None
        self.sort_reverse = False
        self.total = 0
        self._deferred: tuple[list[Record], float, int | None, str] | None = None
        self._drawn: dict[str, Record] = {}
        """The record behind each row's cells (a record equal to it needs no new cells)."""

    def on_mount(self) -> None:
        for col in self.spec.columns:
            self.add_column(col.label, key=col.key, width=col.width)
        self.border_title = self.spec.title
        self.border_subtitle = self.spec.empty

    def shown_now(self) -> bool:
        """Whether the pane is on screen (its view chosen and the strip shown)."""
        node: Any = self
        while node is not None and hasattr(node, "display"):
            if not node.display:
                return False
            node = node.parent
        return True

    def show(
        self,
        records: list[Record],
        now: float,
        *,
        total: int | None = None,
        needle: str = "",
        tick: bool = False,
    ) -> None:
        """Make the table show `records` (filtered by `needle`), touching only what changed.

        A pane off screen only keeps `records` (and the total); its table catches up
        when it comes into view (`catch_up`), so hidden views cost no rendering. A
        row whose record did not change keeps its cells; the one-second `tick`
        (same records, a later `now`) redraws the rows in view only, so the
        countdowns of a thousand rows cost what forty do."""
        if not needle and not self.shown_now():
            key = self.spec.key
            self.records = {str(r[key]): r for r in records if r.get(key) is not None}
            self.total = len(records) if total is None else total
            self._deferred = (records, now, total, needle)
            return
        self._sync_table(records, now, total, needle, tick)

    def catch_up(self) -> None:
        """Bring the table up to the last records it was given while off screen."""
        if self._deferred is not None:
            self._sync_table(*self._deferred, False)

    def same(self, old: Record, new: Record) -> bool:
        """Whether a row's record is unchanged, so its cells can stay as they are."""
        return old == new

    def _in_view(self) -> tuple[int, int]:
        """The first and last row index on screen (with a screen's margin each side)."""
        top = int(self.scroll_y)
        height = max(self.size.height, 1)
        return top - height, top + 2 * height

    def _sync_table(
        self, records: list[Record], now: float, total: int | None, needle: str, tick: bool
    ) -> None:
        self._deferred = None
        chosen = self.selected if self.keep_selection else None
        wanted: dict[str, list[Cell]] = {}
        kept: dict[str, Record] = {}
        drawn, first, last = self._drawn, *self._in_view()
        for rec in records:
            if rec.get(self.spec.key) is None:
                continue
            key = str(rec[self.spec.key])
            shown, behind = self._cells.get(key), drawn.get(key)
            if shown is not None and behind is not None and not needle:
                if tick and behind is rec:
                    place = self._row_locations.get(RowKey(key))
                    if place is not None and not first <= place <= last:
                        wanted[key], kept[key] = shown, rec  # off screen: redrawn when in view
                        continue
                elif not tick and self.same(behind, rec):
                    wanted[key], kept[key] = shown, rec
                    continue
            cells = self.spec.row(rec, now)
            if matches(cells, needle):
                wanted[key], kept[key] = cells, rec
        order_changed = list(wanted) != self._order
        for key in [k for k in self._cells if k not in wanted]:
            try:
                self.remove_row(key)
            except RowDoesNotExist:
                pass
            del self._cells[key]
        keys = [c.key for c in self.spec.columns]
        widths = [c.width is None for c in self.spec.columns]
        for key, cells in wanted.items():
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                self._cells[key] = cells
            elif old != cells:
                for i, (was, new) in enumerate(zip(old, cells, strict=True)):
                    if was != new:
                        self.update_cell(
                            key, keys[i], new, update_width=widths[i] and was.text != new.text
                        )
                        old[i] = new
                        order_changed = order_changed or i == self.sort_column
        self._order = list(wanted)
        self.records = kept
        self._drawn = dict(kept)
        self.total = len(records) if total is None else total
        if order_changed:
            self._resort()
        if chosen is not None:
            self._follow(str(chosen[self.spec.key]))
        self._titles(needle)

    def _follow(self, key: str) -> None:
        """Keep the cursor on the record it was on, wherever a re-sort moved its row."""
        try:
            row = self.get_row_index(key)
        except RowDoesNotExist:
            return
        if row != self.cursor_row:
            self.move_cursor(row=row)

    def _titles(self, needle: str) -> None:
        shown = len(self._cells)
        count = f"{shown}" if shown == self.total else f"{shown}/{self.total}"
        self.border_title = f"{self.spec.title} [{count}]"
        if shown:
            self.border_subtitle = f"filter: {needle}" if needle else ""
        else:
            self.border_subtitle = f"nothing matches {needle!r}" if needle else self.spec.empty

    def _resort(self) -> None:
        """Apply the chosen sort, or else the snapshot's own order (newest events first...)."""
        if not self._cells:
            return
        if self.sort_column is None:
            place = {id(self._cells[k][0]): i for i, k in enumerate(self._order)}
            self.sort(key=lambda row: place.get(id(row[0]), 0))
            return
        col = self.spec.columns[self.sort_column].key

        def key(cell: Cell) -> tuple[int, Any]:
            value = cell.sort
            return (0, value) if isinstance(value, int | float) else (1, str(value))

        self.sort(col, key=key, reverse=self.sort_reverse)

    def sort_by(self, index: int, *, reverse: bool = False) -> None:
        self.sort_column, self.sort_reverse = index, reverse
        self._resort()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        index = event.column_index
        self.sort_by(index, reverse=not self.sort_reverse if index == self.sort_column else False)

    def action_sort_next(self) -> None:
        nxt = 0 if self.sort_column is None else (self.sort_column + 1) % len(self.spec.columns)
        self.sort_by(nxt)
        self.app.notify(f"{self.spec.title} sorted by {self.spec.columns[nxt].label}", timeout=1.5)

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column or 0, reverse=not self.sort_reverse)

    @property
    def selected(self) -> Record | None:
        """The record under the cursor, if any."""
        if not self._cells or self.cursor_row < 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self.records.get(str(key))
