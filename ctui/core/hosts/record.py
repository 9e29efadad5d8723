"""The `Host` record: one machine that uses this store, and which hosts have gone quiet.

A host is live while its heartbeat is younger than `[hosts] lapse_s`. The
host this process runs on is never lapsed to itself: its own processes are
judged by their pids. `Lapsed` is the set of quiet hosts at one moment, which
the reapers hold each instance and thread against.
"""

from __future__ import annotations

import sqlite3

from ctui.core import hostid
from ctui.core.clock import iso
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any


class Host(Record):
    """One machine: its id, hostname, first and last heartbeat, and clock offset."""

    FIELDS = ("id", "name", "first_seen", "heartbeat_at", "clock_offset")
    __slots__ = FIELDS
    id: str
    name: str
    first_seen: float
    heartbeat_at: float
    clock_offset: float

    def __init__(
        self, id: str, name: str, first_seen: float, heartbeat_at: float, clock_offset: float
    ) -> None:
        self.id = id
        self.name = name
        self.first_seen = first_seen
        self.heartbeat_at = heartbeat_at
        self.clock_offset = clock_offset

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Host:
        return cls(*(row[name] for name in cls.FIELDS))

    def lapsed(self, now: float, lapse_s: float) -> bool:
        return self.id != hostid.local() and now - self.heartbeat_at > lapse_s

    def to_dict(self, now: float, lapse_s: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "here": self.id == hostid.local(),
            "first_seen": iso(self.first_seen),
            "heartbeat_at": iso(self.heartbeat_at),
            "heartbeat_age": round(now - self.heartbeat_at, 1),
            "clock_offset": round(self.clock_offset, 3),
            "state": "lapsed" if self.lapsed(now, lapse_s) else "live",
        }


class Lapsed:
    """The hosts whose heartbeat lapsed at one moment, and the rule for what ran on them.

    Work on a lapsed host is dead once its own heartbeat is also older than
    the lapse: a process that still beats through some other way (an agent
    heartbeating through the API server) is not cut off for its host's silence.
    """

    __slots__ = ("hosts", "lapse_s")

    def __init__(self, hosts: dict[str, Host], lapse_s: float) -> None:
        self.hosts = hosts
        self.lapse_s = lapse_s

    def dead(self, host_id: str | None, beat_at: float | None, now: float) -> bool:
        if host_id is None or host_id not in self.hosts:
            return False
        return beat_at is None or now - beat_at > self.lapse_s

    def why(self, host_id: str) -> str:
        host = self.hosts.get(host_id)
        name = f"{host_id} ({host.name})" if host is not None else host_id
        return f"host {name} stopped answering"


NONE = Lapsed({}, float("inf"))


def get(conn: sqlite3.Connection, host_id: str) -> Host | None:
    row = conn.execute("SELECT * FROM hosts WHERE id = ?", (host_id,)).fetchone()
    return Host.from_row(row) if row is not None else None


def select(conn: sqlite3.Connection) -> list[Host]:
    """Every host this store has seen, most recently heard first."""
    rows = conn.execute("SELECT * FROM hosts ORDER BY heartbeat_at DESC, id").fetchall()
    return [Host.from_row(r) for r in rows]


def lapsed(conn: sqlite3.Connection, now: float, lapse_s: float) -> Lapsed:
    """The hosts (other than this one) whose heartbeat is older than `lapse_s`."""
    rows = conn.execute(
        "SELECT * FROM hosts WHERE heartbeat_at < ? AND id != ?", (now - lapse_s, hostid.local())
    ).fetchall()
    return Lapsed({r["id"]: Host.from_row(r) for r in rows}, lapse_s)
