"""`DetailScreen`: what enter shows for the selected row.

A thread shows its fields beside a live tail of its log (re-read twice a
second in a thread worker; only new lines are appended, stream-json lines are
summarised); an instance shows the leases it holds and the tasks it has
claimed; a decision its full text. Everything is read through the
coordinator in thread workers, so a slow store never blocks the screen.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.table import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static
from textual.worker import Worker, WorkerState

from ctui.core.clock import ago, iso
from ctui.core.fmt import money
from ctui.tui.logview import pretty
from ctui.tui.snapshot import record

SKIP = {"context", "description", "prompt", "supervisor_start", "pid_start", "last_seen_event"}
FIRST = (
    "name",
    "id",
    "path",
    "status",
    "state",
    "mode",
    "agent",
    "holder",
    "role",
    "task",
    "runtime",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "tokens_cache_creation",
    "tokens_cache_read",
    "api_error_status",
    "turns",
    "session_id",
    "worktree",
    "branch",
    "base",
    "exit_code",
    "error",
    "category",
    "scope",
    "author",
    "priority",
    "claimed_by",
    "depends_on",
    "token",
    "intent",
    "expires_at",
    "heartbeat_at",
)


def fields_table(rec: dict[str, Any]) -> Table:
    """The record's fields, most telling first; times as ISO, empties left out."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    keys = [k for k in FIRST if k in rec] + [k for k in rec if k not in FIRST]
    for key in keys:
        value = rec[key]
        if value in (None, "", [], {}, "{}") or key in SKIP or key.startswith("_"):
            continue
        if key.endswith("_at") and isinstance(value, int | float):
            shown = iso(value) or "-"
        elif key == "cost_usd" and isinstance(value, int | float):
            shown = money(value)
        elif key == "runtime" and isinstance(value, int | float):
            shown = ago(value)
        elif isinstance(value, dict | list | tuple):
            shown = json.dumps(value, default=str)
        else:
            shown = str(value)
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
        self._last_error = ""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed read (thread deleted, server gone) is said once, not at every poll."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            text = str(getattr(error, "message", None) or error) or type(error).__name__
            if text != self._last_error:
                self._last_error = text
                self.notify(text, title="ctui", severity="error", timeout=8)

    @property
    def key(self) -> str:
        return str(self.rec.get("name") or self.rec.get("id") or self.rec.get("path") or "")

    def compose(self) -> ComposeResult:
        noun = self.kind[:-1] if self.kind.endswith("s") else self.kind
        with Horizontal(id="detail-row"):
            with VerticalScroll(id="detail-body") as box:
                box.border_title = f"{noun} {self.key}"
                yield Static(fields_table(self.rec), id="detail-fields")
                yield Static("", id="detail-extra")
            if self.kind == "threads":
                log = RichLog(id="detail-log", wrap=True, max_lines=2000)
                log.border_title = "log (live tail)" if self.live else "log"
                yield log
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(self.kind == "threads", "with-log")
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
            leases = [record(x) for x in c.leases.list(holder=self.key)]
            claims = [
                t
                for t in map(record, c.tasks.list(status="claimed"))
                if t.get("claimed_by") == self.key
            ]
            table = Table(title="holds", title_justify="left", expand=True)
            table.add_column("lease / task", no_wrap=True)
            table.add_column("detail")
            for lease in leases:
                table.add_row(
                    lease["path"], f"token {lease.get('token')}  {lease.get('intent') or ''}"
                )
            for task in claims:
                table.add_row(str(task["id"]), str(task.get("description") or ""))
            if not leases and not claims:
                table.add_row("(nothing)", "holds no lease and has claimed no task")
            return table
        if self.kind == "decisions":
            full = record(c.decisions.get(self.key))
            return (
                f"\n[b]{full.get('title')}[/b]\n\n{full.get('description') or '(no description)'}"
            )
        if self.kind in ("threads", "tasks"):
            text = self.rec.get("description") or self.rec.get("prompt") or ""
            ctx = self.rec.get("context")
            shown = json.dumps(ctx, default=str) if isinstance(ctx, dict) else ctx
            return f"\n{text}\n\ncontext: {shown}" if shown and shown != "{}" else f"\n{text}"
        return ""

    @work(thread=True, exclusive=True, group="detail-log", exit_on_error=False)
    def tail_log(self) -> None:
        """Follow the thread: its fields (status, cost, tokens) and the new lines of its log."""
        fresh = record(self.coord.threads.get(self.key))
        if fresh != self.rec:
            self.rec = fresh
            self.app.call_from_thread(
                self.query_one("#detail-fields", Static).update, fields_table(fresh)
            )
        text = log_text(self.coord.threads.logs(self.key, tail=200))
        if text != self._shown:
            self.app.call_from_thread(self._show_log, text)

    def _show_log(self, text: str) -> None:
        log = self.query_one("#detail-log", RichLog)
        if self._shown and text.startswith(self._shown):
            new = text[len(self._shown) :]
        else:
            log.clear()
            new = text
        for line in new.splitlines():
            for shown in pretty(line):
                log.write(shown)
        self._shown = text
