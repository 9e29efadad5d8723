"""Real processes racing on one store through the CLI: nothing lost, nothing twice.

The 500-task race runs 8 processes that each call the CLI's entry point
(`ctui.cli.main`: the same parser, handlers and store opening as the `ctui`
command) in a loop; a second race execs the installed `ctui` for every claim
and complete, 250 tasks (about 20 s on two cores; `CTUI_RACE_TASKS=N` changes
the size: the in-process race covers 500 on each backend). Every worker waits
for a start file that is made only once all of them are running, so they begin
together instead of in the order they were launched.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.conftest import CTUI

WAIT_FOR_GO = """
: > "$GO.$W"
for _ in $(seq 1 3000); do [ -e "$GO" ] && break; sleep 0.01; done
[ -e "$GO" ] || exit 3
"""

WORKER = (
    WAIT_FOR_GO
    + """
set -o pipefail
while id=$("$CTUI" task claim --as "$W" | head -n 1 | cut -d ' ' -f 1); do
    "$CTUI" task complete "$id" --as "$W" --result "by $W" > /dev/null || exit 1
    echo "$id"
done
"""
)

INPROC_WORKER = """
import contextlib, io, json, os, sys, time
from ctui.cli import main

me = sys.argv[1]
open(os.environ["GO"] + "." + me, "w").close()
deadline = time.monotonic() + 30
while not os.path.exists(os.environ["GO"]):
    assert time.monotonic() < deadline, "no start file"
    time.sleep(0.005)
while True:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["task", "claim", "--json", "--as", me])
    if code == 4:
        break
    assert code == 0, err.getvalue()
    task_id = json.loads(out.getvalue())["id"]
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["task", "complete", task_id, "--as", me, "--result", f"by {me}"])
    assert code == 0, task_id
    print(task_id, flush=True)
"""

ADDER = (
    WAIT_FOR_GO
    + """
for i in $(seq 1 "$N"); do
    "$CTUI" task add "from $W number $i" -p $(( (i % 10) + 1 )) || exit 1
done
"""
)


def _run_all(
    repo: Path,
    script: str,
    names: list[str],
    extra: dict[str, str],
    timeout: float,
    *,
    python: bool = False,
) -> list[str]:
    go = repo.parent / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, name] if python else ["bash", "-c", script],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "CTUI": CTUI, "W": name, "GO": str(go), **extra},
        )
        for name in names
    ]
    outputs = []
    try:
        deadline = time.monotonic() + 30
        while not all(Path(f"{go}.{name}").exists() for name in names):
            assert time.monotonic() < deadline, "the workers did not all start"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err
            for line in err.splitlines():
                assert line.startswith("ctui: no task available to claim"), err
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return outputs


def _queue(coord: Coordinator, count: int) -> tuple[list[str], list[str]]:
    rng = random.Random(7)
    with coord.store.write():
        ids = [coord.tasks.add(f"job {i}", priority=rng.randint(1, 10)).id for i in range(count)]
    workers = [f"w{n}" for n in range(1, 9)]
    for name in workers:
        coord.instances.register(instance_id=name, role="worker", ttl=3600)
    return ids, workers


def _check_each_done_once(
    coord: Coordinator, ids: list[str], workers: list[str], outputs: list[str]
) -> None:
    claimed = Counter(line for out in outputs for line in out.split())
    assert sorted(claimed) == sorted(ids) and set(claimed.values()) == {1}
    for name, out in zip(workers, outputs, strict=True):
        for task_id in out.split():
            task = coord.tasks.get(task_id)
            assert (task.status, task.claimed_by, task.result, task.attempts) == (
                "done",
                name,
                f"by {name}",
                1,
            )
    assert coord.tasks.counts()["done"] == len(ids)
    done_events = [e.subject for e in coord.events.since(0, limit=100_000) if e.kind == "task.done"]
    assert sorted(done_events) == sorted(ids)
    assert sum(1 for out in outputs if out.split()) >= 2, "the workers never overlapped"


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.usefixtures("backend")
def test_eight_cli_processes_finish_500_tasks_each_exactly_once(
    coord: Coordinator, repo: Path
) -> None:
    ids, workers = _queue(coord, 500)
    outputs = _run_all(repo, INPROC_WORKER, workers, {}, timeout=200, python=True)
    _check_each_done_once(coord, ids, workers, outputs)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_eight_workers_execing_ctui_finish_each_task_exactly_once(
    coord: Coordinator, repo: Path
) -> None:
    ids, workers = _queue(coord, int(os.environ.get("CTUI_RACE_TASKS", "250")))
    outputs = _run_all(repo, WORKER, workers, {}, timeout=380)
    _check_each_done_once(coord, ids, workers, outputs)


@pytest.mark.slow
@pytest.mark.usefixtures("backend")
def test_four_processes_adding_at_once_lose_nothing(coord: Coordinator, repo: Path) -> None:
    adders = ["a1", "a2", "a3", "a4"]
    outputs = _run_all(repo, ADDER, adders, {"N": "15"}, timeout=120)
    printed = [line for out in outputs for line in out.split()]
    assert len(printed) == len(set(printed)) == 60
    tasks = coord.tasks.list()
    assert sorted(t.id for t in tasks) == sorted(printed) == [f"task-{n:04d}" for n in range(1, 61)]
    assert {t.description for t in tasks} == {
        f"from {a} number {i}" for a in adders for i in range(1, 16)
    }
