"""The SQLite store: creation, pragmas, migrations, and refusing what it must not touch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import StoreError
from ctui.core.store import schema
from ctui.core.store.connection import Store
from tests.support import dump


def test_open_creates_an_ignored_store_in_wal_mode(repo: Path) -> None:
    c = Coordinator.open(repo)
    assert c.store.path == repo / ".ctui"
    assert (repo / ".ctui" / ".gitignore").read_text() == "*\n"
    conn = c.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert c.instances.get("operator").role == "operator"
    c.close()


def test_open_is_idempotent_and_keeps_data(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.decisions.add(category="db", title="Use SQLite", author="operator")
    c.close()
    again = Coordinator.open(repo)
    assert again.decisions.count() == 1
    again.close()


def test_open_without_create_needs_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="ctui init"):
        Store.open(tmp_path / ".ctui", create=False)
    assert not (tmp_path / ".ctui").exists()


def test_migrations_run_forward_from_an_older_version(tmp_path: Path) -> None:
    folder = tmp_path / ".ctui"
    folder.mkdir()
    conn = sqlite3.connect(folder / "ctui.db")
    conn.execute("CREATE TABLE leftover (x)")  # a version-0 file: only user data, no schema
    conn.commit()
    conn.close()
    store = Store.open(folder)
    version = store.conn.execute("PRAGMA user_version").fetchone()[0]
    assert version == schema.VERSION
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"leftover", "instances", "leases", "decisions", "events"} <= tables
    store.close()


def test_a_newer_database_is_refused_and_left_untouched(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.close()
    db = repo / ".ctui" / "ctui.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match="newer than this ctui") as info:
        Coordinator.open(repo)
    assert "\n" not in info.value.message
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    "content", [b"this is not a database" * 200, b"SQLite format 3\x00" + b"\xff" * 600]
)
def test_a_corrupt_file_is_a_store_error(repo: Path, content: bytes) -> None:
    (repo / ".ctui").mkdir()
    (repo / ".ctui" / "ctui.db").write_bytes(content)
    with pytest.raises(StoreError, match="not a usable ctui store") as info:
        Coordinator.open(repo)
    assert "\n" not in info.value.message
    assert (repo / ".ctui" / "ctui.db").read_bytes() == content


def test_write_rolls_back_on_error(coord: Coordinator) -> None:
    before = dump(coord.store.db_path)
    with pytest.raises(RuntimeError), coord.store.write() as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
        raise RuntimeError("boom")
    assert not coord.store.conn.in_transaction
    assert dump(coord.store.db_path) == before


def test_a_locked_store_times_out_with_a_store_error(repo: Path) -> None:
    c = Coordinator.open(repo)
    blocker = sqlite3.connect(repo / ".ctui" / "ctui.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        before = dump(c.store.db_path)
        quick = Coordinator.open(repo, timeout=0.2)
        with pytest.raises(StoreError, match="locked") as info:
            quick.instances.register(role="x")
        assert "\n" not in info.value.message
        assert quick.leases.list() == []  # WAL: readers are not blocked by the writer
        assert dump(c.store.db_path) == before
        quick.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        c.close()


def test_counters_only_grow(coord: Coordinator) -> None:
    with coord.store.write() as conn:
        values = [coord.store.next_counter(conn, "t") for _ in range(5)]
    assert values == [1, 2, 3, 4, 5]
