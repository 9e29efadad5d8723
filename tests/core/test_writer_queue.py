"""The writer queue (`.ctui/write.lock`): a held queue times out with a one-line error.

Processes queue for writes on an advisory `flock` before `BEGIN IMMEDIATE`, so a
writer is handed the store within a fraction of a millisecond of its release.
The races in test_races.py run through it; this checks its own edges: a holder
that never lets go (a stopped process) costs the store's timeout, not a hang,
and the store is unchanged; once it lets go, writes go through.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import StoreError
from ctui.core.store.connection import WRITER_QUEUE, Store
from tests.support import dump


def test_a_held_queue_times_out_and_changes_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / ".ctui", timeout=0.3)
    with store.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'before')")
    before = dump(store.db_path)
    holder = os.open(tmp_path / ".ctui" / WRITER_QUEUE, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        try:
            with store.write() as conn:
                conn.execute("UPDATE meta SET value = 'during' WHERE key = 'probe'")
        except StoreError as exc:
            assert "stayed locked by another process" in exc.message
            assert "\n" not in exc.message
        else:
            raise AssertionError("a write went through while another process held the queue")
        assert dump(store.db_path) == before
    finally:
        os.close(holder)
    with store.write() as conn:
        conn.execute("UPDATE meta SET value = 'after' WHERE key = 'probe'")
    row = store.conn.execute("SELECT value FROM meta WHERE key = 'probe'").fetchone()
    assert row[0] == "after"
    store.close()


def test_a_stopped_holder_process_is_a_timeout_not_a_hang(tmp_path: Path) -> None:
    """A real process takes the queue and is stopped (SIGSTOP); the CLI gives up cleanly."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", repo], check=True)
    Coordinator.open(repo).close()
    lock = repo / ".ctui" / WRITER_QUEUE
    code = (
        "import fcntl, os, signal, sys\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = dump(repo / ".ctui" / "ctui.db")
        ctui = str(Path(sys.executable).parent / "ctui")
        done = subprocess.run(
            [ctui, "instance", "register", "--role", "blocked"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert done.stderr.count("\n") == 1 and "stayed locked" in done.stderr
        assert dump(repo / ".ctui" / "ctui.db") == before
    finally:
        holder.kill()
        holder.wait(10)
    again = subprocess.run(
        [ctui, "instance", "register", "--role", "free"], cwd=repo, capture_output=True, timeout=60
    )
    assert again.returncode == 0, again.stderr


def test_the_queue_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`CTUI_WRITER_QUEUE=off` leaves the waiting to SQLite (what the contention bench compares)."""
    monkeypatch.setenv("CTUI_WRITER_QUEUE", "off")
    store = Store.open(tmp_path / ".ctui", timeout=0.3)
    lock = tmp_path / ".ctui" / WRITER_QUEUE
    holder = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with store.write() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('probe', 'through')")
    finally:
        os.close(holder)
        store.close()
