"""Worktree listing, diff, cleanup safety and the conflict radar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ctui.core import Coordinator
from tests.conftest import Cli, git


def test_cleanup_refuses_dirty_and_unmerged_worktrees_without_force(repo: Path, cli: Cli) -> None:
    assert cli("spawn", "dirty", "--prompt", "FAKE_WRITE=new.txt:x", "--wait").returncode == 0
    assert cli("thread", "create", "ahead", "--prompt", "x").returncode == 0
    ahead = repo / ".ctui" / "worktrees" / "ahead"
    (ahead / "feature.txt").write_text("work\n")
    git(ahead, "add", "feature.txt")
    git(ahead, "commit", "-q", "-m", "work")
    assert cli("thread", "create", "clean", "--prompt", "x").returncode == 0

    rows = {w["name"]: w for w in cli.json("worktree", "list")}  # type: ignore[union-attr]
    assert rows["dirty"]["dirty"] and rows["dirty"]["thread_status"] == "completed"
    assert rows["ahead"]["ahead"] == 1 and not rows["ahead"]["dirty"]
    assert rows["clean"]["branch"] == "ctui/clean" and rows["clean"]["base"] == "main"

    result = cli.json("worktree", "cleanup")
    kept = {k["name"]: k["reason"] for k in result["kept"]}  # type: ignore[index]
    assert result["removed"] == ["clean"]  # type: ignore[index]
    assert "uncommitted" in kept["dirty"] and "unmerged" in kept["ahead"]
    assert (repo / ".ctui" / "worktrees" / "dirty" / "new.txt").exists() and ahead.exists()
    assert "ctui/clean" not in git(repo, "branch")

    result = cli.json("worktree", "cleanup", "--force")
    assert sorted(result["removed"]) == ["ahead", "dirty"]  # type: ignore[index]
    assert "ctui/" not in git(repo, "worktree", "list")
    assert not (repo / ".ctui" / "worktrees" / "dirty").exists()


def test_cleanup_keeps_a_running_thread_even_with_force(cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "busy", "--prompt", "FAKE_HANG").returncode == 0
    result = cli.json("worktree", "cleanup", "--force")
    assert result["removed"] == [] and "running" in result["kept"][0]["reason"]  # type: ignore[index]
    coord.threads.stop("busy", grace=2)


def test_diff_and_base_default_to_the_current_branch(repo: Path, cli: Cli) -> None:
    git(repo, "checkout", "-q", "-b", "dev")
    assert cli("spawn", "d1", "--prompt", "FAKE_WRITE=src/app.py:changed", "--wait").returncode == 0
    t = cli.json("thread", "status", "d1")
    assert t["base"] == "dev"  # type: ignore[index]
    diff = cli("worktree", "diff", "d1")
    assert diff.returncode == 0 and "src/app.py" in diff.stdout
    assert cli("worktree", "diff", "nope").returncode == 4
    assert (
        cli(
            "thread", "create", "d2", "--worktree-base", "no-such-branch", "--prompt", "x"
        ).returncode
        == 2
    )
    assert [r["name"] for r in cli.json("thread", "list")] == ["d1"]  # type: ignore[union-attr]


def test_conflicts_find_overlaps_and_edits_under_anothers_lease(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    assert cli("conflicts").returncode == 0
    for name in ("left", "right"):
        assert (
            cli(
                "spawn",
                name,
                "--prompt",
                f"FAKE_WRITE=src/app.py:{name} FAKE_WRITE={name}.txt:x",
                "--wait",
            ).returncode
            == 0
        )
    other = coord.instances.register(role="reviewer")
    coord.leases.acquire("left.txt", instance=other.id)
    proc = cli("conflicts", "--json")
    assert proc.returncode == 12
    found = json.loads(proc.stdout)
    assert found["overlaps"] == [{"path": "src/app.py", "worktrees": ["left", "right"]}]
    assert found["leased"] == [
        {"path": "left.txt", "worktree": "left", "holder": other.id, "lease": "left.txt"}
    ]


def test_leftovers_from_a_lost_store_are_not_reused(repo: Path, cli: Cli, tmp_path: Path) -> None:
    assert cli("thread", "create", "old", "--prompt", "x").returncode == 0
    git(repo, "worktree", "add", "-q", "-b", "ctui/run1-task-0001-1", str(tmp_path / "elsewhere"))
    shutil.rmtree(repo / ".ctui")
    proc = cli("thread", "create", "old", "--prompt", "x")
    assert proc.returncode == 12 and "git branch -D ctui/old" in proc.stderr
    plan = tmp_path / "tasks.json"
    plan.write_text(json.dumps({"tasks": [{"description": "one"}]}))
    out = cli.json("run", "g", "--no-plan", "--tasks", str(plan), "-w", "1", timeout=120)
    assert out["run"] == "run2" and out["ok"]  # type: ignore[index]


def test_thread_rm_deletes_the_thread_with_its_worktree_and_branch(repo: Path, cli: Cli) -> None:
    assert cli("spawn", "gone", "--prompt", "FAKE_WRITE=x.txt:1", "--wait").returncode == 0
    proc = cli("thread", "rm", "gone")
    assert proc.returncode == 12 and "uncommitted" in proc.stderr
    assert cli.json("thread", "status", "gone")["status"] == "completed"  # type: ignore[index]
    assert cli("thread", "rm", "gone", "--force").returncode == 0
    assert cli("thread", "status", "gone").returncode == 4
    assert (
        "ctui/gone" not in git(repo, "branch")
        and not (repo / ".ctui" / "worktrees" / "gone").exists()
    )
    assert cli("spawn", "gone", "--prompt", "FAKE_HANG").returncode == 0
    assert cli("thread", "rm", "gone").returncode == 12
    assert cli("thread", "stop", "gone", "--grace", "2").returncode == 0
    assert cli("thread", "rm", "gone", "--force").returncode == 0
