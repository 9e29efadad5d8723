"""How a claimed or waiting task ends: complete, fail, cancel (with its cascade), retry.

Only the claimant may complete or fail its task (`task_claim.own`). Completing
frees the dependents that waited only on it; failing ends the attempt
(`task_expiry.end_attempt`). Cancelling reaches further: every open task that
waits on the cancelled one, directly or not, could never run, so it is
cancelled too, in the same transaction. `retry` gives a failed task a fresh
set of attempts.
"""

from __future__ import annotations

import sqlite3

from ctui.core.errors import Conflict
from ctui.core.instances import OPERATOR
from ctui.core.tasks.claim import own
from ctui.core.tasks.deps import not_done, unblock
from ctui.core.tasks.expiry import end_attempt
from ctui.core.tasks.record import Task, fetch, set_status

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def complete(
    c: Context,
    task_id: str,
    instance: str,
    result: str | None = None,
    attempt: int | None = None,
) -> Task:
    """Mark the caller's claimed task done; dependents waiting only on it become available.

    With `attempt`, only while that claim is still the task's current one.
    """
    with c.store.write() as conn:
        own(conn, task_id, instance, "complete", attempt)
        set_status(
            c,
            conn,
            task_id,
            "done",
            result=result,
            error=None,
            claim_expires_at=None,
            done_at=c.now(),
        )
        c.log(
            conn,
            "task.done",
            subject=task_id,
            actor=instance,
            data={"result": (result or "")[:200]},
        )
        unblock(c, conn, task_id)
        return fetch(conn, task_id)


def fail(
    c: Context,
    task_id: str,
    instance: str,
    reason: str | None = None,
    attempt: int | None = None,
) -> Task:
    """Give up the caller's claim: back to available, or `failed` when attempts ran out.

    With `attempt`, only while that claim is still the task's current one.
    """
    with c.store.write() as conn:
        task = own(conn, task_id, instance, "fail", attempt)
        end_attempt(
            c,
            conn,
            task,
            reason=(reason or "").strip() or "failed",
            actor=instance,
            kind="task.failed",
        )
        return fetch(conn, task_id)


def cancel(c: Context, task_id: str, by: str = OPERATOR) -> Task:
    """Cancel a task that is not done, and every open task that depends on it."""
    with c.store.write() as conn:
        task = fetch(conn, task_id)
        if task.status in ("done", "cancelled"):
            raise Conflict(f"{task_id} is already {task.status}: nothing to cancel")
        set_status(
            c,
            conn,
            task_id,
            "cancelled",
            claimed_by=None,
            claimed_at=None,
            claim_expires_at=None,
            error=f"cancelled by {by}",
        )
        also = cancel_dependents(c, conn, task_id, by)
        c.log(
            conn,
            "task.cancelled",
            subject=task_id,
            actor=by,
            data={"was": task.status, "claimed_by": task.claimed_by, "dependents": also},
        )
        return fetch(conn, task_id)


def cancel_dependents(coord: Context, conn: sqlite3.Connection, task_id: str, by: str) -> list[str]:
    """Cancel every open task that (transitively) waits on `task_id`: it can never run."""
    cancelled, todo = [], [task_id]
    while todo:
        current = todo.pop()
        for (dep_id,) in conn.execute(
            "SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id "
            "WHERE d.depends_on = ? AND t.status IN ('pending', 'available', 'claimed') "
            "ORDER BY t.num",
            (current,),
        ).fetchall():
            set_status(
                coord,
                conn,
                dep_id,
                "cancelled",
                claimed_by=None,
                claimed_at=None,
                claim_expires_at=None,
                error=f"{current} was cancelled",
            )
            coord.log(conn, "task.cancelled", subject=dep_id, actor=by, data={"because": current})
            cancelled.append(dep_id)
            todo.append(dep_id)
    return cancelled


def retry(c: Context, task_id: str, by: str = OPERATOR) -> Task:
    """Give a failed task a fresh set of attempts."""
    with c.store.write() as conn:
        task = fetch(conn, task_id)
        if task.status != "failed":
            raise Conflict(f"{task_id} is {task.status}: only a failed task can be retried")
        status = "pending" if not_done(conn, task_id) else "available"
        set_status(c, conn, task_id, status, attempts=0, error=None)
        c.log(conn, "task.retried", subject=task_id, actor=by, data={"status": status})
        return fetch(conn, task_id)
