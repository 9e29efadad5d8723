"""Leases enforced at edit time: two sessions, two worktrees, one store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import git
from tests.hooks.support import SESSION_A, SESSION_B, Hook, rows

EDITS = ("PreToolUse-Edit", "PreToolUse-Write", "PreToolUse-MultiEdit", "PreToolUse-NotebookEdit")


def _worktree(repo: Path) -> Path:
    second = repo.parent / "second"
    git(repo, "worktree", "add", "-q", "-b", "second", str(second))
    return second


def test_second_worktree_denied_until_first_session_ends(hook: Hook, repo: Path) -> None:
    second = _worktree(repo)
    assert hook.start(SESSION_A).code == 0
    assert hook.start(SESSION_B, cwd=second).code == 0
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed

    denied = hook("PreToolUse-Edit", session=SESSION_B, cwd=second, file=second / "src" / "app.py")
    assert denied.denied, denied
    reason = denied.reason
    assert "src/app.py" in reason and "claude-4f2c9a1e" in reason
    assert "since" in reason and "expires in" in reason and "--wait" in reason
    assert "claude-9b8e7d6c" in reason  # who the denied session is, for `--as`
    assert not (second / ".ctui").exists(), "a linked worktree must use the main worktree's store"

    assert hook("SessionEnd", session=SESSION_A).allowed
    again = hook("PreToolUse-Edit", session=SESSION_B, cwd=second, file=second / "src" / "app.py")
    assert again.allowed, again
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT holder FROM leases WHERE path = 'src/app.py'") == [("claude-9b8e7d6c",)]
    assert rows(db, "SELECT state FROM instances WHERE id = 'claude-4f2c9a1e'") == [("ended",)]


def test_two_sessions_in_one_folder_are_two_instances(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_A)
    hook.start(SESSION_B)
    ids = {
        r[0]
        for r in rows(
            repo / ".ctui" / "ctui.db", "SELECT id FROM instances WHERE session_id IS NOT NULL"
        )
    }
    assert ids == {"claude-4f2c9a1e", "claude-9b8e7d6c"}
    assert hook("PreToolUse-Write", file=repo / "README.md").allowed
    assert hook("PreToolUse-Write", session=SESSION_B, file=repo / "README.md").denied


def test_every_edit_tool_takes_the_lease(hook: Hook, repo: Path) -> None:
    for number, name in enumerate(EDITS):
        target = repo / f"file{number}.ipynb"
        assert hook(name, file=target).allowed
        other = hook(name, session=SESSION_B, file=target)
        assert other.denied, (name, other)


def test_unregistered_session_registers_on_first_edit(hook: Hook, repo: Path) -> None:
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed
    found = rows(
        repo / ".ctui" / "ctui.db",
        "SELECT id, session_id, state FROM instances WHERE id != 'operator'",
    )
    assert found == [("claude-4f2c9a1e", SESSION_A, "working")]


def test_paths_outside_the_repository_pass_untouched(
    hook: Hook, repo: Path, tmp_path: Path
) -> None:
    db = repo / ".ctui" / "ctui.db"
    before = rows(db, "SELECT COUNT(*) FROM events")
    answer = hook("PreToolUse-Write", file=tmp_path / "elsewhere.txt")
    assert answer.allowed
    answer = hook("PreToolUse-Edit", file=repo / ".git" / "config")
    assert answer.allowed
    assert rows(db, "SELECT COUNT(*) FROM events") == before
    assert rows(db, "SELECT COUNT(*) FROM leases") == [(0,)]


def test_own_edit_is_recorded_and_never_a_conflict(hook: Hook, repo: Path, cli: object) -> None:
    target = repo / "src" / "app.py"
    assert hook("PreToolUse-Edit", file=target).allowed
    target.write_text("print('hello, world')\n")
    assert hook("PostToolUse-Edit", file=target).allowed
    db = repo / ".ctui" / "ctui.db"
    import hashlib

    assert rows(db, "SELECT sha1 FROM leases WHERE path = 'src/app.py'") == [
        (hashlib.sha1(target.read_bytes()).hexdigest(),)
    ]
    verify = subprocess.run(
        [*_ctui(), "lock", "verify", "src/app.py", "--as", "claude-4f2c9a1e"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr


def test_release_after_edit_policy(hook: Hook, repo: Path) -> None:
    (repo / ".ctui" / "config.toml").write_text('[leases]\nrelease = "release-after-edit"\n')
    target = repo / "src" / "app.py"
    assert hook("PreToolUse-Edit", file=target).allowed
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).denied
    assert hook("PostToolUse-Edit", file=target).allowed
    assert rows(repo / ".ctui" / "ctui.db", "SELECT COUNT(*) FROM leases") == [(0,)]
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).allowed


def test_hold_policy_keeps_the_lease_after_the_edit(hook: Hook, repo: Path) -> None:
    target = repo / "src" / "app.py"
    hook("PreToolUse-Edit", file=target)
    assert hook("PostToolUse-Edit", file=target).allowed
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).denied


def test_edit_without_a_lease_takes_one_afterwards(hook: Hook, repo: Path) -> None:
    """A PostToolUse with no PreToolUse before it (hook installed mid-session) leases the file."""
    target = repo / "README.md"
    assert hook("PostToolUse-Write", file=target).allowed
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).denied


def _ctui() -> list[str]:
    from tests.conftest import CTUI

    return [CTUI]


def test_store_from_ctui_dir_and_from_a_subfolder(hook: Hook, repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "scratch"
    elsewhere.mkdir()
    env = {"CTUI_DIR": str(repo / ".ctui")}
    assert hook("SessionStart", cwd=elsewhere, env=env).code == 0
    assert hook(
        "PreToolUse-Edit", session=SESSION_B, cwd=repo / "src", file=repo / "src" / "app.py"
    ).allowed
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT cwd FROM instances WHERE id = 'claude-4f2c9a1e'") == [(str(elsewhere),)]
    assert rows(db, "SELECT holder FROM leases") == [("claude-9b8e7d6c",)]
    assert not (repo / "src" / ".ctui").exists()


def test_console_script_route_answers_the_same(hook: Hook, repo: Path) -> None:
    """`ctui hook` (through the CLI) is the same hook, for people who wire it by hand."""
    slow = Hook(repo, f"{_ctui()[0]} hook")
    assert slow("PreToolUse-Edit", file=repo / "README.md").allowed
    assert slow("PreToolUse-Edit", session=SESSION_B, file=repo / "README.md").denied
    assert hook("PreToolUse-Edit", session=SESSION_B, file=repo / "README.md").denied
