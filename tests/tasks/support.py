"""Helpers shared by the task and MCP tests: a settable clock and a store fingerprint."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def fingerprint(db: Path) -> tuple[object, ...]:
    """Everything a task, plan or discovery command may change, read from the file itself."""
    conn = sqlite3.connect(db)
    try:
        return tuple(
            conn.execute(sql).fetchall()
            for sql in (
                "SELECT * FROM tasks ORDER BY id",
                "SELECT * FROM task_deps ORDER BY task_id, depends_on",
                "SELECT * FROM discoveries ORDER BY id",
                "SELECT * FROM meta ORDER BY key",
                "SELECT * FROM counters ORDER BY name",
                "SELECT id, kind, subject FROM events ORDER BY id",
            )
        )
    finally:
        conn.close()
