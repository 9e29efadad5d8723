"""Tasks: a leader/worker queue with priorities, dependencies and claim leases.

A task is `pending` while one of its dependencies is not done, `available`
once all are, `claimed` by one instance under a lease of `[tasks] claim_ttl`
seconds, then `done`, `failed` or `cancelled`. Every transition is one
`BEGIN IMMEDIATE` transaction, so two processes never claim the same task.
The best task is found through the `tasks_queue` index (status, priority,
num), so a claim costs about the same with ten tasks queued or ten thousand.

A claim that fails, expires or whose claimant goes stale or ends counts as an
attempt: the task goes back to `available` until `max_attempts` run out, and
is `failed` after that (`retry` gives it a fresh set).
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from ctui.core.clock import ago, iso
from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.instances import OPERATOR
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator
    from ctui.core.plan import Plan

STATUSES = ("pending", "available", "claimed", "done", "failed", "cancelled")
OPEN = ("pending", "available", "claimed")
MAX_DESCRIPTION = 20_000
MAX_ATTEMPTS_LIMIT = 100
TIMES = ("claimed_at", "claim_expires_at", "created_at", "updated_at", "done_at")
BEST_QUERY = "SELECT id FROM tasks WHERE status = 'available' ORDER BY priority, num LIMIT 1"
"""The claim's pick: walks the `tasks_queue` index (status, priority, num), no sort."""


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


# -- queries inside a transaction ---------------------------------------------


def fetch(conn: sqlite3.Connection, task_id: str) -> Task:
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


def _not_done(conn: sqlite3.Connection, task_id: str) -> list[str]:
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


def insert(
    coord: Coordinator,
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


def _set_status(
    coord: Coordinator, conn: sqlite3.Connection, task_id: str, status: str, **cols: Any
) -> None:
    values = {"status": status, "updated_at": coord.now(), **cols}
    conn.execute(
        f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
        (*values.values(), task_id),
    )


def end_attempt(
    coord: Coordinator,
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
    _set_status(
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
    coord: Coordinator, conn: sqlite3.Connection, instance_id: str, *, reason: str
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


def expire_claims(coord: Coordinator, conn: sqlite3.Connection) -> int:
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


def unblock(coord: Coordinator, conn: sqlite3.Connection, done_id: str) -> list[str]:
    """Make the pending dependents of a task that just finished available, when ready."""
    freed = []
    for (dep_id,) in conn.execute(
        "SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id "
        "WHERE d.depends_on = ? AND t.status = 'pending' ORDER BY t.num",
        (done_id,),
    ).fetchall():
        if not _not_done(conn, dep_id):
            _set_status(coord, conn, dep_id, "available")
            coord.log(conn, "task.available", subject=dep_id, data={"unblocked_by": done_id})
            freed.append(dep_id)
    return freed


def cancel_dependents(
    coord: Coordinator, conn: sqlite3.Connection, task_id: str, by: str
) -> list[str]:
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
            _set_status(
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


def _own(conn: sqlite3.Connection, task_id: str, instance: str, verb: str) -> Task:
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


class Tasks:
    """Add, claim, complete, fail, cancel, retry and list tasks; the plan lives here too."""

    def __init__(self, coord: Coordinator) -> None:
        self._c = coord

    def add(
        self,
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
        with self._c.store.write() as conn:
            if created_by != OPERATOR:
                self._c.instances.require_live(created_by, conn)
            task_id = insert(
                self._c,
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

    def get(self, task_id: str) -> Task:
        return fetch(self._c.store.conn, task_id)

    def list(self, status: str | None = None) -> list[Task]:
        """Tasks in queue order (`status` may also be `open`: pending, available or claimed)."""
        wanted = OPEN if status == "open" else (status,) if status else STATUSES
        if status not in (None, "open", *STATUSES):
            raise UsageError(f"bad status {status!r}: one of open, {', '.join(STATUSES)}")
        conn = self._c.store.conn
        marks = ", ".join("?" for _ in wanted)
        deps: dict[str, list[str]] = {}
        for row in conn.execute("SELECT task_id, depends_on FROM task_deps ORDER BY depends_on"):
            deps.setdefault(row[0], []).append(row[1])
        rows = conn.execute(f"SELECT * FROM tasks WHERE status IN ({marks}) ORDER BY num", wanted)
        return [Task.from_row(r, deps.get(r["id"], [])) for r in rows]

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(STATUSES, 0)
        for row in self._c.store.conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"):
            found[row[0]] = row[1]
        return found

    def claim(self, instance: str, task_id: str | None = None) -> Task:
        """Claim the best available task (lowest priority number, then oldest) or the named one.

        Raises `NotFound` (exit 4) when nothing is available.
        """
        with self._c.store.write() as conn:
            self._c.instances.require_live(instance, conn)
            expire_claims(self._c, conn)
            if task_id is None:
                task_id = self._best(conn)
            else:
                task = fetch(conn, task_id)
                if task.status == "claimed" and task.claimed_by == instance:
                    return self._renew(conn, task)
                if task.status != "available":
                    raise Conflict(self._unclaimable(conn, task))
            now = self._c.now()
            expires = now + self._c.config.task_claim_ttl
            conn.execute(
                "UPDATE tasks SET status = 'claimed', claimed_by = ?, claimed_at = ?, "
                "claim_expires_at = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'available'",
                (instance, now, expires, now, task_id),
            )
            task = fetch(conn, task_id)
            self._c.log(
                conn,
                "task.claimed",
                subject=task_id,
                actor=instance,
                data={"attempt": task.attempts, "expires_at": iso(expires)},
            )
            return task

    def _best(self, conn: sqlite3.Connection) -> str:
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
            if claimants and self._c.instances.reap(conn=conn, only=claimants):
                row = conn.execute(query).fetchone()
        if row is None:
            raise NotFound(self._nothing(conn))
        return str(row[0])

    def _nothing(self, conn: sqlite3.Connection) -> str:
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall())
        if not counts:
            return "no task to claim: the queue is empty (add one with `ctui task add`)"
        parts = [f"{counts[s]} {s}" for s in ("pending", "claimed", "failed") if counts.get(s)]
        return "no task available to claim" + (
            f" ({', '.join(parts)})" if parts else ": every task is finished"
        )

    def _unclaimable(self, conn: sqlite3.Connection, task: Task) -> str:
        if task.status == "pending":
            return (
                f"{task.id} is waiting on {', '.join(_not_done(conn, task.id))}: claim another task"
            )
        if task.status == "claimed":
            return f"{task.id} is already claimed by {task.claimed_by}: claim another task"
        return f"{task.id} is {task.status}: only an available task can be claimed"

    def _renew(self, conn: sqlite3.Connection, task: Task) -> Task:
        now = self._c.now()
        conn.execute(
            "UPDATE tasks SET claim_expires_at = ?, updated_at = ? WHERE id = ?",
            (now + self._c.config.task_claim_ttl, now, task.id),
        )
        return fetch(conn, task.id)

    def renew(self, instance: str, task_id: str | None = None) -> builtins.list[Task]:
        """Push out the claim lease of the instance's claimed tasks (or just one of them)."""
        with self._c.store.write() as conn:
            if task_id is not None:
                return [self._renew(conn, _own(conn, task_id, instance, "renew"))]
            rows = conn.execute(
                "SELECT id FROM tasks WHERE claimed_by = ? AND status = 'claimed'", (instance,)
            ).fetchall()
            return [self._renew(conn, fetch(conn, r[0])) for r in rows]

    def complete(self, task_id: str, instance: str, result: str | None = None) -> Task:
        """Mark the caller's claimed task done; dependents waiting only on it become available."""
        with self._c.store.write() as conn:
            _own(conn, task_id, instance, "complete")
            _set_status(
                self._c,
                conn,
                task_id,
                "done",
                result=result,
                error=None,
                claim_expires_at=None,
                done_at=self._c.now(),
            )
            self._c.log(
                conn,
                "task.done",
                subject=task_id,
                actor=instance,
                data={"result": (result or "")[:200]},
            )
            unblock(self._c, conn, task_id)
            return fetch(conn, task_id)

    def fail(self, task_id: str, instance: str, reason: str | None = None) -> Task:
        """Give up the caller's claim: back to available, or `failed` when attempts ran out."""
        with self._c.store.write() as conn:
            task = _own(conn, task_id, instance, "fail")
            end_attempt(
                self._c,
                conn,
                task,
                reason=(reason or "").strip() or "failed",
                actor=instance,
                kind="task.failed",
            )
            return fetch(conn, task_id)

    def cancel(self, task_id: str, by: str = OPERATOR) -> Task:
        """Cancel a task that is not done, and every open task that depends on it."""
        with self._c.store.write() as conn:
            task = fetch(conn, task_id)
            if task.status in ("done", "cancelled"):
                raise Conflict(f"{task_id} is already {task.status}: nothing to cancel")
            _set_status(
                self._c,
                conn,
                task_id,
                "cancelled",
                claimed_by=None,
                claimed_at=None,
                claim_expires_at=None,
                error=f"cancelled by {by}",
            )
            also = cancel_dependents(self._c, conn, task_id, by)
            self._c.log(
                conn,
                "task.cancelled",
                subject=task_id,
                actor=by,
                data={"was": task.status, "claimed_by": task.claimed_by, "dependents": also},
            )
            return fetch(conn, task_id)

    def retry(self, task_id: str, by: str = OPERATOR) -> Task:
        """Give a failed task a fresh set of attempts."""
        with self._c.store.write() as conn:
            task = fetch(conn, task_id)
            if task.status != "failed":
                raise Conflict(f"{task_id} is {task.status}: only a failed task can be retried")
            status = "pending" if _not_done(conn, task_id) else "available"
            _set_status(self._c, conn, task_id, status, attempts=0, error=None)
            self._c.log(conn, "task.retried", subject=task_id, actor=by, data={"status": status})
            return fetch(conn, task_id)

    def depend(self, task_id: str, on: Sequence[str], by: str = OPERATOR) -> Task:
        """Add dependencies to an open, unclaimed task; refuses unknown ids and cycles."""
        with self._c.store.write() as conn:
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
            status = "pending" if _not_done(conn, task_id) else "available"
            _set_status(self._c, conn, task_id, status)
            self._c.log(
                conn,
                "task.depends",
                subject=task_id,
                actor=by,
                data={"on": list(on), "status": status},
            )
            return fetch(conn, task_id)

    def expire(self) -> int:
        """Requeue every claim whose lease ran out; returns how many."""
        with self._c.store.write() as conn:
            return expire_claims(self._c, conn)

    def import_file(self, path: str | os.PathLike[str], *, by: str = OPERATOR) -> dict[str, Any]:
        """Import option A's `tasks.json` (see `ctui.core.plan.import_tasks`)."""
        from ctui.core import plan

        return plan.import_tasks(self._c, Path(path), by=by)

    def plan(self) -> Plan | None:
        from ctui.core import plan

        return plan.get(self._c.store.conn)

    def set_plan(self, goal: str, text: str = "", *, by: str = OPERATOR) -> Plan:
        from ctui.core import plan

        return plan.set_plan(self._c, goal, text, by=by)
