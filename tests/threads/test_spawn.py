"""Spawning threads with the fake agent: completion, failure, crash, profiles, tmux."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.instances import pid_alive
from tests.conftest import Cli, git
from tests.threads.conftest import wait_for


def test_spawn_runs_to_completion_in_its_worktree(repo: Path, cli: Cli) -> None:
    proc = cli("spawn", "t1", "--prompt", "add a file FAKE_WRITE=x.txt:hello", "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)
    assert t["status"] == "completed" and t["exit_code"] == 0
    assert t["turns"] == 2 and t["cost_usd"] == 0.025 and t["tokens"] == 320
    assert t["session_id"] and t["branch"] == "ctui/t1" and t["base"] == "main"
    worktree = Path(t["worktree"])
    assert worktree == repo / ".ctui" / "worktrees" / "t1"
    assert (worktree / "x.txt").read_text() == "hello\n"
    assert not (repo / "x.txt").exists()
    assert "ctui/t1" in git(repo, "branch", "--list", "ctui/t1")
    log = cli("thread", "logs", "t1").stdout
    assert (
        "── success: 2 turns, $0.0250" in log and "→ Write" in log and "run 1 ended: exit 0" in log
    )
    assert '"type": "result"' in cli("thread", "logs", "t1", "--raw").stdout
    inst = cli.json("instance", "list", "--all")
    run_inst = next(i for i in inst if i["id"] == t["instance_id"])  # type: ignore[union-attr]
    assert (
        run_inst["state"] == "ended" and run_inst["thread_id"] == "t1" and run_inst["role"] == "t1"
    )


def test_failure_and_crash_give_the_agents_exit_status(cli: Cli) -> None:
    proc = cli("spawn", "bad", "--no-worktree", "--prompt", "FAKE_FAIL", "--wait", "--json")
    assert proc.returncode == 1
    t = json.loads(proc.stdout)
    assert t["status"] == "failed" and t["exit_code"] == 1
    proc = cli("spawn", "crash", "--no-worktree", "--prompt", "FAKE_CRASH", "--wait", "--json")
    assert proc.returncode == 3
    t = json.loads(proc.stdout)
    assert t["status"] == "failed"
    assert t["error"] == "the agent exited with 3: fatal: the fake agent crashed"


def test_missing_agent_binary_fails_the_thread_clearly(cli: Cli, tmp_path: Path) -> None:
    env = {"CTUI_CLAUDE_BIN": str(tmp_path / "no-such-claude")}
    proc = cli("spawn", "nobin", "--no-worktree", "--prompt", "hi", "--wait", "--json", env=env)
    assert proc.returncode == 1 and "the launch failed" in proc.stderr
    t = json.loads(proc.stdout)["thread"]  # a failed launch is an error document with the thread
    assert t["status"] == "failed" and "not found" in t["error"] and "CTUI_CLAUDE_BIN" in t["error"]


def test_command_profile_fills_the_prompt_and_sets_the_environment(repo: Path, cli: Cli) -> None:
    script = (
        "import os, sys; open('out.json', 'w').write(__import__('json').dumps("
        "{'argv': sys.argv[1:], 'env': {k: os.environ.get(k) for k in "
        "('CTUI_DIR', 'CTUI_THREAD_ID', 'CTUI_INSTANCE_ID')}}))"
    )
    command = f'{sys.executable} -c "{script}" --task {{prompt}}'
    proc = cli(
        "spawn",
        "cmd",
        "--agent",
        "command",
        "--command",
        command,
        "--prompt",
        "do; it $HOME",
        "--wait",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads((repo / ".ctui" / "worktrees" / "cmd" / "out.json").read_text())
    assert out["argv"] == ["--task", "do; it $HOME"]
    assert out["env"] == {
        "CTUI_DIR": str(repo / ".ctui"),
        "CTUI_THREAD_ID": "cmd",
        "CTUI_INSTANCE_ID": "cmd.r1",
    }


def test_start_runs_a_ready_thread_once_and_again_only_when_asked(repo: Path, cli: Cli) -> None:
    assert cli("thread", "create", "t2", "--no-worktree", "--prompt", "hi").returncode == 0
    assert cli.json("thread", "status", "t2")["status"] == "ready"  # type: ignore[index]
    assert cli("thread", "start", "t2", "--wait").returncode == 0
    again = cli("thread", "start", "t2")
    assert again.returncode == 12 and "--again" in again.stderr
    events = [e.kind for e in Coordinator.open(repo).events.recent(50) if e.subject == "t2"]
    assert events.count("thread.started") == 1
    proc = cli("thread", "start", "t2", "--again", "--wait", "--json")
    t = json.loads(proc.stdout)
    assert t["run_id"] == 2 and t["cost_usd"] == 0.025 and t["turns"] == 2


def test_interactive_thread_runs_in_tmux(repo: Path, cli: Cli) -> None:
    command = "sh -c 'echo hello-from-tmux; sleep 0.3'"
    proc = cli(
        "spawn",
        "tty",
        "--mode",
        "interactive",
        "--agent",
        "command",
        "--command",
        command,
        "--no-worktree",
        "--wait",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "hello-from-tmux" in cli("thread", "logs", "tty").stdout
    assert cli("attach", "tty").returncode == 4


def test_python_api_create_start_wait(coord: Coordinator) -> None:
    t = coord.threads.create("api", prompt="FAKE_SLEEP=0.2", worktree=False)
    assert t.status == "ready" and t.worktree is None
    t = coord.threads.start("api")
    assert t.status == "running" and t.supervisor_pid
    t = coord.threads.wait("api", timeout=30)
    assert t.status == "completed"
    data = t.to_dict()
    for key in (
        "name",
        "status",
        "mode",
        "agent",
        "worktree",
        "branch",
        "runtime",
        "cost_usd",
        "tokens",
        "turns",
        "exit_code",
        "error",
    ):
        assert key in data
    assert data["started_at"].endswith("Z")
    wait_for(
        lambda: not pid_alive(t.supervisor_pid or 0) and not pid_alive(t.agent_pid or 0),
        what="the supervisor and agent to exit",
    )
    assert [x.name for x in coord.threads.list("completed")] == ["api"]
    assert "result" in coord.threads.logs("api", tail=2)
    assert os.path.exists(t.log_path or "")
