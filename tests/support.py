"""Helpers shared by the test folders: a fake clock and a whole-store dump."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class FakeClock:
    """Epoch seconds that only move when the test says so: leases expire without sleeping."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def dump(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: compare two dumps to prove nothing changed."""
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
