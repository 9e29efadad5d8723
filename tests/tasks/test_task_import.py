"""Importing option A's `.coordination/tasks.json` (with master-plan.md and results/ beside it)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import Conflict, UsageError
from ctui.core.tasks.plan import import_tasks
from tests.tasks.support import fingerprint

FIXTURE = Path(__file__).parent.parent / "fixtures" / "tasks.json"


@pytest.fixture
def coordination(tmp_path: Path) -> Path:
    """A copy of option A's folder: tasks.json, master-plan.md and one result."""
    folder = tmp_path / ".coordination"
    (folder / "results").mkdir(parents=True)
    shutil.copy(FIXTURE, folder / "tasks.json")
    (folder / "master-plan.md").write_text(
        "# Build a REST API\n\nModels first, then routes, then tests.\n"
    )
    (folder / "results" / "task-001.md").write_text("User model in src/models/user.ts\n")
    return folder / "tasks.json"


def test_import_maps_ids_statuses_and_dependencies(tc: Coordinator, coordination: Path) -> None:
    result = import_tasks(tc, coordination)
    assert result["imported"] == {f"task-00{i}": f"task-000{i}" for i in range(1, 6)}
    assert result["plan"] is True
    tasks = {t.source["id"]: t for t in tc.tasks.list()}
    assert tasks["task-001"].status == "done"
    assert tasks["task-001"].result == "User model in src/models/user.ts\n"
    assert tasks["task-002"].status == "available"  # the claim by terminal-3 does not carry over
    assert tasks["task-002"].source["claimed_by"] == "terminal-3"
    assert tasks["task-003"].status == "pending"
    assert tasks["task-003"].depends_on == ["task-0001", "task-0002"]
    assert tasks["task-002"].hints == ["Reuse the zod schema from the model"]
    assert tasks["task-002"].files == ["src/models/user.ts", "src/validation/user.ts"]
    plan = tc.tasks.plan()
    assert plan is not None and plan.goal == "Build a REST API"


def test_import_twice_skips_what_is_there(tc: Coordinator, coordination: Path) -> None:
    import_tasks(tc, coordination)
    again = import_tasks(tc, coordination)
    assert again["imported"] == {} and len(again["skipped"]) == 5
    assert len(tc.tasks.list()) == 5


def _write(path: Path, tasks: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"tasks": tasks}))
    return path


@pytest.mark.parametrize(
    ("tasks", "text"),
    [
        (
            [
                {"id": "a", "description": "a", "dependencies": ["b"]},
                {"id": "b", "description": "b", "dependencies": ["a"]},
            ],
            "dependency cycle a -> b -> a",
        ),
        ([{"id": "a", "description": "a", "dependencies": ["zzz"]}], "depends on 'zzz'"),
        ([{"id": "a", "description": "a", "priority": 42}], r"task #1 \(a\): bad priority 42"),
        ([{"id": "a"}], "has no description"),
        ([{"id": "a", "description": "x"}, {"id": "a", "description": "y"}], "share an id"),
    ],
)
def test_bad_files_import_nothing(
    tc: Coordinator, tmp_path: Path, tasks: list[dict[str, object]], text: str
) -> None:
    tc.tasks.add("already here")
    before = fingerprint(tc.store.db_path)
    with pytest.raises(UsageError, match=text):
        import_tasks(tc, _write(tmp_path / "tasks.json", tasks))
    assert fingerprint(tc.store.db_path) == before


def test_a_late_failure_rolls_back_the_whole_import(tc: Coordinator, tmp_path: Path) -> None:
    gone = tc.tasks.add("gone")
    tc.tasks.cancel(gone.id)
    before = fingerprint(tc.store.db_path)
    tasks = [
        {"id": "ok", "description": "fine"},
        {"id": "bad", "description": "x", "dependencies": [gone.id]},
    ]
    with pytest.raises(Conflict, match="cancelled"):
        import_tasks(tc, _write(tmp_path / "tasks.json", tasks))
    assert fingerprint(tc.store.db_path) == before


def test_not_json_is_a_usage_error(tc: Coordinator, tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text("{nope")
    with pytest.raises(UsageError, match="is not JSON"):
        import_tasks(tc, tmp_path / "t.json")
    with pytest.raises(UsageError, match="cannot read"):
        import_tasks(tc, tmp_path / "missing.json")
