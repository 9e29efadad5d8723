"""The orchestrators and limits: holds, resumes at the reset (on a fake clock), run caps,
`ctui run` continuing an unfinished goal, and port blocks taken by racing processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctui.api.orchestrator import Orchestrator as Loop
from ctui.core import Coordinator
from ctui.core.flows.orchestrate import Orchestrator
from ctui.core.tasks.plan_parse import parse
from tests.conftest import Cli
from tests.support import FakeClock
from tests.threads.conftest import wait_for


def _settled(c: Coordinator, name: str) -> object:
    return wait_for(
        lambda: (t := c.threads.get(name)).status not in ("running", "waiting") and t,
        timeout=30,
        what=f"{name} to end",
    )


def test_serve_holds_the_agent_kind_and_resumes_at_the_reset(
    repo: Path, clocked: Coordinator, clock: FakeClock
) -> None:
    reset = int(clock.now) + 120
    clocked.threads.create("limited", prompt=f"FAKE_LIMIT={reset}", worktree=False, start=True)
    t = _settled(clocked, "limited")
    assert t.status == "paused" and t.resume_at == reset  # type: ignore[attr-defined]
    clocked.threads.create("waiting", prompt="FAKE_WRITE=w.txt:w", worktree=False)
    clocked.threads.create("other", agent="command", command="true", worktree=False)
    clock.advance(10)  # past READY_GRACE_S
    loop = Loop(repo / ".ctui", max_concurrent=4)
    first = loop.tick(clocked)
    assert first["threads_resumed"] == [] and first["threads_started"] == ["other"]
    assert clocked.threads.get("waiting").status == "ready"  # claude is held until the reset
    assert clocked.threads.get("limited").status == "paused"
    clock.advance(120)
    second = loop.tick(clocked)
    assert second["threads_resumed"] == ["limited"] and second["threads_started"] == ["waiting"]
    done = _settled(clocked, "limited")
    assert done.status == "completed" and done.run_id == 2  # type: ignore[attr-defined]
    assert done.session_id == t.session_id  # type: ignore[attr-defined]
    assert _settled(clocked, "waiting").status == "completed"  # type: ignore[attr-defined]


def test_serve_starts_nothing_past_the_day_cap(
    repo: Path, clocked: Coordinator, clock: FakeClock
) -> None:
    clocked.threads.create("spent", prompt="FAKE_SPEND=2:10000", worktree=False, start=True)
    assert _settled(clocked, "spent").status == "completed"  # type: ignore[attr-defined]
    (repo / ".ctui" / "config.toml").write_text("[budget]\nday_tokens = 15000\n")
    c = Coordinator.open(repo, clock=clock)
    try:
        c.threads.create("later", prompt="x", worktree=False)
        clock.advance(10)
        assert Loop(repo / ".ctui", max_concurrent=4).tick(c)["threads_started"] == []
        assert c.threads.get("later").status == "ready"
        clock.advance(86400)  # a new UTC day: the cap is fresh
        assert Loop(repo / ".ctui", max_concurrent=4).tick(c)["threads_started"] == ["later"]
        assert _settled(c, "later").status == "completed"  # type: ignore[attr-defined]
    finally:
        c.close()


def test_ctui_run_resumes_a_paused_worker_at_the_reset(repo: Path) -> None:
    """The clock starts at the real time: the supervisors (on the real clock) reap instances
    whose heartbeat looks older than the TTL, and the workers beat on the fake clock."""
    clock = FakeClock(time.time())
    clocked = Coordinator.open(repo, clock=clock)
    reset = int(clock.now) + 200
    tasks = parse({"tasks": [{"id": "a", "description": f"limited FAKE_LIMIT={reset}"}]})
    lines: list[str] = []
    orch = Orchestrator(clocked, workers=1, poll=0.05, report=lines.append)
    out: list[object] = []
    runner = threading.Thread(target=lambda: out.append(orch.run("goal", tasks)), daemon=True)
    runner.start()
    watcher = Coordinator.open(repo)
    try:
        wait_for(
            lambda: any(t.status == "paused" for t in watcher.threads.list()), what="the pause"
        )
        time.sleep(0.5)  # the orchestrator keeps waiting on its fake clock
        assert runner.is_alive() and not any("resumed" in line for line in lines)
        clock.advance(201)
        runner.join(60)
    finally:
        watcher.close()
    assert not runner.is_alive() and out[0].ok  # type: ignore[attr-defined]
    assert any("resumed" in line for line in lines)
    name = out[0].tasks[0]["threads"][0]  # type: ignore[attr-defined]
    assert clocked.threads.get(name).run_id == 2
    clocked.close()


def test_ctui_run_stops_at_its_cap_and_a_second_run_resumes_the_goal(
    repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path
) -> None:
    plan = tmp_path / "tasks.json"
    plan.write_text(
        json.dumps(
            {
                "tasks": [
                    {"id": "a", "description": "one FAKE_SPEND=2:10000", "priority": 1},
                    {"id": "b", "description": "two FAKE_WRITE=b.txt:b", "priority": 2},
                    {"id": "c", "description": "three FAKE_WRITE=c.txt:c", "depends_on": ["b"]},
                ]
            }
        )
    )
    args = ("run", "Ship it", "-w", "1", "--no-plan", "--tasks", str(plan), "--json")
    proc = cli(*args, "--budget-tokens", "15000", timeout=120)
    assert proc.returncode == 1, proc.stderr
    first = json.loads(proc.stdout)
    assert "`ctui run` budget" in first["over_budget"] and not first["resumed"]
    by_id = {t["id"]: t for t in first["tasks"]}
    crossed = coord.threads.get(by_id["task-0001"]["threads"][-1])
    assert crossed.status == "budget_exceeded" and "15,000 tokens" in (crossed.error or "")
    assert [by_id[f"task-000{i}"]["status"] for i in (1, 2, 3)] == [
        "available",  # its attempt failed; it waits for a later run
        "available",
        "pending",  # left open, not cancelled
    ]
    proc = cli(*args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    second = json.loads(proc.stdout)
    assert second["resumed"] and "resuming task-0001, task-0002, task-0003" in proc.stderr
    assert {t["id"] for t in second["tasks"]} == {"task-0001", "task-0002", "task-0003"}
    assert all(t["status"] == "done" for t in second["tasks"])
    assert len(coord.tasks.list()) == 3  # nothing planned or queued twice
    proc = cli(*args, timeout=120)
    assert not json.loads(proc.stdout)["resumed"], (
        proc.stdout,
        proc.stderr,
    )  # all done: a fresh run queues anew


RACER = """
import sys, time
from pathlib import Path
from ctui.core import Coordinator
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
c = Coordinator.open(sys.argv[1])
c.threads.start(sys.argv[3])
print(c.threads.get(sys.argv[3]).port_base)
"""


def test_racing_starts_get_distinct_port_blocks(
    repo: Path, coord: Coordinator, tmp_path: Path
) -> None:
    (repo / ".ctui" / "config.toml").write_text("[thread]\nport_start = 30000\nport_block = 3\n")
    for round_no in range(3):
        names = [f"r{round_no}-{i}" for i in range(6)]
        for name in names:
            coord.threads.create(name, agent="command", command="sleep 60", worktree=False)
        go = tmp_path / f"go{round_no}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(repo), str(go), name],
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in names
        ]
        time.sleep(0.3)
        go.touch()
        ports = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert sorted(ports) == [30000 + 3 * i for i in range(6)], ports
        for name in names:
            coord.threads.stop(name, grace=1.0)
    coord.threads.create("after", agent="command", command="sleep 60", worktree=False, start=True)
    assert coord.threads.get("after").port_base == 30000  # blocks of ended threads are free again
    coord.threads.stop("after", grace=1.0)


def test_a_leader_at_its_usage_limit_plans_after_the_reset(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answer = tmp_path / "plan.md"
    answer.write_text('```json\n{"tasks": [{"id": "x", "description": "FAKE_WRITE=x.txt:x"}]}\n```')
    monkeypatch.setenv("FAKE_AGENT", f"FAKE_PLAN={answer}")
    clock = FakeClock(time.time())
    c = Coordinator.open(repo, clock=clock)
    lines: list[str] = []
    orch = Orchestrator(c, workers=1, poll=0.05, report=lines.append)
    got: list[object] = []
    reset = int(clock.now) + 100
    runner = threading.Thread(
        target=lambda: got.append(orch.plan(f"the goal FAKE_LIMIT={reset}")), daemon=True
    )
    runner.start()
    try:
        wait_for(lambda: any("usage limit" in line for line in lines), what="the leader's pause")
        time.sleep(0.3)
        assert runner.is_alive() and not got  # waiting on the fake clock
        clock.advance(101)
        runner.join(60)
        assert [p.description for p in got[0]] == ["FAKE_WRITE=x.txt:x"]  # type: ignore[attr-defined]
        assert c.threads.get(f"{orch.run_id}-leader").run_id == 2
    finally:
        c.close()
