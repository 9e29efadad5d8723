"""The queue under real concurrency: racing runners, a push during the gate, kill -9 mid-gate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.conftest import CTUI, git
from tests.merge.conftest import configure, thread_with, tracked


def runner(repo: Path, *args: str, session: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CTUI, "merge", "run", "--json", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=session,
    )


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def gates_never_overlap(log: Path) -> int:
    """Every `start P` in the gate log is followed by its own `end P`; returns the gate count."""
    lines = log.read_text().split("\n")[:-1]
    assert len(lines) % 2 == 0, lines
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.startswith("start ") and end == "end " + start.split()[1], lines
    return len(lines) // 2


@pytest.mark.parametrize("round_", range(3))
@pytest.mark.usefixtures("backend")
def test_racing_runners_land_each_entry_once_and_never_together(repo: Path, round_: int) -> None:
    log = configure(repo, batch=1 + round_ % 2)
    (repo.parent / "gate.slow").write_text("0.2")
    c = Coordinator.open(repo)
    names = [f"t{i}" for i in range(5)]
    for name in names:
        thread_with(c, name, {f"check_{name}": "ok\n"})
    c.merge.add(names)
    procs = [runner(repo, "--wait", "120") for _ in range(3)]
    outs = [p.communicate(timeout=180) for p in procs]
    summaries = [json.loads(out) for out, _err in outs]
    assert all(p.returncode == 0 for p in procs), outs
    landed = [n for s in summaries for n in s["landed"]]
    assert sorted(landed) == names, "each entry landed by exactly one runner"
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    for entry in c.merge.list(all=True):
        assert entry.status == "landed"
        assert sum(f"(merge queue #{entry.id})" in s for s in subjects) == 1
    assert set(tracked(repo)) == {f"check_{n}" for n in names}
    assert gates_never_overlap(log) >= 1
    c.close()


def test_a_commit_pushed_to_the_base_during_the_gate_is_kept(repo: Path) -> None:
    log = configure(repo)
    (repo.parent / "gate.slow").write_text("1")
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.merge.add(["a"])
    proc = runner(repo)
    wait_for(lambda: log.exists() and "start" in log.read_text())
    (repo / "user.txt").write_text("mine\n")
    git(repo, "add", "user.txt")
    git(repo, "commit", "-q", "-m", "user commit during the gate")
    out, err = proc.communicate(timeout=120)
    summary = json.loads(out)
    assert proc.returncode == 0, err
    assert summary["landed"] == ["a"] and summary["retests"] == 1
    assert tracked(repo) == {"a.txt": "A\n", "user.txt": "mine\n"}
    assert "user commit during the gate" in git(repo, "log", "--format=%s", "main")
    c.close()


def test_kill_9_mid_gate_leaves_the_base_tested_and_the_entry_resumable(repo: Path) -> None:
    log = configure(repo)
    slow = repo.parent / "gate.slow"
    slow.write_text("60")
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.merge.add(["a"])
    before = git(repo, "rev-parse", "main").strip()
    proc = runner(repo, session=True)
    wait_for(lambda: log.exists() and "start" in log.read_text())
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its gate: a process group we started
    proc.communicate(timeout=30)
    assert git(repo, "rev-parse", "main").strip() == before
    assert c.merge.get("a").status == "testing"
    slow.unlink()
    again = subprocess.run(
        [CTUI, "merge", "run", "--json"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["landed"] == ["a"]
    entry = c.merge.get("a")
    assert entry.status == "landed" and entry.attempts == 2
    assert tracked(repo) == {"a.txt": "A\n"}
    scratch = repo / ".ctui" / "merge"
    assert not any(scratch.iterdir()), "the dead runner's scratch worktree was removed"
    c.close()


def test_a_runner_killed_after_the_swap_is_recorded_as_landed(repo: Path) -> None:
    """The base already holds the candidate (the runner died before writing it down)."""
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    [entry] = c.merge.add(["a"])
    git(repo, "merge", "-q", "--no-ff", "-m", "landed by the dead runner", "ctui/a")
    candidate = git(repo, "rev-parse", "main").strip()
    dead = subprocess.Popen(["true"])
    dead.wait()
    with c.store.write() as conn:
        conn.execute(
            "UPDATE merge_queue SET status = 'testing', candidate = ? WHERE id = ?",
            (candidate, entry.id),
        )
        conn.execute(
            "UPDATE merge_runner SET holder = 'dead', pid = ?, host = ?, token = 7, "
            "expires_at = ? WHERE id = 1",
            (dead.pid, os.uname().nodename, time.time() + 3600),
        )
    summary = c.merge.run()
    assert summary["gates"] == 0
    got = c.merge.get("a")
    assert got.status == "landed" and got.landed == candidate
    assert c.threads.get("a").status == "merged"
    c.close()


@pytest.mark.usefixtures("backend")
def test_a_live_runner_keeps_others_out(repo: Path) -> None:
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.merge.add(["a"])
    with c.store.write() as conn:
        conn.execute(
            "UPDATE merge_runner SET holder = 'other', pid = ?, host = ?, token = 3, "
            "expires_at = ? WHERE id = 1",
            (os.getpid(), os.uname().nodename, time.time() + 3600),
        )
    proc = subprocess.run([CTUI, "merge", "run"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 12 and "being run by other" in proc.stdout
    assert c.merge.get("a").status == "queued"
    c.close()


@pytest.mark.usefixtures("backend")
def test_a_runner_that_lost_its_lease_mid_gate_lands_nothing(repo: Path) -> None:
    """Fencing: the lease moved on (another runner took it over), so the green gate is void."""
    log = configure(repo)
    (repo.parent / "gate.slow").write_text("1")
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.merge.add(["a"])
    before = git(repo, "rev-parse", "main").strip()
    proc = runner(repo)
    wait_for(lambda: log.exists() and "start" in log.read_text())
    with c.store.write() as conn:
        conn.execute(
            "UPDATE merge_runner SET holder = 'thief', pid = ?, token = token + 1, "
            "expires_at = ? WHERE id = 1",
            (os.getpid(), time.time() + 3600),
        )
    out, err = proc.communicate(timeout=120)
    summary = json.loads(out)
    assert summary["landed"] == [] and "lease moved on" in summary["lost"], err
    assert git(repo, "rev-parse", "main").strip() == before
    assert c.merge.get("a").status == "testing"
    with c.store.write() as conn:
        conn.execute("UPDATE merge_runner SET expires_at = 0 WHERE id = 1")
    assert c.merge.run()["landed"] == ["a"]
    c.close()
