"""Threads report what the client reported: API errors, four token figures, readable logs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def test_an_api_error_is_the_threads_error_everywhere(cli: Cli) -> None:
    proc = cli(
        "spawn", "down", "--no-worktree", "--prompt", "FAKE_API_ERROR=529", "--wait", "--json"
    )
    assert proc.returncode == 1
    t = json.loads(proc.stdout)
    assert t["status"] == "failed" and t["exit_code"] == 1
    assert t["api_error_status"] == 529
    assert t["error"] == "API error 529: API Error: 529 Overloaded"
    status = cli("thread", "status", "down").stdout
    assert "API error 529: API Error: 529 Overloaded" in status and "api_error_status 529" in status
    listed = cli("thread", "list").stdout
    assert "ERROR" in listed.splitlines()[0] and "API error 529" in listed
    log = cli("thread", "logs", "down").stdout
    assert "success" not in log
    assert "── API error 529 (overloaded): retry 1 of 1 in 0.5 s" in log
    assert "── error: API error 529: API Error: 529 Overloaded" in log
    assert not any(line.startswith("{") for line in log.splitlines())


def test_a_new_run_clears_the_last_runs_api_error(cli: Cli) -> None:
    failing = {"FAKE_AGENT": "FAKE_API_ERROR=500"}
    cli("spawn", "flaky", "--no-worktree", "--prompt", "hi", "--wait", env=failing)
    first = cli.json("thread", "status", "flaky")
    assert first["api_error_status"] == 500 and first["status"] == "failed"  # type: ignore[index]
    assert cli("thread", "start", "flaky", "--again", "--wait").returncode == 0
    t = cli.json("thread", "status", "flaky")
    assert t["status"] == "completed" and t["api_error_status"] is None  # type: ignore[index]
    assert t["error"] is None  # type: ignore[index]


def test_claude_threads_get_ctuis_hooks_through_settings(repo: Path, cli: Cli) -> None:
    """A spawned claude thread runs with `--settings FILE` holding ctui's hooks (issue 17)."""
    proc = cli("spawn", "covered", "--prompt", "hi", "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    raw = cli("thread", "logs", "covered", "--raw").stdout
    init = next(json.loads(x) for x in raw.splitlines() if '"subtype": "init"' in x)
    settings = Path(init["settings"])
    assert settings == repo / ".ctui" / "claude-settings.json"
    assert settings.stat().st_mode & 0o077 == 0
    hooks = json.loads(settings.read_text())["hooks"]
    assert {"SessionStart", "PreToolUse", "PostToolUse", "SessionEnd"} <= set(hooks)
    command = hooks["PreToolUse"][0]["hooks"][0]["command"]
    assert "ctui" in command and "hook" in command
    assert init["permissionMode"] in ("bypassPermissions", "acceptEdits")
