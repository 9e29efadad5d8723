"""Queue order: which available task comes next, and the tasks listed in order.

The next task is the lowest priority number, then the oldest. `BEST_QUERY`
reads it straight off the `tasks_queue` index (status, priority, num), so
picking costs the same with ten tasks queued or ten thousand. When nothing is
available, the claimants are checked for staleness once (their claims may come
back) before the caller is told, in numbers, why the queue has nothing.
"""

from __future__ import annotations

import sqlite3

from ctui.core.errors import NotFound, UsageError
from ctui.core.instances.reap import reap
from ctui.core.tasks.record import OPEN, STATUSES, Task

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

BEST_QUERY = "SELECT id FROM tasks WHERE status = 'available' ORDER BY priority, num LIMIT 1"
"""The claim's pick: walks the `tasks_queue` index (status, priority, num), no sort."""


def best(c: Context, conn: sqlite3.Connection) -> str:
    """The id of the task a claim takes next, or `NotFound` that says why there is none."""
    query = BEST_QUERY
    row = conn.execute(query).fetchone()
    if row is None:
        claimants = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT claimed_by FROM tasks "
                "WHERE status = 'claimed' AND claimed_by IS NOT NULL"
            )
        ]
        if claimants and reap(c, conn=conn, only=claimants):
            row = conn.execute(query).fetchone()
    if row is None:
        raise NotFound(_nothing(conn))
    return str(row[0])


def _nothing(conn: sqlite3.Connection) -> str:
    counts = dict(conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
    if not counts:
        return "no task to claim: the queue is empty (add one with `ctui task add`)"
    parts = [f"{counts[s]} {s}" for s in ("pending", "claimed", "failed") if counts.get(s)]
    return "no task available to claim" + (
        f" ({', '.join(parts)})" if parts else ": every task is finished"
    )


def select(c: Context, status: str | None = None) -> list[Task]:
    """Tasks in queue order (`status` may also be `open`: pending, available or claimed)."""
    wanted = OPEN if status == "open" else (status,) if status else STATUSES
    if status not in (None, "open", *STATUSES):
        raise UsageError(f"bad status {status!r}: one of open, {', '.join(STATUSES)}")
    conn = c.store.conn
    marks = ", ".join("?" for _ in wanted)
    deps: dict[str, list[str]] = {}
    for row in conn.execute("SELECT task_id, depends_on FROM task_deps ORDER BY depends_on"):
        deps.setdefault(row[0], []).append(row[1])
    rows = conn.execute(f"SELECT * FROM tasks WHERE status IN ({marks}) ORDER BY num", wanted)
    return [Task.from_row(r, deps.get(r["id"], [])) for r in rows]


def counts(c: Context) -> dict[str, int]:
    """How many tasks are in each status (every status is present, zero or more)."""
    found = dict.fromkeys(STATUSES, 0)
    for row in c.store.conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"):
        found[row[0]] = row[1]
    return found
