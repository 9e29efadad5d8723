"""Threads across hosts: a stop from another host reaches the supervisor on the thread's home
host, and a run whose home host stopped answering is failed by the host's heartbeat, never
by looking its supervisor's pid up here.

Two "hosts" are two `CTUI_HOST_ID` values on this machine sharing one store; the supervisor
is the real one (`python -m ctui.run`) running the fake agent.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.instances import pid_alive
from ctui.core.threads.procs import group_members
from tests.conftest import Cli
from tests.support import FakeClock
from tests.threads.conftest import wait_for

A = {"CTUI_HOST_ID": "host-a"}
B = {"CTUI_HOST_ID": "host-b"}


def _running(c: Coordinator, name: str) -> tuple[int, int]:
    t = wait_for(
        lambda: (x := c.threads.get(name)).agent_pid and x, what=f"{name}'s agent to start"
    )
    return t.supervisor_pid, t.agent_pid  # type: ignore[attr-defined]


def test_a_stop_from_another_host_reaches_the_supervisor(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "home", "--prompt", "FAKE_HANG", env=A).returncode == 0
    sup, agent = _running(coord, "home")
    t = coord.threads.get("home")
    assert t.host_id == "host-a"
    coord.leases.acquire("src/app.py", instance="home.r1")
    proc = cli("thread", "stop", "home", env=B)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("stop requested; thread home runs on host host-a")
    assert "its supervisor stops it" in proc.stdout
    assert coord.threads.get("home").stop_requested_at is not None
    wait_for(lambda: not group_members(sup), what="host A's supervisor to end its run")
    assert not pid_alive(agent)
    assert "stopping the agent: stop asked by operator" in coord.threads.logs("home")
    t = coord.threads.get("home")
    assert t.status == "stopped" and t.exit_code == 143 and t.ended_at
    assert coord.instances.get("home.r1").state == "ended"
    assert coord.leases.check("src/app.py") is None
    assert cli("thread", "stop", "home", env=B).returncode == 4


def test_a_local_stop_says_stopped(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "near", "--no-worktree", "--prompt", "FAKE_HANG", env=A).returncode == 0
    sup, _ = _running(coord, "near")
    proc = cli("thread", "stop", "near", "--grace", "5", env=A)
    assert proc.returncode == 0 and proc.stdout.strip() == "near  stopped"
    assert not group_members(sup)  # signalled and waited for, as before hosts


def test_a_run_on_a_lapsed_host_is_failed_by_its_heartbeat_not_a_pid(
    repo: Path, cli: Cli, coord: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("spawn", "far", "--no-worktree", "--prompt", "FAKE_HANG", env=B).returncode == 0
    sup, agent = _running(coord, "far")
    coord.leases.acquire("src/app.py", instance="far.r1")
    os.killpg(sup, signal.SIGKILL)  # host B goes down with everything on it
    wait_for(lambda: not pid_alive(sup) and not pid_alive(agent), what="host B's run to die")
    monkeypatch.setenv("CTUI_HOST_ID", "host-a")
    clock = FakeClock(time.time())
    a = Coordinator.open(repo, clock=clock)
    try:
        assert a.cleanup()["threads_failed"] == []  # its pid is gone here, but it is host B's
        assert a.threads.get("far").status == "running"
        assert a.leases.check("src/app.py") is not None
        clock.advance(a.config.host_lapse + 1)
        assert a.threads.get("far").status == "failed"  # a reader notices it too
        t = a.threads.get("far")
        assert t.error is not None and "host host-b" in t.error
        assert "stopped answering" in t.error
        [run] = _runs(a, "far")
        assert run["status"] == "failed" and run["host_id"] == "host-b"
        assert a.instances.get("far.r1").state == "ended"
        assert a.leases.check("src/app.py") is None
    finally:
        a.close()


def _runs(c: Coordinator, name: str) -> list[dict[str, object]]:
    from ctui.core.threads import runs

    return runs.listed(c, name)


def test_a_supervisor_whose_run_was_failed_elsewhere_ends_its_agent(
    repo: Path, cli: Cli, coord: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Host A judged host B dead (a partition, say) and freed its work: B's supervisor,
    still alive, must not let its agent go on alone."""
    assert cli("spawn", "cut", "--no-worktree", "--prompt", "FAKE_HANG", env=B).returncode == 0
    sup, agent = _running(coord, "cut")
    monkeypatch.setenv("CTUI_HOST_ID", "host-a")
    clock = FakeClock(time.time() + 3600)  # host A's clock is far ahead: B looks silent
    a = Coordinator.open(repo, clock=clock)
    try:
        assert a.cleanup()["threads_failed"] == ["cut"]
    finally:
        a.close()
    wait_for(lambda: not group_members(sup), what="host B's supervisor to end its agent")
    assert not pid_alive(agent)
    log = coord.threads.logs("cut")
    assert "stopping the agent: the thread is failed (host host-b" in log
    t = coord.threads.get("cut")
    assert t.status == "failed" and t.exit_code == 143
