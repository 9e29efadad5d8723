"""Staleness seen by readers and settled by writers: listing and reaping instances.

A reader never writes, so `select` shows an instance that is stale by now
(`instance_liveness.is_stale`) as `stale` without changing its row. `reap`,
inside a write transaction, marks such instances stale, frees what they hold
(`Context.release_holdings`) and logs why: the heartbeat ran out, the
process is gone, or its host stopped answering (`ctui.core.hosts`).
Registration and `ctui cleanup` reap everyone; a lease grant or a claim that
finds nothing free reaps only the holders or claimants in its way.
"""

from __future__ import annotations

import builtins
import sqlite3

from ctui.core.instances.liveness import is_stale, quiet_hosts, stale_why
from ctui.core.instances.record import Instance

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context


def select(c: Context, *, include_ended: bool = False) -> list[Instance]:
    """Instances, live first; stale-by-now ones are shown as `stale` without a write."""
    sql = "SELECT * FROM instances"
    if not include_ended:
        sql += " WHERE state NOT IN ('ended', 'stale')"
    sql += " ORDER BY id = 'operator' DESC, started_at"
    now = c.now()
    quiet = quiet_hosts(c)
    found = []
    for row in c.store.conn.execute(sql).fetchall():
        inst = Instance.from_row(row)
        if is_stale(inst, now, quiet):
            inst.state = "stale"
            if not include_ended:
                continue
        found.append(inst)
    return found


def reap(
    c: Context,
    *,
    conn: sqlite3.Connection | None = None,
    only: builtins.list[str] | None = None,
) -> builtins.list[str]:
    """Mark stale instances, free their leases and claims; returns the reaped ids."""
    if conn is None:
        with c.store.write() as wconn:
            return reap(c, conn=wconn, only=only)
    now = c.now()
    sql = "SELECT * FROM instances WHERE state IN ('working', 'needs_input', 'idle')"
    args: builtins.list[Any] = []
    if only is not None:
        sql += f" AND id IN ({', '.join('?' for _ in only)})"
        args.extend(only)
    quiet = quiet_hosts(c, conn)
    reaped = []
    for row in conn.execute(sql, args).fetchall():
        inst = Instance.from_row(row)
        why = stale_why(inst, now, quiet)
        if why is None:
            continue
        freed = c.release_holdings(conn, inst.id, reason=f"stale ({why})")
        conn.execute(
            "UPDATE instances SET state = 'stale', state_at = ? WHERE id = ?", (now, inst.id)
        )
        c.log(conn, "instance.stale", subject=inst.id, data={"why": why, **freed})
        reaped.append(inst.id)
    return reaped
