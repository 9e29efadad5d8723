"""A thread's agent goes through the real hook; its needs-input state shows as `waiting`."""

from __future__ import annotations

import json
from pathlib import Path

from ctui.core import Coordinator
from tests.conftest import CTUI, Cli
from tests.threads.conftest import wait_for


def test_the_agents_edits_go_through_ctui_hook(repo: Path, cli: Cli, coord: Coordinator) -> None:
    other = coord.instances.register(role="reviewer", task="reviewing app.py")
    coord.leases.acquire("src/app.py", instance=other.id, intent="review")
    env = {"FAKE_AGENT_HOOKS": "1", "FAKE_AGENT_HOOK_CMD": f"{CTUI} hook"}
    prompt = "FAKE_WRITE=src/app.py:mine FAKE_WRITE=notes.txt:ok"
    proc = cli("spawn", "hooked", "--prompt", prompt, "--wait", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)
    worktree = Path(t["worktree"])
    assert (worktree / "src" / "app.py").read_text() == "print('hello')\n"
    assert (worktree / "notes.txt").read_text() == "ok\n"
    log = cli("thread", "logs", "hooked").stdout
    assert "could not write src/app.py" in log and other.id in log
    lease = coord.leases.check("src/app.py")
    assert lease is not None and lease.holder == other.id
    assert coord.leases.check("notes.txt") is None


def test_needs_input_shows_as_waiting(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "asker", "--no-worktree", "--prompt", "FAKE_HANG").returncode == 0
    t = wait_for(lambda: (x := coord.threads.get("asker")).agent_pid and x, what="the agent")
    coord.instances.set_state(t.instance_id, "needs_input")  # type: ignore[attr-defined]
    wait_for(lambda: coord.threads.get("asker").status == "waiting", what="status waiting")
    assert [x.name for x in coord.threads.list("waiting")] == ["asker"]
    coord.instances.set_state(t.instance_id, "working")  # type: ignore[attr-defined]
    wait_for(lambda: coord.threads.get("asker").status == "running", what="status running again")
    assert coord.threads.stop("asker", grace=2).status == "stopped"


def test_the_supervisor_keeps_a_hookless_run_alive(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text("[instances]\nttl = 2\n")
    args = ["--agent", "command", "--command", "sleep 5", "--no-worktree"]
    assert cli("spawn", "quiet-agent", *args).returncode == 0
    t = wait_for(lambda: (x := coord.threads.get("quiet-agent")).agent_pid and x, what="the agent")
    lease = coord.leases.acquire("src/app.py", instance=t.instance_id)  # type: ignore[attr-defined]
    before = coord.instances.get(t.instance_id).heartbeat_at  # type: ignore[attr-defined]
    wait_for(lambda: coord.instances.get(t.instance_id).heartbeat_at > before, what="a heartbeat")  # type: ignore[attr-defined]
    coord.cleanup()
    assert coord.leases.check("src/app.py") is not None, (
        f"{lease.path} was freed while the run lived"
    )
    coord.threads.stop("quiet-agent", grace=1)
