"""Agents and test gates never inherit ctui's API token, whichever way they are started."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

SECRETS = {"CT_API_TOKEN": "tok-123-secret", "N8N_API_TOKEN": "n8n-456-secret"}
PRINT_ENV = f"{sys.executable} -c 'import os; print(\"ENV\", sorted(os.environ))'"


@pytest.mark.skipif(sys.platform != "linux", reason="tmux sessions as on Linux")
def test_an_interactive_thread_in_tmux_gets_no_token(repo: Path, cli: Cli) -> None:
    """Even when the tmux server was started earlier from a shell holding the token (its
    global environment then has it, and every new session would inherit it)."""
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", "users-own"],
        env={**os.environ, **SECRETS},
        check=True,
        timeout=30,
    )
    shown = subprocess.run(
        ["tmux", "show-environment", "-g", "CT_API_TOKEN"], capture_output=True, text=True
    )
    assert SECRETS["CT_API_TOKEN"] in shown.stdout, "the control: the server holds the token"
    proc = cli(
        "spawn",
        "tty",
        "--mode",
        "interactive",
        "--agent",
        "command",
        "--command",
        PRINT_ENV,
        "--no-worktree",
        "--wait",
        env=SECRETS,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    shown = cli("thread", "logs", "tty").stdout
    assert "CTUI_THREAD_ID" in shown, shown
    assert "CT_API_TOKEN" not in shown and "N8N_API_TOKEN" not in shown
    logs = repo / ".ctui" / "logs"
    for path in (logs / "tty.log", logs / "tty.exit"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_loops_gate_commands_get_no_token(repo: Path, cli: Cli) -> None:
    names = list(SECRETS)
    check = f'{sys.executable} -c "import os,sys; sys.exit(any(k in os.environ for k in {names}))"'
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(
        f'[gate]\ncommands = {json.dumps([check])}\ncompletion_token = "ALL-DONE"\n'
    )
    assert (
        cli("thread", "create", "gated", "--prompt", "FAKE_DONE", "--no-worktree").returncode == 0
    )
    proc = cli(
        "loop",
        "gated",
        "--max-iterations",
        "1",
        "--json",
        env={**SECRETS, "FAKE_AGENT_TOKEN": "ALL-DONE"},
        timeout=120,
    )
    result = json.loads(proc.stdout)
    assert result["gate"][0]["passed"], result
    assert proc.returncode == 0 and result["done"]
