#!/usr/bin/env python3
"""Load every CPU for a bounded time, then stop by itself: for running tests under load.

    scripts/stress_load.py --seconds 300 &          # one busy process per CPU, 5 minutes
    scripts/stress_load.py --seconds 300 --per-cpu 3  # load average about 3 x CPUs

Each worker spins until the deadline and exits; the parent ends any worker left at the
deadline (plus a second), so nothing outlives the run even if the parent is killed
(workers check the deadline themselves) or a worker is stopped. SIGINT or SIGTERM to
the parent ends every worker at once.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import time


def spin(deadline: float) -> None:
    n = 0
    while time.monotonic() < deadline:
        for _ in range(10_000):
            n = (n * 1103515245 + 12345) & 0x7FFFFFFF


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="how long (default 60, max 3600)")
    parser.add_argument("--per-cpu", type=int, default=1, help="busy processes per CPU (1-8)")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600 or not 1 <= args.per_cpu <= 8:
        parser.error("--seconds must be in (0, 3600] and --per-cpu in [1, 8]")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = (cpus or 1) * args.per_cpu
    deadline = time.monotonic() + args.seconds

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    # Explicitly: a shell starting this with `&` ignores SIGINT for it.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    workers = [multiprocessing.Process(target=spin, args=(deadline,)) for _ in range(count)]
    for w in workers:
        w.start()
    print(f"stress_load: {count} busy processes for {args.seconds:g}s", flush=True)
    try:
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()) + 1)
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
            w.join()
    print("stress_load: done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
