"""`MergeQueue`: add finished threads' branches, list and remove entries, run the queue."""

from __future__ import annotations

import builtins
import json
import sqlite3
from pathlib import Path
from typing import Any

from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.merge import git
from ctui.core.merge.context import MergeContext
from ctui.core.merge.record import OPEN, STATUSES, Entry

BUSY = ("running", "waiting", "created")


class MergeQueue:
    """The queue's face for the Coordinator (`c.merge`)."""

    def __init__(self, ctx: MergeContext) -> None:
        self.ctx = ctx

    def add(
        self, names: builtins.list[str], *, by: str = "operator", onto: str | None = None
    ) -> builtins.list[Entry]:
        """Queue each thread's branch (all or none): it must exist, be idle, clean and ahead.

        An entry lands on its thread's base, or on `onto` (`ctui run --merge` lands a
        dependent task, forked from its dependency's branch, on the run's own base).
        """
        if not names:
            raise UsageError("name one or more threads to merge")
        checked = [self._check_thread(name, onto) for name in dict.fromkeys(names)]
        added = []
        with self.ctx.store.write() as conn:
            for name, branch, base in checked:
                now = self.ctx.now()
                try:
                    cur = conn.execute(
                        "INSERT INTO merge_queue(thread, branch, base, status, queued_by, "
                        "queued_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                        (name, branch, base, by, now, now),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"thread {name!r} is already in the merge queue") from None
                self.ctx.log(
                    conn,
                    "merge.queued",
                    actor=by,
                    subject=name,
                    data={"id": cur.lastrowid, "branch": branch, "base": base},
                )
                added.append(self._get(conn, int(cur.lastrowid or 0)))
        return added

    def _check_thread(self, name: str, onto: str | None = None) -> tuple[str, str, str]:
        row = self.ctx.store.conn.execute(
            "SELECT status, branch, base, worktree FROM threads WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no thread {name!r}: see `ctui thread list`")
        if row["status"] in BUSY:
            raise Conflict(f"thread {name!r} is {row['status']}: merge it when it has finished")
        if row["status"] == "merged":
            raise Conflict(f"thread {name!r} is already merged")
        if not row["branch"] or not row["base"]:
            raise UsageError(f"thread {name!r} has no branch (made with --no-worktree)")
        root = self.ctx.root
        base = _branch_of(root, onto or row["base"])
        head = git.rev(root, row["branch"])
        if head is None:
            raise NotFound(f"thread {name!r}'s branch {row['branch']} is gone")
        if row["worktree"] and Path(row["worktree"]).is_dir():
            changed = git.dirty(Path(row["worktree"]))
            if changed:
                raise Conflict(
                    f"thread {name!r} has uncommitted changes ({', '.join(changed[:5])}): "
                    "commit them in its worktree first"
                )
        if git.is_ancestor(root, head, base):
            raise Conflict(f"thread {name!r}'s branch has nothing that {base} lacks")
        return name, row["branch"], base

    def list(self, status: str | None = None, *, all: bool = False) -> builtins.list[Entry]:
        """Entries oldest first: open ones, or every one with `all`, or those of `status`."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
        rows = self.ctx.store.conn.execute("SELECT * FROM merge_queue ORDER BY id").fetchall()
        found = [Entry.from_row(r) for r in rows]
        if status is not None:
            return [e for e in found if e.status == status]
        return found if all else [e for e in found if e.is_open]

    def latest(self) -> dict[str, Entry]:
        """Each thread's newest entry (what the TUI shows beside a thread)."""
        rows = self.ctx.store.conn.execute("SELECT * FROM merge_queue ORDER BY id").fetchall()
        return {r["thread"]: Entry.from_row(r) for r in rows}

    def get(self, ref: str | int) -> Entry:
        """An entry by id, or a thread's newest entry by the thread's name."""
        conn = self.ctx.store.conn
        if isinstance(ref, int) or str(ref).isdigit():
            return self._get(conn, int(ref))
        row = conn.execute(
            "SELECT * FROM merge_queue WHERE thread = ? ORDER BY id DESC LIMIT 1", (ref,)
        ).fetchone()
        if row is None:
            raise NotFound(f"thread {ref!r} was never queued: `ctui merge {ref}`")
        return Entry.from_row(row)

    def _get(self, conn: sqlite3.Connection, entry_id: int) -> Entry:
        row = conn.execute("SELECT * FROM merge_queue WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise NotFound(f"no merge-queue entry {entry_id}: see `ctui merge list`")
        return Entry.from_row(row)

    def remove(self, ref: str | int, *, by: str = "operator") -> Entry:
        """Take a queued entry out; one being tested cannot be (stop its runner first)."""
        entry = self.get(ref)
        with self.ctx.store.write() as conn:
            cur = conn.execute(
                "UPDATE merge_queue SET status = 'removed', reason = ?, updated_at = ? "
                "WHERE id = ? AND status = 'queued'",
                (f"removed by {by}", self.ctx.now(), entry.id),
            )
            if cur.rowcount != 1:
                now = self._get(conn, entry.id).status
                raise Conflict(f"merge entry {entry.id} ({entry.thread}) is {now}, not queued")
            self.ctx.log(
                conn, "merge.removed", actor=by, subject=entry.thread, data={"id": entry.id}
            )
            return self._get(conn, entry.id)

    def predicted(self) -> builtins.list[dict[str, Any]]:
        """The radar over queued entries: files two or more queued branches both change."""
        changed = {
            entry.thread: git.changed_files(self.ctx.root, entry.base, entry.branch)
            for entry in self.list()
            if git.rev(self.ctx.root, entry.branch) is not None
        }
        return [{"path": p, "threads": t} for p, t in git.overlapping(changed)]

    def run(self, **kw: Any) -> dict[str, Any]:
        """Land queued entries (see `runner.Runner.run`), after queueing again the threads
        the queue resumed whose fixing run has completed."""
        from ctui.core.merge.runner import Runner

        self.requeue_resumed()
        return Runner(self.ctx, **kw).run()

    def requeue_resumed(self) -> builtins.list[str]:
        from ctui.core.merge.landing import requeue_resumed

        return requeue_resumed(self.ctx, lambda names: self.add(names, by="merge-queue"))

    def detail(self, entry: Entry) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(entry.detail or "{}")
        return data


def _branch_of(root: Path, base: str) -> str:
    """The queue lands on branches only: a thread based on a commit cannot be queued."""
    if git.ok(root, "show-ref", "--verify", "--quiet", f"refs/heads/{base}"):
        return base
    raise UsageError(f"the base {base!r} is not a local branch: the queue lands on branches")


__all__ = ["OPEN", "MergeQueue"]
