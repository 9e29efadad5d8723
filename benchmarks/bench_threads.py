"""Threads as whole processes: create, spawn, worktree creation, and 20 spawns at once.

    .venv/bin/python benchmarks/bench_threads.py [--runs 15]

Works in a scratch git repository with the fake agent on the `claude`
profile. Each figure is printed next to a baseline measured in the same run:
a bare `python -c pass` for whole-process commands, and `git worktree add`
run directly for ctui's worktree creation. claude-threads, measured on this
machine, took 243 ms to create a thread and started one ready thread four
times when four starts raced; the last line checks the second point at scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ctui.core.threads import procs

ROOT = Path(__file__).resolve().parent.parent
CTUI = str(Path(sys.executable).parent / "ctui")


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def row(label: str, ms: float, base: float | None = None, name: str = "baseline") -> None:
    ratio = f"   {ms / base:5.2f}x {name}" if base else ""
    print(f"{label:<42} {ms:8.1f} ms{ratio}")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ctui-bench-")) / "repo"
    root.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    os.environ.update(env)
    for i in range(200):
        (root / f"file{i}.py").write_text(f"x = {i}\n")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=root, check=True)
    subprocess.run([CTUI, "init"], cwd=root, check=True, capture_output=True)
    return root


def spawn_once(repo: Path, name: str) -> float:
    """One timed `ctui spawn`; its run finishes before the next, so runs do not share the CPU."""
    from ctui.core import Coordinator

    took = timed([CTUI, "spawn", name, "--no-worktree", "--prompt", "x"], repo)
    c = Coordinator.open(repo)
    c.threads.wait(name, timeout=60)
    procs.wait_gone(c.threads.get(name).supervisor_pid or 0, 10)
    c.close()
    return took


def warm_up(repo: Path) -> None:
    """Measure ctui as installed: byte-code cached (a stale cache compiles on every start)."""
    subprocess.run(
        [CTUI, "spawn", "warm", "--prompt", "x", "--wait"], cwd=repo, capture_output=True
    )
    subprocess.run([CTUI, "thread", "list"], cwd=repo, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    n = parser.parse_args().runs
    os.environ["CTUI_CLAUDE_BIN"] = str(ROOT / "tests" / "fakes" / "claude")
    os.environ["FAKE_AGENT_PYTHON"] = sys.executable
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    repo = scratch()
    warm_up(repo)
    bare = median_ms([timed([sys.executable, "-c", "pass"], repo) for _ in range(n)])
    cli = median_ms([timed([CTUI, "lock", "list"], repo) for _ in range(n)])
    create = median_ms(
        [
            timed([CTUI, "thread", "create", f"c{i}", "--no-worktree", "--prompt", "x"], repo)
            for i in range(n)
        ]
    )
    spawn = median_ms([spawn_once(repo, f"s{i}") for i in range(n)])
    with_wt = median_ms(
        [timed([CTUI, "thread", "create", f"w{i}", "--prompt", "x"], repo) for i in range(n)]
    )
    git_add = median_ms(
        [
            timed(
                [
                    "git",
                    "worktree",
                    "add",
                    "-q",
                    "-b",
                    f"plain/{i}",
                    str(repo.parent / f"g{i}"),
                    "main",
                ],
                repo,
            )
            for i in range(n)
        ]
    )
    row("baseline: python -c pass", bare)
    row("context: ctui lock list (CLI start-up)", cli, bare)
    row("ctui thread create --no-worktree", create, bare)
    row("ctui spawn --no-worktree", spawn, bare)
    row("ctui thread create (with worktree)", with_wt, bare)
    row("baseline: git worktree add (200 files)", git_add)
    row("worktree part of ctui thread create", with_wt - create, git_add, "git worktree add")
    concurrent(repo, 20)
    return 0


def concurrent(repo: Path, count: int) -> None:
    """`count` spawns with worktrees at once: all succeed, each thread runs exactly once."""
    from ctui.core import Coordinator

    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [CTUI, "spawn", f"par{i}", "--prompt", "FAKE_SLEEP=0.2"],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    launched = time.perf_counter() - start
    c = Coordinator.open(repo)
    names = [f"par{i}" for i in range(count)]
    for name in names:
        c.threads.wait(name, timeout=300)
    done = time.perf_counter() - start
    threads = [c.threads.get(name) for name in names]
    completed = sum(t.status == "completed" for t in threads)
    runs = sum(t.run_id for t in threads)
    failed = sum(p.returncode != 0 for p in procs)
    print(
        f"{count} concurrent spawns (worktree each)   all returned in {launched * 1000:7.1f} ms "
        f"({launched * 1000 / count:.1f} ms each amortised), all finished in {done * 1000:.0f} ms"
    )
    print(f"  spawn failures {failed}, completed {completed}/{count}, runs {runs} (one per thread)")
    for err in {e.strip() for e in errors if e.strip()}:
        print(f"  error: {err}")


if __name__ == "__main__":
    sys.exit(main())
