"""Reads the control room makes on its own event loop, through aiosqlite.

The snapshot behind the lists goes through the core in a thread worker: its
records carry domain rules (an instance whose process died reads as stale, a
lease past its time as expired) that only the core applies. Plain rows need no
rules: the event log is read here directly, read-only, without a thread, for
the preview of a hand-started session (its recent activity).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiosqlite

TIMEOUT_S = 2.0


class EventReader:
    """One read-only aiosqlite connection to a local store's database, opened on first use."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._conn: aiosqlite.Connection | None = None

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
            self._conn = await aiosqlite.connect(uri, uri=True, timeout=TIMEOUT_S)
            self._conn.row_factory = aiosqlite.Row
        return self._conn

    async def by_actor(self, actor: str, limit: int = 200) -> list[dict[str, Any]]:
        """The newest `limit` events `actor` made, oldest first, as plain dicts."""
        conn = await self._connection()
        async with conn.execute(
            "SELECT id, at, kind, actor, subject, data FROM events WHERE actor = ? "
            "ORDER BY id DESC LIMIT ?",
            (actor, limit),
        ) as cur:
            rows = await cur.fetchall()
        found = []
        for row in reversed(list(rows)):
            rec = dict(row)
            try:
                rec["data"] = json.loads(rec["data"] or "{}")
            except ValueError:
                rec["data"] = {}
            found.append(rec)
        return found

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
