"""Stopping runs and reaping runs whose supervisor died: no process may be left behind."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.instances import pid_alive
from ctui.core.threads.procs import group_members
from tests.conftest import Cli
from tests.threads.conftest import wait_for


def _running(c: Coordinator, name: str) -> tuple[int, int]:
    t = wait_for(
        lambda: (x := c.threads.get(name)).agent_pid and x, what=f"{name}'s agent to start"
    )
    return t.supervisor_pid, t.agent_pid  # type: ignore[attr-defined]


def test_stop_a_hung_run_leaves_no_process(repo: Path, cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "hang", "--prompt", "FAKE_HANG").returncode == 0
    sup, agent = _running(coord, "hang")
    lease = coord.leases.acquire("src/app.py", instance="hang.r1")
    proc = cli("thread", "stop", "hang", "--grace", "5", "--json")
    assert proc.returncode == 0, proc.stderr
    t = json.loads(proc.stdout)
    assert t["status"] == "stopped" and t["ended_at"]
    assert not pid_alive(sup) and not pid_alive(agent) and not group_members(sup)
    wait_for(
        lambda: coord.threads.get("hang").exit_code == 143, what="the exit code to be recorded"
    )
    assert coord.leases.check("src/app.py") is None, f"{lease.path} still leased"
    assert cli("thread", "stop", "hang").returncode == 4


def test_stop_kills_an_agent_that_ignores_sigterm(cli: Cli, coord: Coordinator) -> None:
    stubborn = (
        f'{sys.executable} -c "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
        "print('ready', flush=True); time.sleep(120)\""
    )
    assert (
        cli(
            "spawn", "stubborn", "--no-worktree", "--agent", "command", "--command", stubborn
        ).returncode
        == 0
    )
    sup, agent = _running(coord, "stubborn")
    wait_for(lambda: "ready" in coord.threads.logs("stubborn"), what="the agent to ignore SIGTERM")
    assert cli("thread", "stop", "stubborn", "--grace", "0.5").returncode == 0
    assert not pid_alive(agent) and not group_members(sup)
    assert coord.threads.get("stubborn").status == "stopped"


def test_supervisor_killed_is_failed_by_cleanup(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "orphan", "--prompt", "FAKE_HANG").returncode == 0
    sup, agent = _running(coord, "orphan")
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not pid_alive(sup), what="the supervisor to die")
    result = cli.json("cleanup")
    assert result["threads_failed"] == ["orphan"]  # type: ignore[index]
    t = coord.threads.get("orphan")
    assert t.status == "failed" and "supervisor" in (t.error or "") and t.ended_at
    wait_for(lambda: not pid_alive(agent), what="the orphaned agent to be killed")
    inst = coord.instances.get("orphan.r1")
    assert inst.state == "ended"


def test_thread_list_notices_a_dead_supervisor(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "gone", "--no-worktree", "--prompt", "FAKE_HANG").returncode == 0
    sup, agent = _running(coord, "gone")
    os.killpg(sup, signal.SIGKILL)
    wait_for(lambda: not pid_alive(sup) and not pid_alive(agent), what="the run to die")
    rows = cli.json("thread", "list")
    assert [(r["name"], r["status"]) for r in rows] == [("gone", "failed")]  # type: ignore[union-attr]


def test_stop_an_interactive_thread_closes_its_tmux_session(cli: Cli, coord: Coordinator) -> None:
    from ctui.core.threads import tmux

    command = f'{sys.executable} -c "import time; time.sleep(120)"'
    args = ["--mode", "interactive", "--agent", "command", "--command", command, "--no-worktree"]
    assert cli("spawn", "tty-hang", *args).returncode == 0
    sup, pane = _running(coord, "tty-hang")
    assert tmux.alive("tty-hang")
    assert cli("thread", "stop", "tty-hang", "--grace", "2").returncode == 0
    assert not tmux.alive("tty-hang")
    wait_for(lambda: not pid_alive(pane), what="the tmux pane's process to end")
    assert not group_members(sup) and coord.threads.get("tty-hang").status == "stopped"


def test_status_inside_a_read_shows_a_dead_run_failed_without_writing(
    cli: Cli, coord: Coordinator
) -> None:
    assert cli("spawn", "quiet", "--no-worktree", "--prompt", "FAKE_HANG").returncode == 0
    sup, agent = _running(coord, "quiet")
    os.killpg(sup, signal.SIGKILL)
    wait_for(lambda: not pid_alive(sup) and not pid_alive(agent), what="the run to die")
    snap = coord.snapshot()
    assert [(t["name"], t["status"]) for t in snap["threads"]] == [("quiet", "failed")]
    row = coord.store.conn.execute("SELECT status FROM threads WHERE name = 'quiet'").fetchone()
    assert row["status"] == "running"
    assert coord.threads.get("quiet").status == "failed"
    row = coord.store.conn.execute("SELECT status FROM threads WHERE name = 'quiet'").fetchone()
    assert row["status"] == "failed"
