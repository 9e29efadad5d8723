"""The lease wait queue: `acquire --wait` callers are served first come, first served.

A waiter is a row in `lease_waiters`. While a live waiter that asked earlier
wants an overlapping key, every later grant is refused, so whoever queued first
gets the lease when it frees up, however the polling interleaves. A waiter
refreshes its `seen_at` about once a second; one unseen for `WAITER_STALE_S`
(its process was killed) or whose instance is gone no longer counts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ctui.core.errors import LeaseHeld
from ctui.core.instances.liveness import require_live
from ctui.core.leases.globs import fixed_prefix, is_glob, overlaps

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Protocol

    from ctui.core.context import Context
    from ctui.core.leases.record import Lease

    class Leases(Protocol):
        """The facade, `ctui.core.leases.Leases`, as the queue uses it (it cannot import it)."""

        _c: Context

        def _try_grant(
            self,
            key: str,
            instance: str,
            intent: str | None,
            ttl: float,
            *,
            waiter: int | None,
            seen: bool = False,
            file: Path | None = None,
        ) -> Lease | LeaseHeld: ...


WAITER_STALE_S = 10.0
SEEN_EVERY_S = 1.0


def wait_for(
    leases: Leases,
    key: str,
    instance: str,
    intent: str | None,
    ttl: float,
    wait: float,
    *,
    file: Path | None = None,
) -> Lease:
    """Queue for `key` and retry until granted; `LeaseHeld` when `wait` seconds pass."""
    c = leases._c
    deadline = time.monotonic() + wait
    with c.store.write() as conn:
        require_live(c, instance, conn)
        now = c.now()
        waiter = conn.execute(
            "INSERT INTO lease_waiters(path, is_glob, prefix, instance, since, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, int(is_glob(key)), fixed_prefix(key), instance, now, now),
        ).lastrowid
    pause, last_seen = 0.02, time.monotonic()
    try:
        while True:
            seen = time.monotonic() - last_seen > SEEN_EVERY_S
            result = leases._try_grant(
                key, instance, intent, ttl, waiter=waiter, seen=seen, file=file
            )
            if not isinstance(result, LeaseHeld):
                return result
            if seen:
                last_seen = time.monotonic()
            if time.monotonic() >= deadline:
                result.message = f"{result.message} (waited {wait:g}s)"
                result.args = (result.message,)
                raise result
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.25)
    finally:
        with c.store.write() as conn:
            conn.execute("DELETE FROM lease_waiters WHERE id = ?", (waiter,))


def ahead(
    conn: sqlite3.Connection,
    key: str,
    instance: str,
    waiter: int | None,
    now: float,
    gone: Callable[[sqlite3.Connection, str, float], bool],
) -> int:
    """How many live waiters asked for an overlapping key before `waiter` (or anyone) did.

    Waiters whose instance is `gone` are dropped on the way: a killed agent
    must not hold up the queue until its row goes stale.
    """
    rows = conn.execute(
        "SELECT id, path, instance FROM lease_waiters "
        "WHERE instance != ? AND seen_at > ? AND id < ?",
        (instance, now - WAITER_STALE_S, waiter if waiter is not None else 2**62),
    ).fetchall()
    count = 0
    for row in rows:
        if not overlaps(key, row["path"]):
            continue
        if gone(conn, row["instance"], now):
            conn.execute("DELETE FROM lease_waiters WHERE id = ?", (row["id"],))
            continue
        count += 1
    return count
