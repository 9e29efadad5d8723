"""A big import never makes an agent's lease check wait past its budget.

Real processes race: one `ctui task import` of 10,000 tasks and hook processes
asking for leases the whole time. Before imports went in batches, the import
held the write lock for seconds, and every lease check behind it was refused
("could not check the file's lease in time"); now each one gets its answer.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from tests.conftest import CTUI
from tests.hooks.support import SESSION_A, SESSION_B, Answer, Hook, rows

TASKS = 10_000


def _tasks_file(folder: Path) -> Path:
    tasks = [
        {
            "id": f"T{i}",
            "description": f"task number {i}",
            "priority": 1 + i % 10,
            "dependencies": [f"T{i - 1}"] if i % 7 == 0 and i else [],
        }
        for i in range(TASKS)
    ]
    path = folder / "tasks.json"
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def test_lease_checks_are_answered_during_a_10000_task_import(
    hook: Hook, repo: Path, tmp_path: Path
) -> None:
    source = _tasks_file(tmp_path)
    hook.start(SESSION_A)
    hook.start(SESSION_B)
    answers: list[tuple[Answer, bool]] = []
    importer = subprocess.Popen(
        [CTUI, "task", "import", str(source)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def edits(session: str, prefix: str) -> None:
        number = 0
        while importer.poll() is None or number < 3:
            answer = hook("PreToolUse-Write", session=session, file=repo / f"{prefix}{number}.txt")
            answers.append((answer, importer.poll() is None))
            number += 1

    workers = [
        threading.Thread(target=edits, args=(SESSION_A, "a")),
        threading.Thread(target=edits, args=(SESSION_B, "b")),
    ]
    for worker in workers:
        worker.start()
    out, err = importer.communicate(timeout=600)
    for worker in workers:
        worker.join(timeout=120)
    assert importer.returncode == 0, err
    assert f"imported {TASKS} task(s)" in out or out.count("task-") >= TASKS, out[-300:]

    during = [answer for answer, running in answers if running]
    assert during, "no lease check overlapped the import: the race was not tested"
    for answer, _ in answers:
        assert answer.allowed, answer
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT COUNT(*) FROM tasks") == [(TASKS,)]
    assert rows(db, "SELECT COUNT(*) FROM leases") == [(len(answers),)]
    # The proof that the import let others in: lease grants committed between its tasks
    # (one long transaction would leave the task events contiguous).
    first, last = rows(db, "SELECT MIN(id), MAX(id) FROM events WHERE kind = 'task.added'")[0]
    between = rows(
        db,
        "SELECT COUNT(*) FROM events WHERE kind = 'lease.acquired' AND id > ? AND id < ?",
        first,
        last,
    )
    assert between[0][0] >= 1


def test_importing_twice_skips_every_task(repo: Path, tmp_path: Path) -> None:
    source = _tasks_file(tmp_path)
    first = subprocess.run(
        [CTUI, "--json", "task", "import", str(source)], cwd=repo, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [CTUI, "--json", "task", "import", str(source)], cwd=repo, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["imported"] == {} and len(result["skipped"]) == TASKS
    assert rows(repo / ".ctui" / "ctui.db", "SELECT COUNT(*) FROM tasks") == [(TASKS,)]


def test_decision_import_lets_lease_grants_in_between(
    hook: Hook, repo: Path, tmp_path: Path
) -> None:
    """Decision imports go in the same short batches as task imports."""
    count = 10_000
    log = tmp_path / "decision-log.json"
    log.write_text(
        json.dumps(
            [
                {"title": f"decision {i}", "category": "general", "description": f"why {i}"}
                for i in range(count)
            ]
        )
    )
    hook.start(SESSION_A)
    importer = subprocess.Popen(
        [CTUI, "decisions", "import", str(log)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers = []
    number = 0
    while importer.poll() is None or number < 3:
        answers.append(hook("PreToolUse-Write", file=repo / f"d{number}.txt"))
        number += 1
    _, err = importer.communicate(timeout=600)
    assert importer.returncode == 0, err
    assert all(answer.allowed for answer in answers), [a for a in answers if not a.allowed]
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT COUNT(*) FROM decisions") == [(count,)]
    first, last = rows(db, "SELECT MIN(id), MAX(id) FROM events WHERE kind = 'decision.logged'")[0]
    between = rows(
        db,
        "SELECT COUNT(*) FROM events WHERE kind = 'lease.acquired' AND id > ? AND id < ?",
        first,
        last,
    )
    assert between[0][0] >= 1
