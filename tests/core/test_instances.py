"""Instances: registration, heartbeats, states, liveness and reaping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import NotFound, StaleInstance, UsageError
from ctui.core.instances import HOST
from tests.conftest import git
from tests.support import FakeClock


def test_register_records_who_where_and_which_branch(clocked: Coordinator, repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feature/auth")
    inst = clocked.instances.register(
        role="Backend Architect",
        task="auth API",
        session_id="s-1",
        pid=os.getpid(),
        cwd=str(repo / "src"),
    )
    assert inst.id == "backend-architect-0001"
    assert (inst.role, inst.task, inst.session_id, inst.pid, inst.host) == (
        "Backend Architect",
        "auth API",
        "s-1",
        os.getpid(),
        HOST,
    )
    assert inst.branch == "feature/auth"
    assert inst.worktree == str(repo)
    assert inst.state == "idle" and inst.is_live
    assert clocked.instances.find_session("s-1").id == inst.id
    kinds = [e.kind for e in clocked.events.since(0)]
    assert kinds == ["instance.registered"]


def test_generated_ids_never_take_a_chosen_one(coord: Coordinator) -> None:
    coord.instances.register(instance_id="agent-0002")
    first = coord.instances.register()
    second = coord.instances.register()
    assert {first.id, second.id} == {"agent-0001", "agent-0003"}
    assert coord.instances.get("agent-0002").id == "agent-0002"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"instance_id": "operator"}, "reserved"),
        ({"instance_id": "bad id!"}, "bad instance id"),
        ({"ttl": 0}, "TTL"),
        ({"ttl": -3}, "TTL"),
        ({"state": "ended"}, "bad state"),
        ({"pid": -1}, "bad pid"),
    ],
)
def test_bad_registrations_are_refused(coord: Coordinator, kw: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        coord.instances.register(**kw)


def test_heartbeat_sets_state_and_renews_leases(clocked: Coordinator, clock: FakeClock) -> None:
    me = clocked.instances.register(role="a", ttl=60)
    lease = clocked.leases.acquire("src/app.py", instance=me.id, ttl=30)
    clock.advance(20)
    beat = clocked.instances.heartbeat(me.id, state="working")
    assert beat.state == "working" and beat.heartbeat_at == clock.now
    assert clocked.leases.check("src/app.py").expires_at == clock.now + 30 > lease.expires_at
    with pytest.raises(UsageError):
        clocked.instances.heartbeat(me.id, state="asleep")
    assert [e.kind for e in clocked.events.since(0)][-1] == "instance.state"


def test_unknown_and_ended_instances(coord: Coordinator) -> None:
    with pytest.raises(NotFound, match="register it first"):
        coord.instances.heartbeat("ghost")
    me = coord.instances.register(role="a")
    coord.leases.acquire("README.md", instance=me.id)
    freed = coord.instances.unregister(me.id)
    assert freed["leases_released"] == 1
    assert coord.leases.list() == []
    with pytest.raises(StaleInstance) as info:
        coord.instances.heartbeat(me.id)
    assert info.value.exit_code == 13
    assert [i.id for i in coord.instances.list()] == ["operator"]
    assert coord.instances.get(me.id).state == "ended"
    with pytest.raises(UsageError):
        coord.instances.unregister("operator")


def test_stale_by_ttl_is_reaped_with_its_leases(clocked: Coordinator, clock: FakeClock) -> None:
    me = clocked.instances.register(role="a", ttl=60)
    clocked.leases.acquire("src/app.py", instance=me.id, ttl=600)
    clock.advance(61)
    assert [i.id for i in clocked.instances.list()] == ["operator"]
    assert {i.id: i.state for i in clocked.instances.list(include_ended=True)}[me.id] == "stale"
    assert clocked.cleanup()["instances_reaped"] == [me.id]
    assert clocked.leases.list() == []
    kinds = [e.kind for e in clocked.events.since(0)]
    assert kinds[-2:] == ["lease.released", "instance.stale"]
    stale = clocked.events.since(0)[-1]
    assert stale.data["why"] == "heartbeat" and stale.data["leases_released"] == 1


def test_stale_when_the_process_is_gone(coord: Coordinator) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        me = coord.instances.register(role="a", pid=proc.pid)
        assert me.pid_start is not None
        assert [i.id for i in coord.instances.list()] == ["operator", me.id]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert coord.instances.reap() == [me.id]
    assert coord.events.since(0)[-1].data["why"] == "process gone"


def test_the_operator_never_goes_stale(clocked: Coordinator, clock: FakeClock) -> None:
    clock.advance(10 * 365 * 86400)
    assert clocked.instances.reap() == []
    assert clocked.instances.require_live("operator").id == "operator"


def test_registering_again_revives_an_ended_instance(coord: Coordinator) -> None:
    coord.instances.register(instance_id="w1", role="a")
    coord.instances.unregister("w1")
    again = coord.instances.register(instance_id="w1", role="b")
    assert again.state == "idle" and again.role == "b" and again.ended_at is None


def test_a_dead_pid_is_refused_at_registration(coord: Coordinator) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    with pytest.raises(UsageError, match="no running process"):
        coord.instances.register(role="a", pid=proc.pid)


def test_another_hosts_pid_is_not_checked_here(clocked: Coordinator, clock: FakeClock) -> None:
    far = clocked.instances.register(role="remote", pid=3_999_999, host="elsewhere")
    assert far.host == "elsewhere"
    clock.advance(10)
    assert clocked.instances.reap() == []
