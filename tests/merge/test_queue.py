"""The merge queue in real git repositories: clean merges, conflicts, red gates, bisection."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import Conflict
from tests.conftest import git
from tests.merge.conftest import configure, thread_with, tracked


def open_coord(repo: Path) -> Coordinator:
    return Coordinator.open(repo)


def test_clean_merges_land_in_order_and_clean_up(repo: Path) -> None:
    configure(repo)
    c = open_coord(repo)
    wt_a = thread_with(c, "a", {"a.txt": "A\n"})
    thread_with(c, "b", {"b.txt": "B\n"})
    entries = c.merge.add(["a", "b"])
    assert [e.status for e in entries] == ["queued", "queued"]
    summary = c.merge.run()
    assert summary["landed"] == ["a", "b"] and summary["gates"] == 2
    assert tracked(repo) == {"a.txt": "A\n", "b.txt": "B\n"}
    assert (repo / "a.txt").read_text() == "A\n", "the main checkout was updated"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert c.threads.get("a").status == "merged"
    assert not wt_a.exists() and git(repo, "branch", "--list", "ctui/a") == ""
    assert [e.status for e in c.merge.list(all=True)] == ["landed", "landed"]
    assert c.merge.list() == []
    kinds = [e.kind for e in c.events.recent(200)]
    assert kinds.count("merge.landed") == 2 and kinds.count("thread.merged") == 2
    titles = [d.title for d in c.decisions.list()]
    assert "Landed ctui/a on main" in titles
    c.close()


@pytest.mark.parametrize("strategy", ["merge", "rebase"])
def test_textual_conflict_goes_back_with_files(repo: Path, strategy: str) -> None:
    configure(repo, strategy=strategy)
    c = open_coord(repo)
    thread_with(c, "a", {"same.txt": "from a\n"})
    wt_b = thread_with(c, "b", {"same.txt": "from b\n"})
    c.merge.add(["a", "b"])
    summary = c.merge.run()
    assert summary["landed"] == ["a"] and summary["conflict"] == ["b"]
    entry = c.merge.get("b")
    assert entry.status == "conflict" and "same.txt" in (entry.reason or "")
    assert entry.to_dict()["detail"]["files"] == ["same.txt"]
    assert tracked(repo)["same.txt"] == "from a\n"
    assert wt_b.is_dir() and c.threads.get("b").status != "merged", "b is left to fix"
    c.close()


def test_semantic_conflict_is_caught_only_by_the_gate(repo: Path) -> None:
    """Each branch passes alone; together the gate fails: the second one is sent back."""
    configure(repo)
    (repo / "check_pair").write_text("ok\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pair check")
    c = open_coord(repo)
    # a writes half of a rule into `part_a`, b into `part_b`; the gate's check joins them.
    gate = repo.parent / "gate.sh"
    gate.write_text(
        gate.read_text().replace(
            'if [ -f "$GATE_SLOW" ]',
            'if [ -f part_a ] && [ -f part_b ]; then echo "FAIL: a and b clash"; exit 1; fi\n'
            'if [ -f "$GATE_SLOW" ]',
        )
    )
    thread_with(c, "a", {"part_a": "1\n"})
    thread_with(c, "b", {"part_b": "2\n"})
    for name in ("a", "b"):  # each passes alone on the base
        wt = Path(c.threads.get(name).worktree or "")
        assert c.merge.ctx.config.gate_commands
        from ctui.core.merge.gate import run_gate

        assert run_gate(c.config.gate_commands, wt, 30)["passed"]
    c.merge.add(["a", "b"])
    summary = c.merge.run()
    assert summary["landed"] == ["a"] and summary["failed"] == ["b"]
    entry = c.merge.get("b")
    assert "a and b clash" in (entry.reason or "")
    assert entry.to_dict()["gate"]["passed"] is False
    assert "part_b" not in tracked(repo)
    c.close()


def test_batch_bisects_two_culprits(repo: Path) -> None:
    configure(repo, batch=4)
    c = open_coord(repo)
    for name in ("a", "b", "c", "d"):
        thread_with(c, name, {f"check_{name}": "bad\n" if name in "bd" else "ok\n"})
    c.merge.add(["a", "b", "c", "d"])
    summary = c.merge.run()
    assert summary["landed"] == ["a", "c"] and summary["failed"] == ["b", "d"]
    assert summary["gates"] == 7  # abcd, ab, a, b, cd, c, d
    assert set(tracked(repo)) == {"check_a", "check_c"}
    c.close()


def test_batch_bisects_to_the_culprit_and_lands_the_rest(repo: Path) -> None:
    configure(repo, batch=4)
    c = open_coord(repo)
    for name in ("a", "b", "c", "d"):
        bad = name == "c"
        thread_with(c, name, {f"check_{name}": "bad\n" if bad else "ok\n"})
    c.merge.add(["a", "b", "c", "d"])
    summary = c.merge.run()
    assert sorted(summary["landed"]) == ["a", "b", "d"] and summary["failed"] == ["c"]
    # abcd red -> ab green (lands) -> cd red -> c red, d green: 5 gates, not 4 serial + retries
    assert summary["gates"] == 5
    assert set(tracked(repo)) == {"check_a", "check_b", "check_d"}
    assert "check_c says bad" in (c.merge.get("c").reason or "")
    c.close()


def test_a_green_batch_lands_with_one_gate(repo: Path) -> None:
    configure(repo, batch=3)
    c = open_coord(repo)
    for name in ("a", "b", "c"):
        thread_with(c, name, {f"check_{name}": "ok\n"})
    c.merge.add(["a", "b", "c"])
    summary = c.merge.run()
    assert summary["landed"] == ["a", "b", "c"] and summary["gates"] == 1
    c.close()


def test_base_moved_during_the_gate_is_rebuilt_not_lost(repo: Path) -> None:
    """The gate commits to main in the user's checkout the first time: CAS fails, retest."""
    configure(repo)
    gate = repo.parent / "gate.sh"
    marker = repo.parent / "pushed"
    gate.write_text(
        gate.read_text().replace(
            'echo "gate ok"',
            f"if [ ! -f {marker} ]; then touch {marker}; echo user > {repo}/user.txt; "
            f"git -C {repo} add user.txt; git -C {repo} commit -qm 'user commit'; fi\n"
            'echo "gate ok"',
        )
    )
    c = open_coord(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.merge.add(["a"])
    summary = c.merge.run()
    assert summary["landed"] == ["a"] and summary["retests"] == 1 and summary["gates"] == 2
    assert tracked(repo) == {"a.txt": "A\n", "user.txt": "user\n"}
    log = git(repo, "log", "--format=%s", "main")
    assert "user commit" in log and "Merge ctui/a" in log
    c.close()


def test_dirty_checkout_of_the_base_is_refused_and_left_alone(repo: Path) -> None:
    log = configure(repo)
    c = open_coord(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    (repo / "README.md").write_text("# local edit\n")
    before = git(repo, "rev-parse", "main")
    c.merge.add(["a"])
    summary = c.merge.run()
    assert summary["landed"] == [] and "uncommitted changes (README.md)" in summary["refused"]
    assert git(repo, "rev-parse", "main") == before
    assert (repo / "README.md").read_text() == "# local edit\n"
    assert c.merge.get("a").status == "queued", "the entry waits for a clean checkout"
    assert not log.exists(), "refused before spending a gate"
    git(repo, "checkout", "README.md")
    assert c.merge.run()["landed"] == ["a"]
    c.close()


def test_base_not_checked_out_moves_by_update_ref(repo: Path) -> None:
    configure(repo)
    git(repo, "branch", "dev")
    c = open_coord(repo)
    thread_with(c, "a", {"a.txt": "A\n"}, base="dev")
    main_before = git(repo, "rev-parse", "main")
    c.merge.add(["a"])
    assert c.merge.run()["landed"] == ["a"]
    assert tracked(repo, "dev") == {"a.txt": "A\n"}
    assert git(repo, "rev-parse", "main") == main_before
    c.close()


def test_rebase_strategy_gives_linear_history(repo: Path) -> None:
    configure(repo, strategy="rebase")
    c = open_coord(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    thread_with(c, "b", {"b.txt": "B\n"})
    c.merge.add(["a", "b"])
    assert c.merge.run()["landed"] == ["a", "b"]
    assert git(repo, "log", "--merges", "--format=%s", "main") == ""
    assert tracked(repo) == {"a.txt": "A\n", "b.txt": "B\n"}
    c.close()


def test_add_refuses_bad_threads_and_changes_nothing(repo: Path) -> None:
    configure(repo)
    c = open_coord(repo)
    wt = thread_with(c, "a", {"a.txt": "A\n"})
    c.threads.create("idle", agent="command", command="true {prompt}", prompt="x")
    (wt / "a.txt").write_text("dirty\n")
    with pytest.raises(Conflict, match="uncommitted changes"):
        c.merge.add(["a"])
    with pytest.raises(Conflict, match="nothing that main lacks"):
        c.merge.add(["idle"])
    git(wt, "checkout", "a.txt")
    c.merge.add(["a"])
    with pytest.raises(Conflict, match="already in the merge queue"):
        c.merge.add(["a"])
    assert len(c.merge.list()) == 1
    c.close()


def test_predicted_conflicts_between_queued_entries(repo: Path) -> None:
    configure(repo)
    c = open_coord(repo)
    thread_with(c, "a", {"same.txt": "a\n", "a.txt": "a\n"})
    thread_with(c, "b", {"same.txt": "b\n"})
    c.merge.add(["a", "b"])
    assert c.merge.predicted() == [{"path": "same.txt", "threads": ["a", "b"]}]
    c.close()


def test_on_failure_resume_sends_the_conflict_to_the_agent(repo: Path) -> None:
    configure(repo, extra='on_failure = "resume"\n')
    c = open_coord(repo)
    thread_with(c, "a", {"same.txt": "from a\n"})
    seen = repo.parent / "prompt-b.txt"
    t = c.threads.create(
        "b",
        agent="command",
        command=f"sh -c 'printf %s \"$1\" > {seen} && git merge -q -X ours -m fix main' "
        "x {prompt}",
        prompt="first",
    )
    wt = Path(t.worktree or "")
    (wt / "same.txt").write_text("from b\n")
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "-m", "b: work")
    c.merge.add(["a", "b"])
    summary = c.merge.run()
    assert summary["conflict"] == ["b"]
    done = c.threads.wait("b", timeout=60)
    assert done.status == "completed" and done.run_id == 1
    prompt = seen.read_text()
    assert "could not land your work" in prompt and "same.txt" in prompt
    assert "merge.resumed" in [e.kind for e in c.events.recent(100)]
    # the agent merged main into its branch (keeping its side): the fix goes back in line
    again = c.merge.run()
    assert again["landed"] == ["b"]
    assert tracked(repo)["same.txt"] == "from b\n"
    assert [e.status for e in c.merge.list(all=True)] == ["landed", "conflict", "landed"]
    c.close()


def test_a_landed_thread_with_stray_files_keeps_its_worktree_and_branch(repo: Path) -> None:
    configure(repo)
    c = open_coord(repo)
    wt = thread_with(c, "a", {"a.txt": "A\n"})
    (wt / "scratch-notes.txt").write_text("not committed\n")  # untracked: the queue may land
    c.merge.add(["a"])
    assert c.merge.run()["landed"] == ["a"]
    assert (wt / "scratch-notes.txt").read_text() == "not committed\n"
    assert git(repo, "rev-parse", "--verify", "-q", "refs/heads/ctui/a").strip()
    assert c.threads.get("a").status == "merged"
    merged = [e for e in c.events.recent(50) if e.kind == "thread.merged"]
    assert "has changes" in merged[-1].data["kept"][0]
    c.close()
