"""Helpers for the core tests: a clock the test moves, table dumps, a clocked coordinator."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator


class FakeClock:
    """Epoch seconds that only move when the test says so."""

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
        out = {}
        for name in names:
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = sorted(rows, key=repr)
        out["user_version"] = [(conn.execute("PRAGMA user_version").fetchone()[0],)]
        return out
    finally:
        conn.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked(repo: Path, clock: FakeClock) -> Iterator[Coordinator]:
    """A coordinator on the `repo` fixture whose time is the fake `clock`."""
    c = Coordinator.open(repo, clock=clock)
    yield c
    c.close()
