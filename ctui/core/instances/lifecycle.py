"""An instance's life: registering (or reviving) one, and ending it.

Registration checks everything before it writes: the id, TTL, state and pid
(which must run, when on this host: the same host id, `ctui.core.hostid`).
Then, in one transaction, it beats for this host, reaps stale instances,
picks an id when none is given (`ROLE-NNNN`), finds the worktree and branch
from `cwd`, and upserts the row, so registering an id again revives it.
Unregistering frees what the instance holds (`Context.release_holdings`:
leases, queued waits, task claims) before marking it ended.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from ctui.core import hostid
from ctui.core.errors import UsageError
from ctui.core.hosts import beat as host_beat
from ctui.core.instances.liveness import HOST, pid_alive, pid_start_time
from ctui.core.instances.reap import reap
from ctui.core.instances.record import LIVE_STATES, OPERATOR, Instance, get
from ctui.core.paths import worktree_branch

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


class _Pattern:
    """`re.compile(pattern)`, made at its first use: the hook's usual call (a heartbeat)
    checks no id, and the hook process loads `re` only when something uses it."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def match(self, text: str) -> re.Match[str] | None:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled.match(text)


ID_RE = _Pattern(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def register(
    c: Context,
    *,
    instance_id: str | None = None,
    role: str | None = None,
    task: str | None = None,
    session_id: str | None = None,
    agent_id: str | None = None,
    parent_id: str | None = None,
    pid: int | None = None,
    cwd: str | None = None,
    worktree: str | None = None,
    branch: str | None = None,
    agent: str | None = None,
    thread_id: str | None = None,
    ttl: float | None = None,
    state: str = "idle",
    host: str | None = None,
    host_id: str | None = None,
) -> Instance:
    """Create an instance (or revive one with the same id) and reap stale ones.

    `host` (a hostname) and `host_id` say where the agent runs (default: here);
    its pid is checked for liveness only on this host id, so an agent
    registering through the API from elsewhere should name its own. A
    hostname alone other than this one's means "not here": its pid is never
    looked up, only its heartbeat counts.
    """
    if instance_id is not None and not ID_RE.match(instance_id):
        raise UsageError(
            f"bad instance id {instance_id!r}: use letters, digits, '.', '_', ':' or '-'"
        )
    if instance_id == OPERATOR:
        raise UsageError("'operator' is reserved for the person at the control room")
    ttl = c.config.instance_ttl if ttl is None else ttl
    if ttl <= 0:
        raise UsageError(f"bad TTL {ttl}: it must be a positive number of seconds")
    if state not in LIVE_STATES:
        raise UsageError(f"bad state {state!r}: one of {', '.join(LIVE_STATES)}")
    if pid is not None and pid <= 0:
        raise UsageError(f"bad pid {pid}")
    if host_id is not None:
        host_id = hostid.check(host_id, "the host id")
    elif host is None or host == HOST:
        host_id = hostid.local()
    host = host or HOST
    here = host_id == hostid.local()
    if pid is not None and here and not pid_alive(pid):
        raise UsageError(
            f"no running process {pid} on this host: give the agent's own pid, or none"
        )
    now = c.now()
    with c.store.write() as conn:
        if here:
            host_beat.record(c, conn, host_id or "", host_beat.clock_offset(c))
        reap(c, conn=conn)
        if instance_id is None:
            instance_id = _new_id(c, conn, role)
        if cwd is not None and (worktree is None or branch is None):
            found_tree, found_branch = worktree_branch(Path(cwd))
            worktree = worktree or (str(found_tree) if found_tree else None)
            branch = branch or found_branch
        values = {
            "id": instance_id,
            "session_id": session_id,
            "agent_id": agent_id,
            "parent_id": parent_id,
            "role": role,
            "task": task,
            "cwd": cwd,
            "worktree": worktree,
            "branch": branch,
            "pid": pid,
            "pid_start": pid_start_time(pid) if pid and here else None,
            "host": host,
            "host_id": host_id,
            "agent": agent,
            "thread_id": thread_id,
            "started_at": now,
            "heartbeat_at": now,
            "ttl": ttl,
            "state": state,
            "state_at": now,
            "ended_at": None,
            "last_seen_event": 0,
        }
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        updates = ", ".join(
            f"{k} = excluded.{k}" for k in values if k not in ("id", "last_seen_event")
        )
        conn.execute(
            f"INSERT INTO instances({cols}) VALUES ({marks}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            tuple(values.values()),
        )
        c.log(
            conn,
            "instance.registered",
            subject=instance_id,
            actor=instance_id,
            data={"role": role, "task": task, "session_id": session_id, "pid": pid},
        )
        return get(conn, instance_id)


def _new_id(c: Context, conn: sqlite3.Connection, role: str | None) -> str:
    """`ROLE-NNNN` from a counter, skipping ids someone chose by hand."""
    base = _slug(role) or "agent"
    while True:
        candidate = f"{base}-{c.store.next_counter(conn, 'instance'):04d}"
        if conn.execute("SELECT 1 FROM instances WHERE id = ?", (candidate,)).fetchone() is None:
            return candidate


def _slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:24]


def unregister(c: Context, instance_id: str, *, reason: str = "unregistered") -> dict[str, int]:
    """End the instance: release its leases, requeue its claims, mark it ended."""
    if instance_id == OPERATOR:
        raise UsageError("the operator instance cannot be unregistered")
    now = c.now()
    with c.store.write() as conn:
        inst = get(conn, instance_id)
        freed = c.release_holdings(conn, instance_id, reason=reason)
        if inst.state != "ended":
            conn.execute(
                "UPDATE instances SET state = 'ended', state_at = ?, ended_at = ? WHERE id = ?",
                (now, now, instance_id),
            )
            c.log(
                conn,
                "instance.ended",
                subject=instance_id,
                actor=instance_id,
                data={"reason": reason, **freed},
            )
        return freed


def ensure_operator(conn: sqlite3.Connection, now: float) -> None:
    """Create the `operator` instance if this store has none yet."""
    conn.execute(
        "INSERT OR IGNORE INTO instances"
        "(id, role, host, started_at, heartbeat_at, ttl, state, state_at) "
        "VALUES ('operator', 'operator', ?, ?, ?, 1e12, 'idle', ?)",
        (HOST, now, now, now),
    )
