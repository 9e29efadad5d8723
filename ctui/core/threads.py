"""Threads: named agent runs, each in its own git worktree, started by a supervisor.

Life of a thread: `created` (row inserted, worktree being made) → `ready` →
`running` (a supervisor runs the agent; `waiting` while the agent needs input,
`blocked` while it waits on something else) → `completed` | `failed` |
`stopped`. Starting is a compare-and-set inside one write transaction, so
several processes starting the same thread produce exactly one run; a
finished thread runs again only when asked (`again=True`).
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctui.core import agents, procs, templates
from ctui.core.clock import iso
from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.instances import HOST, pid_alive

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator
    from ctui.core.worktrees import Worktrees

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STATUSES = ("created", "ready", "running", "waiting", "blocked", "completed", "failed", "stopped")
ACTIVE = ("running", "waiting")
FINISHED = ("completed", "failed", "stopped")
LAUNCH_GRACE_S = 60.0


def check_name(name: str) -> str:
    """A thread name is a slug: it becomes a folder, a branch and a tmux session."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        hint = re.sub(r"[^a-z0-9_-]+", "-", str(name).lower()).strip("-_")[:63] or "my-thread"
        raise UsageError(
            f"bad thread name {name!r}: use lowercase letters, digits, '-' and '_' "
            f"(up to 63, starting with a letter or digit), e.g. {hint!r}"
        )
    return name


@dataclass
class Thread:
    """One thread's row."""

    name: str
    mode: str
    agent: str
    command: str | None
    template: str | None
    prompt: str | None
    context: str
    status: str
    worktree: str | None
    branch: str | None
    base: str | None
    supervisor_pid: int | None
    supervisor_start: str | None
    host: str | None
    agent_pid: int | None
    run_id: int
    exit_code: int | None
    error: str | None
    log_path: str | None
    session_id: str | None
    instance_id: str | None
    task_id: str | None
    turns: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    gate: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Thread:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def runtime(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return round((self.ended_at or now) - self.started_at, 1)

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        import time

        return {
            "name": self.name,
            "status": self.status,
            "mode": self.mode,
            "agent": self.agent,
            "command": self.command,
            "template": self.template,
            "prompt": self.prompt,
            "context": json.loads(self.context or "{}"),
            "worktree": self.worktree,
            "branch": self.branch,
            "base": self.base,
            "run_id": self.run_id,
            "supervisor_pid": self.supervisor_pid,
            "agent_pid": self.agent_pid,
            "host": self.host,
            "exit_code": self.exit_code,
            "error": self.error,
            "log_path": self.log_path,
            "session_id": self.session_id,
            "instance_id": self.instance_id,
            "task_id": self.task_id,
            "turns": self.turns,
            "cost_usd": round(self.cost_usd, 6),
            "tokens": self.tokens_in + self.tokens_out,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "runtime": self.runtime(time.time() if now is None else now),
            "gate": json.loads(self.gate) if self.gate else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
        }


class Threads:
    """Create, start, stop, list and reap threads."""

    def __init__(self, coord: Coordinator) -> None:
        self._c = coord

    @property
    def worktrees(self) -> Worktrees:
        from ctui.core.worktrees import Worktrees

        return Worktrees(self._c)

    def log_path(self, name: str) -> Path:
        return self._c.store.path / "logs" / f"{name}.log"

    def create(
        self,
        name: str,
        *,
        mode: str = "automatic",
        agent: str = "claude",
        template: str | None = None,
        prompt: str | None = None,
        context: dict[str, Any] | None = None,
        command: str | None = None,
        worktree: bool = True,
        base: str | None = None,
        task_id: str | None = None,
        cwd: Path | None = None,
    ) -> Thread:
        """Make a ready thread: validate, render the prompt, create the worktree."""
        check_name(name)
        agents.check_profile(agent, mode, command)
        if context is not None and not isinstance(context, dict):
            raise UsageError('--context must be a JSON object, e.g. \'{"task": "..."}\'')
        context = dict(context or {})
        if self._row(self._c.store.conn, name) is not None:
            raise Conflict(
                f"thread {name!r} already exists: pick another name or see "
                f"`ctui thread status {name}`"
            )
        wts = self.worktrees if worktree else None
        if wts is not None:
            base = wts.check_base(base or wts.current_branch())
            path, branch = str(wts.folder / name), f"ctui/{name}"
        else:
            path, branch = None, None
        text = self._prompt(name, template, prompt, context, path, branch, base, agent, cwd)
        now = self._c.now()
        values = {
            "name": name,
            "mode": mode,
            "agent": agent,
            "command": command,
            "template": template,
            "prompt": text,
            "context": json.dumps(context),
            "status": "created" if wts else "ready",
            "base": base,
            "log_path": str(self.log_path(name)),
            "task_id": task_id,
            "created_at": now,
            "updated_at": now,
        }
        with self._c.store.write() as conn:
            try:
                conn.execute(
                    f"INSERT INTO threads({', '.join(values)}) "
                    f"VALUES ({', '.join('?' * len(values))})",
                    tuple(values.values()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"thread {name!r} already exists: pick another name") from None
            if wts is None:
                return self._created(conn, name)
        try:
            made, branch, base = wts.create(name, base, checked=True)
        except BaseException:
            with self._c.store.write() as conn:
                conn.execute("DELETE FROM threads WHERE name = ? AND status = 'created'", (name,))
            raise
        with self._c.store.write() as conn:
            conn.execute(
                "UPDATE threads SET status = 'ready', worktree = ?, branch = ?, base = ?, "
                "updated_at = ? WHERE name = ?",
                (str(made), branch, base, self._c.now(), name),
            )
            return self._created(conn, name)

    def _created(self, conn: sqlite3.Connection, name: str) -> Thread:
        t = Thread.from_row(self._require(conn, name))
        data = {"mode": t.mode, "agent": t.agent, "template": t.template, "worktree": t.worktree}
        self._c.log(conn, "thread.created", subject=name, data=data)
        return t

    def _prompt(
        self,
        name: str,
        template: str | None,
        prompt: str | None,
        context: dict[str, Any],
        path: str | None,
        branch: str | None,
        base: str | None,
        agent: str,
        cwd: Path | None,
    ) -> str:
        parts = []
        if template:
            _where, text = templates.load(template, store_dir=self._c.store.path, cwd=cwd)
            slots = {
                "thread": name,
                "worktree": path or str(self._c.root),
                "branch": branch or "",
                "base": base or "",
                **context,
            }
            parts.append(templates.render(text, slots, source=f"template {template!r}").strip())
        if prompt:
            parts.append(prompt.strip())
        if not parts and agent != "command":
            raise UsageError(
                f"the {agent} agent needs a prompt: give --prompt TEXT or --template FILE"
            )
        return "\n\n".join(parts)

    def start(self, name: str, *, again: bool = False, prompt: str | None = None) -> Thread:
        """Claim the next run atomically, then launch its supervisor."""
        now = self._c.now()
        with self._c.store.write() as conn:
            t = Thread.from_row(self._require(conn, name))
            if t.status in ACTIVE:
                raise Conflict(f"thread {name!r} is already {t.status} (run {t.run_id})")
            allowed = ("ready", *FINISHED) if again else ("ready",)
            if t.status not in allowed:
                hint = (
                    f": `ctui thread start {name} --again` runs it again"
                    if t.status in FINISHED
                    else ""
                )
                raise Conflict(f"thread {name!r} is {t.status}, not ready{hint}")
            if t.worktree and not Path(t.worktree).is_dir():
                raise Conflict(
                    f"the worktree of {name!r} is gone ({t.worktree}): create a new thread"
                )
            run_id = t.run_id + 1
            conn.execute(
                "UPDATE threads SET status = 'running', run_id = ?, started_at = ?, "
                "ended_at = NULL, exit_code = NULL, error = NULL, supervisor_pid = NULL, "
                "supervisor_start = NULL, agent_pid = NULL, host = ?, updated_at = ? "
                "WHERE name = ? AND run_id = ?",
                (run_id, now, HOST, now, name, t.run_id),
            )
            self._c.log(
                conn, "thread.started", subject=name, data={"run": run_id, "agent": t.agent}
            )
        prompt_file = None
        if prompt is not None:
            prompt_file = self._c.store.path / "logs" / f"{name}.run{run_id}.prompt"
            prompt_file.parent.mkdir(parents=True, exist_ok=True)
            prompt_file.write_text(prompt)
        try:
            pid, start = procs.launch_supervisor(
                self._c.store.path, self._c.root, name, run_id, self.log_path(name), prompt_file
            )
        except OSError as exc:
            from ctui.core import runs

            runs.finish(
                self._c, name, run_id, "failed", None, f"could not start the supervisor: {exc}"
            )
            raise
        with self._c.store.write() as conn:
            conn.execute(
                "UPDATE threads SET supervisor_pid = ?, supervisor_start = ? "
                "WHERE name = ? AND run_id = ? AND supervisor_pid IS NULL",
                (pid, start, name, run_id),
            )
        return self.get(name)

    def stop(self, name: str, *, grace: float | None = None, by: str = "operator") -> Thread:
        """Stop a thread: SIGTERM to its supervisor's group, SIGKILL after the grace period."""
        now = self._c.now()
        with self._c.store.write() as conn:
            t = Thread.from_row(self._require(conn, name))
            if t.status in FINISHED:
                raise NotFound(f"thread {name!r} is already {t.status}: nothing to stop")
            conn.execute(
                "UPDATE threads SET status = 'stopped', error = ?, updated_at = ?, "
                "ended_at = CASE WHEN status IN ('running', 'waiting') THEN NULL ELSE ? END "
                "WHERE name = ?",
                (f"stopped by {by}", now, now, name),
            )
            self._c.log(
                conn,
                "thread.stopped",
                subject=name,
                actor=by,
                data={"run": t.run_id, "was": t.status},
            )
        if t.mode == "interactive":
            from ctui.core import tmux

            tmux.kill(name)
        if t.supervisor_pid is not None and t.host in (None, HOST):
            procs.terminate_group(
                t.supervisor_pid,
                t.supervisor_start,
                self._c.config.stop_grace if grace is None else grace,
            )
        with self._c.store.write() as conn:
            conn.execute(
                "UPDATE threads SET ended_at = COALESCE(ended_at, ?), updated_at = ? "
                "WHERE name = ?",
                (self._c.now(), self._c.now(), name),
            )
            self._end_instance(conn, t.instance_id, "thread stopped")
            return Thread.from_row(self._require(conn, name))

    def _end_instance(self, conn: sqlite3.Connection, instance_id: str | None, reason: str) -> None:
        if not instance_id:
            return
        row = conn.execute("SELECT state FROM instances WHERE id = ?", (instance_id,)).fetchone()
        if row is None or row["state"] in ("ended", "stale"):
            return
        self._c.release_holdings(conn, instance_id, reason=reason)
        now = self._c.now()
        conn.execute(
            "UPDATE instances SET state = 'ended', state_at = ?, ended_at = ? WHERE id = ?",
            (now, now, instance_id),
        )
        self._c.log(conn, "instance.ended", subject=instance_id, data={"reason": reason})

    def set_blocked(self, name: str, blocked: bool, *, reason: str | None = None) -> Thread:
        """Hold a ready thread back (`blocked`) or release it (`ready`)."""
        src, dst = ("ready", "blocked") if blocked else ("blocked", "ready")
        with self._c.store.write() as conn:
            t = Thread.from_row(self._require(conn, name))
            if t.status != src:
                raise Conflict(f"thread {name!r} is {t.status}, not {src}")
            conn.execute(
                "UPDATE threads SET status = ?, error = ?, updated_at = ? WHERE name = ?",
                (dst, reason if blocked else None, self._c.now(), name),
            )
            self._c.log(conn, f"thread.{dst}", subject=name, data={"reason": reason})
            return Thread.from_row(self._require(conn, name))

    def get(self, name: str) -> Thread:
        row = self._require(self._c.store.conn, name)
        if row["status"] in ACTIVE and self._orphaned(Thread.from_row(row)):
            self.reap()
            row = self._require(self._c.store.conn, name)
        return Thread.from_row(row)

    def list(self, status: str | None = None) -> list[Thread]:
        """Threads, oldest first; a running thread whose supervisor died is marked failed."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
        found = [
            Thread.from_row(r)
            for r in self._c.store.conn.execute("SELECT * FROM threads ORDER BY created_at")
        ]
        if any(t.is_active and self._orphaned(t) for t in found):
            self.reap()
            return self.list(status)
        return [t for t in found if status is None or t.status == status]

    def logs(self, name: str, tail: int = 200) -> str:
        """The last `tail` lines of the thread's log (empty before its first run)."""
        t = self.get(name)
        path = Path(t.log_path or self.log_path(name))
        try:
            lines = path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(lines[-tail:] if tail > 0 else lines)

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.1) -> Thread:
        """Block until the thread is no longer running (or the timeout passes)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            t = self.get(name)
            if not t.is_active or (deadline is not None and time.monotonic() >= deadline):
                return t
            time.sleep(poll)

    def _orphaned(self, t: Thread) -> bool:
        if t.host not in (None, HOST):
            return False
        if t.supervisor_pid is None:
            return t.started_at is not None and self._c.now() - t.started_at > LAUNCH_GRACE_S
        return not pid_alive(t.supervisor_pid, t.supervisor_start)

    def reap(self, conn: sqlite3.Connection | None = None) -> builtins.list[str]:
        """Fail running threads whose supervisor is gone; returns their names."""
        if conn is None:
            with self._c.store.write() as wconn:
                return self.reap(wconn)
        failed = []
        now = self._c.now()
        for row in conn.execute(
            "SELECT * FROM threads WHERE status IN ('running', 'waiting')"
        ).fetchall():
            t = Thread.from_row(row)
            if not self._orphaned(t):
                continue
            if t.supervisor_pid is not None and procs.orphaned_agent_group(
                t.supervisor_pid, t.agent_pid
            ):
                procs.terminate_group(t.supervisor_pid, None, 1.0)
            why = (
                f"the supervisor (pid {t.supervisor_pid}) died during the run"
                if t.supervisor_pid
                else "the supervisor never started"
            )
            conn.execute(
                "UPDATE threads SET status = 'failed', error = ?, ended_at = ?, updated_at = ? "
                "WHERE name = ? AND run_id = ?",
                (why, now, now, t.name, t.run_id),
            )
            self._end_instance(conn, t.instance_id, "supervisor died")
            self._c.log(conn, "thread.failed", subject=t.name, data={"run": t.run_id, "error": why})
            failed.append(t.name)
        return failed

    def _row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM threads WHERE name = ?", (name,)
        ).fetchone()
        return row

    def _require(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = self._row(conn, name)
        if row is None:
            raise NotFound(f"no thread {name!r}: see `ctui thread list`")
        return row
