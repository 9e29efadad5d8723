"""`DetailScreen`: what enter shows for the selected row.

A thread shows its fields and a live tail of its log (re-read twice a second
in a thread worker; only new text is appended); an instance shows the leases
it holds and the tasks it has claimed; a decision its full text. Everything
is read through the coordinator, in thread workers, so a slow store never
blocks the screen.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from ctui.tui.snapshot import record

SKIP = {"context", "description", "prompt"}


def fields_table(rec: dict[str, Any]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, value in rec.items():
        if value in (None, "", [], {}) or key in SKIP:
            continue
        shown = (
            json.dumps(value, default=str) if isinstance(value, dict | list | tuple) else str(value)
        )
        table.add_row(key, shown)
    return table


def log_text(logs: Any) -> str:
    if logs is None:
        return ""
    if isinstance(logs, str):
        return logs
    if isinstance(logs, dict):
        return log_text(logs.get("lines") or logs.get("text") or "")
    return "\n".join(str(line).rstrip("\n") for line in logs)


class DetailScreen(Screen[None]):
    """Details of one record; escape or q goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q",
            "app.pop_screen",
            "Back",
            id="detail.back",
            tooltip="Back to the control room",
        ),
    ]

    def __init__(self, kind: str, rec: dict[str, Any], coord: Any, *, live: bool = True) -> None:
        super().__init__()
        self.kind, self.rec, self.coord, self.live = kind, rec, coord, live
        self._shown = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body") as box:
            box.border_title = (
                f"{self.kind[:-1] if self.kind.endswith('s') else self.kind} {self.key}"
            )
            yield Static(fields_table(self.rec), id="detail-fields")
            yield Static("", id="detail-extra")
        if self.kind == "threads":
            log = RichLog(id="detail-log", wrap=True, max_lines=2000)
            log.border_title = "log (live tail)"
            yield log
        yield Footer()

    @property
    def key(self) -> str:
        return str(self.rec.get("name") or self.rec.get("id") or self.rec.get("path") or "")

    def on_mount(self) -> None:
        self.load_extra()
        if self.kind == "threads":
            self.tail_log()
            if self.live:
                self.set_interval(0.5, self.tail_log)

    @work(thread=True, exclusive=True, group="detail-extra", exit_on_error=False)
    def load_extra(self) -> None:
        text = self._extra()
        self.app.call_from_thread(self.query_one("#detail-extra", Static).update, text)

    def _extra(self) -> Any:
        c = self.coord
        if self.kind == "instances":
            leases = c.leases.list(holder=self.key)
            tasks = [record(t) for t in c.tasks.list()]
            claims = [
                t for t in tasks if t.get("claimed_by") == self.key and t.get("status") == "claimed"
            ]
            table = Table(title="holds", title_justify="left", expand=True)
            table.add_column("lease / task")
            table.add_column("detail")
            for lease in map(record, leases):
                table.add_row(
                    lease["path"], f"token {lease.get('token')}  {lease.get('intent') or ''}"
                )
            for task in claims:
                table.add_row(str(task["id"]), str(task.get("description") or ""))
            if not leases and not claims:
                table.add_row("(nothing)", "this instance holds no lease and has claimed no task")
            return table
        if self.kind == "decisions":
            full = record(c.decisions.get(self.key))
            return (
                f"\n[b]{full.get('title')}[/b]\n\n{full.get('description') or '(no description)'}"
            )
        if self.kind in ("threads", "tasks"):
            text = self.rec.get("description") or self.rec.get("prompt") or ""
            ctx = self.rec.get("context")
            return f"\n{text}\n\ncontext: {json.dumps(ctx, default=str)}" if ctx else f"\n{text}"
        return ""

    @work(thread=True, exclusive=True, group="detail-log", exit_on_error=False)
    def tail_log(self) -> None:
        text = log_text(self.coord.threads.logs(self.key, tail=200))
        if text != self._shown:
            self.app.call_from_thread(self._show_log, text)

    def _show_log(self, text: str) -> None:
        log = self.query_one("#detail-log", RichLog)
        if text.startswith(self._shown) and self._shown:
            new = text[len(self._shown) :]
        else:
            log.clear()
            new = text
        for line in new.splitlines():
            log.write(line)
        self._shown = text
