"""`spawn` and `thread start` watch the launch: a run that cannot start is an error here and now."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli
from tests.core.test_cli import one_line_error

MISSING = {"CTUI_CLAUDE_BIN": "/nonexistent/claude"}


def test_spawn_with_a_missing_binary_fails_on_stderr(cli: Cli, repo: Path) -> None:
    err = one_line_error(cli("spawn", "fix", "-p", "hi", "--no-worktree", env=MISSING), 1)
    assert "fix: the launch failed" in err and "not found" in err and "CTUI_CLAUDE_BIN" in err
    row = cli.json("thread", "status", "fix")
    assert row["status"] == "failed" and row["agent_pid"] is None  # type: ignore[index]


def test_a_missing_command_and_json_output(cli: Cli) -> None:
    proc = cli(
        "spawn",
        "x",
        "--agent",
        "command",
        "--command",
        "no-such-tool-9 {prompt}",
        "-p",
        "hi",
        "--no-worktree",
        "--json",
    )
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert "no-such-tool-9" in proc.stderr and doc["exit_code"] == 1
    assert doc["thread"]["status"] == "failed" and "no-such-tool-9" in doc["thread"]["error"]


def test_interactive_without_tmux_fails_on_stderr(cli: Cli, tmp_path: Path) -> None:
    bare = tmp_path / "bare-bin"
    bare.mkdir()
    (bare / "git").symlink_to("/usr/bin/git")  # git, but no tmux, on PATH
    env = {"PATH": str(bare)}
    proc = cli(
        "spawn",
        "tty",
        "--agent",
        "command",
        "--command",
        "/bin/echo {prompt}",
        "-p",
        "hi",
        "--no-worktree",
        "-m",
        "interactive",
        env=env,
    )
    err = one_line_error(proc, 1)
    assert "tmux" in err and "not on PATH" in err


def test_thread_start_reports_the_failed_launch_too(cli: Cli) -> None:
    made = cli("thread", "create", "later", "-p", "hi", "--no-worktree")
    assert made.returncode == 0, made.stderr
    err = one_line_error(cli("thread", "start", "later", env=MISSING), 1)
    assert "later: the launch failed" in err


def test_a_launched_agent_is_success_even_if_it_fails_later(cli: Cli) -> None:
    ok = cli("spawn", "fine", "-p", "hi", "--no-worktree")
    assert ok.returncode == 0 and ok.stdout.strip() == "fine" and ok.stderr == "", ok.stderr
    late = cli("spawn", "late", "-p", "FAKE_FAIL", "--no-worktree")
    assert late.returncode == 0, late.stderr  # the agent ran: its failure is in the row and --wait
    waited = cli("spawn", "waited", "-p", "FAKE_FAIL", "--no-worktree", "--wait")
    assert waited.returncode == 1 and "failed" in waited.stdout
