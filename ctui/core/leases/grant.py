"""Granting a lease: the one transaction that decides who gets a key.

A grant runs inside `BEGIN IMMEDIATE`, so two processes can never both be
granted overlapping keys. In order it renews the caller's own live lease,
refuses while another live holder overlaps (reaping dead holders first), defers
to earlier waiters in `ctui.core.leases.queue`, and only then takes a fencing
token from a counter that only grows.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from ctui.core.errors import LeaseHeld, UsageError
from ctui.core.instances.liveness import require_live
from ctui.core.instances.reap import reap
from ctui.core.leases import queue as lease_queue
from ctui.core.leases.globs import fixed_prefix, is_glob, unescape
from ctui.core.leases.holders import held_error, holder_gone
from ctui.core.leases.keys import checked_ttl, overlapping, require_key
from ctui.core.leases.keys import file as lease_file
from ctui.core.leases.record import Lease, require_row, row
from ctui.core.leases.verify import file_sha1

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context
    from ctui.core.leases.queue import Leases


def acquire(
    leases: Leases,
    path: str,
    *,
    instance: str,
    intent: str | None,
    ttl: float | None,
    wait: float | None,
    cwd: Path | None,
) -> Lease:
    """Check the arguments, then grant at once or queue through `lease_queue`."""
    c = leases._c
    key = require_key(c, path, cwd)
    ttl = checked_ttl(c, ttl)
    if wait is not None and (not math.isfinite(wait) or wait < 0):
        raise UsageError(f"bad wait {wait!r}: a number of seconds, 0 or more")
    file = None if is_glob(key) else lease_file(c, path, cwd)
    if not wait:
        result = try_grant(c, key, instance, intent, ttl, waiter=None, file=file)
        if isinstance(result, LeaseHeld):
            raise result
        return result
    return lease_queue.wait_for(leases, key, instance, intent, ttl, wait, file=file)


def try_grant(
    c: Context,
    key: str,
    instance: str,
    intent: str | None,
    ttl: float,
    *,
    waiter: int | None,
    seen: bool = False,
    file: Path | None = None,
) -> Lease | LeaseHeld:
    """One grant attempt in its own transaction.

    A refusal is returned, not raised, so the transaction still commits
    what it learnt on the way: dead holders reaped, the waiter's `seen_at`.
    """
    with c.store.write() as conn:
        if seen and waiter is not None:
            conn.execute("UPDATE lease_waiters SET seen_at = ? WHERE id = ?", (c.now(), waiter))
        try:
            return grant(c, conn, key, instance, intent, ttl, waiter=waiter, file=file)
        except LeaseHeld as held:
            return held


def grant(
    c: Context,
    conn: sqlite3.Connection,
    key: str,
    instance: str,
    intent: str | None,
    ttl: float,
    *,
    waiter: int | None,
    file: Path | None = None,
) -> Lease:
    """Grant inside `conn`; `file` is the caller's own copy (it may sit in a worktree)."""
    now = c.now()
    require_live(c, instance, conn)
    mine = row(conn, key)
    if mine is not None and mine.holder == instance and not mine.expired(now):
        conn.execute(
            "UPDATE leases SET expires_at = ?, renewed_at = ?, ttl = ?, "
            "intent = COALESCE(?, intent) "
            "WHERE path = ?",
            (now + ttl, now, ttl, intent, key),
        )
        return require_row(conn, key)
    blocking = _blocking(c, conn, key, instance, now)
    if blocking:
        raise held_error(conn, key, blocking[0], now)
    ahead = lease_queue.ahead(conn, key, instance, waiter, now, holder_gone)
    if ahead:
        raise LeaseHeld(
            f"{key} is free but {ahead} earlier waiter(s) are queued for it: "
            "use `ctui lock acquire --wait SECONDS` to queue too",
            path=key,
            waiters=ahead,
        )
    mine = row(conn, key)  # reaping a dead holder may have removed it already
    if mine is not None:
        conn.execute("DELETE FROM leases WHERE path = ?", (key,))
        c.log(
            conn,
            "lease.expired",
            subject=key,
            actor=mine.holder,
            data={"holder": mine.holder, "token": mine.token},
        )
    token = c.store.next_counter(conn, "fence")
    sha1 = None if is_glob(key) else file_sha1(file or c.root / unescape(key))
    conn.execute(
        "INSERT INTO leases(path, is_glob, prefix, holder, token, intent, acquired_at, "
        "renewed_at, "
        "expires_at, ttl, sha1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            int(is_glob(key)),
            fixed_prefix(key),
            instance,
            token,
            intent,
            now,
            now,
            now + ttl,
            ttl,
            sha1,
        ),
    )
    if waiter is not None:
        conn.execute("DELETE FROM lease_waiters WHERE id = ?", (waiter,))
    c.log(
        conn,
        "lease.acquired",
        subject=key,
        actor=instance,
        data={"token": token, "intent": intent, "ttl": ttl},
    )
    return require_row(conn, key)


def _blocking(
    c: Context, conn: sqlite3.Connection, key: str, instance: str, now: float
) -> list[Lease]:
    """Unexpired leases of other live instances that overlap `key` (reaping dead holders)."""
    found = [
        lease
        for lease in overlapping(conn, key)
        if lease.holder != instance and not lease.expired(now)
    ]
    if not found:
        return []
    holders = sorted({lease.holder for lease in found})
    reaped: set[str] = set(reap(c, conn=conn, only=holders))
    return [lease for lease in found if lease.holder not in reaped]
