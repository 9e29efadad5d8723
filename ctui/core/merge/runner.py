"""The queue runner: build each candidate, gate it, and move the base only when green.

One runner at a time holds the lease (`lease`). It takes the oldest queued
entries (up to `[merge] batch`, same base), builds the candidate in a scratch
worktree from the base's current tip, runs the gate there, and lands with a
compare-and-swap of the base against the tip it built on. If the base moved
meanwhile, it rebuilds and retests. A red batch is split in halves until the
culprits are alone; the rest land. Before the swap, the candidate is written
on its entries, so a runner killed at any point leaves the base at a tested
commit and its entries resumable: the next runner finds them `testing`, and
either sees the candidate already in the base (landed) or queues them again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

from ctui.core.errors import CtuiError
from ctui.core.merge import git, landing, lease
from ctui.core.merge.context import MergeContext
from ctui.core.merge.record import Entry
from ctui.core.merge.settings import MergeSettings

Report = Callable[[str], None]
TAIL = 2000


class Runner:
    """`run()` lands queued entries until none is left (or until `limit` were decided)."""

    def __init__(
        self,
        ctx: MergeContext,
        *,
        wait: float = 0.0,
        limit: int | None = None,
        report: Report | None = None,
        poll: float = 0.2,
    ) -> None:
        self.ctx = ctx
        self.settings = MergeSettings.from_config(ctx.config)
        self.wait, self.limit, self.poll = wait, limit, poll
        self.say = report or (lambda _line: None)
        self.name = f"merge-runner-{os.getpid()}"
        self.token = 0
        self.scratch: git.Scratch | None = None
        self.summary: dict[str, Any] = {
            "landed": [],
            "conflict": [],
            "failed": [],
            "gates": 0,
            "retests": 0,
            "refused": None,
            "busy": None,
            "lost": None,
        }

    # -- the loop ----------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        token = self._acquire()
        if token is None:
            return self.summary
        self.token = token
        try:
            self._recover()
            decided = 0
            while self.limit is None or decided < self.limit:
                batch = self._take()
                if not batch:
                    break
                try:
                    self._land(batch)
                except git.Refused as exc:
                    self._requeue(reason=exc.message)
                    self.summary["refused"] = exc.message
                    self.say(exc.message)
                    break
                decided += len(batch)
        except lease.Lost as exc:
            self.summary["lost"] = str(exc)
            self.say(f"stopped: {exc}; the runner that holds the lease resumes the entries")
        finally:
            if self.scratch is not None:
                self.scratch.close()
            lease.release(self.ctx, token)
        return self.summary

    def _acquire(self) -> int | None:
        import time

        deadline = time.monotonic() + self.wait
        while True:
            with self.ctx.store.write() as conn:
                token = lease.acquire(self.ctx, conn, self.name, self.settings.lease_ttl)
                row = lease.holder(conn)
                queued = conn.execute(
                    "SELECT COUNT(*) FROM merge_queue WHERE status IN ('queued', 'testing')"
                ).fetchone()[0]
            if token is not None or not queued:
                self.summary["busy"] = None
                return token
            self.summary["busy"] = f"{row['holder']} (pid {row['pid']} on {row['host']})"
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)

    def _recover(self) -> None:
        """Entries a dead runner left `testing`: landed if their candidate is in the base."""
        for stale in self.ctx.scratch.glob("runner-*") if self.ctx.scratch.is_dir() else []:
            git.remove(self.ctx.root, stale)
        landed: list[Entry] = []
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            for row in conn.execute("SELECT * FROM merge_queue WHERE status = 'testing'"):
                entry = Entry.from_row(row)
                tip = git.rev(self.ctx.root, entry.base)
                if entry.candidate and tip and git.is_ancestor(self.ctx.root, entry.candidate, tip):
                    self._set(
                        conn,
                        entry,
                        "landed",
                        "landed by a runner that stopped before recording it",
                        landed=entry.candidate,
                    )
                    landed.append(entry)
                else:
                    self._set(conn, entry, "queued", "the runner stopped mid-gate: queued again")
        for entry in landed:
            self._after_landing(entry, entry.head or "", json.loads(entry.gate or "{}"))

    def _take(self) -> list[Entry]:
        """Mark the next batch `testing` (oldest first, one base)."""
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            first = conn.execute(
                "SELECT base FROM merge_queue WHERE status = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if first is None:
                return []
            rows = conn.execute(
                "SELECT * FROM merge_queue WHERE status = 'queued' AND base = ? "
                "ORDER BY id LIMIT ?",
                (first["base"], self.settings.batch),
            ).fetchall()
            batch = [Entry.from_row(r) for r in rows]
            for entry in batch:
                conn.execute(
                    "UPDATE merge_queue SET status = 'testing', attempts = attempts + 1, "
                    "reason = NULL, candidate = NULL, updated_at = ? WHERE id = ?",
                    (self.ctx.now(), entry.id),
                )
            self.ctx.log(
                conn,
                "merge.testing",
                actor=self.name,
                subject=first["base"],
                data={"ids": [e.id for e in batch], "threads": [e.thread for e in batch]},
            )
        return batch

    def _requeue(self, *, reason: str) -> None:
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            for row in conn.execute("SELECT * FROM merge_queue WHERE status = 'testing'"):
                self._set(conn, Entry.from_row(row), "queued", reason)

    # -- one batch -------------------------------------------------------------------

    def _land(self, batch: list[Entry]) -> None:
        """Land a batch; a red group of several is split in halves, in order."""
        groups = [batch]
        while groups:
            group = groups.pop(0)
            halves = self._try(group)
            if halves:
                self.say(
                    f"gate red for {len(group)} entries together: bisecting "
                    f"({', '.join(e.thread for e in halves[0])} | "
                    f"{', '.join(e.thread for e in halves[1])})"
                )
                groups[:0] = halves

    def _try(self, group: list[Entry]) -> list[list[Entry]] | None:
        """Build, gate and land one group; returns its halves when it must be bisected."""
        root, base = self.ctx.root, group[0].base
        while True:
            self._preflight(base)
            tip = git.rev(root, base)
            if tip is None:
                self._decide(group, "failed", f"the base branch {base} is gone", {})
                return None
            scratch = self._scratch(tip)
            merged: list[tuple[Entry, str]] = []
            conflicts: list[tuple[Entry, git.Step]] = []
            for entry in group:
                head = git.rev(root, entry.branch)
                if head is None:
                    step = git.Step(False, [], f"the branch {entry.branch} is gone")
                    conflicts.append((entry, step))
                    continue
                label = f"{entry.branch} (merge queue #{entry.id})"
                step = scratch.put(head, label, self.settings.strategy)
                if step.ok:
                    merged.append((entry, head))
                else:
                    conflicts.append((entry, step))
            if not merged:
                self._conflicts(conflicts, base, tip)
                return None
            candidate = scratch.head()
            self._record(merged, candidate, tip)
            self.say(
                f"gate on {candidate[:10]} = {base}@{tip[:10]} + "
                + ", ".join(e.thread for e, _ in merged)
            )
            result = self._gate(scratch)
            if not result["passed"]:
                if len(group) > 1:
                    k = (len(group) + 1) // 2
                    return [group[:k], group[k:]]
                entry, _head = merged[0]
                self._decide([entry], "failed", _failing(result), {"gate": result})
                return None
            landed = self._advance(base, candidate, tip, merged, conflicts, result)
            if landed:
                return None
            self.summary["retests"] += 1
            self.say(f"{base} moved during the gate: rebuilding on its new tip")

    def _preflight(self, base: str) -> None:
        """Refuse before building when the base is checked out with local changes."""
        for place in git.checkouts(self.ctx.root, base):
            changed = git.dirty(place)
            if changed:
                tip = git.rev(self.ctx.root, base) or "?"
                raise git.Refused(
                    f"{base} is checked out in {place} with uncommitted changes "
                    f"({', '.join(changed[:5])}): commit or stash them, then run the queue "
                    f"again; {base} was left at {tip[:12]}"
                )

    def _scratch(self, tip: str) -> git.Scratch:
        if self.scratch is None:
            path = self.ctx.scratch / f"runner-{self.token}"
            self.scratch = git.Scratch.make(self.ctx.root, path, tip)
        self.scratch.reset(tip)
        return self.scratch

    def _gate(self, scratch: git.Scratch) -> dict[str, Any]:
        from ctui.core.merge.gate import run_gate

        self.summary["gates"] += 1
        if not self.ctx.config.gate_commands:
            return run_gate([], scratch.path, self.settings.gate_timeout)
        with lease.Keeper(self.ctx, self.token, self.settings.lease_ttl) as keeper:
            result = run_gate(
                self.ctx.config.gate_commands, scratch.path, self.settings.gate_timeout
            )
        if keeper.lost:
            raise lease.Lost(keeper.lost)
        return result

    def _record(self, merged: list[tuple[Entry, str]], candidate: str, tip: str) -> None:
        """Write the candidate on its entries before the swap (what recovery reads)."""
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            for entry, head in merged:
                conn.execute(
                    "UPDATE merge_queue SET candidate = ?, tested_tip = ?, head = ?, "
                    "updated_at = ? WHERE id = ?",
                    (candidate, tip, head, self.ctx.now(), entry.id),
                )

    def _advance(
        self,
        base: str,
        candidate: str,
        tip: str,
        merged: list[tuple[Entry, str]],
        conflicts: list[tuple[Entry, git.Step]],
        result: dict[str, Any],
    ) -> bool:
        """Fence, swap the base's ref, record the landing: all under one write lock."""
        gate = json.dumps(result)
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            if not git.advance(self.ctx.root, base, candidate, tip):
                return False
            for entry, head in merged:
                conn.execute("UPDATE merge_queue SET gate = ? WHERE id = ?", (gate, entry.id))
                self._set(conn, entry, "landed", None, landed=candidate, head=head)
            self.ctx.log(
                conn,
                "merge.advanced",
                actor=self.name,
                subject=base,
                data={
                    "base": base,
                    "from": tip,
                    "to": candidate,
                    "ids": [e.id for e, _ in merged],
                    "threads": [e.thread for e, _ in merged],
                    "gate": _brief(result),
                },
            )
        self.say(f"landed {', '.join(e.thread for e, _ in merged)} on {base} at {candidate[:10]}")
        for entry, head in merged:
            self.summary["landed"].append(entry.thread)
            self._after_landing(entry, head, result, tip=tip, to=candidate)
        if conflicts:
            self._conflicts(conflicts, base, candidate)
        return True

    def _after_landing(
        self, entry: Entry, head: str, result: dict[str, Any], *, tip: str = "", to: str = ""
    ) -> None:
        try:
            landing.after(self.ctx, entry, head, result, tip=tip, to=to or entry.candidate or "")
        except CtuiError as exc:
            self.say(f"{entry.thread} landed, but its cleanup failed: {exc.message}")

    # -- outcomes ----------------------------------------------------------------------

    def _conflicts(self, conflicts: list[tuple[Entry, git.Step]], base: str, tip: str) -> None:
        for entry, step in conflicts:
            if not step.files and step.message.startswith("the branch"):
                self._decide([entry], "failed", step.message, {})
                continue
            files = ", ".join(step.files) or step.message
            reason = f"conflicts with {base} at {tip[:10]} in {files}"
            self._decide([entry], "conflict", reason, {"files": step.files, "git": step.message})

    def _decide(
        self,
        entries: list[Entry],
        status: str,
        reason: str,
        detail: dict[str, Any],
    ) -> None:
        gate = detail.get("gate")
        with self.ctx.store.write() as conn:
            lease.check(conn, self.token)
            for entry in entries:
                if gate is not None:
                    conn.execute(
                        "UPDATE merge_queue SET gate = ? WHERE id = ?", (json.dumps(gate), entry.id)
                    )
                self._set(conn, entry, status, reason, detail=detail)
        for entry in entries:
            self.summary[status].append(entry.thread)
            self.say(f"{entry.thread}: {status}: {reason.splitlines()[0][:200]}")
            landing.send_back(self.ctx, self.settings, entry, status, reason, self.say)

    def _set(
        self,
        conn: sqlite3.Connection,
        entry: Entry,
        status: str,
        reason: str | None,
        *,
        landed: str | None = None,
        head: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            "UPDATE merge_queue SET status = ?, reason = ?, landed = COALESCE(?, landed), "
            "head = COALESCE(?, head), detail = COALESCE(?, detail), updated_at = ? WHERE id = ?",
            (
                status,
                reason,
                landed,
                head,
                None if detail is None else json.dumps(_small(detail)),
                self.ctx.now(),
                entry.id,
            ),
        )
        self.ctx.log(
            conn,
            f"merge.{status}",
            actor=self.name,
            subject=entry.thread,
            data={"id": entry.id, "reason": (reason or "")[:500], "landed": landed},
        )


def _failing(result: dict[str, Any]) -> str:
    """The failing commands and the tail of their output: what goes back to the agent."""
    parts = [
        f"$ {r['command']}  (exit {r['exit_code']})\n{r['output'].strip()[-TAIL:]}"
        for r in result["results"]
        if r["exit_code"] != 0
    ]
    return "the gate failed on top of the base:\n" + "\n\n".join(parts)


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "passed": result["passed"],
        "commands": [
            {"command": r["command"], "exit_code": r["exit_code"]} for r in result["results"]
        ],
    }


def _small(detail: dict[str, Any]) -> dict[str, Any]:
    gate = detail.get("gate")
    return {**detail, "gate": _brief(gate)} if gate else detail
