"""The task, plan, discover, leader and worker commands through the installed `ctui`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import Cli
from tests.tasks.support import fingerprint

FIXTURE = Path(__file__).parent.parent / "fixtures" / "tasks.json"


def test_option_a_workflow(cli: Cli, repo: Path) -> None:
    assert cli("plan", "init", "Build a REST API").returncode == 0
    first = cli(
        "task", "add", "Create User model", "-p", "1", "--file", "src/user.py", "--hint", "use zod"
    )
    assert first.stdout == "task-0001\n"
    second = cli("task", "add", "Create login endpoint", "-p", "2", "-d", "task-0001")
    assert second.stdout == "task-0002\n"
    status = cli("leader", "status")
    assert "Build a REST API" in status.stdout and "0/2 done" in status.stdout
    assert cli("instance", "register", "--id", "terminal-2").returncode == 0

    claimed = cli.json("worker", "claim", "--as", "terminal-2")
    assert claimed["id"] == "task-0001" and claimed["status"] == "claimed"
    assert claimed["claimed_by"] == "terminal-2" and claimed["priority"] == 1
    assert claimed["context"] == {"files": ["src/user.py"], "hints": ["use zod"]}

    nothing = cli("task", "claim", "--as", "terminal-2")
    assert nothing.returncode == 4
    assert nothing.stderr.strip() == "ctui: no task available to claim (1 pending, 1 claimed)"

    (repo / "result.md").write_text("model written\n")
    done = cli(
        "task",
        "complete",
        "task-0001",
        "--result-file",
        "result.md",
        env={"CTUI_INSTANCE_ID": "terminal-2"},
    )
    assert done.returncode == 0, done.stderr
    shown = cli.json("task", "show", "task-0001")
    assert shown["result"] == "model written\n" and shown["status"] == "done"
    listed = cli("task", "list")
    assert listed.stdout.splitlines()[0].split()[:3] == ["ID", "STATUS", "PRI"]
    assert "task-0002  available" in listed.stdout
    plan = cli.json("plan", "show")
    assert plan["plan"]["goal"] == "Build a REST API" and plan["counts"]["done"] == 1


def test_someone_elses_claim_is_refused_with_one_line(cli: Cli, repo: Path) -> None:
    cli("task", "add", "t")
    cli("instance", "register", "--id", "w1")
    cli("instance", "register", "--id", "w2")
    assert cli("task", "claim", "--as", "w1").returncode == 0
    before = fingerprint(repo / ".ctui" / "ctui.db")
    for args in (("complete", "task-0001", "--result", "x"), ("fail", "task-0001")):
        proc = cli("task", *args, "--as", "w2")
        assert proc.returncode == 12
        assert proc.stderr.count("\n") == 1 and "only the claimant" in proc.stderr
    assert fingerprint(repo / ".ctui" / "ctui.db") == before


def test_bad_input_exit_codes_and_unchanged_store(cli: Cli, repo: Path) -> None:
    cli("task", "add", "a")
    cli("task", "add", "b", "-d", "task-0001")
    db = repo / ".ctui" / "ctui.db"
    (repo / "broken.json").write_text('{"tasks": [{"id": "a", "description": ')
    (repo / "latin1.json").write_bytes(
        '{"tasks": [{"id": "a", "description": "caf\xe9"}]}'.encode("latin-1")
    )
    before = fingerprint(db)
    cases = [
        (("task", "import", "broken.json"), 2, "is not JSON"),
        (("task", "import", "latin1.json"), 2, "is not UTF-8 text"),
        (("task", "import", "missing.json"), 2, "cannot read"),
        (("task", "add", "x", "-p", "11"), 2, "bad priority 11"),
        (("task", "add", "x", "-d", "task-0404"), 4, "unknown dependency 'task-0404'"),
        (("task", "show", "task-0404"), 4, "no task 'task-0404'"),
        (("task", "complete", "task-0404"), 4, "no task 'task-0404'"),
        (("task", "depend", "task-0001", "task-0002"), 2, "dependency cycle"),
        (("task", "retry", "task-0001"), 12, "only a failed task"),
        (("task", "claim", "task-0002"), 12, "waiting on task-0001"),
        (("task", "claim", "--as", "ghost"), 4, "no instance 'ghost'"),
        (("discover", "add", "x", "--tag", "two words"), 2, "bad tag"),
    ]
    for args, code, text in cases:
        proc = cli(*args)
        assert proc.returncode == code, (args, proc.stderr)
        assert text in proc.stderr and proc.stderr.count("\n") == 1, (args, proc.stderr)
    usage = cli("task", "add", "x", "-p", "high")
    assert usage.returncode == 2 and "invalid int value: 'high'" in usage.stderr.splitlines()[-1]
    assert fingerprint(db) == before


def test_fail_cancel_retry(cli: Cli) -> None:
    cli("task", "add", "flaky", "--max-attempts", "1")
    cli("task", "add", "after", "-d", "task-0001")
    cli("task", "claim")
    failed = cli("task", "fail", "task-0001", "--reason", "tests red")
    assert "failed for good" in failed.stdout
    assert cli.json("task", "retry", "task-0001")["status"] == "available"
    cancelled = cli("task", "cancel", "task-0001")
    assert cancelled.stdout.strip() == "task-0001 cancelled, and waiting on it: task-0002"
    assert [t["id"] for t in cli.json("task", "list", "--status", "cancelled")] == [
        "task-0001",
        "task-0002",
    ]


def test_import_and_plan_file(cli: Cli, repo: Path) -> None:
    folder = repo / ".coordination"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "tasks.json")
    out = cli("task", "import", ".coordination/tasks.json")
    assert (
        out.returncode == 0
        and "imported 5 task(s)" in out.stdout
        and "task-003 -> task-0003" in out.stdout
    )
    assert cli.json("task", "list", "--status", "done")[0]["source"]["id"] == "task-001"
    (repo / "plan.md").write_text("1. models\n2. routes\n")
    assert cli("plan", "init", "Ship auth", "--plan-file", "plan.md").returncode == 0
    shown = cli("plan", "show").stdout
    assert "goal      Ship auth" in shown and "1. models" in shown and "1/5 done" in shown


def test_discover_commands(cli: Cli) -> None:
    added = cli("discover", "add", "Redis must run for auth tests", "--tag", "testing")
    assert added.stdout == "disc-0001\n"  # readable, like task-0001; --json keeps the number
    cli("discover", "add", "dates.py parses ISO weeks", "--tag", "utils")
    assert [d["id"] for d in cli.json("discover", "list", "--tag", "testing")] == [1]
    found = cli("discover", "search", "redis")
    assert found.returncode == 0 and "Redis must run" in found.stdout
    assert found.stdout.splitlines()[1].startswith("disc-0001 ")
    assert cli("discover", "search", "nothing-like-this").returncode == 4
    assert (
        json.loads(cli("discover", "list", "--json").stdout)[0]["text"]
        == "dates.py parses ISO weeks"
    )


def test_status_shows_tasks(cli: Cli) -> None:
    cli("task", "add", "visible in status")
    data = cli.json("status")
    assert data["tasks"][0]["id"] == "task-0001"
    assert "visible in status" in cli("status").stdout
