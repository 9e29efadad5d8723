"""The `Task` record: one unit of work, read from its rows and rendered for output.

Kept apart from the operations so that every reader of tasks (the CLI, the
API client, `status`) gets the record without the queue machinery. `fetch` is
the one place a `tasks` row and its `task_deps` rows become a `Task`;
`set_status` is the write the transitions share.
"""

from __future__ import annotations

import json
import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import NotFound
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context

STATUSES = ("pending", "available", "claimed", "done", "failed", "cancelled")
OPEN = ("pending", "available", "claimed")
TIMES = ("claimed_at", "claim_expires_at", "created_at", "updated_at", "done_at")


class Task(Record):
    """One unit of work in the queue."""

    FIELDS = (
        "id",
        "description",
        "priority",
        "status",
        "depends_on",
        "files",
        "hints",
        "claimed_by",
        "claimed_at",
        "claim_expires_at",
        "attempts",
        "max_attempts",
        "result",
        "error",
        "created_by",
        "created_at",
        "updated_at",
        "done_at",
        "thread_id",
        "source",
        "attempt",
    )
    __slots__ = FIELDS
    id: str
    description: str
    priority: int
    status: str
    depends_on: list[str]
    files: list[str]
    hints: list[str]
    claimed_by: str | None
    claimed_at: float | None
    claim_expires_at: float | None
    attempts: int
    max_attempts: int
    result: str | None
    error: str | None
    created_by: str | None
    created_at: float
    updated_at: float
    done_at: float | None
    thread_id: str | None
    source: dict[str, Any]
    attempt: int

    def __init__(
        self,
        id: str,
        description: str,
        priority: int,
        status: str,
        depends_on: list[str],
        files: list[str],
        hints: list[str],
        claimed_by: str | None,
        claimed_at: float | None,
        claim_expires_at: float | None,
        attempts: int,
        max_attempts: int,
        result: str | None,
        error: str | None,
        created_by: str | None,
        created_at: float,
        updated_at: float,
        done_at: float | None,
        thread_id: str | None,
        source: dict[str, Any] | None = None,
        attempt: int = 0,
    ) -> None:
        self.id = id
        self.description = description
        self.priority = priority
        self.status = status
        self.depends_on = depends_on
        self.files = files
        self.hints = hints
        self.claimed_by = claimed_by
        self.claimed_at = claimed_at
        self.claim_expires_at = claim_expires_at
        self.attempts = attempts
        self.max_attempts = max_attempts
        self.result = result
        self.error = error
        self.created_by = created_by
        self.created_at = created_at
        self.updated_at = updated_at
        self.done_at = done_at
        self.thread_id = thread_id
        self.source = {} if source is None else source
        self.attempt = attempt

    @classmethod
    def from_row(cls, row: sqlite3.Row, depends_on: list[str]) -> Task:
        context = json.loads(row["context"])
        plain = {k: row[k] for k in row.keys() if k in cls.FIELDS}  # noqa: SIM118
        return cls(
            **plain,
            depends_on=depends_on,
            files=list(context.get("files", [])),
            hints=list(context.get("hints", [])),
            source=dict(context.get("source", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        data = self.field_dict()
        data["context"] = {"files": data.pop("files"), "hints": data.pop("hints")}
        for key in TIMES:
            data[key] = iso(data[key])
        data["source"] = self.source or None
        return data


def fetch(conn: sqlite3.Connection, task_id: str) -> Task:
    """The task with its dependencies (by id), or `NotFound` that points at the list."""
    row = conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise NotFound(f"no task {task_id!r}: see `ctui task list`")
    deps = [
        r[0]
        for r in conn.execute(
            "SELECT depends_on FROM task_deps WHERE task_id = ? ORDER BY depends_on", (task_id,)
        )
    ]
    return Task.from_row(row, deps)


def set_status(
    coord: Context, conn: sqlite3.Connection, task_id: str, status: str, **cols: Any
) -> None:
    """Move a task to `status` (and set `cols`), stamping `updated_at`."""
    values = {"status": status, "updated_at": coord.now(), **cols}
    conn.execute(
        f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
        (*values.values(), task_id),
    )
