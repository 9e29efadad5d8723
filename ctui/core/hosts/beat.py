"""Host heartbeats: this machine says it is alive, and how far its clock is from the store's.

The long-lived processes (a thread's supervisor, `ctui serve`, the control
room) call `beat` from their loops; it writes at most once every
`BEAT_EVERY_S` per process and store, so calling it often costs nothing. An
instance heartbeat from this host also touches the host's row (`touch`, in
the caller's transaction), so a machine whose only ctui processes are hooks
stays live while its agents work.

The clock offset is this host's clock minus the store's (`Store.server_time`);
an embedded store has no clock of its own, so there it is 0.
"""

from __future__ import annotations

import sqlite3
import time

from ctui.core import hostid

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

BEAT_EVERY_S = 5.0

_last: dict[tuple[str, str], float] = {}


def clock_offset(c: Context) -> float:
    """This host's clock minus the store's, in seconds (0 when the store has no clock)."""
    server = c.store.server_time()
    return 0.0 if server is None else time.time() - server


def beat(c: Context, *, force: bool = False) -> bool:
    """Record this host's heartbeat (throttled unless `force`); True when it wrote."""
    me = hostid.local()
    key = (str(c.store.path), me)
    mono = time.monotonic()
    last = _last.get(key)
    if not force and last is not None and mono - last < BEAT_EVERY_S:
        return False
    offset = clock_offset(c)
    with c.store.write() as conn:
        record(c, conn, me, offset)
    _last[key] = mono
    return True


def record(c: Context, conn: sqlite3.Connection, host_id: str, offset: float) -> None:
    """Upsert the host's row inside `conn` (no event: heartbeats are not news)."""
    now = c.now()
    conn.execute(
        "INSERT INTO hosts(id, name, first_seen, heartbeat_at, clock_offset) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
        "heartbeat_at = excluded.heartbeat_at, clock_offset = excluded.clock_offset",
        (host_id, hostid.HOSTNAME, now, now, offset),
    )


def touch(conn: sqlite3.Connection, host_id: str, now: float) -> None:
    """Refresh a known host's heartbeat inside the caller's transaction (no event)."""
    conn.execute(
        "UPDATE hosts SET heartbeat_at = ? WHERE id = ? AND heartbeat_at < ?",
        (now, host_id, now),
    )
