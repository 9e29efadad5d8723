"""Task plans as JSON: from a leader agent's answer or a `--tasks` file.

A plan is `{"tasks": [...]}` or a bare list; each task has a `description`
and may have a local `id`, `priority` (1-10), `depends_on` (or option A's
`dependencies`), `files`, `hints` and `max_attempts`. The whole plan is
checked before any task is queued, so a bad plan is reported, never half
applied; tasks are queued in dependency order inside one transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ctui.core.errors import UsageError

if TYPE_CHECKING:
    from ctui.core.context import Context

MAX_TASKS = 200
FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.S)


@dataclass
class Planned:
    key: str
    description: str
    priority: int = 5
    depends_on: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    max_attempts: int | None = None


def extract(text: str) -> Any:
    """The JSON in an agent's answer: the whole text, a fenced block, or the outer braces."""
    candidates = [text.strip(), *FENCE.findall(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for cand in candidates:
        try:
            return json.loads(cand)
        except (json.JSONDecodeError, ValueError):
            continue
    raise UsageError("bad plan: no JSON task list found in the leader's answer")


def parse(doc: Any) -> list[Planned]:
    """Validate a plan document; returns the tasks in an order where dependencies come first."""
    items = doc.get("tasks") if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        raise UsageError('bad plan: expected {"tasks": [...]} with at least one task')
    if len(items) > MAX_TASKS:
        raise UsageError(f"bad plan: {len(items)} tasks, more than {MAX_TASKS}")
    errors: list[str] = []
    tasks: list[Planned] = []
    for i, item in enumerate(items, 1):
        task = _task(i, item, errors)
        if task is not None:
            tasks.append(task)
    keys = [t.key for t in tasks]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        errors.append(f"duplicate ids {', '.join(dupes)}")
    for t in tasks:
        unknown = [d for d in t.depends_on if d not in keys]
        if unknown:
            errors.append(f"task {t.key}: depends on unknown {', '.join(unknown)}")
    if errors:
        raise UsageError("bad plan: " + "; ".join(errors))
    return _ordered(tasks)


def _task(i: int, item: Any, errors: list[str]) -> Planned | None:
    if isinstance(item, str):
        item = {"description": item}
    if not isinstance(item, dict):
        errors.append(f"task {i}: not an object")
        return None
    desc = item.get("description") or item.get("title")
    if not isinstance(desc, str) or not desc.strip():
        errors.append(f"task {i}: needs a description")
        return None
    key = str(item.get("id") or f"t{i}")
    prio = item.get("priority", 5)
    if not isinstance(prio, int) or isinstance(prio, bool) or not 1 <= prio <= 10:
        errors.append(f"task {key}: priority must be 1 to 10")
        prio = 5
    deps = item.get("depends_on", item.get("dependencies", []))
    lists = {"depends_on": deps, "files": item.get("files", []), "hints": item.get("hints", [])}
    for name, value in lists.items():
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            errors.append(f"task {key}: {name} must be a list of strings")
            lists[name] = []
    attempts = item.get("max_attempts")
    if attempts is not None and (not isinstance(attempts, int) or attempts < 1):
        errors.append(f"task {key}: max_attempts must be a positive integer")
        attempts = None
    return Planned(
        key,
        desc.strip(),
        prio,
        [str(d) for d in lists["depends_on"]],
        [str(f) for f in lists["files"]],
        [str(h) for h in lists["hints"]],
        attempts,
    )


def _ordered(tasks: list[Planned]) -> list[Planned]:
    """Dependencies first; a cycle is a bad plan."""
    by_key = {t.key: t for t in tasks}
    done: list[Planned] = []
    state: dict[str, int] = {}

    def visit(key: str, path: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise UsageError(f"bad plan: dependency cycle {' -> '.join([*path, key])}")
        state[key] = 1
        for dep in by_key[key].depends_on:
            visit(dep, [*path, key])
        state[key] = 2
        done.append(by_key[key])

    for t in tasks:
        visit(t.key, [])
    return done


def queue(
    c: Context, tasks: list[Planned], *, created_by: str, max_attempts: int | None = None
) -> dict[str, str]:
    """Add the planned tasks in one transaction; returns local id → task id."""
    from ctui.core.tasks import Tasks

    ids: dict[str, str] = {}
    with c.store.write():
        for t in tasks:
            task = Tasks(c).add(
                t.description,
                priority=t.priority,
                depends_on=[ids[d] for d in t.depends_on],
                files=t.files,
                hints=t.hints,
                created_by=created_by,
                max_attempts=t.max_attempts or max_attempts,
            )
            ids[t.key] = task.id
    return ids
