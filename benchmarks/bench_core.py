"""Speed of the coordination core, in-process and as whole `ctui` processes.

Every figure is a median, printed next to its ratio to a bare `python -c pass`
start-up measured in the same run (for processes: the median of ratios to a
bare start-up timed right before each run), so the numbers mean the same on a
slow or a busy machine. Run:

    .venv/bin/python benchmarks/bench_core.py [--runs N]

Targets (checked at the end): in-process acquire+release at least 2,000
pairs/s; a `ctui lock acquire` process at most 3x bare start-up; `ctui status`
on 100 instances, 1,000 leases and 10,000 decisions at most 4x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ctui.core import Coordinator

BIN = Path(sys.executable).parent
CTUI = str(BIN / "ctui")
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("PYTHONDONTWRITEBYTECODE", "CTUI_DIR", "CTUI_INSTANCE_ID")
}


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=60)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.decode().strip()}")
    return elapsed


BARE = [sys.executable, "-c", "pass"]


def process_median(argv: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Median wall time of `argv`, and the median ratio to a bare start-up timed just before it.

    Pairing every run with its own baseline keeps the ratio honest when other
    work on the machine slows both down for a while.
    """
    _time(argv, cwd, ENV)  # warm-up: writes bytecode caches
    times, ratios = [], []
    for _ in range(runs):
        bare = _time(BARE, cwd, ENV)
        took = _time(argv, cwd, ENV)
        times.append(took)
        ratios.append(took / bare)
    return statistics.median(times), statistics.median(ratios)


def op_median(op: Callable[[int], object], count: int) -> float:
    """Median seconds per call of `op(i)` over `count` calls, timed one by one."""
    times = []
    for i in range(count):
        start = time.perf_counter()
        op(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(
    name: str, seconds: float, bare: float, extra: str = "", ratio: float | None = None
) -> None:
    ratio = seconds / bare if ratio is None else ratio
    print(f"  {name:<38} {seconds * 1000:8.3f} ms  {ratio:7.3f}x bare  {extra}")


def prow(name: str, measured: tuple[float, float]) -> float:
    """Print a process figure (median time, median paired ratio); return the ratio."""
    row(name, measured[0], 1.0, ratio=measured[1])
    return measured[1]


def in_process(root: Path, bare: float, count: int) -> float:
    c = Coordinator.open(root)
    me = c.instances.register(role="bench", pid=os.getpid(), ttl=3600).id
    print(f"in-process (median of {count} calls each)")

    def pair(i: int) -> None:
        c.leases.acquire("src/app.py", instance=me)
        c.leases.release("src/app.py", instance=me)

    pair_s = op_median(pair, count)
    row("acquire + release (pair)", pair_s, bare, f"{1 / pair_s:,.0f} pairs/s")
    c.leases.acquire("src/app.py", instance=me)
    row(
        "acquire (held path, renews)",
        op_median(lambda i: c.leases.acquire("src/app.py", instance=me), count),
        bare,
    )
    row("renew", op_median(lambda i: c.leases.renew("src/app.py", instance=me), count), bare)
    row("check", op_median(lambda i: c.leases.check("src/app.py"), count), bare)
    row("heartbeat", op_median(lambda i: c.instances.heartbeat(me), count), bare)
    row("status snapshot (small store)", op_median(lambda i: c.snapshot(), count // 10), bare)
    row(
        "decision add",
        op_median(lambda i: c.decisions.add(category="bench", title=f"d{i}", author=me), count),
        bare,
    )
    c.leases.release("src/app.py", instance=me)
    c.instances.unregister(me)
    c.close()
    return pair_s


def cli(root: Path, bare: float, runs: int) -> float:
    me = subprocess.run(
        [CTUI, "instance", "register", "--role", "bench"],
        cwd=root,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    who = ["--as", me]
    print(f"whole `ctui` processes (median of {runs} runs each)")
    acquire = prow(
        "ctui lock acquire",
        process_median([CTUI, *who, "lock", "acquire", "src/app.py"], runs, root),
    )
    for name, argv in (
        ("ctui lock renew", [CTUI, *who, "lock", "renew", "src/app.py"]),
        ("ctui lock check", [CTUI, *who, "lock", "check", "src/app.py"]),
        ("ctui instance heartbeat", [CTUI, "instance", "heartbeat", me]),
        ("ctui status", [CTUI, "status"]),
        (
            "ctui decisions add",
            [CTUI, *who, "decisions", "add", "--category", "bench", "--title", "t"],
        ),
    ):
        prow(name, process_median(argv, runs, root))
    subprocess.run(
        [CTUI, *who, "lock", "release", "src/app.py"], cwd=root, env=ENV, capture_output=True
    )
    return acquire


def big_status(root: Path, bare: float, runs: int) -> float:
    c = Coordinator.open(root)
    start = time.perf_counter()
    with c.store.write():
        ids = [
            c.instances.register(
                role=f"agent{n % 7}", task=f"task {n}", pid=os.getpid(), ttl=86400
            ).id
            for n in range(100)
        ]
        for n in range(1000):
            c.leases.acquire(
                f"pkg{n % 40}/mod{n}.py", instance=ids[n % 100], intent="bench", ttl=86400
            )
        for n in range(10_000):
            c.decisions.add(
                category=f"cat{n % 12}",
                title=f"decision number {n}",
                description="a few words to index " * 3,
                author=ids[n % 100],
            )
    c.close()
    print(
        "big store: 100 instances, 1,000 leases, 10,000 decisions "
        f"(filled in {time.perf_counter() - start:.1f}s)"
    )
    status = prow("ctui status", process_median([CTUI, "status"], runs, root))
    prow("ctui status --json", process_median([CTUI, "status", "--json"], runs, root))
    c = Coordinator.open(root)
    row("status snapshot in-process", op_median(lambda i: c.snapshot(), 20), bare)
    c.close()
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="process runs per figure (default 15)")
    parser.add_argument(
        "--count", type=int, default=1000, help="in-process calls per figure (default 1000)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctui-bench-") as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        for root in (small, big):
            (root / "src").mkdir(parents=True)
            (root / "src" / "app.py").write_text("print('bench')\n")
            subprocess.run(["git", "init", "-q", str(root)], check=True)
        bare = statistics.median(_time(BARE, small, ENV) for _ in range(args.runs * 2))
        print(
            f"python {sys.version.split()[0]}; bare `python -c pass`: {bare * 1000:.1f} ms "
            "(the 1.0x baseline)"
        )
        pair_s = in_process(small, bare, args.count)
        acquire = cli(small, bare, args.runs)
        status = big_status(big, bare, args.runs)
        bare_again = statistics.median(_time(BARE, small, ENV) for _ in range(args.runs * 2))
        print(f"bare `python -c pass` again: {bare_again * 1000:.1f} ms")
    checks = [
        ("in-process acquire+release >= 2,000 pairs/s", 1 / pair_s >= 2000, f"{1 / pair_s:,.0f}/s"),
        ("ctui lock acquire <= 3x bare start-up", acquire <= 3, f"{acquire:.2f}x"),
        ("ctui status (big store) <= 4x bare start-up", status <= 4, f"{status:.2f}x"),
    ]
    print("targets")
    for name, ok, got in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {name}: {got}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
