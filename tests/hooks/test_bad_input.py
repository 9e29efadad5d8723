"""Errors never block the agent: exit 1, one line on stderr, the store unchanged, never exit 2.

Except the lease check: a PreToolUse whose store exists but cannot answer (locked past the
hook's busy timeout, corrupt) denies with a "retry in a moment" reason instead of failing open.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git
from tests.hooks.support import SESSION_A, Answer, Hook, fixture, run_without_eof, snapshot


def _assert_failed_open(answer: Answer, *words: str) -> None:
    assert answer.code == 1, answer
    assert answer.out == "", answer
    lines = answer.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctui hook: "), answer
    for word in words:
        assert word in lines[0], answer


@pytest.fixture
def started(hook: Hook, repo: Path) -> Hook:
    """A session that holds a lease, so 'unchanged' has something to compare."""
    hook.start()
    hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    return hook


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ("no hook payload",)),
        (b"this is not json", ("not JSON",)),
        (b"\xff\xfe\x00garbage", ("not JSON",)),
        (b"[1, 2, 3]", ("not a JSON object",)),
        (
            b'{"session_id": "x", "cwd": "/", "hook_event_name": "PreCompact"}',
            ("unknown hook event",),
        ),
        (b'{"cwd": "/", "hook_event_name": "Stop"}', ("no session_id",)),
        (b'{"session_id": "s", "cwd": "relative/dir", "hook_event_name": "Stop"}', ("cwd",)),
        (b'{"session_id": "s", "cwd": "/no/such/folder", "hook_event_name": "Stop"}', ("cwd",)),
    ],
)
def test_garbage_stdin(started: Hook, repo: Path, data: bytes, words: tuple[str, ...]) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    _assert_failed_open(Answer(started.raw(data)), *words)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "change",
    [
        {"tool_name": None},
        {"tool_input": "not an object"},
        {"tool_input": {"old_string": "a"}},
        {"agent_id": 42},
    ],
)
def test_malformed_tool_payloads(started: Hook, repo: Path, change: dict[str, object]) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    payload = fixture(
        "PreToolUse-Edit", SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "README.md")
    )
    payload.update(change)
    _assert_failed_open(Answer(started.raw(json.dumps(payload))))
    assert snapshot(db) == before


def test_event_argument_must_match_the_payload(started: Hook, repo: Path) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    payload = fixture("Stop", SESSION=SESSION_A, CWD=str(repo))
    proc = subprocess.run(
        ["sh", "-c", started.command + " PreToolUse"],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=30,
    )
    _assert_failed_open(Answer(proc), "PreToolUse")
    assert snapshot(db) == before


def test_missing_store_is_not_created(hook: Hook, tmp_path: Path) -> None:
    bare = tmp_path / "plain"
    bare.mkdir()
    git(bare, "init", "-q", "-b", "main")
    for name in ("SessionStart", "SessionEnd"):
        answer = hook(name, cwd=bare, file=bare / "x.py")
        _assert_failed_open(answer, "no ctui store", "ctui init")
    # A repository that never opted in: its edits pass in silence (the lease check's
    # blocking failure policy must not turn "no store here" into a blocked edit).
    assert hook("PreToolUse-Edit", cwd=bare, file=bare / "x.py").allowed
    assert not (bare / ".ctui").exists()


def test_corrupt_store(started: Hook, repo: Path) -> None:
    db = repo / ".ctui" / "ctui.db"
    for extra in ("-wal", "-shm"):
        Path(str(db) + extra).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database at all" * 100)
    before = db.read_bytes()
    answer = started("PreToolUse-Edit", session="another-session-0001", file=repo / "README.md")
    assert answer.denied, answer
    assert "on purpose" in answer.reason and "not a usable ctui store" in answer.reason
    assert "Retry this edit in a moment" in answer.reason
    _assert_failed_open(
        started("SessionStart", session="another-session-0001"), "not a usable ctui store"
    )
    assert db.read_bytes() == before


def _lock(db: Path) -> subprocess.Popen[str]:
    """Another process that holds the store's write lock until killed."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys,time;c=sqlite3.connect(sys.argv[1],isolation_level=None);"
            "c.execute('BEGIN IMMEDIATE');print('locked',flush=True);time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_locked_store_denies_the_edit(started: Hook, repo: Path) -> None:
    """A writer holding the lock past the hook's busy timeout: deny, retry soon, nothing written."""
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    holder = _lock(db)
    try:
        answer = started("PreToolUse-Edit", session="another-session-0002", file=repo / "README.md")
        assert answer.denied, answer
        assert "on purpose" in answer.reason and "locked" in answer.reason
        assert "Retry this edit in a moment" in answer.reason
        _assert_failed_open(started("SessionStart", session="another-session-0002"), "locked")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert snapshot(db) == before


def test_locked_store_fails_open_when_the_repository_opts_out(started: Hook, repo: Path) -> None:
    (repo / ".ctui" / "config.toml").write_text('[hooks]\non_timeout = "fail-open"\n')
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    holder = _lock(db)
    try:
        answer = started("PreToolUse-Edit", session="another-session-0003", file=repo / "README.md")
        _assert_failed_open(answer, "locked")
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert snapshot(db) == before


def test_bad_on_timeout_setting_is_refused(started: Hook, repo: Path) -> None:
    (repo / ".ctui" / "config.toml").write_text('[hooks]\non_timeout = "maybe"\n')
    answer = started("SessionStart", session="another-session-0004")
    _assert_failed_open(answer, "on_timeout")


def test_stdin_left_open_does_not_hang(started: Hook, repo: Path) -> None:
    """A writer that sends the payload but never closes the pipe: answered well within the bound."""
    payload = fixture(
        "PreToolUse-Edit", SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "README.md")
    )
    assert run_without_eof(started.command, repo, json.dumps(payload).encode()).allowed


def test_silent_open_stdin_gives_up(started: Hook, repo: Path) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    _assert_failed_open(run_without_eof(started.command, repo), "no hook payload")
    assert snapshot(db) == before


def test_oversized_payload_is_refused(started: Hook, repo: Path) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    payload = fixture(
        "PreToolUse-Write", SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "big.txt")
    )
    payload["tool_input"]["content"] = "x" * (33 * 1024 * 1024)
    _assert_failed_open(Answer(started.raw(json.dumps(payload), timeout=60)), "larger than")
    assert snapshot(db) == before


def test_never_exits_2(started: Hook, repo: Path) -> None:
    """Exit 2 would block Claude with our error as the reason; no input may produce it."""
    inputs = [
        b"",
        b"{",
        b"null",
        b'{"hook_event_name": 2}',
        json.dumps(
            {
                "session_id": "s" * 5000,
                "cwd": str(repo),
                "hook_event_name": "PreToolUse",
                "tool_name": "Edit",
                "tool_input": {"file_path": ""},
            }
        ).encode(),
    ]
    for data in inputs:
        assert Answer(started.raw(data)).code in (0, 1)


def test_quick_exit_keeps_committed_writes(started: Hook, repo: Path) -> None:
    """The hook exits without closing SQLite: what it committed is still there for a new reader."""
    db = repo / ".ctui" / "ctui.db"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT holder FROM leases").fetchall() == [("claude-4f2c9a1e",)]
    finally:
        conn.close()


def test_payload_arriving_in_pieces_is_read_whole(started: Hook, repo: Path) -> None:
    """A pause after a nested `}` is not mistaken for the end of the payload."""
    payload = fixture(
        "PreToolUse-Edit",
        SESSION="piecewise-session-0001",
        CWD=str(repo),
        FILE=str(repo / "src" / "app.py"),
    )
    text = json.dumps({"tool_input": payload.pop("tool_input"), **payload})
    cut = text.index("}") + 1
    answer = run_without_eof(started.command, repo, text[:cut].encode(), text[cut:].encode())
    assert answer.denied, answer


def _unreadable_lease(db: Path) -> None:
    """A lease row whose time is text: the lease check crashes on it (a TypeError), not a
    store error; a store the hook cannot parse, written by hand or by a buggy tool."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("UPDATE leases SET acquired_at = 'garbage'")
        conn.commit()
    finally:
        conn.close()


def test_crash_in_the_lease_check_denies_with_retry(started: Hook, repo: Path) -> None:
    """An unexpected exception (not a timeout) in the lease check never lets the edit through."""
    db = repo / ".ctui" / "ctui.db"
    _unreadable_lease(db)
    before = snapshot(db)
    app = repo / "src" / "app.py"
    answer = started("PreToolUse-Edit", session="another-session-0005", file=app)
    assert answer.denied, answer
    assert "on purpose" in answer.reason and "lease check failed (TypeError" in answer.reason
    assert "Retry this edit in a moment" in answer.reason
    assert "\n" not in answer.reason and "Traceback" not in answer.reason + answer.err
    assert snapshot(db) == before


def test_crash_in_the_lease_check_fails_open_when_the_repository_opts_out(
    started: Hook, repo: Path
) -> None:
    (repo / ".ctui" / "config.toml").write_text('[hooks]\non_timeout = "fail-open"\n')
    db = repo / ".ctui" / "ctui.db"
    _unreadable_lease(db)
    before = snapshot(db)
    app = repo / "src" / "app.py"
    answer = started("PreToolUse-Edit", session="another-session-0006", file=app)
    _assert_failed_open(answer, "internal error (TypeError")
    assert snapshot(db) == before
