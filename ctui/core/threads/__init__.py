"""Threads: named agent runs, each in its own git worktree, started by a supervisor.

Life of a thread: `created` (row inserted, worktree being made) → `ready` →
`running` (a supervisor runs the agent; `waiting` while the agent needs input,
`blocked` while it waits on something else) → `completed` | `failed` |
`stopped`. Starting is a compare-and-set inside one write transaction, so
several processes starting the same thread produce exactly one run; a
finished or blocked thread runs only when asked (`again=True`). Stopping and
reaping live in `end`, the record itself in `model`.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from functools import cached_property
from pathlib import Path

from ctui.core import hostid, private
from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.instances import HOST
from ctui.core.threads import agents
from ctui.core.threads import end as thread_end
from ctui.core.threads.model import (
    ACTIVE,
    FINISHED,
    NAME_RE,
    RESUMABLE,
    STATUSES,
    Thread,
    check_name,
)

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context
    from ctui.core.threads.worktrees import Worktrees

CONTINUE = "continue"
"""The prompt that resumes a session when none is given."""

__all__ = ["ACTIVE", "FINISHED", "NAME_RE", "STATUSES", "Thread", "Threads", "check_name"]


class Threads:
    """Create, start, stop, list and reap threads."""

    def __init__(self, coord: Context) -> None:
        self._c = coord

    @cached_property
    def worktrees(self) -> Worktrees:
        from ctui.core.threads.worktrees import Worktrees

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
        start: bool = False,
        budget: dict[str, float] | None = None,
        run_group: str | None = None,
    ) -> Thread:
        """Make a ready thread: validate, render the prompt, create the worktree.

        With `start=True` the thread goes straight to its first run in the same
        transaction that makes it ready, so nothing else (`ctui serve` starting
        ready threads) can start it first.
        """
        check_name(name)
        agents.check_profile(agent, mode, command)
        if context is not None and not isinstance(context, dict):
            raise UsageError('--context must be a JSON object, e.g. \'{"task": "..."}\'')
        context = dict(context or {})
        private.check_target(self.log_path(name))
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
            "budget": json.dumps(budget) if budget else None,
            "run_group": run_group,
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
                t, run_id = self._created(conn, name, start)
        if wts is None:
            return self._launch(name, run_id) if run_id else t
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
            t, run_id = self._created(conn, name, start)
        return self._launch(name, run_id) if run_id else t

    def _created(self, conn: sqlite3.Connection, name: str, start: bool) -> tuple[Thread, int]:
        """Log the new thread; with `start`, claim its first run (launched after the commit)."""
        t = Thread.from_row(self._require(conn, name))
        data = {"mode": t.mode, "agent": t.agent, "template": t.template, "worktree": t.worktree}
        self._c.log(conn, "thread.created", subject=name, data=data)
        return t, self._claim(conn, t, again=False) if start else 0

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
        from ctui.core.threads import templates

        parts = []
        if template:
            _where, text = templates.load(
                template, store_dir=self._c.store.path, cwd=cwd, root=self._c.root
            )
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
        """Claim the next run atomically, then launch its supervisor.

        A ready thread starts; with `again`, so does a finished or blocked one.
        `prompt` replaces the thread's prompt for this run only (the loop's feedback).
        """
        private.check_target(self.log_path(name))
        with self._c.store.write() as conn:
            run_id = self._claim(conn, Thread.from_row(self._require(conn, name)), again=again)
        return self._launch(name, run_id, prompt)

    def _claim(
        self, conn: sqlite3.Connection, t: Thread, *, again: bool, resumes: str | None = None
    ) -> int:
        """Compare-and-set the thread to `running` with the next run id (inside `conn`).

        The run gets a `runs` row (`resumes`: the session it continues) and a
        block of ports no other live thread holds (`CTUI_PORT_BASE`); both are
        chosen inside the caller's write transaction, so racing starts cannot
        share a block.
        """
        name = t.name
        if t.status in ACTIVE:
            raise Conflict(f"thread {name!r} is already {t.status} (run {t.run_id})")
        allowed = ("ready", "blocked", *RESUMABLE) if again else ("ready",)
        if t.status not in allowed:
            hint = (
                f": `ctui thread start {name} --again` runs it anyway"
                if t.status in (*RESUMABLE, "blocked")
                else ""
            )
            raise Conflict(f"thread {name!r} is {t.status}, not ready{hint}")
        if t.worktree and not Path(t.worktree).is_dir():
            raise Conflict(f"the worktree of {name!r} is gone ({t.worktree}): create a new thread")
        now = self._c.now()
        run_id = t.run_id + 1
        cur = conn.execute(
            "UPDATE threads SET status = 'running', run_id = ?, started_at = ?, "
            "ended_at = NULL, exit_code = NULL, error = NULL, api_error_status = NULL, "
            "supervisor_pid = NULL, supervisor_start = NULL, agent_pid = NULL, host = ?, "
            "host_id = ?, stop_requested_at = NULL, stop_requested_by = NULL, "
            "resume_at = NULL, port_base = ?, updated_at = ? WHERE name = ? AND run_id = ?",
            (
                run_id,
                now,
                HOST,
                hostid.local(),
                self._free_ports(conn, name),
                now,
                name,
                t.run_id,
            ),
        )
        if cur.rowcount != 1:
            raise Conflict(f"thread {name!r} changed while starting: try again")
        from ctui.core.threads.runs import open_run

        open_run(self._c, conn, name, run_id, resumes)
        data = {"run": run_id, "agent": t.agent, **({"resumes": resumes} if resumes else {})}
        self._c.log(conn, "thread.started", subject=name, data=data)
        return run_id

    def _free_ports(self, conn: sqlite3.Connection, name: str) -> int:
        """The lowest port block that no other live thread holds (`[thread] port_start/block`)."""
        start, block = self._c.config.port_start, self._c.config.port_block
        used = {
            r["port_base"]
            for r in conn.execute(
                "SELECT port_base FROM threads WHERE status IN ('running', 'waiting') "
                "AND port_base IS NOT NULL AND name != ?",
                (name,),
            )
        }
        base = start
        while any(u < base + block and base < u + block for u in used):
            base += block
        if base + block - 1 > 65535:
            raise Conflict(f"no free port block of {block} from {start}: too many live threads")
        return base

    def resume(
        self, name: str, prompt: str | None = None, *, budget: dict[str, float] | None = None
    ) -> Thread:
        """Continue the thread's agent session as a new run (`claude -p --resume SESSION`).

        For a thread paused on a usage limit, failed (its supervisor died),
        stopped, completed or over budget. `prompt` is the message that
        continues the session (default: "continue"); the merge queue and the
        control room use it to send a follow-up. `budget` replaces the thread's
        own caps first (a thread over its cap needs a higher one to go on).
        """
        with self._c.store.write() as conn:
            t = Thread.from_row(self._require(conn, name))
            if t.status in ACTIVE:
                raise Conflict(f"thread {name!r} is already {t.status} (run {t.run_id})")
            if t.status not in RESUMABLE:
                raise Conflict(
                    f"thread {name!r} is {t.status}: only a paused or ended thread resumes "
                    f"(`ctui thread start {name}` starts a ready one)"
                )
            if t.agent != "claude" or t.mode == "interactive":
                raise UsageError(
                    f"thread {name!r} runs {t.agent} ({t.mode}): only automatic and semi-auto "
                    f"claude threads resume a session; `ctui thread start {name} --again` reruns it"
                )
            if not t.session_id:
                raise Conflict(
                    f"thread {name!r} has no session to resume (its agent never said one): "
                    f"`ctui thread start {name} --again` runs it afresh"
                )
            if budget is not None:
                conn.execute(
                    "UPDATE threads SET budget = ? WHERE name = ?", (json.dumps(budget), name)
                )
            run_id = self._claim(conn, t, again=True, resumes=t.session_id)
        text = prompt if prompt is not None and prompt.strip() else CONTINUE
        return self._launch(name, run_id, text)

    def follow_up(self, name: str, prompt: str) -> Thread:
        """Give the thread `prompt` as its next run: in the same agent session when it has
        one to continue (`resume`), else as a fresh run of the thread (`start(again=True)`).

        The merge queue (a conflict sent back) and `ctui send` both come here."""
        t = self.get(name)
        if (
            t.agent == "claude"
            and t.mode != "interactive"
            and t.session_id
            and t.status in RESUMABLE
        ):
            return self.resume(name, prompt=prompt)
        return self.start(name, again=True, prompt=prompt)

    def _launch(self, name: str, run_id: int, prompt: str | None = None) -> Thread:
        """Start the supervisor of a claimed run and record its pid."""
        from ctui.core.threads import procs

        prompt_file = None
        try:
            if prompt is not None:
                prompt_file = self._c.store.path / "logs" / f"{name}.run{run_id}.prompt"
                private.write_file(private.make_dir(prompt_file.parent) / prompt_file.name, prompt)
            pid, start = procs.launch_supervisor(
                self._c.store.path, self._c.root, name, run_id, self.log_path(name), prompt_file
            )
        except (OSError, UsageError) as exc:
            from ctui.core.threads import runs

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

    def remove(self, name: str, *, force: bool = False) -> dict[str, Any]:
        """Delete a thread that is not running, and its worktree and branch.

        A worktree with uncommitted or unmerged work is kept (and the thread
        with it) unless `force`; the log file stays for the record.
        """
        t = self.get(name)
        if t.is_active:
            raise Conflict(f"thread {name!r} is {t.status}: `ctui thread stop {name}` first")
        gone = None
        if t.worktree and Path(t.worktree).exists():
            result = self.worktrees.cleanup(force=force, only=name)
            if result["kept"]:
                raise Conflict(
                    f"kept thread {name!r}: its worktree has {result['kept'][0]['reason']}"
                )
            gone = t.worktree
        with self._c.store.write() as conn:
            cur = conn.execute(
                "DELETE FROM threads WHERE name = ? AND status NOT IN ('running', 'waiting')",
                (name,),
            )
            if cur.rowcount != 1:
                raise Conflict(f"thread {name!r} started while being removed: stop it first")
            self._c.log(conn, "thread.removed", subject=name, data={"worktree": gone})
        return {"name": name, "removed": True, "worktree_removed": gone}

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
        """One thread; a running one whose supervisor died is marked failed first."""
        return self._noticed([Thread.from_row(self._require(self._c.store.conn, name))])[0]

    def list(self, status: str | None = None) -> list[Thread]:
        """Threads, oldest first; a running thread whose supervisor died is marked failed."""
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
        rows = self._c.store.conn.execute("SELECT * FROM threads ORDER BY created_at")
        found = self._noticed([Thread.from_row(r) for r in rows])
        return [t for t in found if status is None or t.status == status]

    def _noticed(self, found: builtins.list[Thread]) -> builtins.list[Thread]:
        """Reap orphaned runs among `found`; inside a caller's read, only show them failed."""
        orphans = {t.name for t in found if t.is_active and self._orphaned(t)}
        if not orphans:
            return found
        if not self._c.store.conn.in_transaction:
            self.reap()
            conn = self._c.store.conn
            return [Thread.from_row(self._require(conn, t.name)) for t in found]
        for t in found:
            if t.name in orphans:
                t.status, t.error = "failed", "the supervisor died (recorded by `ctui cleanup`)"
        return found

    def logs(self, name: str, tail: int = 200) -> str:
        """The last `tail` lines of the thread's log (empty before its first run)."""
        t = self.get(name)
        return tail_lines(Path(t.log_path or self.log_path(name)), tail)

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.1) -> Thread:
        """Block until the thread is no longer running (or the timeout passes)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            t = self.get(name)
            if not t.is_active or (deadline is not None and time.monotonic() >= deadline):
                return t
            time.sleep(poll)

    def stop(self, name: str, *, grace: float | None = None, by: str = "operator") -> Thread:
        """Stop a thread: SIGTERM to its supervisor's group, SIGKILL after the grace period."""
        return thread_end.stop(self._c, name, grace=grace, by=by)

    def _orphaned(self, t: Thread) -> bool:
        return thread_end.orphaned(self._c, t)

    def reap(self, conn: sqlite3.Connection | None = None) -> builtins.list[str]:
        """Fail running threads whose supervisor is gone; returns their names."""
        if conn is None:
            with self._c.store.write() as wconn:
                return thread_end.reap(self._c, wconn)
        return thread_end.reap(self._c, conn)

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


def tail_bytes(path: Path, count: int, block: int = 65536) -> tuple[bytes, int]:
    """The end of a file holding its last `count` lines (all of it when `count` <= 0),
    read backwards a block at a time, and the file's size; a missing file is empty."""
    try:
        with private.open_read(path) as fh:
            size = fh.seek(0, 2)
            start, data = size, b""
            while start > 0 and (count <= 0 or data.count(b"\n") <= count):
                start = max(0, start - block)
                fh.seek(start)
                data = fh.read(size - start)
    except FileNotFoundError:
        return b"", 0
    return data, size


def tail_lines(path: Path, count: int, block: int = 65536) -> str:
    """The last `count` lines of a file (all when `count` <= 0), reading only its end."""
    data, _ = tail_bytes(path, count, block)
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-count:] if count > 0 else lines)
