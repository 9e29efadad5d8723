"""Heartbeats and the small updates a live instance makes about itself.

A heartbeat keeps an instance from going stale and, by default, renews every
unexpired lease it holds in the same transaction, so an agent that is alive
does not lose its files. From the instance's own host it also touches that
host's heartbeat (`hosts.beat.touch`): a machine whose agents only run hooks
stays live while they work. A state change is logged only when the state differs.
`mark_seen` remembers the newest event the hook has shown the instance.
"""

from __future__ import annotations

import sqlite3

from ctui.core.errors import UsageError
from ctui.core.hosts.beat import touch
from ctui.core.instances.liveness import is_here, require_live
from ctui.core.instances.record import LIVE_STATES, Instance, get

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


def heartbeat(
    c: Context, instance_id: str, *, state: str | None = None, renew_leases: bool = True
) -> Instance:
    """Refresh the heartbeat (and the instance's leases); optionally set the state."""
    if state is not None and state not in LIVE_STATES:
        raise UsageError(f"bad state {state!r}: one of {', '.join(LIVE_STATES)}")
    now = c.now()
    with c.store.write() as conn:
        inst = require_live(c, instance_id, conn)
        conn.execute("UPDATE instances SET heartbeat_at = ? WHERE id = ?", (now, instance_id))
        if is_here(inst):
            touch(conn, inst.host_id or "", now)
        if state is not None and state != inst.state:
            _set_state(c, conn, inst, state, now)
        if renew_leases:
            conn.execute(
                "UPDATE leases SET expires_at = ? + ttl, renewed_at = ? "
                "WHERE holder = ? AND expires_at > ?",
                (now, now, instance_id, now),
            )
        return get(conn, instance_id)


def _set_state(
    c: Context, conn: sqlite3.Connection, inst: Instance, state: str, now: float
) -> None:
    conn.execute("UPDATE instances SET state = ?, state_at = ? WHERE id = ?", (state, now, inst.id))
    c.log(
        conn,
        "instance.state",
        subject=inst.id,
        actor=inst.id,
        data={"from": inst.state, "to": state},
    )


def set_task(c: Context, instance_id: str, task: str | None) -> Instance:
    """Say what the instance works on (the hook takes it from a session's first prompt)."""
    with c.store.write() as conn:
        get(conn, instance_id)
        conn.execute("UPDATE instances SET task = ? WHERE id = ?", (task, instance_id))
        c.log(conn, "instance.task", subject=instance_id, actor=instance_id, data={"task": task})
        return get(conn, instance_id)


def mark_seen(c: Context, instance_id: str, event_id: int) -> None:
    """Remember the newest event this instance has been told about (hook context)."""
    with c.store.write() as conn:
        conn.execute(
            "UPDATE instances SET last_seen_event = ? WHERE id = ?", (event_id, instance_id)
        )
