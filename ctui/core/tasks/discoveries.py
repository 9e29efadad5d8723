"""Discoveries: short findings one instance shares with the others.

"The auth tests need Redis running", "utils/dates.py already parses ISO
weeks": things a worker learns that save the next one an hour. Each has a
text, tags, the instance that found it and a time. Search is a plain
every-word match (`_search_clause`), so a second store backend needs nothing
SQLite-specific here.
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ctui.core.clock import iso
from ctui.core.errors import UsageError
from ctui.core.instances import OPERATOR
from ctui.core.instances.liveness import require_live
from ctui.core.record import Record

if TYPE_CHECKING:
    from ctui.core.context import Context

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]{0,39}$")
MAX_TEXT = 10_000


def label(discovery_id: int) -> str:
    """The readable form of a discovery's number, as outputs show it: `disc-0001`."""
    return f"disc-{discovery_id:04d}"


class Discovery(Record):
    """One shared finding."""

    FIELDS = ("id", "instance", "text", "tags", "created_at")
    __slots__ = FIELDS
    id: int
    instance: str | None
    text: str
    tags: list[str]
    created_at: float

    def __init__(
        self, id: int, instance: str | None, text: str, tags: list[str], created_at: float
    ) -> None:
        self.id = id
        self.instance = instance
        self.text = text
        self.tags = tags
        self.created_at = created_at

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Discovery:
        return cls(
            row["id"], row["instance"], row["text"], json.loads(row["tags"]), row["created_at"]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance": self.instance,
            "text": self.text,
            "tags": self.tags,
            "created_at": iso(self.created_at),
        }


def check_tags(tags: Iterable[str] | str) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for tag in tags:
        clean = str(tag).strip().lower().lstrip("#")
        if not TAG_RE.match(clean):
            raise UsageError(
                f"bad tag {tag!r}: a short lowercase word such as 'testing' or 'db/migrations'"
            )
        if clean not in out:
            out.append(clean)
    return out


def _search_clause(text: str) -> tuple[str, list[str]]:
    """Every word of `text` must appear in the discovery's text or tags (case-insensitive)."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        raise UsageError("search needs at least one word")
    escaped = [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]
    clause = " AND ".join("lower(text || ' ' || tags) LIKE ? ESCAPE '\\'" for _ in words)
    return clause, [f"%{w}%" for w in escaped]


class Discoveries:
    """Add, list and search discoveries."""

    def __init__(self, coord: Context) -> None:
        self._c = coord

    def add(self, text: str, *, instance: str, tags: Iterable[str] | str = ()) -> Discovery:
        """Share a finding; the instance must be live (the operator always is)."""
        if not isinstance(text, str) or not text.strip():
            raise UsageError("a discovery needs text: what did you find out?")
        if len(text) > MAX_TEXT:
            raise UsageError(f"the discovery is {len(text)} characters; keep it under {MAX_TEXT}")
        clean = check_tags(tags)
        with self._c.store.write() as conn:
            if instance != OPERATOR:
                require_live(self._c, instance, conn)
            cur = conn.execute(
                "INSERT INTO discoveries(instance, text, tags, created_at) VALUES (?, ?, ?, ?)",
                (instance, text.strip(), json.dumps(clean), self._c.now()),
            )
            found_id = int(cur.lastrowid or 0)
            self._c.log(
                conn,
                "discovery.added",
                subject=label(found_id),
                actor=instance,
                data={"text": text.strip()[:200], "tags": clean},
            )
            row = conn.execute("SELECT * FROM discoveries WHERE id = ?", (found_id,)).fetchone()
            return Discovery.from_row(row)

    def list(
        self,
        *,
        tag: str | None = None,
        instance: str | None = None,
        since: float | None = None,
        after_id: int | None = None,
        search: str | None = None,
        limit: int = 50,
    ) -> list[Discovery]:
        """Newest first, filtered by tag, instance, time (`since`, epoch seconds) or id."""
        if limit <= 0:
            raise UsageError(f"bad limit {limit}: a positive number")
        where: list[str] = []
        args: list[Any] = []
        if tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(discoveries.tags) WHERE value = ?)")
            args.append(check_tags([tag])[0])
        if instance is not None:
            where.append("instance = ?")
            args.append(instance)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        if after_id is not None:
            where.append("id > ?")
            args.append(after_id)
        if search is not None:
            clause, words = _search_clause(search)
            where.append(clause)
            args.extend(words)
        sql = "SELECT * FROM discoveries" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [Discovery.from_row(r) for r in self._c.store.conn.execute(sql, args)]

    def search(self, text: str, *, limit: int = 50) -> builtins.list[Discovery]:
        """Discoveries whose text or tags hold every word of `text`, newest first."""
        return self.list(search=text, limit=limit)

    def count(self) -> int:
        return int(self._c.store.conn.execute("SELECT COUNT(*) FROM discoveries").fetchone()[0])
