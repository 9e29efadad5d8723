"""What each pane shows: its columns and how one record becomes one row.

Pure functions of (record, now), so a one-second tick re-renders countdowns
from the last snapshot without touching the store, and tests check them alone.
Records are plain dicts: a core object's fields, or an API document (ISO
times), so the panes read the same whether the store is local or remote.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from ctui.core.clock import ago
from ctui.core.flows.roster import when
from ctui.core.fmt import money

Record = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One table cell: what to show, its colour, and the raw value to sort by."""

    text: str
    sort: Any = None
    style: str = ""
    look: Text | None = field(default=None, compare=False)
    """Several colours in one cell (`text` is its plain form), when one style is not enough."""

    def __rich__(self) -> Text:
        if self.look is not None:
            shown = self.look.copy()
            shown.no_wrap, shown.overflow = True, "ellipsis"
            return shown
        return Text(self.text, style=self.style, no_wrap=True, overflow="ellipsis")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None


STATE_STYLES = {
    "working": "bold green",
    "needs_input": "bold yellow",
    "idle": "cyan",
    "stale": "bold red",
    "ended": "dim",
    "running": "bold green",
    "completed": "green",
    "done": "green",
    "failed": "bold red",
    "stopped": "dim",
    "created": "cyan",
    "ready": "cyan",
    "waiting": "yellow",
    "blocked": "yellow",
    "paused": "bold yellow",
    "budget_exceeded": "bold red",
    "claimed": "bold green",
    "available": "cyan",
    "pending": "dim",
    "cancelled": "dim",
    "merged": "bold blue",
    "accepted": "green",
    "proposed": "yellow",
    "superseded": "dim",
    "rejected": "red",
}


ts = when
"""Epoch seconds from a float or an ISO-8601 string (API documents)."""


def clock_time(at: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if at is not None else "-"


def short(text: Any, width: int = 60) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def state(value: Any) -> Cell:
    text = str(value or "-")
    return Cell(text, text, STATE_STYLES.get(text, ""))


def text(value: Any, width: int = 60) -> Cell:
    return Cell(short(value, width) or "-", str(value or ""))


def number(value: Any, fmt: str = "{}") -> Cell:
    return Cell(fmt.format(value) if value is not None else "-", value if value is not None else -1)


def age(since: float | None, now: float) -> Cell:
    if since is None:
        return Cell("-", float("inf"))
    secs = now - since
    return Cell(ago(secs), secs, "bold red" if secs > 120 else "")


def countdown(until: float | None, now: float) -> Cell:
    if until is None:
        return Cell("-", float("inf"))
    left = until - now
    if left <= 0:
        return Cell("expired", left, "bold red")
    return Cell(ago(left), left, "yellow" if left < 60 else "")


def instance_row(r: Record, now: float) -> list[Cell]:
    beat = ts(r.get("heartbeat_at"))
    if beat is None and r.get("heartbeat_age") is not None:
        beat = now - float(r["heartbeat_age"])
    return [
        text(r["id"], 24),
        state(r.get("state")),
        age(beat, now),
        text(r.get("role"), 16),
        text(r.get("task"), 28),
        text(_where(r), 24),
    ]


def _where(r: Record) -> Any:
    """An instance's worktree by folder name (all live in .ctui/worktrees/), else its branch."""
    worktree = r.get("worktree")
    return str(worktree).rstrip("/").rsplit("/", 1)[-1] if worktree else r.get("branch")


def lease_row(r: Record, now: float) -> list[Cell]:
    return [
        text(r["path"], 50),
        text(r.get("holder"), 24),
        countdown(ts(r.get("expires_at")), now),
        number(r.get("token")),
        text(r.get("intent"), 28),
    ]


TOKEN_FIGURES = ("tokens_in", "tokens_out", "tokens_cache_creation", "tokens_cache_read")


def thread_row(r: Record, now: float) -> list[Cell]:
    started, ended = ts(r.get("started_at")), ts(r.get("ended_at"))
    runtime = (
        Cell("-", 0.0)
        if started is None
        else Cell(ago((ended or now) - started), (ended or now) - started)
    )
    tokens = int(r.get("tokens") or 0) if isinstance(r.get("tokens"), int) else 0
    if not tokens:
        tokens = sum(int(r.get(k) or 0) for k in TOKEN_FIGURES)
    status = thread_state(r)
    if r.get("api_error_status") and r.get("status") == "failed":
        # the API's status code says more than "failed" (the message is in the detail view)
        status = Cell(f"failed {r['api_error_status']}", status.sort, status.style)
    return [
        text(r["name"], 24),
        status,
        text(r.get("mode"), 12),
        text(r.get("agent"), 10),
        runtime,
        Cell(money(r.get("cost_usd")), r.get("cost_usd") or 0.0),
        number(tokens, "{:,}"),
    ]


MERGE_STYLES = {
    "queued": "cyan",
    "testing": "bold cyan",
    "conflict": "bold red",
    "failed": "bold red",
}


def thread_state(r: Record) -> Cell:
    """A thread's status, with its merge-queue entry's while that is open or sent back."""
    merge = r.get("merge") or {}
    shown = merge.get("status")
    if shown not in MERGE_STYLES or r.get("status") == "merged":
        return state(r.get("status"))
    label = f"{r.get('status')}, merge {shown}"
    return Cell(label, label, MERGE_STYLES[shown])


def task_row(r: Record, now: float) -> list[Cell]:
    deps = r.get("depends_on") or r.get("deps") or []
    return [
        text(r["id"], 12),
        number(r.get("priority")),
        state(r.get("status")),
        text(r.get("claimed_by"), 20),
        text(", ".join(deps), 24),
        text(r.get("description"), 40),
    ]


def decision_row(r: Record, now: float) -> list[Cell]:
    return [
        text(r["id"], 20),
        text(r.get("category"), 16),
        state(r.get("status")),
        text(r.get("title"), 48),
    ]


def event_row(r: Record, now: float) -> list[Cell]:
    """TIME, KIND, and what happened as a sentence ("backend-0001 took src/auth.py to …")."""
    from ctui.core.flows.roster import sentence

    at = ts(r.get("at"))
    kind = str(r.get("kind") or "")
    style = "red" if kind.endswith((".forced", ".stale", ".failed", ".conflict")) else ""
    said = sentence(r)
    return [
        Cell(clock_time(at), at or 0.0, "dim"),
        Cell(kind, kind, "dim"),
        Cell(short(said, 200), said, style),
    ]


@dataclass(frozen=True)
class PaneSpec:
    """One pane: its id, title, key field, columns, row builder and empty-state hint."""

    id: str
    title: str
    key: str
    columns: tuple[Column, ...]
    row: Callable[[Record, float], list[Cell]]
    empty: str


FIXED = {
    "STATE": 11,
    "STATUS": 10,
    "BEAT": 6,
    "EXPIRES": 7,
    "RUNTIME": 7,
    "COST": 7,
    "TOKENS": 8,
    "TIME": 8,
    "PRI": 3,
    "TOKEN": 6,
    "KIND": 16,
}
"""Columns whose text changes every tick get a fixed width: re-measuring an
auto-width column costs a pass over every row for each changed cell."""


def cols(*labels: str) -> tuple[Column, ...]:
    return tuple(Column(label.lower(), label, FIXED.get(label)) for label in labels)


PANES: tuple[PaneSpec, ...] = (
    PaneSpec(
        "instances",
        "Instances",
        "id",
        cols("ID", "STATE", "BEAT", "ROLE", "TASK", "WORKTREE"),
        instance_row,
        "No agents yet. Install the hooks (ctui hooks install) or spawn one with s.",
    ),
    PaneSpec(
        "leases",
        "Leases",
        "path",
        cols("PATH", "HOLDER", "EXPIRES", "TOKEN", "INTENT"),
        lease_row,
        "No file is leased. Agents lease files as they edit; try ctui lock acquire PATH.",
    ),
    PaneSpec(
        "threads",
        "Threads",
        "name",
        cols("NAME", "STATUS", "MODE", "AGENT", "RUNTIME", "COST", "TOKENS"),
        thread_row,
        "No threads. Press s to spawn an agent run in its own worktree.",
    ),
    PaneSpec(
        "tasks",
        "Tasks",
        "id",
        cols("ID", "PRI", "STATUS", "CLAIMANT", "DEPS", "DESCRIPTION"),
        task_row,
        "The task queue is empty. Press t to add a task for agents to claim.",
    ),
    PaneSpec(
        "decisions",
        "Decisions",
        "id",
        cols("ID", "CATEGORY", "STATUS", "TITLE"),
        decision_row,
        "No decisions logged. Press d to record one every agent will see.",
    ),
    PaneSpec(
        "activity",
        "Activity",
        "id",
        cols("TIME", "KIND", "WHAT"),
        event_row,
        "Nothing has happened yet. Every change to the store shows here.",
    ),
)
PANE_IDS = tuple(p.id for p in PANES)
TICKING = frozenset({"instances", "leases", "threads"})
"""Panes with a column that changes with the clock (ages, countdowns, runtimes)."""


def matches(cells: Iterable[Cell], needle: str) -> bool:
    """Case-insensitive filter over every cell's text."""
    return not needle or any(needle in c.text.lower() for c in cells)
