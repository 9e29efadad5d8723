"""Instances: one row per agent session, with heartbeats and liveness.

States: `working`, `needs_input`, `idle` come from hooks; `ended` from an
unregister or SessionEnd; `stale` from the reaper when the heartbeat is older
than the TTL or, on this host, the process is gone. The `operator` instance
always exists and never goes stale.
"""

from __future__ import annotations

import builtins
import os
import re
import sqlite3
from pathlib import Path

from ctui.core.clock import iso
from ctui.core.errors import NotFound, StaleInstance, UsageError
from ctui.core.paths import worktree_branch
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator

OPERATOR = "operator"
LIVE_STATES = ("working", "needs_input", "idle")
STATES = (*LIVE_STATES, "ended", "stale")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
HOST = os.uname().nodename  # socket.gethostname() without importing socket


class Instance(Record):
    """One agent session (or the operator)."""

    FIELDS = (
        "id",
        "session_id",
        "agent_id",
        "parent_id",
        "role",
        "task",
        "cwd",
        "worktree",
        "branch",
        "pid",
        "pid_start",
        "host",
        "agent",
        "thread_id",
        "started_at",
        "heartbeat_at",
        "ttl",
        "state",
        "state_at",
        "ended_at",
        "last_seen_event",
    )
    __slots__ = FIELDS
    id: str
    session_id: str | None
    agent_id: str | None
    parent_id: str | None
    role: str | None
    task: str | None
    cwd: str | None
    worktree: str | None
    branch: str | None
    pid: int | None
    pid_start: str | None
    host: str | None
    agent: str | None
    thread_id: str | None
    started_at: float
    heartbeat_at: float
    ttl: float
    state: str
    state_at: float
    ended_at: float | None
    last_seen_event: int

    def __init__(
        self,
        id: str,
        session_id: str | None,
        agent_id: str | None,
        parent_id: str | None,
        role: str | None,
        task: str | None,
        cwd: str | None,
        worktree: str | None,
        branch: str | None,
        pid: int | None,
        pid_start: str | None,
        host: str | None,
        agent: str | None,
        thread_id: str | None,
        started_at: float,
        heartbeat_at: float,
        ttl: float,
        state: str,
        state_at: float,
        ended_at: float | None,
        last_seen_event: int,
    ) -> None:
        self.id = id
        self.session_id = session_id
        self.agent_id = agent_id
        self.parent_id = parent_id
        self.role = role
        self.task = task
        self.cwd = cwd
        self.worktree = worktree
        self.branch = branch
        self.pid = pid
        self.pid_start = pid_start
        self.host = host
        self.agent = agent
        self.thread_id = thread_id
        self.started_at = started_at
        self.heartbeat_at = heartbeat_at
        self.ttl = ttl
        self.state = state
        self.state_at = state_at
        self.ended_at = ended_at
        self.last_seen_event = last_seen_event

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Instance:
        return cls(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - sqlite3.Row

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data = self.field_dict()
        for key in ("started_at", "heartbeat_at", "state_at", "ended_at"):
            data[key] = iso(data[key])
        if now is not None:
            data["heartbeat_age"] = round(now - self.heartbeat_at, 1)
        return data


def pid_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), used to notice a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if known, started when we recorded."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True
    rest = stat[stat.rfind(b")") + 2 :].split()
    if rest and rest[0] in (b"Z", b"X"):
        return False
    return not (start is not None and len(rest) > 19 and rest[19].decode() != start)


def is_stale(inst: Instance, now: float) -> bool:
    """Whether a live-state instance should be reaped now."""
    if inst.id == OPERATOR or not inst.is_live:
        return False
    if now - inst.heartbeat_at > inst.ttl:
        return True
    return inst.pid is not None and inst.host == HOST and not pid_alive(inst.pid, inst.pid_start)


class Instances:
    """Register, heartbeat, list and reap instances."""

    def __init__(self, coord: Coordinator) -> None:
        self._c = coord

    def register(
        self,
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
    ) -> Instance:
        """Create an instance (or revive one with the same id) and reap stale ones.

        `host` is where the agent runs (default: here); its pid is checked for
        liveness only on this host, so an agent registering through the API
        from elsewhere should name its own.
        """
        if instance_id is not None and not ID_RE.match(instance_id):
            raise UsageError(
                f"bad instance id {instance_id!r}: use letters, digits, '.', '_', ':' or '-'"
            )
        if instance_id == OPERATOR:
            raise UsageError("'operator' is reserved for the person at the control room")
        ttl = self._c.config.instance_ttl if ttl is None else ttl
        if ttl <= 0:
            raise UsageError(f"bad TTL {ttl}: it must be a positive number of seconds")
        if state not in LIVE_STATES:
            raise UsageError(f"bad state {state!r}: one of {', '.join(LIVE_STATES)}")
        if pid is not None and pid <= 0:
            raise UsageError(f"bad pid {pid}")
        host = host or HOST
        if pid is not None and host == HOST and not pid_alive(pid):
            raise UsageError(
                f"no running process {pid} on this host: give the agent's own pid, or none"
            )
        now = self._c.now()
        with self._c.store.write() as conn:
            self.reap(conn=conn)
            if instance_id is None:
                instance_id = self._new_id(conn, role)
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
                "pid_start": pid_start_time(pid) if pid else None,
                "host": host,
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
            self._c.log(
                conn,
                "instance.registered",
                subject=instance_id,
                actor=instance_id,
                data={"role": role, "task": task, "session_id": session_id, "pid": pid},
            )
            return self._get(conn, instance_id)

    def _new_id(self, conn: sqlite3.Connection, role: str | None) -> str:
        """`ROLE-NNNN` from a counter, skipping ids someone chose by hand."""
        base = _slug(role) or "agent"
        while True:
            candidate = f"{base}-{self._c.store.next_counter(conn, 'instance'):04d}"
            if (
                conn.execute("SELECT 1 FROM instances WHERE id = ?", (candidate,)).fetchone()
                is None
            ):
                return candidate

    def get(self, instance_id: str) -> Instance:
        return self._get(self._c.store.conn, instance_id)

    def _get(self, conn: sqlite3.Connection, instance_id: str) -> Instance:
        row = conn.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
        if row is None:
            raise NotFound(
                f"no instance {instance_id!r}: register it first (`ctui instance register`) "
                "or see `ctui instance list --all`"
            )
        return Instance.from_row(row)

    def find_session(self, session_id: str, agent_id: str | None = None) -> Instance | None:
        """The newest instance for a Claude Code session (and subagent id), if any."""
        row = self._c.store.conn.execute(
            "SELECT * FROM instances WHERE session_id = ? AND agent_id IS ? "
            "ORDER BY started_at DESC LIMIT 1",
            (session_id, agent_id),
        ).fetchone()
        return Instance.from_row(row) if row else None

    def require_live(self, instance_id: str, conn: sqlite3.Connection | None = None) -> Instance:
        """The instance, or `StaleInstance` when it is stale or ended (exit 13)."""
        inst = self._get(conn or self._c.store.conn, instance_id)
        if not inst.is_live or is_stale(inst, self._c.now()):
            raise StaleInstance(
                f"instance {instance_id!r} is {'stale' if inst.is_live else inst.state}: "
                "register again (`ctui instance register`)"
            )
        return inst

    def heartbeat(
        self, instance_id: str, *, state: str | None = None, renew_leases: bool = True
    ) -> Instance:
        """Refresh the heartbeat (and the instance's leases); optionally set the state."""
        if state is not None and state not in LIVE_STATES:
            raise UsageError(f"bad state {state!r}: one of {', '.join(LIVE_STATES)}")
        now = self._c.now()
        with self._c.store.write() as conn:
            inst = self.require_live(instance_id, conn)
            conn.execute("UPDATE instances SET heartbeat_at = ? WHERE id = ?", (now, instance_id))
            if state is not None and state != inst.state:
                self._set_state(conn, inst, state, now)
            if renew_leases:
                conn.execute(
                    "UPDATE leases SET expires_at = ? + ttl, renewed_at = ? "
                    "WHERE holder = ? AND expires_at > ?",
                    (now, now, instance_id, now),
                )
            return self._get(conn, instance_id)

    def set_state(self, instance_id: str, state: str) -> Instance:
        return self.heartbeat(instance_id, state=state)

    def set_task(self, instance_id: str, task: str | None) -> Instance:
        """Say what the instance works on (the hook takes it from a session's first prompt)."""
        with self._c.store.write() as conn:
            self._get(conn, instance_id)
            conn.execute("UPDATE instances SET task = ? WHERE id = ?", (task, instance_id))
            self._c.log(
                conn, "instance.task", subject=instance_id, actor=instance_id, data={"task": task}
            )
            return self._get(conn, instance_id)

    def _set_state(self, conn: sqlite3.Connection, inst: Instance, state: str, now: float) -> None:
        conn.execute(
            "UPDATE instances SET state = ?, state_at = ? WHERE id = ?", (state, now, inst.id)
        )
        self._c.log(
            conn,
            "instance.state",
            subject=inst.id,
            actor=inst.id,
            data={"from": inst.state, "to": state},
        )

    def unregister(self, instance_id: str, *, reason: str = "unregistered") -> dict[str, int]:
        """End the instance: release its leases, requeue its claims, mark it ended."""
        if instance_id == OPERATOR:
            raise UsageError("the operator instance cannot be unregistered")
        now = self._c.now()
        with self._c.store.write() as conn:
            inst = self._get(conn, instance_id)
            freed = self._c.release_holdings(conn, instance_id, reason=reason)
            if inst.state != "ended":
                conn.execute(
                    "UPDATE instances SET state = 'ended', state_at = ?, ended_at = ? WHERE id = ?",
                    (now, now, instance_id),
                )
                self._c.log(
                    conn,
                    "instance.ended",
                    subject=instance_id,
                    actor=instance_id,
                    data={"reason": reason, **freed},
                )
            return freed

    def list(self, *, include_ended: bool = False) -> list[Instance]:
        """Instances, live first; stale-by-now ones are shown as `stale` without a write."""
        sql = "SELECT * FROM instances"
        if not include_ended:
            sql += " WHERE state NOT IN ('ended', 'stale')"
        sql += " ORDER BY id = 'operator' DESC, started_at"
        now = self._c.now()
        found = []
        for row in self._c.store.conn.execute(sql):
            inst = Instance.from_row(row)
            if is_stale(inst, now):
                inst.state = "stale"
                if not include_ended:
                    continue
            found.append(inst)
        return found

    def reap(
        self, *, conn: sqlite3.Connection | None = None, only: builtins.list[str] | None = None
    ) -> builtins.list[str]:
        """Mark stale instances, free their leases and claims; returns the reaped ids."""
        if conn is None:
            with self._c.store.write() as wconn:
                return self.reap(conn=wconn, only=only)
        now = self._c.now()
        sql = "SELECT * FROM instances WHERE state IN ('working', 'needs_input', 'idle')"
        args: builtins.list[Any] = []
        if only is not None:
            sql += f" AND id IN ({', '.join('?' for _ in only)})"
            args.extend(only)
        reaped = []
        for row in conn.execute(sql, args).fetchall():
            inst = Instance.from_row(row)
            if not is_stale(inst, now):
                continue
            why = "heartbeat" if now - inst.heartbeat_at > inst.ttl else "process gone"
            freed = self._c.release_holdings(conn, inst.id, reason=f"stale ({why})")
            conn.execute(
                "UPDATE instances SET state = 'stale', state_at = ? WHERE id = ?", (now, inst.id)
            )
            self._c.log(conn, "instance.stale", subject=inst.id, data={"why": why, **freed})
            reaped.append(inst.id)
        return reaped

    def mark_seen(self, instance_id: str, event_id: int) -> None:
        """Remember the newest event this instance has been told about (hook context)."""
        with self._c.store.write() as conn:
            conn.execute(
                "UPDATE instances SET last_seen_event = ? WHERE id = ?", (event_id, instance_id)
            )


def _slug(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:24]


def ensure_operator(conn: sqlite3.Connection, now: float) -> None:
    """Create the `operator` instance if this store has none yet."""
    conn.execute(
        "INSERT OR IGNORE INTO instances"
        "(id, role, host, started_at, heartbeat_at, ttl, state, state_at) "
        "VALUES ('operator', 'operator', ?, ?, ?, 1e12, 'idle', ?)",
        (HOST, now, now, now),
    )
