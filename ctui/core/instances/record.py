"""The `Instance` record: one agent session (or the operator), read from its row.

Kept apart from the operations because nearly every part of ctui reads
instances (leases name their holders, the hooks find their session, `status`
lists them) while few change them. `get` and `find_session` are the readers;
they work on any connection, the caller's transaction or the store's own.
"""

from __future__ import annotations

import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import NotFound
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

OPERATOR = "operator"
LIVE_STATES = ("working", "needs_input", "idle")
STATES = (*LIVE_STATES, "ended", "stale")


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
        "host_id",
        "tool",
        "tool_target",
        "tool_call",
        "tools_ended",
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
    host_id: str | None
    tool: str | None
    """The tool the agent is running now (a PreToolUse hook saw it start), else None."""
    tool_target: str | None
    """What that tool works on: a file, a command (cut short)."""
    tool_call: str | None
    """The running call's `tool_use_id`, when the hook payload carried one."""
    tools_ended: str | None
    """The ids of the last calls that ended, newest first, space-separated."""

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
        host_id: str | None = None,
        tool: str | None = None,
        tool_target: str | None = None,
        tool_call: str | None = None,
        tools_ended: str | None = None,
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
        self.host_id = host_id
        """The machine it runs on (`ctui.core.hostid`); its pid means something only there."""
        self.tool = tool
        self.tool_target = tool_target
        self.tool_call = tool_call
        self.tools_ended = tools_ended

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Instance:
        return cls(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - sqlite3.Row

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data = self.field_dict()
        del data["tools_ended"]  # the hooks' bookkeeping, not something to show
        for key in ("started_at", "heartbeat_at", "state_at", "ended_at"):
            data[key] = iso(data[key])
        if now is not None:
            data["heartbeat_age"] = round(now - self.heartbeat_at, 1)
        return data


def get(conn: sqlite3.Connection, instance_id: str) -> Instance:
    """The instance, or `NotFound` that says how to register one."""
    row = conn.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
    if row is None:
        raise NotFound(
            f"no instance {instance_id!r}: register it first with `ctui instance register "
            f"--id {instance_id}` (or act as the operator: no --as, no CTUI_INSTANCE_ID); "
            "`ctui instance list --all` shows the known ones"
        )
    return Instance.from_row(row)


def find_session(
    conn: sqlite3.Connection, session_id: str, agent_id: str | None = None
) -> Instance | None:
    """The newest instance for a Claude Code session (and subagent id), if any."""
    row = conn.execute(
        "SELECT * FROM instances WHERE session_id = ? AND agent_id IS ? "
        "ORDER BY started_at DESC LIMIT 1",
        (session_id, agent_id),
    ).fetchone()
    return Instance.from_row(row) if row else None
