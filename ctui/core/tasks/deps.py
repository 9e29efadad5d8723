"""Dependencies between tasks: what a task still waits on, and adding more safely.

A task is `pending` while any dependency is not done. The graph stays acyclic
because `depend` refuses an edge that would close a loop (`reaches` walks the
graph from the new dependency), and dependencies change only before a claim.
When a task is done, `unblock` frees the dependents that waited only on it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ctui.core.errors import Conflict, UsageError
from ctui.core.instances import OPERATOR
from ctui.core.tasks.record import Task, fetch, set_status

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def not_done(conn: sqlite3.Connection, task_id: str) -> list[str]:
    """The dependencies of `task_id` that are not done yet."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.depends_on "
            "WHERE d.task_id = ? AND t.status != 'done' ORDER BY t.num",
            (task_id,),
        )
    ]


def reaches(conn: sqlite3.Connection, start: str, target: str) -> bool:
    """Whether `start` depends on `target`, directly or through other tasks."""
    seen, todo = {start}, [start]
    while todo:
        for (dep,) in conn.execute(
            "SELECT depends_on FROM task_deps WHERE task_id = ?", (todo.pop(),)
        ):
            if dep == target:
                return True
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return False


def unblock(coord: Context, conn: sqlite3.Connection, done_id: str) -> list[str]:
    """Make the pending dependents of a task that just finished available, when ready."""
    freed = []
    for (dep_id,) in conn.execute(
        "SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id "
        "WHERE d.depends_on = ? AND t.status = 'pending' ORDER BY t.num",
        (done_id,),
    ).fetchall():
        if not not_done(conn, dep_id):
            set_status(coord, conn, dep_id, "available")
            coord.log(conn, "task.available", subject=dep_id, data={"unblocked_by": done_id})
            freed.append(dep_id)
    return freed


def depend(c: Context, task_id: str, on: Sequence[str], by: str = OPERATOR) -> Task:
    """Add dependencies to an open, unclaimed task; refuses unknown ids and cycles."""
    with c.store.write() as conn:
        task = fetch(conn, task_id)
        if task.status not in ("pending", "available"):
            raise Conflict(
                f"{task_id} is {task.status}: dependencies can change only before it is claimed"
            )
        for dep in on:
            if fetch(conn, dep).status == "cancelled":
                raise Conflict(f"{dep} is cancelled, so {task_id} could never run")
            if dep == task_id or reaches(conn, dep, task_id):
                raise UsageError(
                    f"{task_id} cannot depend on {dep}: that would make a dependency cycle"
                )
            conn.execute(
                "INSERT OR IGNORE INTO task_deps(task_id, depends_on) VALUES (?, ?)",
                (task_id, dep),
            )
        status = "pending" if not_done(conn, task_id) else "available"
        set_status(c, conn, task_id, status)
        c.log(
            conn,
            "task.depends",
            subject=task_id,
            actor=by,
            data={"on": list(on), "status": status},
        )
        return fetch(conn, task_id)
