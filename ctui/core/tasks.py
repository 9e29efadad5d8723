"""Tasks: a leader/worker queue with priorities, dependencies and claim leases.

(Only the reaper's entry point exists so far; the queue itself is being built.)
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


def requeue_claims(coord: Coordinator, conn: sqlite3.Connection, instance_id: str, *, reason: str) -> int:
    """Put the instance's claimed tasks back to available (inside the caller's transaction)."""
    rows = conn.execute(
        "SELECT id FROM tasks WHERE claimed_by = ? AND status = 'claimed'", (instance_id,)
    ).fetchall()
    for row in rows:
        conn.execute(
            "UPDATE tasks SET status = 'available', claimed_by = NULL, claimed_at = NULL, "
            "claim_expires_at = NULL, updated_at = ? WHERE id = ?",
            (coord.now(), row["id"]),
        )
        coord.log(conn, "task.requeued", subject=row["id"], actor=instance_id, data={"reason": reason})
    return len(rows)


class Tasks:
    """The task queue (being built)."""

    def __init__(self, coord: Coordinator) -> None:
        self._c = coord
