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

This module is the facade, `c.tasks`: each method names one operation and
hands it to the module that owns it. The record and its rows are in
`record`, adding and its checks in `add`, dependencies (cycles,
unblocking) in `deps`, queue order and listing in `queue`, claiming
and renewing in `claim`, ended attempts (expiry, requeue) in
`expiry`, and complete, fail, cancel and retry in `finish`. The plan
is in `ctui.core.tasks.plan`.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ctui.core.instances import OPERATOR
from ctui.core.tasks import add as task_add
from ctui.core.tasks import claim as task_claim
from ctui.core.tasks import deps as task_deps
from ctui.core.tasks import finish as task_finish
from ctui.core.tasks import queue as task_queue
from ctui.core.tasks.add import (
    MAX_ATTEMPTS_LIMIT,
    MAX_DESCRIPTION,
    check_max_attempts,
    check_priority,
    insert,
)
from ctui.core.tasks.deps import reaches, unblock
from ctui.core.tasks.expiry import end_attempt, expire_claims, requeue_claims
from ctui.core.tasks.finish import cancel_dependents
from ctui.core.tasks.queue import BEST_QUERY
from ctui.core.tasks.record import OPEN, STATUSES, TIMES, Task, fetch

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context
    from ctui.core.tasks.plan import Plan


class Tasks:
    """Add, claim, complete, fail, cancel, retry and list tasks; the plan lives here too."""

    def __init__(self, coord: Context) -> None:
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
        return task_add.add(
            self._c,
            description,
            priority=priority,
            depends_on=depends_on,
            files=files,
            hints=hints,
            created_by=created_by,
            max_attempts=max_attempts,
        )

    def get(self, task_id: str) -> Task:
        return fetch(self._c.store.conn, task_id)

    def list(self, status: str | None = None) -> list[Task]:
        """Tasks in queue order (`status` may also be `open`: pending, available or claimed)."""
        return task_queue.select(self._c, status)

    def counts(self) -> dict[str, int]:
        return task_queue.counts(self._c)

    def claim(self, instance: str, task_id: str | None = None) -> Task:
        """Claim the best available task (lowest priority number, then oldest) or the named one.

        Raises `NotFound` (exit 4) when nothing is available.
        """
        return task_claim.claim(self._c, instance, task_id)

    def renew(
        self, instance: str, task_id: str | None = None, attempt: int | None = None
    ) -> builtins.list[Task]:
        """Push out the claim lease of the instance's claimed tasks (or just one of them).

        With `attempt` (the number the claim returned), a claim that ran out is refused
        with `StaleAttempt` (exit 11); the same holds for `complete` and `fail`.
        """
        return task_claim.renew(self._c, instance, task_id, attempt)

    def complete(
        self, task_id: str, instance: str, result: str | None = None, attempt: int | None = None
    ) -> Task:
        """Mark the caller's claimed task done; dependents waiting only on it become available."""
        return task_finish.complete(self._c, task_id, instance, result, attempt)

    def fail(
        self, task_id: str, instance: str, reason: str | None = None, attempt: int | None = None
    ) -> Task:
        """Give up the caller's claim: back to available, or `failed` when attempts ran out."""
        return task_finish.fail(self._c, task_id, instance, reason, attempt)

    def cancel(self, task_id: str, by: str = OPERATOR) -> Task:
        """Cancel a task that is not done, and every open task that depends on it."""
        return task_finish.cancel(self._c, task_id, by)

    def retry(self, task_id: str, by: str = OPERATOR) -> Task:
        """Give a failed task a fresh set of attempts."""
        return task_finish.retry(self._c, task_id, by)

    def depend(self, task_id: str, on: Sequence[str], by: str = OPERATOR) -> Task:
        """Add dependencies to an open, unclaimed task; refuses unknown ids and cycles."""
        return task_deps.depend(self._c, task_id, on, by)

    def expire(self) -> int:
        """Requeue every claim whose lease ran out; returns how many."""
        with self._c.store.write() as conn:
            return expire_claims(self._c, conn)

    def import_file(self, path: str | os.PathLike[str], *, by: str = OPERATOR) -> dict[str, Any]:
        """Import option A's `tasks.json` (see `ctui.core.tasks.plan.import_tasks`)."""
        from ctui.core.tasks import plan

        return plan.import_tasks(self._c, Path(path), by=by)

    def plan(self) -> Plan | None:
        from ctui.core.tasks import plan

        return plan.get(self._c.store.conn)

    def set_plan(self, goal: str, text: str = "", *, by: str = OPERATOR) -> Plan:
        from ctui.core.tasks import plan

        return plan.set_plan(self._c, goal, text, by=by)


__all__ = [
    "BEST_QUERY",
    "MAX_ATTEMPTS_LIMIT",
    "MAX_DESCRIPTION",
    "OPEN",
    "STATUSES",
    "TIMES",
    "Task",
    "Tasks",
    "cancel_dependents",
    "check_max_attempts",
    "check_priority",
    "end_attempt",
    "expire_claims",
    "fetch",
    "insert",
    "reaches",
    "requeue_claims",
    "unblock",
]
