"""Heartbeats and the small updates a live instance makes about itself.

A heartbeat keeps an instance from going stale and, by default, renews every
unexpired lease it holds in the same transaction, so an agent that is alive
does not lose its files. From the instance's own host it also touches that
host's heartbeat (`hosts.beat.touch`): a machine whose agents only run hooks
stays live while they work. A state change is logged only when the state differs.
`set_tool` records the tool a hook saw start (cleared when it ends, and by any
state other than working); `start_tool` and `end_tool` do it for one call named
by its `tool_use_id`, so a start reported after its end (a background hook
that lost the race to a fast command) writes nothing. `mark_seen` remembers
the newest event the hook has shown the instance.
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
    conn.execute(
        "UPDATE instances SET state = ?, state_at = ?, tool = CASE WHEN ? = 'working' "
        "THEN tool END, tool_target = CASE WHEN ? = 'working' THEN tool_target END, "
        "tool_call = CASE WHEN ? = 'working' THEN tool_call END WHERE id = ?",
        (state, now, state, state, state, inst.id),
    )
    c.log(
        conn,
        "instance.state",
        subject=inst.id,
        actor=inst.id,
        data={"from": inst.state, "to": state},
    )


TARGET_CHARS = 200


ENDED_KEPT = 16
"""How many ended calls an instance remembers: more than a turn runs at once."""


def set_tool(
    c: Context,
    instance_id: str,
    tool: str | None,
    target: str | None = None,
    call: str | None = None,
) -> None:
    """Say which tool the instance runs now (None: none), and which call it is. One UPDATE,
    no event: the hook's hot path calls it inside the transaction it already holds, and only
    a change is written."""
    if target is not None and len(target) > TARGET_CHARS:
        target = target[: TARGET_CHARS - 1] + "…"
    if not tool:
        target = call = None
    with c.store.write() as conn:
        conn.execute(
            "UPDATE instances SET tool = ?, tool_target = ?, tool_call = ? WHERE id = ? "
            "AND (tool IS NOT ? OR tool_target IS NOT ? OR tool_call IS NOT ?)",
            (tool, target, call, instance_id, tool, target, call),
        )


def ended(inst: Instance, call: str) -> bool:
    """Whether the call `call` of this instance has already ended (`end_tool`)."""
    return call in (inst.tools_ended or "").split()


def start_tool(
    c: Context, instance_id: str, tool: str, target: str | None, call: str | None
) -> bool:
    """Record that `call` of `tool` runs now, unless that call has ended already (a start
    that arrives late): then nothing is written and the answer is False."""
    with c.store.write() as conn:
        if call is not None and ended(get(conn, instance_id), call):
            return False
        set_tool(c, instance_id, tool, target, call)
    return True


def end_tool(c: Context, instance_id: str, call: str | None) -> None:
    """The call `call` has ended: remember it, and clear the running tool if it is that call
    (or a tool recorded without a call id). Without `call`, clear whatever runs."""
    if call is None or not call or any(ch.isspace() for ch in call):
        set_tool(c, instance_id, None)
        return
    with c.store.write() as conn:
        inst = get(conn, instance_id)
        if not ended(inst, call):
            kept = [call, *(inst.tools_ended or "").split()][:ENDED_KEPT]
            conn.execute(
                "UPDATE instances SET tools_ended = ? WHERE id = ?", (" ".join(kept), instance_id)
            )
        if inst.tool is not None and inst.tool_call in (None, call):
            set_tool(c, instance_id, None)


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
