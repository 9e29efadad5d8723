"""Claiming a task, and keeping the claim alive while the work goes on.

A claim is one `BEGIN IMMEDIATE` transaction: it first takes back claims whose
lease ran out (`task_expiry`), then picks the next task (`task_queue.best`) or
checks the named one, and sets it `claimed` under a lease of `[tasks]
claim_ttl` seconds, counting an attempt. So two processes never claim the same
task. Claiming a task one already holds, or `renew`, only pushes the lease out.
`own` is the check every claimant-only operation starts with.

Every claim gets the next number of the task's `attempt` counter, which never
goes back (DESIGN §14). A claimant that presents its number to complete, fail
or renew is refused with `StaleAttempt` (exit 11) once that claim ran out, even
when the task was claimed again under the same instance id: a worker stopped
past its claim TTL cannot overwrite the fresh attempt's work.
"""

from __future__ import annotations

import builtins
import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import Conflict, StaleAttempt
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
            "attempts = attempts + 1, attempt = attempt + 1, updated_at = ? "
            "WHERE id = ? AND status = 'available'",
            (instance, now, expires, now, task_id),
        )
        task = fetch(conn, task_id)
        c.log(
            conn,
            "task.claimed",
            subject=task_id,
            actor=instance,
            data={"attempt": task.attempt, "tries": task.attempts, "expires_at": iso(expires)},
        )
        return task


def _unclaimable(conn: sqlite3.Connection, task: Task) -> str:
    if task.status == "pending":
        return f"{task.id} is waiting on {', '.join(not_done(conn, task.id))}: claim another task"
    if task.status == "claimed":
        return f"{task.id} is already claimed by {task.claimed_by}: claim another task"
    return f"{task.id} is {task.status}: only an available task can be claimed"


def own(
    conn: sqlite3.Connection, task_id: str, instance: str, verb: str, attempt: int | None = None
) -> Task:
    """The task when `instance` holds its claim (attempt `attempt` when given), else a
    Conflict that says why not, or `StaleAttempt` when the presented attempt is over."""
    task = fetch(conn, task_id)
    if attempt is not None:
        _current(task, instance, verb, attempt)
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


def _current(task: Task, instance: str, verb: str, attempt: int) -> None:
    """Refuse a claim attempt that is not the task's live one."""
    if attempt == task.attempt:
        return  # the current attempt: `own` goes on to check claimant and status as usual
    if attempt > task.attempt or attempt < 1:
        raise StaleAttempt(
            f"{task.id} has had {task.attempt} claim(s); attempt {attempt} is not one of them: "
            f"pass the attempt `ctui task claim --json` gave you"
        )
    now = (
        f"attempt {task.attempt} now holds it ({task.claimed_by})"
        if task.status == "claimed"
        else f"it is {task.status} after attempt {task.attempt}"
    )
    raise StaleAttempt(
        f"{task.id}: your claim (attempt {attempt}) ran out and {now}: "
        f"nothing to {verb}; your work was not recorded"
    )


def _renew(c: Context, conn: sqlite3.Connection, task: Task) -> Task:
    now = c.now()
    conn.execute(
        "UPDATE tasks SET claim_expires_at = ?, updated_at = ? WHERE id = ?",
        (now + c.config.task_claim_ttl, now, task.id),
    )
    return fetch(conn, task.id)


def renew(
    c: Context, instance: str, task_id: str | None = None, attempt: int | None = None
) -> builtins.list[Task]:
    """Push out the claim lease of the instance's claimed tasks (or just one of them,
    refused with `StaleAttempt` when `attempt` is given and no longer current)."""
    with c.store.write() as conn:
        if task_id is not None:
            return [_renew(c, conn, own(conn, task_id, instance, "renew", attempt))]
        rows = conn.execute(
            "SELECT id FROM tasks WHERE claimed_by = ? AND status = 'claimed'", (instance,)
        ).fetchall()
        return [_renew(c, conn, fetch(conn, r[0])) for r in rows]
