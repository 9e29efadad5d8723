"""Writers in several processes at once: throughput and how long the unlucky ones wait.

    .venv/bin/python benchmarks/bench_contention.py [--ops 1500] [--procs 1 2 4 8]

Each process registers an instance and acquires `--ops` distinct leases, one
`BEGIN IMMEDIATE` transaction each, timing every call. Every row runs twice
on a fresh store: with the writer queue (`.ctui/write.lock`, the default) and
with `CTUI_WRITER_QUEUE=off`, where a blocked writer sleeps in SQLite's busy
handler (1, 2, 5 ... 100 ms between tries). The baseline is one process
writing alone, measured in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def writer(repo: str, ops: int, start: object, out: object) -> None:
    from ctui.core import Coordinator

    c = Coordinator.open(Path(repo))
    me = c.instances.register(role="writer", pid=os.getpid(), ttl=3600).id
    took = []
    start.wait()  # type: ignore[attr-defined]
    for i in range(ops):
        t0 = time.perf_counter()
        c.leases.acquire(f"w{os.getpid()}/f{i}.py", instance=me, intent="bench", ttl=3600)
        took.append(time.perf_counter() - t0)
    c.close()
    out.put(took)  # type: ignore[attr-defined]


def run(root: Path, procs: int, ops: int, queue: bool) -> dict[str, float]:
    repo = root / f"r{procs}-{'q' if queue else 's'}-{time.monotonic_ns()}"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.environ["CTUI_WRITER_QUEUE"] = "on" if queue else "off"
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=writer, args=(str(repo), ops, start, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    start.wait()
    began = time.perf_counter()
    took: list[float] = []
    for _ in workers:
        took += out.get(timeout=600)
    wall = time.perf_counter() - began
    for w in workers:
        w.join(60)
    took.sort()
    return {
        "ops_s": len(took) / wall,
        "p50": took[len(took) // 2] * 1000,
        "p99": took[int(len(took) * 0.99)] * 1000,
        "max": took[-1] * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1500, help="leases per process (1500)")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.ops} writes each")
    print(
        f"{'processes':>9} {'queue':>6} {'writes/s':>9} {'vs 1':>6} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        alone = run(Path(tmp), 1, args.ops, True)["ops_s"]
        for procs in args.procs:
            for queue in (True, False):
                r = run(Path(tmp), procs, args.ops, queue)
                print(
                    f"{procs:>9} {'on' if queue else 'off':>6} {r['ops_s']:>9.0f} "
                    f"{r['ops_s'] / alone:>6.2f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
