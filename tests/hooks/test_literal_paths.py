"""A tool call names one literal file: glob characters are characters, never a pattern.

Each refused input (a folder, a FIFO, a pattern) leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from ctui.core.leases.verify import file_sha1
from tests.conftest import CTUI
from tests.hooks.support import SESSION_A, SESSION_B, Hook, rows, snapshot

SLUG = Path("app") / "[slug]" / "page.tsx"


@pytest.fixture
def started(hook: Hook, repo: Path) -> Hook:
    for name in (SLUG, Path("app/a/page.tsx"), Path("app/s/page.tsx")):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"// {name}\n")
    hook.start(SESSION_A)
    hook.start(SESSION_B)
    return hook


def _db(repo: Path) -> Path:
    return repo / ".ctui" / "ctui.db"


def test_brackets_are_characters_and_the_sha1_is_kept(started: Hook, repo: Path) -> None:
    assert started("PreToolUse-Write", file=repo / SLUG).allowed
    # Files the glob reading would have matched are other files: no conflict.
    assert started("PreToolUse-Write", session=SESSION_B, file=repo / "app/s/page.tsx").allowed
    assert started("PreToolUse-Write", session=SESSION_B, file=repo / "app/a/page.tsx").allowed
    sha1 = hashlib.sha1((repo / SLUG).read_bytes()).hexdigest()
    assert rows(
        _db(repo),
        "SELECT path, is_glob, sha1, holder FROM leases WHERE holder = ?",
        "claude-4f2c9a1e",
    ) == [("app/[[]slug]/page.tsx", 0, sha1, "claude-4f2c9a1e")]

    (repo / SLUG).write_text("// edited\n")
    assert started("PostToolUse-Write", file=repo / SLUG).allowed
    new = hashlib.sha1(b"// edited\n").hexdigest()
    assert rows(_db(repo), "SELECT sha1 FROM leases WHERE path = 'app/[[]slug]/page.tsx'") == [
        (new,)
    ]
    # The same file, named relative to the session's folder, is the same key.
    other = started("PreToolUse-Edit", session=SESSION_B, file=SLUG.as_posix())
    assert other.denied and "app/[[]slug]/page.tsx is leased by claude-4f2c9a1e" in other.reason


def test_deny_reason_gives_a_command_that_works(started: Hook, repo: Path) -> None:
    assert started("PreToolUse-Write", file=repo / SLUG).allowed
    denied = started("PreToolUse-Write", session=SESSION_B, file=repo / SLUG)
    assert denied.denied, denied
    reason = denied.reason
    assert reason.startswith("ctui refused this edit on purpose")
    assert "claude-4f2c9a1e" in reason and "since" in reason and "expires in" in reason
    assert "acquire_lock" in reason and "You are claude-9b8e7d6c" in reason
    command = re.search(r"`([^`]*lock acquire[^`]*)`", reason)
    assert command is not None, reason
    argv = shlex.split(command.group(1))
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK), argv
    assert argv[-4:] == ["--as", "claude-9b8e7d6c", "--wait", "90"], argv
    assert argv[-5] == f"{repo}/app/[[]slug]/page.tsx"

    # Run it as the agent would, from another folder, with a short wait: still held (10).
    short = [*argv[:-1], "1"]
    assert subprocess.run(short, cwd=repo / "app", capture_output=True).returncode == 10
    assert started("SessionEnd", session=SESSION_A).allowed
    done = subprocess.run(short, cwd=repo / "app", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert rows(_db(repo), "SELECT holder, is_glob FROM leases") == [("claude-9b8e7d6c", 0)]
    assert started("PreToolUse-Write", session=SESSION_B, file=repo / SLUG).allowed


def test_an_explicit_glob_still_covers_the_literal_file(started: Hook, repo: Path) -> None:
    taken = subprocess.run(
        [CTUI, "lock", "acquire", "app/*/page.tsx"], cwd=repo, capture_output=True, text=True
    )
    assert taken.returncode == 0, taken.stderr
    denied = started("PreToolUse-Write", file=repo / SLUG)
    assert denied.denied and "through app/*/page.tsx" in denied.reason, denied


@pytest.mark.parametrize("target", ["src", "src/", ".", "**", "src/*.py", "new?/x.py"])
def test_folders_and_patterns_are_refused_unchanged(started: Hook, repo: Path, target: str) -> None:
    before = snapshot(_db(repo))
    answer = started("PreToolUse-Write", file=f"{repo}/{target}")
    assert answer.denied, answer
    assert answer.reason.startswith("ctui refused this edit on purpose")
    assert any(w in answer.reason for w in ("folder", "`*` or `?`", "repository root"))
    assert snapshot(_db(repo)) == before
    assert started("PostToolUse-Write", file=f"{repo}/{target}").allowed
    assert snapshot(_db(repo)) == before


def test_existing_file_with_a_question_mark_is_one_literal_file(started: Hook, repo: Path) -> None:
    (repo / "what?.md").write_text("?\n")
    (repo / "whatX.md").write_text("X\n")
    assert started("PreToolUse-Write", file=repo / "what?.md").allowed
    assert started("PreToolUse-Write", session=SESSION_B, file=repo / "whatX.md").allowed
    assert set(rows(_db(repo), "SELECT path, is_glob FROM leases")) == {
        ("what[?].md", 0),
        ("whatX.md", 0),
    }


def test_fifo_is_refused_without_being_opened(started: Hook, repo: Path) -> None:
    fifo = repo / "pipe"
    os.mkfifo(fifo)
    before = snapshot(_db(repo))
    answer = started("PreToolUse-Write", file=fifo)  # a blocking open would hang past 30 s
    assert answer.denied and "a FIFO" in answer.reason, answer
    assert snapshot(_db(repo)) == before
    assert started("PostToolUse-Write", file=fifo).allowed
    assert snapshot(_db(repo)) == before


def test_file_sha1_reads_regular_files_only(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert file_sha1(fifo) is None
    assert file_sha1(Path("/dev/zero")) is None
    assert file_sha1(tmp_path) is None
    assert file_sha1(tmp_path / "missing") == "absent"
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate((16 << 20) + 1)  # sparse: costs nothing on disk
    assert file_sha1(big) is None
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    assert file_sha1(small) == hashlib.sha1(b"abc").hexdigest()


def test_huge_file_is_leased_without_a_sha1(started: Hook, repo: Path) -> None:
    with open(repo / "huge.bin", "wb") as fh:
        fh.truncate(1 << 30)
    assert started("PreToolUse-Write", file=repo / "huge.bin").allowed
    assert rows(_db(repo), "SELECT sha1 FROM leases WHERE path = 'huge.bin'") == [(None,)]
