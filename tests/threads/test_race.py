"""Atomic start and parallel worktree creation, with real processes racing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.conftest import Cli, git

RACER = """
import os, sys, time
from ctui.cli import main
go = sys.argv[1]
open(go + "." + str(os.getpid()), "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(go):
    assert time.monotonic() < deadline, "no start file"
    time.sleep(0.002)
sys.exit(main(sys.argv[2:]))
"""


def _race(repo: Path, argvs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run each argv in its own process, all released at once by a start file."""
    go = repo.parent / f"go-{time.monotonic_ns()}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), *argv],
            cwd=repo,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for argv in argvs
    ]
    out = []
    try:
        deadline = time.monotonic() + 30
        while not all(Path(f"{go}.{p.pid}").exists() for p in procs):
            assert time.monotonic() < deadline, "the racers did not all start"
            time.sleep(0.01)
        go.touch()
        for p in procs:
            stdout, stderr = p.communicate(timeout=60)
            out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    return out


@pytest.mark.usefixtures("backend")
def test_four_processes_starting_one_thread_make_one_run(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    for round_ in range(5):
        name = f"race-{round_}"
        assert (
            cli("thread", "create", name, "--no-worktree", "--prompt", "FAKE_SLEEP=0.3").returncode
            == 0
        )
        results = _race(repo, [["thread", "start", name]] * 4)
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 12, 12, 12], [r.stderr for r in results]
        t = coord.threads.wait(name, timeout=30)
        assert t.status == "completed" and t.run_id == 1
        starts = [
            e
            for e in coord.events.since(0, limit=10_000, kinds=["thread.started"])
            if e.subject == name
        ]
        assert len(starts) == 1
        assert coord.threads.logs(name, tail=0).count("run 1: claude") == 1


def test_parallel_worktree_creation_survives_git_locks(repo: Path, coord: Coordinator) -> None:
    names = [f"wt-{i}" for i in range(6)]
    results = _race(repo, [["thread", "create", n, "--prompt", "x"] for n in names])
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    listed = git(repo, "worktree", "list", "--porcelain")
    for n in names:
        assert f"branch refs/heads/ctui/{n}" in listed
        assert coord.threads.get(n).status == "ready"


@pytest.mark.usefixtures("backend")
def test_same_name_created_at_once_gives_one_thread(repo: Path, coord: Coordinator) -> None:
    names = [f"dup-{n}" for n in range(6)]
    for n, name in enumerate(names):
        worktree = [] if n == 0 else ["--no-worktree"]  # one round through git, the rest quick
        results = _race(repo, [["thread", "create", name, "--prompt", "x", *worktree]] * 4)
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 12, 12, 12], [r.stderr for r in results]
        for r in results:
            if r.returncode:
                lines = r.stderr.strip().splitlines()
                assert len(lines) == 1 and "already exists" in lines[0], r.stderr
    assert sorted(t.name for t in coord.threads.list()) == names
    made = coord.events.since(0, limit=10_000, kinds=["thread.created"])
    assert sorted(e.subject for e in made) == names


@pytest.mark.usefixtures("backend")
def test_spawn_claims_its_first_run_before_anyone_can_start_it(
    repo: Path, coord: Coordinator
) -> None:
    """`ctui serve` starts ready threads: a spawned thread is never seen ready by it."""
    for round_ in range(3):
        name = f"sp-{round_}"
        argvs = [["spawn", name, "--no-worktree", "--prompt", "FAKE_SLEEP=0.3"]]
        argvs += [["thread", "start", name]] * 3
        results = _race(repo, argvs)
        assert results[0].returncode == 0, results[0].stderr
        t = coord.threads.wait(name, timeout=30)
        assert t.run_id == 1 and t.status == "completed"
        seen = [e.kind for e in coord.events.since(0, limit=10_000) if e.subject == name]
        assert "thread.ready" not in seen and seen.count("thread.started") == 1
