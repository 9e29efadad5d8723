"""The event log: one row for every change, read by the activity feed and `ctui events`.

Heartbeats and lease renewals refresh timestamps and are not logged: they would
drown the feed. Everything that changes who holds, owns or runs what is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator

from ctui.core import fastjson as json  # the hook's path: see ctui.core.fastjson
from ctui.core.clock import iso
from ctui.core.record import FrozenRecord

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any, Protocol

    from ctui.core.config import Config
    from ctui.core.store.connection import Store

    class EventsContext(Protocol):
        """What `Events` reads from its context (a `Context` would import this module)."""

        store: Store

        @property
        def config(self) -> Config: ...

        def now(self) -> float: ...


PRUNE_EVERY = 200


class Event(FrozenRecord):
    """One logged change."""

    FIELDS = ("id", "at", "kind", "actor", "subject", "data")
    __slots__ = FIELDS
    id: int
    at: float
    kind: str
    actor: str | None
    subject: str | None
    data: dict[str, Any]

    def __init__(
        self,
        id: int,
        at: float,
        kind: str,
        actor: str | None,
        subject: str | None,
        data: dict[str, Any],
    ) -> None:
        put = object.__setattr__
        put(self, "id", id)
        put(self, "at", at)
        put(self, "kind", kind)
        put(self, "actor", actor)
        put(self, "subject", subject)
        put(self, "data", data)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(
            row["id"], row["at"], row["kind"], row["actor"], row["subject"], json.loads(row["data"])
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "kind": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "data": self.data,
        }


def record(
    conn: sqlite3.Connection,
    kind: str,
    *,
    at: float,
    actor: str | None = None,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
    keep: int | None = None,
) -> int:
    """Append an event inside the caller's write transaction; prune now and then."""
    cur = conn.execute(
        "INSERT INTO events(at, kind, actor, subject, data) VALUES (?, ?, ?, ?, ?)",
        (at, kind, actor, subject, json.dumps(data or {}, separators=(",", ":"), default=str)),
    )
    event_id = int(cur.lastrowid or 0)
    if keep is not None and event_id % PRUNE_EVERY == 0:
        prune(conn, keep)
    return event_id


def follow(
    since: Callable[[int], list[Event]], cursor: int, *, poll: float, until: float | None
) -> Iterator[Event]:
    """Poll `since(cursor)` and yield each new event, until the monotonic deadline."""
    while until is None or time.monotonic() < until:
        batch = since(cursor)
        for event in batch:
            cursor = event.id
            yield event
        if not batch:
            time.sleep(poll)


def prune(conn: sqlite3.Connection, keep: int) -> int:
    """Delete all but the newest `keep` events; returns how many went."""
    cur = conn.execute(
        "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (max(keep, 0),)
    )
    return cur.rowcount


class Events:
    """Reading, publishing and following the event log."""

    def __init__(self, coord: EventsContext) -> None:
        self._c = coord

    def publish(
        self,
        kind: str,
        *,
        actor: str | None = None,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Append an event from outside the core (the API's publish route, scripts)."""
        with self._c.store.write() as conn:
            return record(
                conn,
                kind,
                at=self._c.now(),
                actor=actor,
                subject=subject,
                data=data,
                keep=self._c.config.events_keep,
            )

    def since(
        self, cursor: int = 0, *, limit: int = 500, kinds: list[str] | None = None
    ) -> list[Event]:
        """Events with an id above `cursor`, oldest first."""
        sql = "SELECT * FROM events WHERE id > ?"
        args: list[Any] = [cursor]
        if kinds:
            # GLOB: `*` is the only wildcard users type; LIKE would also treat `_` and `%`
            # as wildcards and ignore case
            sql += " AND (" + " OR ".join("kind GLOB ?" for _ in kinds) + ")"
            args.extend(k.replace("[", "[[]").replace("?", "[?]") for k in kinds)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [Event.from_row(r) for r in self._c.store.conn.execute(sql, args)]

    def recent(self, limit: int = 50) -> list[Event]:
        """The newest `limit` events, oldest first."""
        rows = self._c.store.conn.execute(
            "SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [Event.from_row(r) for r in reversed(rows)]

    def latest_id(self) -> int:
        row = self._c.store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return int(row[0])

    def follow(
        self, cursor: int = 0, *, poll: float = 0.2, until: float | None = None
    ) -> Iterator[Event]:
        """Yield events as they arrive (polling), until the optional deadline."""
        return follow(self.since, cursor, poll=poll, until=until)

    def prune(self, keep: int | None = None) -> int:
        with self._c.store.write() as conn:
            return prune(conn, self._c.config.events_keep if keep is None else keep)
