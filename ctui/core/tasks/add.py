"""Adding a task: the checks on what it says and what it waits on, then one insert.

`insert` runs inside the caller's transaction so that `Tasks.add` and the plan
import (`ctui.core.tasks.plan`, which adds many tasks at once or none) share one set
of checks and messages. A dependency must exist and must not be cancelled; the
new task starts `available` only when every dependency is already done.
Cycles cannot arise here (a new task has no dependents); `task_deps.depend`
refuses them when dependencies are added later.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.instances import OPERATOR
from ctui.core.instances.liveness import require_live
from ctui.core.tasks.record import Task, fetch

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context

MAX_DESCRIPTION = 20_000
MAX_ATTEMPTS_LIMIT = 100


def _whole(value: Any, low: int, high: int, what: str, span: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"bad {what} {value!r}: a whole number from {span}")
    return value


def check_priority(value: Any) -> int:
    return _whole(value, 1, 10, "priority", "1 (first) to 10 (last)")


def check_max_attempts(value: Any) -> int:
    return _whole(value, 1, MAX_ATTEMPTS_LIMIT, "max attempts", f"1 to {MAX_ATTEMPTS_LIMIT}")


def _texts(values: Iterable[Any] | str, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str):
            raise UsageError(f"bad {what} {value!r}: text expected")
        if value.strip():
            out.append(value.strip())
    return out


def insert(
    coord: Context,
    conn: sqlite3.Connection,
    description: str,
    *,
    priority: int = 5,
    depends_on: Sequence[str] = (),
    files: Iterable[str] | str = (),
    hints: Iterable[str] | str = (),
    created_by: str = OPERATOR,
    max_attempts: int | None = None,
    status: str | None = None,
    result: str | None = None,
    source: dict[str, Any] | None = None,
) -> str:
    """Validate and add one task inside the caller's transaction; returns its id.

    `status` forces a terminal state (imports only); otherwise the task is
    `available` when every dependency is done, else `pending`.
    """
    if not isinstance(description, str) or not description.strip():
        raise UsageError("a task needs a description: what should be done, in a sentence")
    if len(description) > MAX_DESCRIPTION:
        raise UsageError(
            f"the description is {len(description)} characters; keep it under {MAX_DESCRIPTION}"
        )
    priority = check_priority(priority)
    attempts = check_max_attempts(
        coord.config.task_max_attempts if max_attempts is None else max_attempts
    )
    deps = list(dict.fromkeys(depends_on))
    waiting = False
    for dep in deps:
        row = conn.execute("SELECT status FROM tasks WHERE id = ?", (dep,)).fetchone()
        if row is None:
            raise NotFound(
                f"unknown dependency {dep!r}: add that task first (see `ctui task list`)"
            )
        if row["status"] == "cancelled" and status is None:
            raise Conflict(f"dependency {dep} is cancelled, so this task could never run")
        waiting = waiting or row["status"] != "done"
    if status is None:
        status = "pending" if waiting else "available"
    context: dict[str, Any] = {"files": _texts(files, "file"), "hints": _texts(hints, "hint")}
    if source:
        context["source"] = source
    num = coord.store.next_counter(conn, "task")
    task_id = f"task-{num:04d}"
    now = coord.now()
    conn.execute(
        "INSERT INTO tasks(id, num, description, priority, status, context, max_attempts, result, "
        "created_by, created_at, updated_at, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task_id,
            num,
            description.strip(),
            priority,
            status,
            json.dumps(context),
            attempts,
            result,
            created_by,
            now,
            now,
            now if status == "done" else None,
        ),
    )
    conn.executemany(
        "INSERT INTO task_deps(task_id, depends_on) VALUES (?, ?)", [(task_id, d) for d in deps]
    )
    coord.log(
        conn,
        "task.added",
        subject=task_id,
        actor=created_by,
        data={
            "description": description.strip()[:120],
            "priority": priority,
            "depends_on": deps,
            "status": status,
        },
    )
    return task_id


def add(
    c: Context,
    description: str,
    *,
    priority: int = 5,
    depends_on: Sequence[str] = (),
    files: Iterable[str] | str = (),
    hints: Iterable[str] | str = (),
    created_by: str = OPERATOR,
    max_attempts: int | None = None,
) -> Task:
    """Queue a task; `available` at once unless a dependency is not done yet."""
    with c.store.write() as conn:
        if created_by != OPERATOR:
            require_live(c, created_by, conn)
        task_id = insert(
            c,
            conn,
            description,
            priority=priority,
            depends_on=depends_on,
            files=files,
            hints=hints,
            created_by=created_by,
            max_attempts=max_attempts,
        )
        return fetch(conn, task_id)
