"""The decision log: `DEC-YYYYMMDD-NNNN` records that every agent can read and search.

Ids are numbered per UTC day inside the write transaction, so concurrent
writers never share one. Full-text search is the store's own
(`Store.decision_search`: FTS5 on SQLite, a `tsvector` on PostgreSQL).
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ctui.core.clock import iso
from ctui.core.decisions.rules import CATEGORY_RE as CATEGORY_RE
from ctui.core.decisions.rules import SCOPES as SCOPES
from ctui.core.decisions.rules import STATUSES as STATUSES
from ctui.core.decisions.rules import _check as _check
from ctui.core.errors import NotFound, UsageError
from ctui.core.instances.liveness import require_live
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context

ID_RE = re.compile(r"^DEC-(\d{8})-(\d{4,})$")


class Decision(Record):
    """One logged decision."""

    FIELDS = (
        "id",
        "category",
        "title",
        "description",
        "scope",
        "status",
        "author",
        "created_at",
        "supersedes",
        "tags",
    )
    __slots__ = FIELDS
    id: str
    category: str
    title: str
    description: str
    scope: str
    status: str
    author: str
    created_at: float
    supersedes: str | None
    tags: list[str]

    def __init__(
        self,
        id: str,
        category: str,
        title: str,
        description: str,
        scope: str,
        status: str,
        author: str,
        created_at: float,
        supersedes: str | None,
        tags: list[str] | None = None,
    ) -> None:
        self.id = id
        self.category = category
        self.title = title
        self.description = description
        self.scope = scope
        self.status = status
        self.author = author
        self.created_at = created_at
        self.supersedes = supersedes
        self.tags = [] if tags is None else tags

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Decision:
        return cls(
            row["id"],
            row["category"],
            row["title"],
            row["description"],
            row["scope"],
            row["status"],
            row["author"],
            row["created_at"],
            row["supersedes"],
            json.loads(row["tags"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "scope": self.scope,
            "status": self.status,
            "author": self.author,
            "created_at": iso(self.created_at),
            "supersedes": self.supersedes,
            "tags": self.tags,
        }


def _words(text: str) -> list[str]:
    """The words of a search: every one must appear (as a prefix); quotes and operators go."""
    words: list[str] = re.findall(r"\w+", text)
    if not words:
        raise UsageError("search needs at least one word")
    return words


class Decisions:
    """Log, list, query, search and import decisions."""

    def __init__(self, coord: Context) -> None:
        self._c = coord

    def add(
        self,
        *,
        category: str,
        title: str,
        author: str,
        description: str = "",
        scope: str = "module",
        status: str = "accepted",
        supersedes: str | None = None,
        tags: list[str] | None = None,
        at: float | None = None,
        decision_id: str | None = None,
        logged_by: str | None = None,
    ) -> Decision:
        """Record a decision and return it with its new id.

        `logged_by` (imports) names who recorded it when the author is someone
        else, such as an instance of the system the log came from; the author
        then need not be a live instance here.
        """
        category = _check(category, title, scope, status)
        now = self._c.now() if at is None else at
        with self._c.store.write() as conn:
            if author != "operator" and logged_by is None:
                require_live(self._c, author, conn)
            if supersedes is not None:
                old = conn.execute(
                    "SELECT status FROM decisions WHERE id = ?", (supersedes,)
                ).fetchone()
                if old is None:
                    raise NotFound(f"no decision {supersedes!r} to supersede")
            day, seq = self._next_id(conn, now, decision_id)
            new_id = f"DEC-{day}-{seq:04d}"
            conn.execute(
                "INSERT INTO decisions(id, day, seq, category, title, description, scope, status, "
                "author, "
                "created_at, supersedes, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new_id,
                    day,
                    seq,
                    category,
                    title.strip(),
                    description or "",
                    scope,
                    status,
                    author,
                    now,
                    supersedes,
                    json.dumps(tags or []),
                ),
            )
            if supersedes is not None:
                conn.execute(
                    "UPDATE decisions SET status = 'superseded' WHERE id = ?", (supersedes,)
                )
            self._c.log(
                conn,
                "decision.logged",
                subject=new_id,
                actor=logged_by or author,
                data={
                    "category": category,
                    "title": title.strip(),
                    "supersedes": supersedes,
                    **({"author": author} if logged_by else {}),
                },
            )
            return Decision.from_row(
                conn.execute("SELECT * FROM decisions WHERE id = ?", (new_id,)).fetchone()
            )

    def _next_id(self, conn: sqlite3.Connection, now: float, wanted: str | None) -> tuple[str, int]:
        if wanted:
            match = ID_RE.match(wanted)
            taken = conn.execute("SELECT 1 FROM decisions WHERE id = ?", (wanted,)).fetchone()
            if match and not taken:
                return match.group(1), int(match.group(2))
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        row = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM decisions WHERE day = ?", (day,)
        ).fetchone()
        return day, int(row[0]) + 1

    def get(self, decision_id: str) -> Decision:
        row = self._c.store.conn.execute(
            "SELECT * FROM decisions WHERE id = ?", (decision_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no decision {decision_id!r}: see `ctui decisions list`")
        return Decision.from_row(row)

    def set_status(self, decision_id: str, status: str, *, actor: str = "operator") -> Decision:
        if status not in STATUSES:
            raise UsageError(f"bad status {status!r}: one of {', '.join(STATUSES)}")
        with self._c.store.write() as conn:
            self.get(decision_id)
            conn.execute("UPDATE decisions SET status = ? WHERE id = ?", (status, decision_id))
            self._c.log(
                conn, "decision.status", subject=decision_id, actor=actor, data={"status": status}
            )
        return self.get(decision_id)

    def list(
        self,
        *,
        category: str | None = None,
        author: str | None = None,
        status: str | None = None,
        since: float | None = None,
        limit: int = 50,
    ) -> list[Decision]:
        """Newest first, filtered by category, author, status and time."""
        if limit <= 0:
            raise UsageError(f"bad limit {limit}: a positive number")
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        category = category.strip().lower() if category else None
        for column, value in (("category", category), ("author", author), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("created_at >= ?")
            args.append(since)
        sql = "SELECT * FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"  # the index's own order
        args.append(limit)
        return [Decision.from_row(r) for r in self._c.store.conn.execute(sql, args)]

    def search(self, text: str, *, limit: int = 20) -> builtins.list[Decision]:
        """Full-text search over title, description and category, best match first."""
        store = self._c.store
        rows = store.decision_search(store.conn, _words(text), limit)
        return [Decision.from_row(r) for r in rows]

    def count(self) -> int:
        return int(self._c.store.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def import_file(self, path: Path, *, author: str = "operator") -> dict[str, Any]:
        """Import a SkillForge `decision-log.json` (checked whole, written in short batches).

        Ids are kept (a decision already present is skipped, so importing twice
        is harmless); the original maker becomes the author; `author` (the
        importing instance) is recorded on the events.
        """
        from ctui.core.decisions.import_log import load_log

        return self.import_items(load_log(Path(path)), author=author)

    def import_items(
        self, items: builtins.list[Any], *, author: str = "operator"
    ) -> dict[str, Any]:
        """Import the decision objects of a log (a remote CLI sends these).

        Every item is checked before the first write, so a bad log changes
        nothing. The writes go in batches of at most `ctui.core.store.batches.BATCH_S` each, so
        an agent's lease check never waits behind a long import; if a batch
        fails, the ones before it stay and importing again completes the log.
        """
        import time

        from ctui.core.decisions.import_log import parse_log
        from ctui.core.store.batches import BATCH_MAX, BATCH_PAUSE_S, BATCH_S

        parsed = parse_log(items, author)
        imported: builtins.list[str] = []
        skipped: builtins.list[str] = []
        done = 0
        while done < len(parsed):
            with self._c.store.write() as conn:
                deadline = time.monotonic() + BATCH_S
                for count, fields in enumerate(parsed[done : done + BATCH_MAX]):
                    if count and time.monotonic() > deadline:
                        break
                    done += 1
                    self._import_one(conn, fields, author, imported, skipped)
            time.sleep(BATCH_PAUSE_S)
        return {"imported": imported, "skipped": skipped}

    def _import_one(
        self,
        conn: sqlite3.Connection,
        fields: dict[str, Any],
        author: str,
        imported: builtins.list[str],
        skipped: builtins.list[str],
    ) -> None:
        """Add one parsed decision inside the batch, or note it as already there."""
        existing = fields.get("decision_id")
        if (existing and self._exists(existing)) or self._imported(conn, fields):
            skipped.append(existing or fields["title"])
            return
        supersedes = fields.pop("supersedes", None)
        decision = self.add(**fields, logged_by=author)
        if supersedes and self._exists(supersedes):
            conn.execute(
                "UPDATE decisions SET supersedes = ? WHERE id = ?",
                (supersedes, decision.id),
            )
            conn.execute(
                "UPDATE decisions SET status = 'superseded' WHERE id = ? AND status = 'accepted'",
                (supersedes,),
            )
        imported.append(decision.id)

    @staticmethod
    def _imported(conn: sqlite3.Connection, fields: dict[str, Any]) -> bool:
        """Already imported under a new id: the log's own id was not a `DEC-` one."""
        if fields.get("at") is None:
            return False
        row = conn.execute(
            "SELECT 1 FROM decisions WHERE title = ? AND author = ? AND created_at = ?",
            (fields["title"], fields["author"], fields["at"]),
        ).fetchone()
        return row is not None

    def _exists(self, decision_id: str) -> bool:
        return (
            self._c.store.conn.execute(
                "SELECT 1 FROM decisions WHERE id = ?", (decision_id,)
            ).fetchone()
            is not None
        )
