"""`Coordinator`: the one object scripts, the CLI and every other face use.

    from ctui.core import Coordinator
    c = Coordinator.open(".")                  # finds .ctui/ like the CLI does
    me = c.instances.register(role="script")
    lease = c.leases.acquire("src/app.py", instance=me.id, intent="refactor")
    c.decisions.add(category="api", title="Use REST", author=me.id)
    c.leases.release("src/app.py", instance=me.id)

Domain parts are created on first use, so a hook that only needs leases does
not pay for threads or worktrees.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from ctui.core import events as events_mod
from ctui.core.clock import Clock
from ctui.core.config import Config
from ctui.core.context import Context
from ctui.core.paths import refuse_accidental_store, resolve_store_dir
from ctui.core.store import Store, exists, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.decisions import Decisions
    from ctui.core.events import Events
    from ctui.core.hosts import Hosts
    from ctui.core.instances import Instances
    from ctui.core.leases import Leases
    from ctui.core.merge import MergeQueue
    from ctui.core.tasks import Tasks
    from ctui.core.tasks.discoveries import Discoveries
    from ctui.core.threads import Threads
    from ctui.core.threads.worktrees import Worktrees


class Coordinator(Context):
    """The coordination store of one repository, with its domain parts as attributes."""

    def __init__(
        self, store: Store, *, clock: Clock | None = None, config: Config | None = None
    ) -> None:
        super().__init__(store, clock=clock, config=config)
        if store.conn.execute("SELECT 1 FROM instances WHERE id = 'operator'").fetchone() is None:
            from ctui.core.instances import ensure_operator

            with store.write() as conn:
                ensure_operator(conn, self.now())

    @classmethod
    def open(
        cls,
        start: str | os.PathLike[str] = ".",
        *,
        store_dir: str | os.PathLike[str] | None = None,
        create: bool = True,
        clock: Clock | None = None,
        timeout: float | None = None,
    ) -> Coordinator:
        """Open the store for the repository around `start` (or `store_dir` itself)."""
        start_path = Path(start)
        if store_dir is None and exists(start_path):
            store_dir = start_path
        folder = resolve_store_dir(store_dir, start_path)
        if create:
            refuse_accidental_store(folder, store_dir, start_path)
        store = open_store(folder, create=create, timeout=timeout)
        return cls(store, clock=clock)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several calls as one write transaction: all of them or none (nested calls join it)."""
        with self.store.write():
            yield

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """Several reads that see the store at one moment."""
        with self.store.read():
            yield

    def release_holdings(
        self, conn: sqlite3.Connection, instance_id: str, *, reason: str
    ) -> dict[str, int]:
        """Free everything an instance holds: leases, queued waits and task claims."""
        from ctui.core import tasks

        leases = self.leases.release_all(conn, instance_id, reason=reason)
        conn.execute("DELETE FROM lease_waiters WHERE instance = ?", (instance_id,))
        requeued = tasks.requeue_claims(self, conn, instance_id, reason=reason)
        return {"leases_released": leases, "tasks_requeued": requeued}

    @cached_property
    def instances(self) -> Instances:
        from ctui.core.instances import Instances

        return Instances(self)

    @cached_property
    def hosts(self) -> Hosts:
        from ctui.core.hosts import Hosts

        return Hosts(self)

    @cached_property
    def leases(self) -> Leases:
        from ctui.core.leases import Leases

        return Leases(self)

    @cached_property
    def decisions(self) -> Decisions:
        from ctui.core.decisions import Decisions

        return Decisions(self)

    @cached_property
    def events(self) -> Events:
        return events_mod.Events(self)

    @cached_property
    def tasks(self) -> Tasks:
        from ctui.core.tasks import Tasks

        return Tasks(self)

    @cached_property
    def discoveries(self) -> Discoveries:
        from ctui.core.tasks.discoveries import Discoveries

        return Discoveries(self)

    @cached_property
    def threads(self) -> Threads:
        from ctui.core.threads import Threads

        return Threads(self)

    @cached_property
    def worktrees(self) -> Worktrees:
        from ctui.core.threads.worktrees import Worktrees

        return Worktrees(self)

    @cached_property
    def merge(self) -> MergeQueue:
        """The merge queue, given only what it needs (store, clock, config, root, two calls)."""
        from ctui.core.merge import MergeContext, MergeQueue

        def resume(name: str, prompt: str) -> Any:
            return self.threads.follow_up(name, prompt)

        def decide(conn: sqlite3.Connection, title: str, text: str, tags: list[str]) -> Any:
            author = "operator"
            return self.decisions.add(
                category="merge", title=title, author=author, description=text, tags=tags
            )

        ctx = MergeContext(self.store, self.now, self.config, self.root, self.log, resume, decide)
        return MergeQueue(ctx)

    def snapshot(self) -> dict[str, Any]:
        """Everything `ctui status` shows, as plain data (also `/api/status` and the TUI).

        Every output calls them leases; `locks` repeats the list for scripts
        written against the first contract.
        """
        now = self.now()
        with self.store.read():
            instances = [i.to_dict(now) for i in self.instances.list()]
            locks = [lease.to_dict(now) for lease in self.leases.list()]
            decisions = [d.to_dict() for d in self.decisions.list(limit=10)]
            tasks = self._listed("tasks")
            threads = self._listed("threads")
            count = self.decisions.count()
        from ctui.core.threads import budget

        return {
            "store": str(self.store.path),
            "instances": instances,
            "leases": locks,
            "locks": locks,  # the same list under its old name (DESIGN 11), kept for scripts
            "threads": threads,
            "tasks": tasks,
            "decisions": decisions,
            "counts": {"decisions": count},
            "budget": budget.summary(self),
        }

    def _listed(self, part: str) -> list[dict[str, Any]]:
        lister = getattr(getattr(self, part), "list", None)
        return [] if lister is None else [item.to_dict() for item in lister()]

    def cleanup(self) -> dict[str, Any]:
        """Reap stale instances, expired leases and task claims (and orphaned threads).

        The caller's host beats first (at most every few seconds): whoever reaps
        is alive, and a host that lapsed frees its work here.
        """
        from ctui.core.tasks import expire_claims

        self.hosts.beat()
        with self.store.write() as conn:
            threads_failed = self.threads.reap(conn)
            reaped = self.instances.reap(conn=conn)
            expired = self.leases.expire(conn)
            requeued = expire_claims(self, conn)
        return {
            "instances_reaped": reaped,
            "leases_expired": expired,
            "task_claims_expired": requeued,
            "threads_failed": threads_failed,
        }

    def close(self) -> None:
        self.store.close()
