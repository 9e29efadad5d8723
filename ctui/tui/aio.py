"""Reads the control room makes on its own event loop, through aiosqlite.

`SnapshotReader` is the seam: `read()` gives the next `Snapshot`. `CoreReader`
reads everything through the core's sync API in a thread (any store: a remote
server, a store that is not SQLite). `SqliteReader`, for a local SQLite store,
reads on the event loop through aiosqlite what changes most (the instances and
the events since the last read) in one read transaction, and lets the event log
say which other panes changed: an agent's state change re-reads no thread, task
or decision. Those, and the agents list folded from them, come
from the core in a thread (their records carry domain rules only the core
applies: a thread whose supervisor died reads as failed). A change with no new
event (an agent's heartbeat renewing its leases, a thread's running cost) re-reads
only the panes whose row summaries differ from the last read's (`snapshot.SIGNATURES`,
compared in the core's read transaction; renewed leases only get their new
times); an event of a kind not listed in PANES_OF reads everything, and so does
`full=True` (the app's reconciliation after partial reads).

`EventReader` reads one agent's recent events for the preview.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from ctui.tui.snapshot import Snapshot, load

TIMEOUT_S = 2.0
PANES_OF = {
    "instance": frozenset({"instances", "leases"}),
    "lease": frozenset({"leases"}),
    "task": frozenset({"tasks"}),
    "decision": frozenset({"decisions"}),
    "discovery": frozenset(),
    "thread": frozenset({"threads"}),
    "merge": frozenset({"threads"}),
    "budget": frozenset({"threads"}),
}
"""Which panes an event kind's prefix can change (the activity pane always reads the events)."""


def panes_for(kinds: set[str]) -> frozenset[str] | None:
    """The panes events of `kinds` can change; None (all) when one kind is not known."""
    found: set[str] = set()
    for kind in kinds:
        panes = PANES_OF.get(kind.split(".", 1)[0])
        if panes is None:
            return None
        found |= panes
    return frozenset(found)


async def _connect(db_path: Path) -> aiosqlite.Connection:
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    conn = await aiosqlite.connect(uri, uri=True, timeout=TIMEOUT_S, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    return conn


def _event(row: Any) -> dict[str, Any]:
    rec = dict(row)
    try:
        rec["data"] = json.loads(rec["data"] or "{}")
    except ValueError:
        rec["data"] = {}
    return rec


class SnapshotReader(Protocol):
    async def read(
        self, coord: Any, *, limit: int, now: float, previous: Snapshot | None, full: bool
    ) -> Snapshot: ...

    async def close(self) -> None: ...


class CoreReader:
    """Everything through the core's sync API, in a thread: any store, local or remote."""

    async def read(
        self, coord: Any, *, limit: int, now: float, previous: Snapshot | None, full: bool
    ) -> Snapshot:
        return await asyncio.to_thread(load, coord, limit=limit, now=now)

    async def close(self) -> None:
        return None


class SqliteReader:
    """Instances and new events through aiosqlite; only the panes they touched from the core."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: aiosqlite.Connection | None = None
        self.partial_reads = 0
        """Reads that left some panes as they were (tests and the benchmark look)."""

    async def read(
        self, coord: Any, *, limit: int, now: float, previous: Snapshot | None, full: bool
    ) -> Snapshot:
        from ctui.core.instances import Instance, is_stale

        if self._conn is None:
            self._conn = await _connect(self.db_path)
        conn = self._conn
        last = int(previous.totals.get("activity", 0)) if previous is not None else 0
        since = 0 if previous is None or full else last
        if conn.in_transaction:  # a read cancelled before its COMMIT: never stuck in it
            await conn.rollback()
        await conn.execute("BEGIN")
        try:  # one trip to aiosqlite's thread per statement
            rows = await conn.execute_fetchall("SELECT * FROM instances")
            found = await conn.execute_fetchall(
                "SELECT * FROM events WHERE id > ? ORDER BY id DESC LIMIT ?",
                (since, limit + 1 if since else limit),
            )
        finally:
            await conn.execute("COMMIT")
        new = [_event(r) for r in found]
        instances = []
        for row in rows:
            inst = Instance.from_row(row)
            if is_stale(inst, now):
                inst.state = "stale"
            instances.append(inst.field_dict())
        events = new[:limit]
        partial = bool(since) and previous is not None and len(new) <= limit
        if partial and previous is not None:  # new ones on top of the last
            events = (new + previous.records.get("activity", []))[:limit]
        only = panes_for({str(e["kind"]) for e in new}) if partial else None
        if only is not None:
            self.partial_reads += 1
        return await asyncio.to_thread(
            load,
            coord,
            limit=limit,
            now=now,
            previous=previous,
            only=only,
            instances=instances,
            events=events,
            compare=only is None or not new,  # the rows tell what no event did
        )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class EventReader:
    """One read-only aiosqlite connection to a local store's database, opened on first use."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: aiosqlite.Connection | None = None

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            self._conn = await _connect(self.db_path)
        return self._conn

    async def by_actor(self, actor: str, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` events `actor` made, oldest first, as plain dicts."""
        conn = await self._connection()
        rows = await conn.execute_fetchall(  # one trip to aiosqlite's thread
            "SELECT id, at, kind, actor, subject, data FROM events WHERE actor = ? "
            "ORDER BY id DESC LIMIT ?",
            (actor, limit),
        )
        return [_event(row) for row in reversed(list(rows))]

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
