"""Real processes racing for the store: mutual exclusion, fencing, ids, liveness, FIFO waits.

Every worker is its own OS process with its own SQLite connection. The
SkillForge system these replace granted one lock to two racers in 38 of 50
trials and gave 8 concurrent decisions the same id; these tests repeat enough
rounds to catch that kind of race.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import LeaseHeld
from ctui.core.store.schema import VERSION
from tests.conftest import CTUI
from tests.support import drop_pg_schema, pg_schema_name, pg_url_or_skip

WORKERS = 8
CTX = mp.get_context("fork")


def _hold_rounds(root: str, log: str, rounds: int, barrier: mp.synchronize.Barrier) -> None:
    c = Coordinator.open(root)
    me = c.instances.register(role="racer", pid=os.getpid(), ttl=600).id
    rng = random.Random(os.getpid())
    barrier.wait(timeout=60)
    done = 0
    deadline = time.monotonic() + 90
    while done < rounds and time.monotonic() < deadline:
        try:
            lease = c.leases.acquire("src/app.py", instance=me, ttl=60)
        except LeaseHeld:
            time.sleep(rng.uniform(0.0005, 0.003))
            continue
        with open(log, "a") as fh:
            fh.write(f"start {lease.token} {me}\n")
            fh.flush()
            time.sleep(rng.uniform(0, 0.002))
            fh.write(f"end {lease.token} {me}\n")
            fh.flush()
        c.leases.release("src/app.py", instance=me)
        done += 1
    c.close()


def _run(target, args_for, n: int = WORKERS, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    procs = [CTX.Process(target=target, args=args_for(i)) for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(5)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


@pytest.mark.usefixtures("backend")
def test_eight_processes_never_hold_one_path_at_once(repo: Path, tmp_path: Path) -> None:
    Coordinator.open(repo).close()
    log = tmp_path / "holds.log"
    rounds = 20
    barrier = CTX.Barrier(WORKERS)
    _run(_hold_rounds, lambda i: (str(repo), str(log), rounds, barrier))
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 2 * WORKERS * rounds
    tokens = []
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start[0] == "start" and end[0] == "end", (start, end)
        assert start[1:] == end[1:], (start, end)  # nobody started inside another's hold
        tokens.append(int(start[1]))
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)
    assert len({line[2] for line in lines}) == WORKERS


def _one_shot(root: str, trials: int, barrier: mp.synchronize.Barrier, out: str) -> None:
    c = Coordinator.open(root)
    me = c.instances.register(role="shot", pid=os.getpid(), ttl=600).id
    won = []
    for trial in range(trials):
        barrier.wait(timeout=60)
        try:
            c.leases.acquire(f"race/{trial}.py", instance=me)
            won.append(str(trial))
        except LeaseHeld:
            pass
    barrier.wait(
        timeout=60
    )  # a winner that exits early is a dead holder: others may take its lease
    Path(out).write_text(" ".join(won))
    c.close()


@pytest.mark.usefixtures("backend")
def test_fifty_simultaneous_trials_have_one_winner_each(repo: Path, tmp_path: Path) -> None:
    Coordinator.open(repo).close()
    trials = 50
    barrier = CTX.Barrier(WORKERS)
    _run(_one_shot, lambda i: (str(repo), trials, barrier, str(tmp_path / f"won-{i}")))
    wins = [w for i in range(WORKERS) for w in (tmp_path / f"won-{i}").read_text().split()]
    assert sorted(map(int, wins)) == list(range(trials))


def _decide(root: str, count: int, barrier: mp.synchronize.Barrier) -> None:
    c = Coordinator.open(root)
    me = c.instances.register(role="decider", pid=os.getpid(), ttl=600).id
    barrier.wait(timeout=60)
    for n in range(count):
        c.decisions.add(category="race", title=f"{me} decision {n}", author=me)
    c.close()


@pytest.mark.usefixtures("backend")
def test_concurrent_decisions_get_unique_ids(repo: Path) -> None:
    Coordinator.open(repo).close()
    count = 10
    barrier = CTX.Barrier(WORKERS)
    _run(_decide, lambda i: (str(repo), count, barrier))
    c = Coordinator.open(repo)
    ids = [d.id for d in c.decisions.list(limit=1000)]
    assert len(ids) == len(set(ids)) == WORKERS * count
    by_day: dict[str, list[int]] = {}
    for i in ids:  # DEC-YYYYMMDD-NNNN: numbered per day, so a run over midnight has two days
        day, seq = i.rsplit("-", 2)[1:]
        by_day.setdefault(day, []).append(int(seq))
    for seqs in by_day.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), by_day  # no gap, no repeat
    c.close()


def _register_many(root: str, count: int, barrier: mp.synchronize.Barrier, out: str) -> None:
    c = Coordinator.open(root)
    barrier.wait(timeout=60)
    ids = [c.instances.register(role="racer", pid=os.getpid(), ttl=600).id for _ in range(count)]
    Path(out).write_text(" ".join(ids))
    c.close()


@pytest.mark.usefixtures("backend")
def test_concurrent_registrations_get_unique_instance_ids(repo: Path, tmp_path: Path) -> None:
    """Registration upserts by id, so a shared id would silently merge two agents into one row."""
    Coordinator.open(repo).close()
    count = 10
    barrier = CTX.Barrier(WORKERS)
    _run(
        _register_many,
        lambda i: (str(repo), count, barrier, str(tmp_path / f"ids-{i}")),
    )
    ids = [x for i in range(WORKERS) for x in (tmp_path / f"ids-{i}").read_text().split()]
    assert len(ids) == len(set(ids)) == WORKERS * count
    rows = _column(repo, "SELECT id FROM instances WHERE role = 'racer'")
    assert sorted(rows) == sorted(ids)


HOLDER = """
import os, sys, time
from ctui.core import Coordinator
c = Coordinator.open(sys.argv[1])
me = c.instances.register(role="doomed", pid=os.getpid(), ttl=3600)
c.leases.acquire("src/app.py", instance=me.id, ttl=3600)
print(me.id, flush=True)
time.sleep(120)
"""


@pytest.mark.usefixtures("backend")
def test_a_killed_holder_loses_its_lease_long_before_the_ttl(repo: Path) -> None:
    Coordinator.open(repo).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(repo)], stdout=subprocess.PIPE, text=True
    )
    try:
        holder = (proc.stdout.readline() if proc.stdout else "").strip()
        assert holder.startswith("doomed-")
        c = Coordinator.open(repo)
        other = c.instances.register(role="other").id
        with pytest.raises(LeaseHeld):
            c.leases.acquire("src/app.py", instance=other)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        lease = c.leases.acquire("src/app.py", instance=other)  # TTL is an hour away
        assert lease.holder == other
        stale = [e for e in c.events.since(0) if e.kind == "instance.stale"]
        assert [(e.subject, e.data["why"]) for e in stale] == [(holder, "process gone")]
        c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _ctui(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CTUI, *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _column(repo: Path, sql: str) -> list[str]:
    """The first column of a query, read by a store of its own (either backend)."""
    c = Coordinator.open(repo, create=False)
    try:
        return [r[0] for r in c.store.conn.execute(sql)]
    finally:
        c.close()


def _waiters(repo: Path) -> list[str]:
    return _column(repo, "SELECT instance FROM lease_waiters ORDER BY id")


def _until(check, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.usefixtures("backend")
def test_waiters_are_served_first_come_first_served(repo: Path) -> None:
    c = Coordinator.open(repo)
    for name in ("holder", "w1", "w2", "w3", "late"):
        c.instances.register(instance_id=name, ttl=600)
    c.leases.acquire("src/app.py", instance="holder")
    procs = {}
    try:
        for name in ("w1", "w2", "w3"):
            procs[name] = _ctui(repo, "--as", name, "lock", "acquire", "src/app.py", "--wait", "60")
            _until(lambda name=name: name in _waiters(repo))
        assert _waiters(repo) == ["w1", "w2", "w3"]
        c.leases.release("src/app.py", instance="holder")
        # free, but others queued first (or w1, polling, took it already: late is refused)
        with pytest.raises(LeaseHeld, match=r"earlier waiter|is leased by w1"):
            c.leases.acquire("src/app.py", instance="late")
        for name, later in (("w1", ["w2", "w3"]), ("w2", ["w3"]), ("w3", [])):
            _, err = procs[name].communicate(timeout=30)
            assert procs[name].returncode == 0, err
            assert c.leases.check("src/app.py").holder == name
            assert all(procs[other].poll() is None for other in later)
            c.leases.release("src/app.py", instance=name)
        assert _waiters(repo) == []
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        c.close()


def test_a_wait_that_runs_out_exits_10_and_leaves_no_waiter(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.instances.register(instance_id="holder", ttl=600)
    c.instances.register(instance_id="w", ttl=600)
    c.leases.acquire("src/app.py", instance="holder")
    proc = _ctui(repo, "--as", "w", "lock", "acquire", "src/app.py", "--wait", "0.3")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 10
    assert "waited 0.3s" in err and len(err.strip().splitlines()) == 1
    assert _waiters(repo) == []
    c.close()


def _open_fresh(root: str, barrier: mp.synchronize.Barrier) -> None:
    barrier.wait(timeout=60)
    c = Coordinator.open(root, store_dir=Path(root) / ".ctui")  # a fresh store, made by the race
    c.instances.register(role="opener", pid=os.getpid())
    c.close()


def test_eight_processes_create_one_store_together(tmp_path: Path) -> None:
    for trial in range(10):  # under load this caught SQLite's no-wait "locked" on the WAL switch
        root = tmp_path / f"fresh-{trial}"
        root.mkdir()
        barrier = CTX.Barrier(WORKERS)
        _run(_open_fresh, lambda i, root=root, barrier=barrier: (str(root), barrier))
        conn = sqlite3.connect(root / ".ctui" / "ctui.db")
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        ids = [r[0] for r in conn.execute("SELECT id FROM instances ORDER BY id")]
        conn.close()
        assert ids[-1] == "operator" and len(ids) == WORKERS + 1 and len(set(ids)) == len(ids)


@pytest.mark.postgres
def test_eight_processes_create_one_postgres_schema_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url_or_skip()
    for trial in range(3):
        schema = pg_schema_name()
        monkeypatch.setenv("CTUI_STORE_URL", url)
        monkeypatch.setenv("CTUI_STORE_SCHEMA", schema)
        root = tmp_path / f"fresh-{trial}"
        root.mkdir()
        try:
            barrier = CTX.Barrier(WORKERS)
            _run(_open_fresh, lambda i, root=root, barrier=barrier: (str(root), barrier))
            c = Coordinator.open(root, store_dir=root / ".ctui", create=False)
            ids = [r[0] for r in c.store.conn.execute("SELECT id FROM instances ORDER BY id")]
            version = c.store.conn.execute("SELECT version FROM ctui_schema").fetchone()[0]
            c.close()
            assert version == VERSION
            assert ids[-1] == "operator" and len(ids) == WORKERS + 1 and len(set(ids)) == len(ids)
        finally:
            drop_pg_schema(url, schema)


WAITER = """
import os, sys
from ctui.core import Coordinator
c = Coordinator.open(sys.argv[1])
me = c.instances.register(role="waiter", pid=os.getpid(), ttl=3600)
c.leases.acquire("src/app.py", instance=me.id, wait=120)
"""


@pytest.mark.usefixtures("backend")
def test_a_killed_waiter_does_not_block_the_queue(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.instances.register(instance_id="holder", ttl=600)
    c.instances.register(instance_id="next", ttl=600)
    c.leases.acquire("src/app.py", instance="holder")
    proc = subprocess.Popen([sys.executable, "-c", WAITER, str(repo)])
    try:
        _until(lambda: len(_waiters(repo)) == 1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert len(_waiters(repo)) == 1  # killed mid-wait: its row is left behind
        c.leases.release("src/app.py", instance="holder")
        assert c.leases.acquire("src/app.py", instance="next").holder == "next"
        assert _waiters(repo) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        c.close()


@pytest.mark.usefixtures("backend")
def test_threads_sharing_one_coordinator_never_overlap(repo: Path) -> None:
    """The TUI and API call the core from worker threads: one connection per thread."""
    import threading

    c = Coordinator.open(repo)
    ids = [c.instances.register(role="thread", ttl=600).id for _ in range(WORKERS)]
    holding: list[str] = []
    log: list[tuple[str, str]] = []
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work(me: str) -> None:
        try:
            done = 0
            deadline = time.monotonic() + 60
            while done < 10 and time.monotonic() < deadline:
                try:
                    c.leases.acquire("src/app.py", instance=me)
                except LeaseHeld:
                    time.sleep(0.001)
                    continue
                with guard:
                    holding.append(me)
                    log.append(("start", me))
                    assert len(holding) == 1, holding
                time.sleep(0.0005)
                with guard:
                    holding.remove(me)
                    log.append(("end", me))
                c.leases.release("src/app.py", instance=me)
                done += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(me,)) for me in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert len(log) == 2 * 10 * WORKERS
    c.close()


@pytest.mark.usefixtures("backend")
def test_threads_with_their_own_coordinators_write_one_at_a_time(repo: Path) -> None:
    """Writers in one process queue on the store's in-process lock: nothing lost, ids unique."""
    import threading

    Coordinator.open(repo).close()
    start = threading.Barrier(WORKERS)
    made: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        c = Coordinator.open(repo)
        try:
            start.wait(30)
            for n in range(25):
                made.append(c.decisions.add(category="race", title=f"t{n}", author="operator").id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    assert len(made) == len(set(made)) == 25 * WORKERS
    c = Coordinator.open(repo)
    assert c.decisions.count() == 25 * WORKERS
    c.close()
