"""The committed hook settings work on every machine and in every worktree.

The command `ctui hooks install` writes holds no path of this machine; it finds
ctui in the project's `.venv`, the main worktree's `.venv` or on PATH, and is a
silent no-op where there is none. `install` says what to commit; `doctor` lists
which worktrees run the hooks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ctui
from ctui.hooks.settings import document, portable_command
from tests.conftest import BIN, Cli, git
from tests.hooks.support import SESSION_A, Hook, install, installed_command, rows, snapshot

VENV = Path(sys.prefix)  # the venv running these tests, which has ctui
BARE_PATH = "/usr/bin:/bin"  # no ctui here


def _settings_doc(repo: Path) -> dict[str, object]:
    return json.loads((repo / ".claude" / "settings.json").read_text())  # type: ignore[no-any-return]


def test_committed_command_has_no_machine_paths_and_blocks_on_failure(repo: Path) -> None:
    proc = install(repo, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["portable"] is True and result["committed"] is False
    text = (repo / ".claude" / "settings.json").read_text()
    for personal in (str(BIN), str(VENV), str(repo), str(Path(ctui.__file__).parent.parent)):
        assert personal not in text, personal
    hooks = _settings_doc(repo)["hooks"]
    assert isinstance(hooks, dict)
    for event, groups in hooks.items():
        entry = groups[0]["hooks"][0]
        assert entry["command"] == portable_command()
        assert entry.get("onFailure") == ("block" if event == "PreToolUse" else None), event
    assert document() == _settings_doc(repo)


def test_no_ctui_on_this_machine_is_a_silent_no_op(hook: Hook, repo: Path) -> None:
    hook.start()
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    env = {"PATH": BARE_PATH, "CLAUDE_PROJECT_DIR": str(repo)}
    for name in ("SessionStart", "PreToolUse-Edit", "PostToolUse-Edit", "SessionEnd"):
        answer = hook(name, session="teammate-without-ctui-0001", file=repo / "README.md", env=env)
        assert (answer.code, answer.out, answer.err) == (0, "", ""), (name, answer)
    assert snapshot(db) == before


def test_project_venv_is_found_without_path(hook: Hook, repo: Path) -> None:
    (repo / ".venv").symlink_to(VENV)
    env = {"PATH": BARE_PATH, "CLAUDE_PROJECT_DIR": str(repo)}
    assert hook.start(SESSION_A, env=env).code == 0
    assert hook("PreToolUse-Edit", file=repo / "README.md", env=env).allowed
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT holder FROM leases WHERE path = 'README.md'") == [("claude-4f2c9a1e",)]


def test_hand_made_worktree_uses_the_main_worktrees_venv(hook: Hook, repo: Path) -> None:
    """A linked worktree has no `.venv` of its own; the main worktree's serves it."""
    (repo / ".venv").symlink_to(VENV)
    git(repo, "add", ".claude/settings.json")
    git(repo, "commit", "-q", "-m", "ctui hooks")
    second = repo.parent / "by-hand"
    git(repo, "worktree", "add", "-q", "-b", "by-hand", str(second))
    command = installed_command(second / ".claude" / "settings.json")
    env = {"PATH": BARE_PATH, "CLAUDE_PROJECT_DIR": str(second)}
    other = Hook(second, command)
    assert other.start(SESSION_A, cwd=second, env=env).code == 0
    assert other("PreToolUse-Edit", cwd=second, file=second / "README.md", env=env).allowed
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT holder FROM leases WHERE path = 'README.md'") == [("claude-4f2c9a1e",)]


def test_install_says_what_to_commit_and_why(repo: Path) -> None:
    first = install(repo)
    assert first.returncode == 0, first.stderr
    assert "git add .claude/settings.json" in first.stdout
    assert "git worktree add" in first.stdout and "portable" in first.stdout
    git(repo, "add", ".claude/settings.json")
    git(repo, "commit", "-q", "-m", "ctui hooks")
    again = install(repo, "--json")
    result = json.loads(again.stdout)
    assert result["committed"] is True and result["next"] == []
    fast = json.loads(install(repo, "--fast", "--json").stdout)
    assert fast["portable"] is False and "do not commit" in " ".join(fast["next"])


def test_doctor_lists_every_worktree_and_its_coverage(repo: Path) -> None:
    install(repo)
    early = repo.parent / "early"
    git(repo, "worktree", "add", "-q", "-b", "early", str(early))  # before the commit
    git(repo, "add", ".claude/settings.json")
    git(repo, "commit", "-q", "-m", "ctui hooks")
    late = repo.parent / "late"
    git(repo, "worktree", "add", "-q", "-b", "late", str(late))
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    proc = Cli(repo)("hooks", "doctor", "--json", env=env)
    report = json.loads(proc.stdout)
    cover = {Path(w["path"]).name: w for w in report["worktrees"]}
    assert set(cover) == {"repo", "early", "late"}
    assert cover["repo"]["covered"] and cover["late"]["covered"]
    assert cover["late"]["by"] == ["settings.json"] and cover["late"]["branch"] == "late"
    assert not cover["early"]["covered"]
    assert proc.returncode == 1
    assert any("early" in p and "without" in p for p in report["problems"]), report["problems"]
    assert "NOT COVERED" in Cli(repo)("hooks", "doctor", env=env).stdout

    local = install(early, "--scope", "local")
    assert local.returncode == 0, local.stderr
    proc = Cli(repo)("hooks", "doctor", "--json", env=env)
    report = json.loads(proc.stdout)
    cover = {Path(w["path"]).name: w for w in report["worktrees"]}
    assert cover["early"]["by"] == ["settings.local.json"]
    assert proc.returncode == 0, report["problems"]
