"""Task queue figures: claim+complete throughput and claim latency against queue size.

    .venv/bin/python benchmarks/bench_tasks.py [--tasks 400] [--cli-tasks 80]

Throughput runs 1, 4 and 8 worker processes that drain one queue, first with
the Python API (each process opens its own Coordinator), then by exec'ing
the installed `ctui` for every claim and every complete. The CLI figure is
also given as a ratio to a bare `python -c pass` measured in the same run.

Latency claims from a queue of 100 and of 10,000 available tasks; the figure
is the ratio (the claim walks the `tasks_queue` index, so it should stay
near 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.errors import NotFound
from ctui.core.tasks import insert

CTUI = (
    str(Path(sys.executable).parent / "ctui")
    if (Path(sys.executable).parent / "ctui").exists()
    else "ctui"
)
WORKER = """
set -o pipefail
while id=$("$CTUI" task claim --as "$W" | head -n 1 | cut -d ' ' -f 1); do
    "$CTUI" task complete "$id" --as "$W" > /dev/null || exit 1
done
"""


def fresh_store(tasks: int, workers: int) -> tuple[Path, Coordinator]:
    folder = Path(tempfile.mkdtemp(prefix="ctui-bench-"))
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    c = Coordinator.open(folder)
    with c.store.write() as conn:
        for i in range(tasks):
            insert(c, conn, f"job {i}", priority=1 + i % 10)
    for n in range(workers):
        c.instances.register(instance_id=f"w{n}", role="bench", ttl=3600)
    return folder, c


def api_worker(folder: str, name: str) -> int:
    c = Coordinator.open(folder)
    done = 0
    while True:
        try:
            task = c.tasks.claim(name)
        except NotFound:
            return done
        c.tasks.complete(task.id, name, "ok")
        done += 1


def api_throughput(tasks: int, workers: int) -> float:
    folder, c = fresh_store(tasks, workers)
    try:
        ctx = get_context("spawn")
        with ctx.Pool(workers) as pool:
            start = time.perf_counter()
            counts = pool.starmap(api_worker, [(str(folder), f"w{n}") for n in range(workers)])
            elapsed = time.perf_counter() - start
        assert sum(counts) == tasks and c.tasks.counts()["done"] == tasks
        return tasks / elapsed
    finally:
        c.close()
        shutil.rmtree(folder, ignore_errors=True)


def cli_throughput(tasks: int, workers: int) -> float:
    folder, c = fresh_store(tasks, workers)
    try:
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                ["bash", "-c", WORKER],
                cwd=folder,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "CTUI": CTUI, "W": f"w{n}"},
            )
            for n in range(workers)
        ]
        for proc in procs:
            proc.wait(timeout=600)
        elapsed = time.perf_counter() - start
        assert c.tasks.counts()["done"] == tasks, c.tasks.counts()
        return tasks / elapsed
    finally:
        c.close()
        shutil.rmtree(folder, ignore_errors=True)


def python_pass() -> float:
    runs = []
    for _ in range(10):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def claim_latency(queued: int, samples: int = 300) -> float:
    """Median seconds per claim with `queued` tasks available (each claimed task is then done)."""
    folder, c = fresh_store(queued + samples, 1)
    try:
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            task = c.tasks.claim("w0")
            times.append(time.perf_counter() - start)
            c.tasks.complete(task.id, "w0")
        return statistics.median(times)
    finally:
        c.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400, help="tasks per API throughput run")
    parser.add_argument("--cli-tasks", type=int, default=80, help="tasks per CLI throughput run")
    args = parser.parse_args()

    print(f"claim+complete throughput, Python API ({args.tasks} tasks)")
    base = None
    for workers in (1, 4, 8):
        rate = api_throughput(args.tasks, workers)
        base = base or rate
        print(f"  {workers} worker(s): {rate:8.0f} tasks/s   ({rate / base:.2f}x one worker)")

    bare = python_pass()
    print(
        f"\nclaim+complete throughput, exec'ing ctui ({args.cli_tasks} tasks; "
        f"python -c pass: {bare * 1000:.0f} ms)"
    )
    base = None
    for workers in (1, 4, 8):
        rate = cli_throughput(args.cli_tasks, workers)
        base = base or rate
        per_task = 1 / rate
        print(
            f"  {workers} worker(s): {rate:8.1f} tasks/s   ({rate / base:.2f}x one worker; "
            f"{per_task / bare:.1f}x a bare python start per task)"
        )

    small = claim_latency(100)
    large = claim_latency(10_000)
    print("\nclaim latency (median of 300)")
    print(f"  100 queued:    {small * 1e6:8.0f} us")
    print(f"  10,000 queued: {large * 1e6:8.0f} us")
    print(f"  ratio 10,000 / 100: {large / small:.2f}")


if __name__ == "__main__":
    main()
