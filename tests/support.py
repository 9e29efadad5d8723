"""Helpers shared by the test folders: a fake clock and a whole-store dump."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

PG_URL_ENV = "CTUI_TEST_PG_URL"
"""The PostgreSQL server the `backend` fixture's postgres cases use (CI exports it)."""


class FakeClock:
    """Epoch seconds that only move when the test says so: leases expire without sleeping."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def dump(where: Path | Any) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: compare two dumps to prove nothing changed.

    `where` is a SQLite file, or an open store (a PostgreSQL one is read from its schema).
    """
    if getattr(where, "backend", None) == "postgresql":
        return pg_dump(where.url, where.schema)
    db_path = where.db_path if hasattr(where, "db_path") else where
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        out = {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
        out["user_version"] = [(conn.execute("PRAGMA user_version").fetchone()[0],)]
        return out
    finally:
        conn.close()


def pg_dump(url: str, schema: str) -> dict[str, list[tuple[object, ...]]]:
    """`dump` of a PostgreSQL schema: every row of every table, sorted."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                "ORDER BY table_name",
                (schema,),
            )
        ]
        return {
            n: sorted(conn.execute(f'SELECT * FROM {schema}."{n}"').fetchall(), key=repr)
            for n in names
        }


def pg_schema_name() -> str:
    """A schema of its own for one test (dropped by `drop_pg_schema`)."""
    return f"ctui_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"


def drop_pg_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def pg_url_or_skip() -> str:
    """`CTUI_TEST_PG_URL`, or skip (fail when `CTUI_PG_REQUIRED=1`: CI must not skip them)."""
    import pytest

    url = os.environ.get(PG_URL_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CTUI_PG_REQUIRED") == "1":
        pytest.fail(
            f"CTUI_PG_REQUIRED=1 but {PG_URL_ENV} is not set: export the URL of a test "
            "PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:55432/ctui)"
        )
    pytest.skip(f"PostgreSQL cases need {PG_URL_ENV} (a test server's URL)")
