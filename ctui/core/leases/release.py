"""How a held lease lives on and ends: renew, release, force-release, release-all, expire.

Renewal only pushes the expiry back. Each ending here deletes the row and logs
why in the same transaction, so the event log tells how a key came free: the
holder gave it back or its instance ended (`lease.released`), the operator
took it (`lease.forced`, with the reason), or its TTL ran out
(`lease.expired`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ctui.core.errors import NotFound, UsageError
from ctui.core.instances import OPERATOR
from ctui.core.instances.liveness import require_live
from ctui.core.leases.holders import own
from ctui.core.leases.keys import checked_ttl, require_key
from ctui.core.leases.queue import WAITER_STALE_S
from ctui.core.leases.record import Lease, require_row, row

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def renew(
    c: Context, path: str, *, instance: str, ttl: float | None = None, cwd: Path | None = None
) -> Lease:
    """Push the expiry of the caller's own lease to now + TTL."""
    key = require_key(c, path, cwd)
    with c.store.write() as conn:
        require_live(c, instance, conn)
        lease = own(c, conn, key, instance)
        new_ttl = lease.ttl if ttl is None else checked_ttl(c, ttl)
        now = c.now()
        conn.execute(
            "UPDATE leases SET expires_at = ?, renewed_at = ?, ttl = ? WHERE path = ?",
            (now + new_ttl, now, new_ttl, key),
        )
        return require_row(conn, key)


def release(c: Context, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
    """Give back the caller's own lease (an expired one is released too)."""
    key = require_key(c, path, cwd)
    with c.store.write() as conn:
        lease = own(c, conn, key, instance, allow_expired=True)
        conn.execute("DELETE FROM leases WHERE path = ?", (key,))
        c.log(conn, "lease.released", subject=key, actor=instance, data={"token": lease.token})
        return lease


def force_release(
    c: Context, path: str, *, reason: str, by: str = OPERATOR, cwd: Path | None = None
) -> Lease:
    """The operator takes a lease away from its holder; the event names both and why."""
    if by != OPERATOR:
        raise UsageError("only the operator may force-release a lease: run it without --as")
    if not reason or not reason.strip():
        raise UsageError(
            "force-release needs a reason (--reason TEXT): it is logged for the holder"
        )
    key = require_key(c, path, cwd)
    with c.store.write() as conn:
        lease = row(conn, key)
        if lease is None:
            raise NotFound(f"no lease on {key}: see `ctui lock list`")
        conn.execute("DELETE FROM leases WHERE path = ?", (key,))
        c.log(
            conn,
            "lease.forced",
            subject=key,
            actor=by,
            data={"holder": lease.holder, "token": lease.token, "reason": reason.strip()},
        )
        return lease


def release_all(c: Context, conn: sqlite3.Connection, instance: str, *, reason: str) -> int:
    """Release every lease `instance` holds (inside the caller's transaction)."""
    rows = conn.execute("SELECT path, token FROM leases WHERE holder = ?", (instance,)).fetchall()
    for found in rows:
        c.log(
            conn,
            "lease.released",
            subject=found["path"],
            actor=instance,
            data={"token": found["token"], "reason": reason},
        )
    conn.execute("DELETE FROM leases WHERE holder = ?", (instance,))
    return len(rows)


def expire(c: Context, conn: sqlite3.Connection | None = None) -> int:
    """Delete expired leases and forgotten waiters; returns how many leases went."""
    if conn is None:
        with c.store.write() as wconn:
            return expire(c, wconn)
    now = c.now()
    rows = conn.execute(
        "SELECT path, holder, token FROM leases WHERE expires_at <= ?", (now,)
    ).fetchall()
    for found in rows:
        c.log(
            conn,
            "lease.expired",
            subject=found["path"],
            actor=found["holder"],
            data={"holder": found["holder"], "token": found["token"]},
        )
    conn.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
    conn.execute("DELETE FROM lease_waiters WHERE seen_at <= ?", (now - WAITER_STALE_S,))
    return len(rows)
