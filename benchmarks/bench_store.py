"""The two store backends side by side: leases and tasks per second, SQLite against PostgreSQL.

    .venv/bin/python benchmarks/bench_store.py [--pg-url URL] [--seconds 2] [--procs 1 4 8]

Each cell starts N processes that each open their own Coordinator (in-process
calls through the facade, no CLI) and run one operation pair in a loop for
`--seconds`: a lease (`leases.acquire` then `leases.release` of one of the
process's own paths) or a task (`tasks.claim` then `tasks.complete` from one
shared queue, filled beforehand). Every write is one transaction, serialised
by each backend's lock (SQLite's `BEGIN IMMEDIATE`, PostgreSQL's advisory lock).

A last table times how soon a waiting follower wakes (the store's change feed,
`wait`, as `ctui events --follow` uses it) after another connection's commit:
SQLite's feed polls `data_version`, PostgreSQL's is woken by LISTEN.

SQLite runs on a fresh store in a temporary folder; PostgreSQL on the server
at `--pg-url` (else `CTUI_TEST_PG_URL`), over loopback, in a fresh schema per
cell that is dropped afterwards. Without a URL the PostgreSQL rows are skipped
and say so. Figures are pairs per second and, per operation, the ratio to one
SQLite process measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OPS = ("lease", "task")
LABEL = {"lease": "lease acquire+release", "task": "task claim+complete"}
QUEUE_PER_S = {"sqlite": 4000, "postgresql": 1500}
"""Tasks queued per second of the run: more than each backend drains here (a queue that
runs dry only ends the cell early; the rate stays right)."""


def worker(
    op: str, repo: str, env: dict[str, str], n: int, seconds: float, start: Any, out: Any
) -> None:
    os.environ.update(env)
    from ctui.core import Coordinator
    from ctui.core.errors import NotFound

    c = Coordinator.open(Path(repo))
    me = f"w{n}"
    c.instances.register(instance_id=me, role="bench", pid=os.getpid(), ttl=3600)
    done = 0
    start.wait()
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        if op == "lease":
            path = f"w{n}/f{done % 64}.py"
            c.leases.acquire(path, instance=me, intent="bench", ttl=3600)
            c.leases.release(path, instance=me)
        else:
            try:
                task = c.tasks.claim(me)
            except NotFound:
                break
            c.tasks.complete(task.id, me, "ok")
        done += 1
    out.put((done, time.perf_counter() - began))
    c.close()


@contextlib.contextmanager
def scratch(backend: str, pg_url: str | None) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh repository (and on PostgreSQL a fresh schema, dropped afterwards), with the
    store variables set for this process and the workers it starts."""
    root = Path(tempfile.mkdtemp(prefix="ctui-bench-store-"))
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {"CTUI_STORE_URL": "", "CTUI_STORE_SCHEMA": ""}
    if backend == "postgresql":
        assert pg_url is not None
        env = {"CTUI_STORE_URL": pg_url, "CTUI_STORE_SCHEMA": f"bench_{uuid.uuid4().hex[:12]}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield repo, env
    finally:
        if backend == "postgresql" and pg_url:
            drop_schema(pg_url, env["CTUI_STORE_SCHEMA"])
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


def cell(op: str, backend: str, procs: int, seconds: float, pg_url: str | None) -> float:
    """Pairs per second for one operation, backend and process count (a fresh store)."""
    with scratch(backend, pg_url) as (repo, env):
        fill(repo, QUEUE_PER_S[backend] * seconds if op == "task" else 0, env)
        ctx = mp.get_context("spawn")
        start, out = ctx.Barrier(procs + 1), ctx.Queue()
        workers = [
            ctx.Process(target=worker, args=(op, str(repo), env, n, seconds, start, out))
            for n in range(procs)
        ]
        for w in workers:
            w.start()
        start.wait(timeout=300)
        results = [out.get(timeout=300) for _ in workers]
        for w in workers:
            w.join(60)
        return sum(done for done, _ in results) / max(took for _, took in results)


def wake_ms(backend: str, pg_url: str | None, samples: int = 40) -> float:
    """Median milliseconds from a commit (another connection, another thread) to the
    feed's blocking `wait` returning."""
    import statistics
    import threading

    from ctui.core import Coordinator

    with scratch(backend, pg_url) as (repo, _env):
        c = Coordinator.open(repo)
        feed = c.store.change_feed()
        feed.wait(0)
        committed: list[float] = []
        took: list[float] = []

        def commit() -> None:
            time.sleep(0.02)  # let the waiter block first
            c.events.publish("bench.wake")  # this thread's own connection
            committed.append(time.perf_counter())
            c.store.close()

        for _ in range(samples):
            writer = threading.Thread(target=commit)
            writer.start()
            woke = feed.wait(10)
            at = time.perf_counter()
            writer.join()
            if woke:
                took.append(at - committed[-1])
        feed.close()
        c.close()
        return statistics.median(took) * 1000


def fill(repo: Path, count: float, env: dict[str, str]) -> None:
    """Create the store, queue `count` tasks, and on PostgreSQL install the notify triggers
    (a store has them once any live view has listened; each write then fires one)."""
    from ctui.core import Coordinator
    from ctui.core.tasks import insert

    c = Coordinator.open(repo)
    with c.store.write() as conn:
        for i in range(int(count)):
            insert(c, conn, f"job {i}", priority=1 + i % 10)
    if env["CTUI_STORE_URL"]:
        import psycopg

        from ctui.core.store.listen import install

        with psycopg.connect(env["CTUI_STORE_URL"], autocommit=True) as conn:
            install(conn, env["CTUI_STORE_SCHEMA"])
    c.close()


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def pg_usable(url: str | None) -> str | None:
    """Why the PostgreSQL rows cannot run, or None when they can."""
    if not url:
        return "no server: pass --pg-url or set CTUI_TEST_PG_URL"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install 'ctui[postgres]'"
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"cannot connect to {url}: {' '.join(str(exc).split())}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=os.environ.get("CTUI_TEST_PG_URL", ""))
    parser.add_argument("--seconds", type=float, default=2.0, help="run time per cell (2)")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    url = args.pg_url.strip() or None
    why = pg_usable(url)
    backends = ["sqlite"] if why else ["sqlite", "postgresql"]
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"{args.seconds:g} s per cell; ratios against one SQLite process in this run"
    )
    if why:
        print(f"PostgreSQL rows skipped: {why}")
    print(f"{'operation':<22} {'backend':<10} {'processes':>9} {'pairs/s':>9} {'vs SQLite 1':>11}")
    began = time.perf_counter()
    for op in OPS:
        base: float | None = None
        for backend in backends:
            for procs in args.procs:
                rate = cell(op, backend, procs, args.seconds, url)
                if base is None:
                    base = rate if backend == "sqlite" and procs == 1 else None
                    if base is None:
                        base = cell(op, "sqlite", 1, args.seconds, url)
                print(
                    f"{LABEL[op]:<22} {backend:<10} {procs:>9} {rate:>9.0f} {rate / base:>11.2f}",
                    flush=True,
                )
    print(f"\n{'follower wakes after a commit':<33} {'median ms':>9} {'vs SQLite':>9}")
    base_ms = None
    for backend in backends:
        ms = wake_ms(backend, url)
        base_ms = base_ms or ms
        print(f"{backend:<33} {ms:>9.1f} {ms / base_ms:>9.2f}", flush=True)
    print(f"({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
