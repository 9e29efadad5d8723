"""The merge queue: serial against batched wall time, and the queue's own cost per entry.

    .venv/bin/python benchmarks/bench_merge.py [--entries 20] [--gate 0.3] [--batch 5]

Each scenario builds a scratch repository with `--entries` finished threads
(one commit each, on its own file), queues them all and times `c.merge.run()`
in this process, with a gate of fixed cost (`sleep GATE`):

* serial: `[merge] batch = 1`, one gate per entry;
* batched: `batch = N`, one gate per green batch;
* batched with one culprit: entry 7 fails the gate, so its batch is bisected.

The queue's own overhead per entry is the run time with no gate commands,
divided by the entries, as a ratio to the baseline measured in the same run:
one `git merge --no-ff` of the same kind of branch in the main checkout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ctui.core import Coordinator

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@ctui.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@ctui.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def scratch_repo(folder: Path, entries: int, config: str, culprit: int | None) -> Coordinator:
    root = folder / "repo"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# bench\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    (root / ".ctui").mkdir()
    (root / ".ctui" / "config.toml").write_text(config)
    c = Coordinator.open(root)
    for i in range(entries):
        t = c.threads.create(f"t{i:02d}", agent="command", command="true {prompt}", prompt="x")
        wt = Path(t.worktree or "")
        (wt / f"check_{i:02d}").write_text("bad\n" if i == culprit else "ok\n")
        git(wt, "add", "-A")
        git(wt, "commit", "-q", "-m", f"t{i:02d}")
    return c


def gate_config(gate: float, batch: int) -> str:
    check = "for f in check_*; do [ -f $f ] || continue; grep -qx ok $f || exit 1; done"
    return f'[gate]\ncommands = ["sleep {gate}; {check}"]\n[merge]\nbatch = {batch}\n'


def timed_run(c: Coordinator, entries: int) -> tuple[float, dict[str, object]]:
    c.merge.add([f"t{i:02d}" for i in range(entries)])
    started = time.perf_counter()
    summary = c.merge.run()
    return time.perf_counter() - started, summary


def merge_baseline(folder: Path, entries: int) -> float:
    """Seconds for one plain `git merge --no-ff` of a one-commit branch, averaged."""
    root = folder / "plain"
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "README.md").write_text("# bench\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    for i in range(entries):
        git(root, "checkout", "-q", "-b", f"b{i}", "main")
        (root / f"check_{i:02d}").write_text("ok\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"b{i}")
        git(root, "checkout", "-q", "main")
    started = time.perf_counter()
    for i in range(entries):
        git(root, "merge", "-q", "--no-ff", "--no-edit", f"b{i}")
    return (time.perf_counter() - started) / entries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--gate", type=float, default=0.3, help="seconds the gate sleeps")
    parser.add_argument("--batch", type=int, default=5)
    a = parser.parse_args()
    os.environ.update(IDENTITY)
    for name in ("CTUI_DIR", "CTUI_INSTANCE_ID", "CTUI_THREAD_ID"):
        os.environ.pop(name, None)
    n = a.entries
    print(f"{n} entries, gate = sleep {a.gate}s (+ a file check), batch = {a.batch}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ctui-bench-merge-") as tmp:
        for label, batch, culprit in (
            ("serial (batch 1)", 1, None),
            (f"batched (batch {a.batch})", a.batch, None),
            (f"batched, 1 culprit (batch {a.batch})", a.batch, 7),
        ):
            c = scratch_repo(
                Path(tmp) / label.split()[0] / str(culprit), n, gate_config(a.gate, batch), culprit
            )
            took, summary = timed_run(c, n)
            landed = len(summary["landed"])  # type: ignore[arg-type]
            rows.append((label, took, summary["gates"], landed))
            c.close()
        c = scratch_repo(Path(tmp) / "overhead", n, "[merge]\nbatch = 1\n", None)
        took, summary = timed_run(c, n)
        c.close()
        per_entry = took / n
        baseline = merge_baseline(Path(tmp), n)
    serial = rows[0][1]
    print(f"{'scenario':36} {'wall s':>8} {'gates':>6} {'landed':>7} {'vs serial':>10}")
    for label, took, gates, landed in rows:
        print(f"{label:36} {took:8.2f} {gates:>6} {landed:>7} {serial / took:9.2f}x")
    print(
        f"queue overhead per entry (no gate): {per_entry * 1000:.1f} ms; "
        f"one `git merge --no-ff`: {baseline * 1000:.1f} ms; ratio {per_entry / baseline:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
