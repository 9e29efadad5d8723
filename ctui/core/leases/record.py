"""The `Lease` record: one granted lease, read from its row and rendered for output.

Kept apart from the operations so that readers of leases (the API client, the
hooks, `status`) get the record without the machinery that grants it. The
row helpers here are the only places that turn a `leases` row into a `Lease`.
"""

from __future__ import annotations

import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import CtuiError
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context

COLUMNS = "path, is_glob, holder, token, intent, acquired_at, renewed_at, expires_at, ttl, sha1"
"""The `Lease` fields in constructor order."""


class Lease(Record):
    """One granted lease."""

    FIELDS = (
        "path",
        "is_glob",
        "holder",
        "token",
        "intent",
        "acquired_at",
        "renewed_at",
        "expires_at",
        "ttl",
        "sha1",
    )
    __slots__ = FIELDS
    path: str
    is_glob: bool
    holder: str
    token: int
    intent: str | None
    acquired_at: float
    renewed_at: float
    expires_at: float
    ttl: float
    sha1: str | None

    def __init__(
        self,
        path: str,
        is_glob: bool,
        holder: str,
        token: int,
        intent: str | None,
        acquired_at: float,
        renewed_at: float,
        expires_at: float,
        ttl: float,
        sha1: str | None,
    ) -> None:
        self.path = path
        self.is_glob = is_glob
        self.holder = holder
        self.token = token
        self.intent = intent
        self.acquired_at = acquired_at
        self.renewed_at = renewed_at
        self.expires_at = expires_at
        self.ttl = ttl
        self.sha1 = sha1

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Lease:
        return cls(
            row["path"],
            bool(row["is_glob"]),
            row["holder"],
            row["token"],
            row["intent"],
            row["acquired_at"],
            row["renewed_at"],
            row["expires_at"],
            row["ttl"],
            row["sha1"],
        )

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "glob": self.is_glob,
            "holder": self.holder,
            "token": self.token,
            "intent": self.intent,
            "acquired_at": iso(self.acquired_at),
            "expires_at": iso(self.expires_at),
            "ttl": self.ttl,
            "sha1": self.sha1,
        }
        if now is not None:
            data["expires_in"] = round(self.expires_at - now, 1)
        return data


def row(conn: sqlite3.Connection, key: str) -> Lease | None:
    """The lease on exactly `key`, expired or not."""
    found = conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchone()
    return Lease.from_row(found) if found else None


def require_row(conn: sqlite3.Connection, key: str) -> Lease:
    """The lease just written on `key`, read back inside the same transaction."""
    lease = row(conn, key)
    if lease is None:
        raise CtuiError(f"lease {key} vanished inside its own transaction")
    return lease


def select(c: Context, *, holder: str | None, include_expired: bool) -> list[Lease]:
    """Leases by path. Plain tuples, not `sqlite3.Row`: `status` lists thousands."""
    sql = f"SELECT {COLUMNS} FROM leases"
    args: list[Any] = []
    where: list[str] = []
    if holder is not None:
        where.append("holder = ?")
        args.append(holder)
    if not include_expired:
        where.append("expires_at > ?")
        args.append(c.now())
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY path"
    cursor = c.store.conn.cursor()
    cursor.row_factory = None
    return [Lease(r[0], bool(r[1]), *r[2:]) for r in cursor.execute(sql, args)]
