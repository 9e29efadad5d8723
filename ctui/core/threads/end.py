"""The end of a run: stopping a thread, and failing one whose supervisor died.

Stop marks the thread `stopped` first (so the supervisor's own ending cannot
turn it into `completed`) and records the request on the row
(`stop_requested_at`). On the thread's home host (where its supervisor runs)
it then signals the supervisor's process group: SIGTERM, and SIGKILL after the
grace period (`[threads] stop_grace`). From another host no pid can be
signalled: the supervisor watches its own row and ends its agent itself.

The reaper, run by `ctui cleanup` and whenever threads are read, fails a
running thread whose supervisor is gone (on this host: its pid; elsewhere:
its home host's heartbeat lapsed) and kills an agent it left behind here.
Either way the run's instance is ended, so its leases and task claims are freed.
"""

from __future__ import annotations

import signal
import sqlite3

from ctui.core import hostid
from ctui.core.errors import NotFound
from ctui.core.hosts import Lapsed
from ctui.core.instances import HOST, pid_alive, quiet_hosts
from ctui.core.threads.model import FINISHED, Thread

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

LAUNCH_GRACE_S = 60.0


def _require(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM threads WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no thread {name!r}: see `ctui thread list`")
    return row


def stop(c: Context, name: str, *, grace: float | None = None, by: str = "operator") -> Thread:
    """Stop a thread: SIGTERM to its supervisor's group, SIGKILL after the grace period."""
    now = c.now()
    with c.store.write() as conn:
        t = Thread.from_row(_require(conn, name))
        if t.status in FINISHED:
            raise NotFound(f"thread {name!r} is already {t.status}: nothing to stop")
        running = t.status in ("running", "waiting")
        away = running and not is_home(t)
        conn.execute(
            "UPDATE threads SET status = 'stopped', error = ?, updated_at = ?, "
            "ended_at = CASE WHEN status IN ('running', 'waiting') AND ? = 1 THEN NULL ELSE ? END, "
            "stop_requested_at = CASE WHEN status IN ('running', 'waiting') THEN ? "
            "ELSE stop_requested_at END, "
            "stop_requested_by = CASE WHEN status IN ('running', 'waiting') THEN ? "
            "ELSE stop_requested_by END "
            "WHERE name = ?",
            (f"stopped by {by}", now, 0 if away else 1, now, now, by, name),
        )
        data = {"run": t.run_id, "was": t.status}
        if away:
            data["home"] = t.host_id
        c.log(conn, "thread.stopped", subject=name, actor=by, data=data)
        if running:
            from ctui.core.threads.runs import close_run

            close_run(c, conn, name, t.run_id, "stopped", None, f"stopped by {by}")
        if away:
            return Thread.from_row(_require(conn, name))
    from ctui.core.threads import procs

    if t.mode == "interactive":
        from ctui.core.threads import tmux

        tmux.kill(name)
    if t.supervisor_pid is not None and t.host in (None, HOST):
        procs.terminate_group(
            t.supervisor_pid,
            t.supervisor_start,
            c.config.stop_grace if grace is None else grace,
        )
    with c.store.write() as conn:
        conn.execute(
            "UPDATE threads SET ended_at = COALESCE(ended_at, ?), updated_at = ? WHERE name = ?",
            (c.now(), c.now(), name),
        )
        end_instance(c, conn, t.instance_id, "thread stopped")
        return Thread.from_row(_require(conn, name))


def end_instance(
    c: Context, conn: sqlite3.Connection, instance_id: str | None, reason: str
) -> None:
    """End a run's instance inside the caller's transaction, freeing its leases and claims."""
    if not instance_id:
        return
    row = conn.execute("SELECT state FROM instances WHERE id = ?", (instance_id,)).fetchone()
    if row is None or row["state"] in ("ended", "stale"):
        return
    c.release_holdings(conn, instance_id, reason=reason)
    now = c.now()
    conn.execute(
        "UPDATE instances SET state = 'ended', state_at = ?, ended_at = ? WHERE id = ?",
        (now, now, instance_id),
    )
    c.log(conn, "instance.ended", subject=instance_id, data={"reason": reason})


def is_home(t: Thread) -> bool:
    """Whether this host is the thread's home, where its supervisor's pid means something.

    A row from before hosts had ids names only a hostname: that (or none) counts.
    """
    return hostid.is_local(t.host_id, t.host)


def orphaned(c: Context, t: Thread, quiet: Lapsed | None = None) -> bool:
    """Whether a running thread's supervisor is gone, or never came.

    On its home host, by the supervisor's pid; elsewhere, by the home host's
    heartbeat (`quiet`: the lapsed hosts, read now when not given).
    """
    return orphan_why(c, t, quiet) is not None


def orphan_why(c: Context, t: Thread, quiet: Lapsed | None = None) -> str | None:
    """Why a running thread's supervisor counts as gone, or None while it may run."""
    if not is_home(t):
        if t.host_id is None:
            return None
        quiet = quiet_hosts(c) if quiet is None else quiet
        return quiet.why(t.host_id) if t.host_id in quiet.hosts else None
    if t.supervisor_pid is None:
        if t.started_at is not None and c.now() - t.started_at > LAUNCH_GRACE_S:
            return "the supervisor never started"
        return None
    if pid_alive(t.supervisor_pid, t.supervisor_start):
        return None
    return f"the supervisor (pid {t.supervisor_pid}) died during the run"


def reap(c: Context, conn: sqlite3.Connection) -> list[str]:
    """Fail running threads whose supervisor is gone; returns their names."""
    from ctui.core.threads import procs

    failed = []
    now = c.now()
    quiet = quiet_hosts(c, conn)
    for row in conn.execute(
        "SELECT * FROM threads WHERE status IN ('running', 'waiting')"
    ).fetchall():
        t = Thread.from_row(row)
        why = orphan_why(c, t, quiet)
        if why is None:
            continue
        if (
            is_home(t)
            and t.supervisor_pid is not None
            and procs.orphaned_agent_group(t.supervisor_pid, t.agent_pid)
        ):
            procs.signal_group(t.supervisor_pid, signal.SIGKILL)
        conn.execute(
            "UPDATE threads SET status = 'failed', error = ?, ended_at = ?, updated_at = ? "
            "WHERE name = ? AND run_id = ?",
            (why, now, now, t.name, t.run_id),
        )
        from ctui.core.threads.runs import close_run

        close_run(c, conn, t.name, t.run_id, "failed", None, why)
        end_instance(
            c, conn, t.instance_id, "supervisor died" if is_home(t) else "host stopped answering"
        )
        c.log(conn, "thread.failed", subject=t.name, data={"run": t.run_id, "error": why})
        failed.append(t.name)
    return failed
