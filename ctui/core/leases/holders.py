"""Who holds a key: live holders, the refusal that names them, the caller's own lease.

A lease stops counting when its TTL runs out or its holder is stale or ended,
but readers never write: `live` (what `Leases.list` gives every face: `lock
list`, `status`, the API, the control room), `check` and `held_by_other` skip
such leases, so a dead holder's lease reads as free everywhere at once, and the
next write transaction (a grant that reaps the holder, or `expire`) deletes
them and logs why. When a key is taken, `held_error` says by whom, for what,
until when, and what the caller can do instead; every refusal reads the same.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ctui.core.clock import ago, iso
from ctui.core.errors import LeaseExpired, LeaseHeld, NotFound
from ctui.core.hosts import NONE, lapsed
from ctui.core.instances import Instance, is_here, is_stale
from ctui.core.leases.keys import overlapping, require_key
from ctui.core.leases.record import Lease, row

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def holder_gone(
    conn: sqlite3.Connection, holder: str, now: float, lapse_s: float | None = None
) -> bool:
    """Whether the holder is stale or ended (its leases go at the next write).

    With `lapse_s` (`[hosts] lapse_s`), a holder on another host is also gone
    once that host and the holder have both been silent that long.
    """
    found = conn.execute("SELECT * FROM instances WHERE id = ?", (holder,)).fetchone()
    if found is None or found["state"] in ("ended", "stale"):
        return True
    inst = Instance.from_row(found)
    quiet = NONE if lapse_s is None or is_here(inst) else lapsed(conn, now, lapse_s)
    return is_stale(inst, now, quiet)


def live(
    conn: sqlite3.Connection, leases: list[Lease], now: float, lapse_s: float | None = None
) -> list[Lease]:
    """The leases that still count: unexpired, and held by an instance that is not gone."""
    gone: dict[str, bool] = {}
    kept = []
    for lease in leases:
        if lease.expired(now):
            continue
        if lease.holder not in gone:
            gone[lease.holder] = holder_gone(conn, lease.holder, now, lapse_s)
        if not gone[lease.holder]:
            kept.append(lease)
    return kept


def held_error(conn: sqlite3.Connection, key: str, lease: Lease, now: float) -> LeaseHeld:
    """The refusal for `key`, which `lease` (overlapping it) blocks."""
    found = conn.execute("SELECT * FROM instances WHERE id = ?", (lease.holder,)).fetchone()
    holder = Instance.from_row(found) if found else None
    who = lease.holder
    if holder is not None and (holder.role or holder.task):
        bits = [
            f"role {holder.role}" if holder.role and holder.role != holder.id else "",
            f"task {holder.task!r}" if holder.task else "",
        ]
        joined = ", ".join(b for b in bits if b)
        who += f" ({joined})" if joined else ""
    what = f"{key} overlaps {lease.path}, leased" if lease.path != key else f"{key} is leased"
    intent = f" to {lease.intent}" if lease.intent else ""
    message = (
        f"{what} by {who}{intent} since {iso(lease.acquired_at)}, "
        f"expires in {ago(lease.expires_at - now)}: work on another file, wait with "
        f"`ctui lock acquire {key} --wait 90`, or ask the operator to force-release it"
    )
    return LeaseHeld(message, path=key, lease=lease, holder=holder)


def own(
    c: Context,
    conn: sqlite3.Connection,
    key: str,
    instance: str,
    *,
    allow_expired: bool = False,
) -> Lease:
    """The caller's own lease on `key`, or the error: held (10), expired (11), none (4)."""
    lease = row(conn, key)
    now = c.now()
    if lease is None:
        raise NotFound(f"{instance} holds no lease on {key}")
    if lease.holder != instance:
        if lease.expired(now):
            raise NotFound(f"{instance} holds no lease on {key}")
        raise held_error(conn, key, lease, now)
    if lease.expired(now) and not allow_expired:
        raise LeaseExpired(
            f"your lease on {key} expired {ago(now - lease.expires_at)} ago: acquire it again "
            "(and `ctui lock verify` the file before trusting your copy)",
            path=key,
            lease=lease,
        )
    return lease


def check(c: Context, path: str, *, cwd: Path | None = None) -> Lease | None:
    """The unexpired lease that covers `path` (exactly or through a glob), if any."""
    key = require_key(c, path, cwd)
    now, lapse = c.now(), c.config.host_lapse
    conn = c.store.conn
    live = [
        lease
        for lease in overlapping(conn, key)
        if not lease.expired(now) and not holder_gone(conn, lease.holder, now, lapse)
    ]
    live.sort(key=lambda lease: (lease.path != key, lease.acquired_at))
    return live[0] if live else None


def held_by_other(c: Context, key: str, instance: str) -> Lease | None:
    """An unexpired lease overlapping `key` whose holder is not `instance`."""
    now, lapse = c.now(), c.config.host_lapse
    conn = c.store.conn
    for lease in overlapping(conn, key):
        if (
            lease.holder != instance
            and not lease.expired(now)
            and not holder_gone(conn, lease.holder, now, lapse)
        ):
            return lease
    return None
