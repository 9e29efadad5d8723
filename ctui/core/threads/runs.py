"""The supervisor's bookkeeping: what one run of a thread writes to the store.

Every update names the run (`run_id`), so a late write from an old run never
lands on a newer one, and a run's end never overwrites `stopped`: a thread
the operator stopped stays stopped, with the agent's exit code recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def base_counters(c: Context, name: str) -> tuple[int, float, int, int]:
    """Turns, cost and tokens of earlier runs: a thread's totals add up across runs."""
    row = c.store.conn.execute(
        "SELECT turns, cost_usd, tokens_in, tokens_out FROM threads WHERE name = ?", (name,)
    ).fetchone()
    return (
        (row["turns"], row["cost_usd"], row["tokens_in"], row["tokens_out"])
        if row
        else (0, 0.0, 0, 0)
    )


def record_stats(
    c: Context, name: str, run_id: int, stats: RunStats, base: tuple[int, float, int, int]
) -> None:
    with c.store.write() as conn:
        conn.execute(
            "UPDATE threads SET session_id = COALESCE(?, session_id), turns = ?, cost_usd = ?, "
            "tokens_in = ?, tokens_out = ?, updated_at = ? WHERE name = ? AND run_id = ?",
            (
                stats.session_id,
                base[0] + stats.turns,
                base[1] + stats.cost_usd,
                base[2] + stats.tokens_in,
                base[3] + stats.tokens_out,
                c.now(),
                name,
                run_id,
            ),
        )


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
    c: Context, name: str, run_id: int, status: str, exit_code: int | None, error: str | None
) -> None:
    """Record the end of a run (status kept as `stopped` if the operator stopped it)."""
    now = c.now()
    with c.store.write() as conn:
        row = conn.execute("SELECT status, run_id FROM threads WHERE name = ?", (name,)).fetchone()
        if row is None or row["run_id"] != run_id:
            return
        stopped = row["status"] not in ("running", "waiting")
        conn.execute(
            "UPDATE threads SET status = ?, exit_code = ?, error = COALESCE(?, error), "
            "ended_at = ?, updated_at = ? WHERE name = ? AND run_id = ?",
            (
                row["status"] if stopped else status,
                exit_code,
                None if stopped else error,
                now,
                now,
                name,
                run_id,
            ),
        )
        if not stopped:
            c.log(
                conn,
                f"thread.{status}",
                subject=name,
                data={"run": run_id, "exit_code": exit_code, "error": error},
            )
