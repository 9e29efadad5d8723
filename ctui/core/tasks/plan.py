"""The leader's side of the queue: one goal and master plan per store, and imports.

The plan lives in the `meta` table (`plan.goal`, `plan.text`, `plan.set_at`,
`plan.set_by`). `import_tasks` brings in the file queue of the option-A
system (`.coordination/tasks.json`, with `master-plan.md` and `results/`
beside it): the whole file is checked first, so a bad one changes nothing, and then
written in short batches (see `import_document`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctui.core.clock import iso
from ctui.core.errors import UsageError
from ctui.core.instances import OPERATOR
from ctui.core.store.batches import BATCH_MAX, BATCH_PAUSE_S, BATCH_S
from ctui.core.tasks.add import check_priority, insert

if TYPE_CHECKING:
    from ctui.core.context import Context

KEYS = ("goal", "text", "set_at", "set_by")
STATUS_MAP = {
    "done": "done",
    "completed": "done",
    "complete": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


@dataclass
class Plan:
    """The goal every instance works toward, and the master plan that explains it."""

    goal: str
    text: str
    set_at: float
    set_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal": self.goal,
            "text": self.text,
            "set_at": iso(self.set_at),
            "set_by": self.set_by,
        }


def get(conn: sqlite3.Connection) -> Plan | None:
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'plan.%'").fetchall())
    if "plan.goal" not in rows:
        return None
    return Plan(
        rows["plan.goal"],
        rows.get("plan.text", ""),
        float(rows.get("plan.set_at", 0)),
        rows.get("plan.set_by", OPERATOR),
    )


def set_plan(coord: Context, goal: str, text: str = "", *, by: str = OPERATOR) -> Plan:
    """Set (or replace) the goal and master plan."""
    if not isinstance(goal, str) or not goal.strip():
        raise UsageError("a plan needs a goal: one sentence saying what the agents are building")
    plan = Plan(goal.strip(), (text or "").strip(), coord.now(), by)
    with coord.store.write() as conn:
        replaced = get(conn) is not None
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [
                (f"plan.{k}", str(v))
                for k, v in zip(KEYS, (plan.goal, plan.text, plan.set_at, plan.set_by), strict=True)
            ],
        )
        coord.log(conn, "plan.set", actor=by, data={"goal": plan.goal, "replaced": replaced})
    return plan


def _text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from exc


def _load(path: Path) -> list[Any]:
    text = _text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    items = doc.get("tasks") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise UsageError(f'{path}: expected a list of tasks under "tasks"')
    return items


def _parse(item: Any, index: int) -> dict[str, Any]:
    """Check one option-A task object and map it onto ctui's fields."""
    where = f"task #{index + 1}"
    if not isinstance(item, dict):
        raise UsageError(f"{where} is not an object")
    source_id = str(item.get("id") or f"#{index + 1}")
    where = f"task #{index + 1} ({source_id})"
    description = item.get("description") or item.get("title")
    if not isinstance(description, str) or not description.strip():
        raise UsageError(f"{where} has no description")
    try:
        priority = check_priority(item.get("priority", 5))
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    deps = item.get("dependencies", item.get("depends_on")) or []
    context = item.get("context") or {}
    if not isinstance(deps, list) or not isinstance(context, dict):
        raise UsageError(f"{where}: dependencies must be a list and context an object")
    files, hints = context.get("files") or [], context.get("hints") or []
    if not isinstance(files, list | str) or not isinstance(hints, list | str):
        raise UsageError(f"{where}: context files and hints must be lists of text")
    return {
        "source_id": source_id,
        "description": description.strip(),
        "priority": priority,
        "deps": [str(d) for d in deps],
        "files": files,
        "hints": hints,
        "status": STATUS_MAP.get(str(item.get("status", "")).lower()),
        "claimed_by": item.get("claimed_by"),
    }


def _order(tasks: list[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """File order, but every task after its dependencies; unknown ones and cycles are errors."""
    by_id = {t["source_id"]: t for t in tasks}
    if len(by_id) != len(tasks):
        raise UsageError("two tasks in the file share an id")
    for t in tasks:
        for dep in t["deps"]:
            if dep not in by_id and dep not in known:
                raise UsageError(
                    f"task {t['source_id']} depends on {dep!r}, "
                    "which is neither in the file nor queued"
                )
    ordered: list[dict[str, Any]] = []
    state: dict[str, str] = {}
    for root in tasks:
        if root["source_id"] in state:
            continue
        state[root["source_id"]] = "visiting"
        stack = [(root, iter(root["deps"]))]
        while stack:
            node, deps = stack[-1]
            dep = next((d for d in deps if d in by_id), None)
            if dep is None:
                state[node["source_id"]] = "done"
                ordered.append(node)
                stack.pop()
            elif state.get(dep) == "visiting":
                path = [n["source_id"] for n, _ in stack]
                loop = " -> ".join([*path[path.index(dep) :], dep])
                raise UsageError(f"dependency cycle {loop}: a task cannot wait on itself")
            elif dep not in state:
                state[dep] = "visiting"
                stack.append((by_id[dep], iter(by_id[dep]["deps"])))
    return ordered


def load_tasks(path: Path) -> dict[str, Any]:
    """Read option A's `tasks.json` and what lies beside it into one import document.

    The document (`{"tasks", "file", "results", "master_plan"}`) is what
    `import_document` applies: a remote CLI reads the files on its own machine,
    checks them here with the same messages as a local import, and sends it.
    """
    path = Path(path)
    items = _load(path)
    results: dict[str, str] = {}
    for t in [_parse(item, i) for i, item in enumerate(items)]:
        result_file = path.parent / "results" / f"{t['source_id']}.md"
        if t["status"] == "done" and result_file.is_file():
            results[t["source_id"]] = _text(result_file)
    master = path.parent / "master-plan.md"
    return {
        "tasks": items,
        "file": str(path),
        "results": results,
        "master_plan": _text(master) if master.is_file() else None,
    }


def import_tasks(coord: Context, path: Path, *, by: str = OPERATOR) -> dict[str, Any]:
    """Import option A's `tasks.json` (see `import_document`)."""
    return import_document(coord, load_tasks(Path(path)), by=by)


def import_document(coord: Context, doc: dict[str, Any], *, by: str = OPERATOR) -> dict[str, Any]:
    """Apply an import document from `load_tasks`, in short batches.

    Returns `{"imported": {old id: new id}, "skipped": [old ids], "plan": bool}`.

    Claims do not carry over (their claimants are not instances here): claimed
    tasks come back available. A `results/<id>.md` beside the file becomes the
    result of a done task, and `master-plan.md` the plan when none is set.
    Tasks imported before (same source id and description) are skipped: an
    indexed lookup per task, so the whole import is linear in its size.

    Every task is checked (fields, dependencies, cycles) before the first write,
    so a bad file changes nothing. The writes then go in batches, each its own
    transaction of at most `BATCH_S` (or `BATCH_MAX` tasks): other writers,
    above all an agent's edit-time lease check, get the store between batches
    instead of waiting behind the whole import (the importer pauses between
    batches: a writer that re-takes the lock at once would starve the ones
    polling for it). Should a later batch fail
    (a dependency cancelled meanwhile), earlier batches stay and importing the
    file again completes it.
    """
    import time

    items = doc.get("tasks")
    if not isinstance(items, list):
        raise UsageError('expected a list of tasks under "tasks"')
    parsed = [_parse(item, i) for i, item in enumerate(items)]
    results = doc.get("results") or {}
    file = str(doc.get("file") or "")
    imported: dict[str, str] = {}
    skipped: list[str] = []
    known = {r[0] for r in coord.store.conn.execute("SELECT id FROM tasks")}
    ordered = _order(parsed, known)
    mapping: dict[str, str] = {}
    done = 0
    plan_set = False
    while True:
        with coord.store.write() as conn:
            deadline = time.monotonic() + BATCH_S
            for count, t in enumerate(ordered[done : done + BATCH_MAX]):
                if count and time.monotonic() > deadline:
                    break
                done += 1
                existing = conn.execute(
                    "SELECT id FROM tasks "
                    "WHERE json_extract(context, '$.source.id') = ? AND description = ?",
                    (t["source_id"], t["description"]),
                ).fetchone()
                if existing:
                    mapping[t["source_id"]] = existing[0]
                    skipped.append(t["source_id"])
                    continue
                result = results.get(t["source_id"]) if t["status"] == "done" else None
                source = {"id": t["source_id"], "file": file, "claimed_by": t["claimed_by"]}
                new_id = insert(
                    coord,
                    conn,
                    t["description"],
                    priority=t["priority"],
                    depends_on=[mapping.get(d, d) for d in t["deps"]],
                    files=t["files"],
                    hints=t["hints"],
                    created_by=by,
                    status=t["status"],
                    result=result,
                    source={k: v for k, v in source.items() if v},
                )
                mapping[t["source_id"]] = imported[t["source_id"]] = new_id
            if done == len(ordered):
                coord.log(
                    conn, "task.imported", actor=by, data={"file": file, "count": len(imported)}
                )
                plan_set = _import_plan(coord, conn, doc.get("master_plan"), by)
                break
        time.sleep(BATCH_PAUSE_S)
    return {"imported": imported, "skipped": skipped, "plan": plan_set}


def _import_plan(coord: Context, conn: sqlite3.Connection, text: Any, by: str) -> bool:
    if get(conn) is not None or not isinstance(text, str):
        return False
    heading = next((line for line in text.splitlines() if line.strip()), "")
    goal = re.sub(r"^#+\s*", "", heading).strip() or "imported plan"
    set_plan(coord, goal, text, by=by)
    return True
