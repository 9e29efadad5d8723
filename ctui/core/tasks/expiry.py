"""Ending an attempt: a claim taken back when it fails, expires or its claimant goes.

Every way a claim can end without the work being done counts as one attempt.
`end_attempt` puts the task back to `available`, or makes it `failed` once
`max_attempts` are used up, and logs which. Expired claims are taken back at
the start of every claim and by `ctui cleanup`; the claims of a stale or ended
instance are taken back when it is reaped or unregistered
(`Context.release_holdings`).
"""

from __future__ import annotations

import sqlite3

from ctui.core.clock import ago
from ctui.core.tasks.record import Task, fetch, set_status

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def end_attempt(
    coord: Context,
    conn: sqlite3.Connection,
    task: Task,
    *,
    reason: str,
    actor: str | None,
    kind: str,
) -> str:
    """Take a claim back: `available` again, or `failed` when attempts ran out."""
    final = task.attempts >= task.max_attempts
    status = "failed" if final else "available"
    set_status(
        coord,
        conn,
        task.id,
        status,
        claimed_by=None,
        claimed_at=None,
        claim_expires_at=None,
        error=reason,
    )
    coord.log(
        conn,
        "task.failed" if final else kind,
        subject=task.id,
        actor=actor,
        data={
            "reason": reason,
            "claimed_by": task.claimed_by,
            "attempts": task.attempts,
            "max_attempts": task.max_attempts,
            "requeued": not final,
        },
    )
    return status


def requeue_claims(
    coord: Context, conn: sqlite3.Connection, instance_id: str, *, reason: str
) -> int:
    """Take back every claim the instance holds (inside the caller's transaction)."""
    rows = conn.execute(
        "SELECT id FROM tasks WHERE claimed_by = ? AND status = 'claimed'", (instance_id,)
    ).fetchall()
    for row in rows:
        end_attempt(
            coord,
            conn,
            fetch(conn, row["id"]),
            reason=reason,
            actor=instance_id,
            kind="task.requeued",
        )
    return len(rows)


def expire_claims(coord: Context, conn: sqlite3.Connection) -> int:
    """Take back claims whose lease ran out (inside the caller's transaction)."""
    now = coord.now()
    rows = conn.execute(
        "SELECT id, claim_expires_at FROM tasks WHERE status = 'claimed' AND claim_expires_at <= ?",
        (now,),
    ).fetchall()
    for row in rows:
        task = fetch(conn, row["id"])
        end_attempt(
            coord,
            conn,
            task,
            actor=task.claimed_by,
            kind="task.requeued",
            reason=f"claim expired {ago(now - row['claim_expires_at'])} ago",
        )
    return len(rows)
