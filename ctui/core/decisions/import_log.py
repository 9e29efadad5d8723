"""Reading a SkillForge `decision-log.json` into `Decisions.add` arguments.

SkillForge wrote `{"version", "decisions": [...]}` where each decision has a
`decision_id`, `category`, `title`, `description`, `scope`, `status`,
`made_by` (`instance_id`, `agent_role`), `made_at` and optional rationale,
alternatives, impact, related files, tags and `supersedes`. Extra prose goes
into the description; words ctui does not use for scope and status are mapped
to the nearest ones it does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctui.core.decisions.rules import _check
from ctui.core.errors import UsageError


def read_log(path: Path, default_author: str) -> list[dict[str, Any]]:
    """Every decision in the file as `Decisions.add` keyword arguments; all or nothing."""
    return parse_log(load_log(path), default_author)


def load_log(path: Path) -> list[Any]:
    """The decision objects of a log file, unchecked (a remote CLI sends these to the server)."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a JSON decision log: {exc}") from exc
    items = doc.get("decisions") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise UsageError(f'{path}: expected a list of decisions under "decisions"')
    return items


def parse_log(items: list[Any], default_author: str) -> list[dict[str, Any]]:
    """Check and map every decision object; the first bad one is the error."""
    return [from_skillforge(item, i, default_author) for i, item in enumerate(items)]


SCOPE_ALIASES = {
    "global": "system",
    "project": "system",
    "repository": "system",
    "repo": "system",
    "component": "module",
    "package": "module",
    "directory": "module",
    "api": "service",
}
STATUS_ALIASES = {
    "active": "accepted",
    "approved": "accepted",
    "implemented": "accepted",
    "final": "accepted",
    "pending": "proposed",
    "draft": "proposed",
    "open": "proposed",
    "deprecated": "superseded",
    "replaced": "superseded",
    "declined": "rejected",
}


def _parse_time(when: Any, index: int) -> float | None:
    """ISO-8601 (with `Z`, an offset, or naive meaning UTC) or epoch seconds."""
    if when in (None, ""):
        return None
    if isinstance(when, int | float) and not isinstance(when, bool):
        at = float(when)
    else:
        try:
            parsed = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError as exc:
            raise UsageError(f"decision #{index + 1}: bad time {when!r} (want ISO-8601)") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        at = parsed.timestamp()
    if not 0 <= at < 1e11:  # NaN fails too
        raise UsageError(f"decision #{index + 1}: time {when!r} is not between 1970 and 5000")
    return at


def from_skillforge(item: Any, index: int, default_author: str) -> dict[str, Any]:
    """Map one SkillForge decision object onto `Decisions.add` arguments."""
    if not isinstance(item, dict):
        raise UsageError(f"decision #{index + 1} is not an object")
    made_by = item.get("made_by") or item.get("author") or default_author
    role = None
    if isinstance(made_by, dict):
        role = made_by.get("agent_role")
        made_by = made_by.get("instance_id") or role or default_author
    title = item.get("title")
    if not title or not str(title).strip():
        raise UsageError(f"decision #{index + 1} has no title")
    description = str(item.get("description") or "")
    for key in ("rationale", "alternatives_considered", "alternatives", "impact", "consequences"):
        value = item.get(key)
        if value:
            text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            description += f"\n\n{key.replace('_', ' ').capitalize()}: {text}"
    files = _texts(item.get("related_files") or item.get("files"), "files", index)
    if files:
        description += "\n\nFiles: " + ", ".join(map(str, files))
    scope = str(item.get("scope") or "module").strip().lower()
    status = str(item.get("status") or "accepted").strip().lower()
    scope, status = SCOPE_ALIASES.get(scope, scope), STATUS_ALIASES.get(status, status)
    try:
        category = _check(str(item.get("category") or "general"), str(title), scope, status)
    except UsageError as exc:
        raise UsageError(f"decision #{index + 1}: {exc.message}") from exc
    tags = _texts(item.get("tags"), "tags", index)
    if role:
        tags.append(f"role:{role}")
    return {
        "decision_id": _text_or_none(item.get("decision_id") or item.get("id")),
        "category": category,
        "title": str(title).strip(),
        "description": description.strip(),
        "scope": scope,
        "status": status,
        "author": str(made_by),
        "tags": tags,
        "at": _parse_time(
            item.get("made_at") or item.get("timestamp") or item.get("created_at"), index
        ),
        "supersedes": _text_or_none(item.get("supersedes")),
    }


def _texts(value: Any, key: str, index: int) -> list[str]:
    """A list of words (one word alone is a list of one); anything else is an error."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise UsageError(f"decision #{index + 1}: {key} must be a list")
    return [str(v) for v in value]


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
