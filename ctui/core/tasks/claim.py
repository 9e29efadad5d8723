"""Claiming a task, and keeping the claim alive while the work goes on.

A claim is one `BEGIN IMMEDIATE` transaction: it first takes back claims whose
lease ran out (`task_expiry`), then picks the next task (`task_queue.best`) or
checks the named one, and sets it `claimed` under a lease of `[tasks]
claim_ttl` seconds, counting an attempt. So two processes never claim the same
task. Claiming a task one already holds, or `renew`, only pushes the lease out.
`own` is the check every claimant-only operation starts with.
"""

from __future__ import annotations

import builtins
import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import Conflict
from ctui.core.instances.liveness import require_live
from ctui.core.tasks.deps import not_done
from ctui.core.tasks.expiry import expire_claims
from ctui.core.tasks.queue import best
from ctui.core.tasks.record import OPEN, Task, fetch

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def claim(c: Context, instance: str, task_id: str | None = None) -> Task:
    """Claim the best available task (lowest priority number, then oldest) or the named one.

    Raises `NotFound` (exit 4) when nothing is available.
    """
    with c.store.write() as conn:
        require_live(c, instance, conn)
        expire_claims(c, conn)
        if task_id is None:
            task_id = best(c, conn)
        else:
            task = fetch(conn, task_id)
            if task.status == "claimed" and task.claimed_by == instance:
                return _renew(c, conn, task)
            if task.status != "available":
                raise Conflict(_unclaimable(conn, task))
        now = c.now()
        expires = now + c.config.task_claim_ttl
        conn.execute(
            "UPDATE tasks SET status = 'claimed', claimed_by = ?, claimed_at = ?, "
            "claim_expires_at = ?, "
            "attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'available'",
            (instance, now, expires, now, task_id),
        )
        task = fetch(conn, task_id)
        c.log(
            conn,
            "task.claimed",
            subject=task_id,
            actor=instance,
            data={"attempt": task.attempts, "expires_at": iso(expires)},
        )
        return task


def _unclaimable(conn: sqlite3.Connection, task: Task) -> str:
    if task.status == "pending":
        return f"{task.id} is waiting on {', '.join(not_done(conn, task.id))}: claim another task"
    if task.status == "claimed":
        return f"{task.id} is already claimed by {task.claimed_by}: claim another task"
    return f"{task.id} is {task.status}: only an available task can be claimed"


def own(conn: sqlite3.Connection, task_id: str, instance: str, verb: str) -> Task:
    """The task when `instance` holds its claim, else a Conflict that says why not."""
    task = fetch(conn, task_id)
    if task.status == "claimed" and task.claimed_by == instance:
        return task
    if task.status == "claimed":
        raise Conflict(
            f"{task_id} is claimed by {task.claimed_by}, not {instance}: "
            f"only the claimant can {verb} it"
        )
    if task.status in OPEN:
        raise Conflict(
            f"{task_id} is {task.status}, not claimed: claim it first (`ctui task claim {task_id}`)"
        )
    raise Conflict(f"{task_id} is already {task.status}: nothing to {verb}")


def _renew(c: Context, conn: sqlite3.Connection, task: Task) -> Task:
    now = c.now()
    conn.execute(
        "UPDATE tasks SET claim_expires_at = ?, updated_at = ? WHERE id = ?",
        (now + c.config.task_claim_ttl, now, task.id),
    )
    return fetch(conn, task.id)


def renew(c: Context, instance: str, task_id: str | None = None) -> builtins.list[Task]:
    """Push out the claim lease of the instance's claimed tasks (or just one of them)."""
    with c.store.write() as conn:
        if task_id is not None:
            return [_renew(c, conn, own(conn, task_id, instance, "renew"))]
        rows = conn.execute(
            "SELECT id FROM tasks WHERE claimed_by = ? AND status = 'claimed'", (instance,)
        ).fetchall()
        return [_renew(c, conn, fetch(conn, r[0])) for r in rows]
