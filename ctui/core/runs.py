"""The supervisor's bookkeeping: what one run of a thread writes to the store.

Every update names the run (`run_id`), so a late write from an old run never
lands on a newer one, and a run's end never overwrites `stopped`: a thread
the operator stopped stays stopped, with the agent's exit code recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctui.core.agents import RunStats

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


def record_agent(
    c: Coordinator, name: str, run_id: int, agent_pid: int, instance_id: str | None
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
    c: Coordinator, name: str, run_id: int, pid: int, start: str | None
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


def base_counters(c: Coordinator, name: str) -> Counters:
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


def record_stats(c: Coordinator, name: str, run_id: int, stats: RunStats, base: Counters) -> None:
    """The run's figures so far (added to the earlier runs'), and its API error if it had one."""
    now_figures = (
        stats.turns,
        stats.cost_usd,
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


def set_active(c: Coordinator, name: str, run_id: int, status: str) -> None:
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
    c: Coordinator, name: str, run_id: int, status: str, exit_code: int | None, error: str | None
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
