"""The supervisor's bookkeeping: what one run of a thread writes to the store.

Every update names the run (`run_id`), so a late write from an old run never
lands on a newer one, and a run's end never overwrites `stopped`: a thread
the operator stopped stays stopped, with the agent's exit code recorded.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from ctui.core.threads.agents import RunStats

if TYPE_CHECKING:
    from ctui.core.context import Context


def record_agent(
    c: Context, name: str, run_id: int, agent_pid: int, instance_id: str | None
) -> str:
    """Note the agent's pid and instance; returns the thread's status now."""
    with c.store.write() as conn:
        conn.execute(
            "UPDATE threads SET agent_pid = ?, instance_id = ?, updated_at = ? "
            "WHERE name = ? AND run_id = ?",
            (agent_pid, instance_id, c.now(), name, run_id),
        )
        if instance_id:
            from ctui.core.instances import pid_start_time

            conn.execute(
                "UPDATE instances SET pid = ?, pid_start = ? WHERE id = ?",
                (agent_pid, pid_start_time(agent_pid), instance_id),
            )
        row = conn.execute("SELECT status FROM threads WHERE name = ?", (name,)).fetchone()
        return str(row["status"]) if row else "stopped"


def record_supervisor(
    c: Context, name: str, run_id: int, pid: int, start: str | None
) -> str | None:
    """Note the supervisor's pid; returns the thread's status if this run is current, else None."""
    with c.store.write() as conn:
        row = conn.execute("SELECT status, run_id FROM threads WHERE name = ?", (name,)).fetchone()
        if row is None or row["run_id"] != run_id:
            return None
        conn.execute(
            "UPDATE threads SET supervisor_pid = ?, supervisor_start = ? "
            "WHERE name = ? AND run_id = ?",
            (pid, start, name, run_id),
        )
        return str(row["status"])


COUNTERS = (
    "turns",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "tokens_cache_creation",
    "tokens_cache_read",
)
Counters = tuple[int, float, int, int, int, int]


def base_counters(c: Context, name: str) -> Counters:
    """Turns, cost and the four token figures of earlier runs: totals add up across runs."""
    row = c.store.conn.execute(
        f"SELECT {', '.join(COUNTERS)} FROM threads WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        return (0, 0.0, 0, 0, 0, 0)
    return (
        row["turns"],
        row["cost_usd"],
        row["tokens_in"],
        row["tokens_out"],
        row["tokens_cache_creation"],
        row["tokens_cache_read"],
    )


def record_stats(
    c: Context,
    name: str,
    run_id: int,
    stats: RunStats,
    base: Counters,
    usd: float | None = None,
) -> None:
    """The run's figures so far (added to the earlier runs'), and its API error if it had one.

    `usd` is the live cost when it differs from the stats' own (priced from the
    tokens before the result line gives the client's figure).
    """
    cost = stats.cost_usd if usd is None else usd
    now_figures = (
        stats.turns,
        cost,
        stats.tokens_in,
        stats.tokens_out,
        stats.tokens_cache_creation,
        stats.tokens_cache_read,
    )
    totals = tuple(b + n for b, n in zip(base, now_figures, strict=True))
    with c.store.write() as conn:
        conn.execute(
            "UPDATE threads SET session_id = COALESCE(?, session_id), "
            + "".join(f"{col} = ?, " for col in COUNTERS)
            + "api_error_status = ?, updated_at = ? WHERE name = ? AND run_id = ?",
            (stats.session_id, *totals, stats.api_error_status, c.now(), name, run_id),
        )
        conn.execute(
            "UPDATE runs SET session_id = COALESCE(?, session_id), cost_usd = ?, tokens = ? "
            "WHERE thread = ? AND run = ?",
            (stats.session_id, cost, stats.tokens, name, run_id),
        )


def open_run(
    c: Context, conn: sqlite3.Connection, name: str, run_id: int, resumes: str | None
) -> None:
    """Add the `runs` row of a run just claimed (inside the claiming transaction)."""
    from ctui.core import hostid

    conn.execute(
        "INSERT OR REPLACE INTO runs(thread, run, kind, resumes, status, started_at, host_id) "
        "VALUES (?, ?, ?, ?, 'running', ?, ?)",
        (name, run_id, "resume" if resumes else "start", resumes, c.now(), hostid.local()),
    )


def close_run(
    c: Context,
    conn: sqlite3.Connection,
    name: str,
    run_id: int,
    status: str,
    exit_code: int | None = None,
    error: str | None = None,
) -> None:
    """Note how a run ended in its `runs` row (a row already closed keeps its ending)."""
    conn.execute(
        "UPDATE runs SET status = ?, exit_code = COALESCE(?, exit_code), "
        "error = COALESCE(?, error), ended_at = ? "
        "WHERE thread = ? AND run = ? AND status = 'running'",
        (status, exit_code, error, c.now(), name, run_id),
    )


def resumes(c: Context, name: str, run_id: int) -> str | None:
    """The session a run continues (None: a fresh session)."""
    row = c.store.conn.execute(
        "SELECT resumes FROM runs WHERE thread = ? AND run = ?", (name, run_id)
    ).fetchone()
    return row["resumes"] if row else None


def listed(c: Context, name: str) -> list[dict[str, Any]]:
    """A thread's runs, first to last (what `ctui thread status` shows)."""
    from ctui.core.clock import iso

    rows = c.store.conn.execute(
        "SELECT * FROM runs WHERE thread = ? ORDER BY run", (name,)
    ).fetchall()
    return [
        {
            "run": r["run"],
            "kind": r["kind"],
            "resumes": r["resumes"],
            "status": r["status"],
            "exit_code": r["exit_code"],
            "error": r["error"],
            "session_id": r["session_id"],
            "cost_usd": round(r["cost_usd"], 6),
            "tokens": r["tokens"],
            "started_at": iso(r["started_at"]),
            "ended_at": iso(r["ended_at"]),
            "host_id": r["host_id"],
        }
        for r in rows
    ]


def end_early(c: Context, name: str, run_id: int, status: str, error: str, data: Any) -> bool:
    """Mark a live run ended by ctui itself (`budget_exceeded`) before its agent is signalled.

    Like `ctui thread stop`, the status is written first, so the run's own
    ending keeps it; returns False when the run was no longer live.
    """
    now = c.now()
    with c.store.write() as conn:
        cur = conn.execute(
            "UPDATE threads SET status = ?, error = ?, updated_at = ? "
            "WHERE name = ? AND run_id = ? AND status IN ('running', 'waiting')",
            (status, error, now, name, run_id),
        )
        if not cur.rowcount:
            return False
        close_run(c, conn, name, run_id, status, None, error)
        c.log(conn, f"thread.{status}", subject=name, data={"run": run_id, **data})
        return True


def stop_reason(c: Context, name: str, run_id: int) -> str | None:
    """Why this run's agent should stop now, or None while it may go on.

    The supervisor polls this once a second: a stop asked on another host
    (`ctui thread stop`) cannot signal its pid, and a run that someone else
    ended (its host judged dead, its work already freed) must not go on alone.
    """
    row = c.store.conn.execute(
        "SELECT run_id, status, error, stop_requested_at, stop_requested_by "
        "FROM threads WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return "the thread was removed"
    if row["run_id"] != run_id:
        return f"a newer run ({row['run_id']}) took the thread"
    if row["stop_requested_at"] is not None:
        return f"stop asked by {row['stop_requested_by'] or 'someone'}"
    if row["status"] not in ("running", "waiting"):
        return f"the thread is {row['status']}" + (f" ({row['error']})" if row["error"] else "")
    return None


def set_active(c: Context, name: str, run_id: int, status: str) -> None:
    """Switch a live run between `running` and `waiting` (the agent needs input)."""
    with c.store.write() as conn:
        cur = conn.execute(
            "UPDATE threads SET status = ?, updated_at = ? WHERE name = ? AND run_id = ? "
            "AND status IN ('running', 'waiting') AND status != ?",
            (status, c.now(), name, run_id, status),
        )
        if cur.rowcount:
            c.log(conn, f"thread.{status}", subject=name, data={"run": run_id})


def finish(
    c: Context,
    name: str,
    run_id: int,
    status: str,
    exit_code: int | None,
    error: str | None,
    resume_at: float | None = None,
) -> None:
    """Record the end of a run (status kept as `stopped` if the operator stopped it).

    `paused` (a usage limit) carries `resume_at`, when the orchestrator resumes it.
    """
    now = c.now()
    with c.store.write() as conn:
        row = conn.execute("SELECT status, run_id FROM threads WHERE name = ?", (name,)).fetchone()
        if row is None or row["run_id"] != run_id:
            return
        stopped = row["status"] not in ("running", "waiting")
        conn.execute(
            "UPDATE threads SET status = ?, exit_code = ?, error = COALESCE(?, error), "
            "resume_at = ?, ended_at = ?, updated_at = ? WHERE name = ? AND run_id = ?",
            (
                row["status"] if stopped else status,
                exit_code,
                None if stopped else error,
                None if stopped else resume_at,
                now,
                now,
                name,
                run_id,
            ),
        )
        close_run(c, conn, name, run_id, row["status"] if stopped else status, exit_code, error)
        if not stopped:
            data: dict[str, Any] = {"run": run_id, "exit_code": exit_code, "error": error}
            if resume_at is not None:
                from ctui.core.clock import iso

                data["resume_at"] = iso(resume_at)
            c.log(conn, f"thread.{status}", subject=name, data=data)
