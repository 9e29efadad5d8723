"""`ctui run`: planned or given tasks, three workers, dependencies, timeouts and retries."""

from __future__ import annotations

import json
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.instances import pid_alive
from tests.conftest import Cli

CHAIN = {
    "tasks": [
        {"id": "a", "description": "schema FAKE_WRITE=a.txt:A", "priority": 1},
        {"id": "b", "description": "api FAKE_WRITE=b.txt:B", "depends_on": ["a"]},
        {"id": "c", "description": "ui FAKE_WRITE=c.txt:C", "dependencies": ["b"]},
        {"id": "d", "description": "docs FAKE_WRITE=d.txt:D FAKE_SLEEP=0.3"},
        {"id": "e", "description": "tests FAKE_WRITE=e.txt:E FAKE_SLEEP=0.3"},
    ]
}


def test_run_with_three_workers_and_a_dependency_chain(
    repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path
) -> None:
    plan = tmp_path / "tasks.json"
    plan.write_text(json.dumps(CHAIN))
    proc = cli(
        "run",
        "Build the thing",
        "-w",
        "3",
        "--no-plan",
        "--tasks",
        str(plan),
        "--timeout",
        "60",
        "--json",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and len(out["tasks"]) == 5
    assert all(t["status"] == "done" and t["attempts"] == 1 for t in out["tasks"])
    assert out["cost_usd"] > 0
    threads = {t["id"]: coord.threads.get(t["threads"][-1]) for t in out["tasks"]}
    a, b, c = (threads[f"task-000{i}"] for i in (1, 2, 3))
    assert a.ended_at and b.started_at and b.started_at >= a.ended_at
    assert c.started_at and b.ended_at and c.started_at >= b.ended_at
    assert b.base == a.branch and c.base == b.branch
    assert (Path(a.worktree or "") / "a.txt").exists()
    assert "queued task-0001" in proc.stderr and "task-0003 done" in proc.stderr
    workers = [i for i in coord.instances.list(include_ended=True) if "worker" in (i.role or "")]
    assert len(workers) == 3 and all(w.state == "ended" for w in workers)


def test_a_leader_plans_the_tasks(repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(
        "Here is the plan:\n```json\n"
        + json.dumps(
            {
                "tasks": [
                    {"id": "x", "description": "one FAKE_WRITE=x.txt:1"},
                    {"id": "y", "description": "two", "depends_on": ["x"]},
                ]
            }
        )
        + "\n```\n"
    )
    proc = cli("run", "Plan it", "-w", "2", env={"FAKE_AGENT": f"FAKE_PLAN={answer}"}, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "2/2 done" in proc.stdout
    leader = coord.threads.get("run1-leader")
    assert (
        leader.status == "completed"
        and leader.worktree is None
        and "Plan it" in (leader.prompt or "")
    )
    assert [t.description for t in coord.tasks.list()] == ["one FAKE_WRITE=x.txt:1", "two"]


def test_a_bad_plan_is_reported_and_nothing_is_queued(
    repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path
) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(
        json.dumps(
            {
                "tasks": [
                    {"id": "p", "description": "x", "depends_on": ["q"]},
                    {"id": "q", "description": "y", "depends_on": ["p"]},
                ]
            }
        )
    )
    proc = cli("run", "Plan it", env={"FAKE_AGENT": f"FAKE_PLAN={answer}"}, timeout=120)
    assert proc.returncode == 2 and "cycle" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert coord.tasks.list() == []
    bad = tmp_path / "bad.json"
    bad.write_text('{"tasks": [{"id": "a", "description": "ok"}, {"id": "b", "priority": 11}]}')
    proc = cli("run", "g", "--no-plan", "--tasks", str(bad))
    assert proc.returncode == 2 and "needs a description" in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert coord.tasks.list() == []


def test_timeouts_retry_then_fail_and_cancel_dependents(
    repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path
) -> None:
    plan = tmp_path / "tasks.json"
    plan.write_text(
        json.dumps(
            {
                "tasks": [
                    {"id": "slow", "description": "never ends FAKE_HANG"},
                    {"id": "after", "description": "needs slow", "depends_on": ["slow"]},
                    {"id": "fine", "description": "quick"},
                ]
            }
        )
    )
    proc = cli(
        "run",
        "g",
        "-w",
        "2",
        "--no-plan",
        "--tasks",
        str(plan),
        "--timeout",
        "1",
        "--retries",
        "1",
        "--json",
        timeout=120,
    )
    assert proc.returncode == 1
    tasks = {t["id"]: t for t in json.loads(proc.stdout)["tasks"]}
    assert tasks["task-0001"]["status"] == "failed" and tasks["task-0001"]["attempts"] == 2
    assert "timed out" in tasks["task-0001"]["error"]
    assert tasks["task-0002"]["status"] == "cancelled" and tasks["task-0003"]["status"] == "done"
    for name in tasks["task-0001"]["threads"]:
        t = coord.threads.get(name)
        assert t.status == "stopped"
        assert not pid_alive(t.supervisor_pid or 0) and not pid_alive(t.agent_pid or 0)


def test_run_with_merge_lands_every_worker_thread(
    repo: Path, cli: Cli, coord: Coordinator, tmp_path: Path
) -> None:
    """`--merge`: finished threads enter the queue (a dependent one lands on main too)."""
    from tests.conftest import git

    plan = tmp_path / "tasks.json"
    tasks = [
        {"id": "a", "description": "schema FAKE_WRITE=a.txt:A FAKE_COMMIT", "priority": 1},
        {"id": "b", "description": "api FAKE_WRITE=b.txt:B FAKE_COMMIT", "depends_on": ["a"]},
        {"id": "c", "description": "docs FAKE_WRITE=c.txt:C FAKE_COMMIT"},
    ]
    plan.write_text(json.dumps({"tasks": tasks}))
    proc = cli(
        "run",
        "Build",
        "-w",
        "2",
        "--no-plan",
        "--tasks",
        str(plan),
        "--merge",
        "--json",
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] and len(out["merged"]["landed"]) == 3 and out["merged"]["onto"] == "main"
    assert out["merged"]["sent_back"] == []
    files = set(git(repo, "ls-tree", "--name-only", "main").split())
    assert {"a.txt", "b.txt", "c.txt"} <= files
    assert "landed on main" in proc.stderr
    assert all(coord.threads.get(n).status == "merged" for n in out["merged"]["landed"])
