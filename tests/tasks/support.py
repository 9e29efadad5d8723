"""Helpers shared by the task and MCP tests: a settable clock and a store fingerprint."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

QUERIES = (
    "SELECT * FROM tasks ORDER BY id",
    "SELECT * FROM task_deps ORDER BY task_id, depends_on",
    "SELECT * FROM discoveries ORDER BY id",
    "SELECT * FROM meta ORDER BY key",
    "SELECT * FROM counters ORDER BY name",
    "SELECT id, kind, subject FROM events ORDER BY id",
)


def fingerprint(db: Path | Any) -> tuple[object, ...]:
    """Everything a task, plan or discovery command may change, read from the store itself
    (a SQLite file, or an open store: a PostgreSQL one is read from its schema)."""
    if getattr(db, "backend", None) == "postgresql":
        import psycopg

        with psycopg.connect(db.url, autocommit=True) as pg:
            pg.execute(f"SET search_path = {db.schema}")
            return tuple(pg.execute(sql).fetchall() for sql in QUERIES)
    conn = sqlite3.connect(db.db_path if hasattr(db, "db_path") else db)
    try:
        return tuple(conn.execute(sql).fetchall() for sql in QUERIES)
    finally:
        conn.close()
