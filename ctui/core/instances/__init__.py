"""Instances: one row per agent session, with heartbeats and liveness.

States: `working`, `needs_input`, `idle` come from hooks; `ended` from an
unregister or SessionEnd; `stale` from the reaper when the heartbeat is older
than the TTL or, on this host, the process is gone. The `operator` instance
always exists and never goes stale.

This module is the facade, `c.instances`: each method names one operation and
hands it to the module that owns it. The record and its readers are in
`record`, pids, hosts and staleness in `liveness`, registering and
ending in `lifecycle`, heartbeats and self-updates in
`heartbeat`, and listing and reaping in `reap`. The hook and
`ctui lock acquire` import this module on every call, so neither it nor those
modules import more than the standard library and the core.
"""

from __future__ import annotations

import builtins
import sqlite3

from ctui.core.instances import heartbeat as instance_heartbeat
from ctui.core.instances import lifecycle as instance_lifecycle
from ctui.core.instances import liveness as instance_liveness
from ctui.core.instances import reap as instance_reap
from ctui.core.instances import record as instance_record
from ctui.core.instances.lifecycle import ID_RE, ensure_operator
from ctui.core.instances.liveness import (
    HOST,
    is_here,
    is_stale,
    pid_alive,
    pid_start_time,
    quiet_hosts,
    stale_why,
)
from ctui.core.instances.record import LIVE_STATES, OPERATOR, STATES, Instance

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context


class Instances:
    """Register, heartbeat, list and reap instances."""

    def __init__(self, coord: Context) -> None:
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
        host_id: str | None = None,
    ) -> Instance:
        """Create an instance (or revive one with the same id) and reap stale ones.

        `host` (hostname) and `host_id` say where the agent runs (default: here);
        its pid is checked for liveness only on this host id, so an agent
        registering through the API from elsewhere should name its own.
        """
        return instance_lifecycle.register(
            self._c,
            instance_id=instance_id,
            role=role,
            task=task,
            session_id=session_id,
            agent_id=agent_id,
            parent_id=parent_id,
            pid=pid,
            cwd=cwd,
            worktree=worktree,
            branch=branch,
            agent=agent,
            thread_id=thread_id,
            ttl=ttl,
            state=state,
            host=host,
            host_id=host_id,
        )

    def get(self, instance_id: str) -> Instance:
        return instance_record.get(self._c.store.conn, instance_id)

    def find_session(self, session_id: str, agent_id: str | None = None) -> Instance | None:
        """The newest instance for a Claude Code session (and subagent id), if any."""
        return instance_record.find_session(self._c.store.conn, session_id, agent_id)

    def require_live(self, instance_id: str, conn: sqlite3.Connection | None = None) -> Instance:
        """The instance, or `StaleInstance` when it is stale or ended (exit 13)."""
        return instance_liveness.require_live(self._c, instance_id, conn)

    def heartbeat(
        self, instance_id: str, *, state: str | None = None, renew_leases: bool = True
    ) -> Instance:
        """Refresh the heartbeat (and the instance's leases); optionally set the state."""
        return instance_heartbeat.heartbeat(
            self._c, instance_id, state=state, renew_leases=renew_leases
        )

    def set_state(self, instance_id: str, state: str) -> Instance:
        return self.heartbeat(instance_id, state=state)

    def set_tool(
        self,
        instance_id: str,
        tool: str | None,
        target: str | None = None,
        call: str | None = None,
    ) -> None:
        """The tool the instance runs now, its target and its call id (None: it runs none)."""
        instance_heartbeat.set_tool(self._c, instance_id, tool, target, call)

    def start_tool(self, instance_id: str, tool: str, target: str | None, call: str | None) -> bool:
        """Record that `call` runs `tool` now; False (nothing written) when it has ended."""
        return instance_heartbeat.start_tool(self._c, instance_id, tool, target, call)

    def end_tool(self, instance_id: str, call: str | None) -> None:
        """`call` has ended: remembered, and the running tool cleared if it is that call."""
        instance_heartbeat.end_tool(self._c, instance_id, call)

    def set_task(self, instance_id: str, task: str | None) -> Instance:
        """Say what the instance works on (the hook takes it from a session's first prompt)."""
        return instance_heartbeat.set_task(self._c, instance_id, task)

    def unregister(self, instance_id: str, *, reason: str = "unregistered") -> dict[str, int]:
        """End the instance: release its leases, requeue its claims, mark it ended."""
        return instance_lifecycle.unregister(self._c, instance_id, reason=reason)

    def list(self, *, include_ended: bool = False) -> list[Instance]:
        """Instances, live first; stale-by-now ones are shown as `stale` without a write."""
        return instance_reap.select(self._c, include_ended=include_ended)

    def reap(
        self, *, conn: sqlite3.Connection | None = None, only: builtins.list[str] | None = None
    ) -> builtins.list[str]:
        """Mark stale instances, free their leases and claims; returns the reaped ids."""
        return instance_reap.reap(self._c, conn=conn, only=only)

    def mark_seen(self, instance_id: str, event_id: int) -> None:
        """Remember the newest event this instance has been told about (hook context)."""
        instance_heartbeat.mark_seen(self._c, instance_id, event_id)


__all__ = [
    "HOST",
    "ID_RE",
    "LIVE_STATES",
    "OPERATOR",
    "STATES",
    "Instance",
    "Instances",
    "ensure_operator",
    "is_here",
    "is_stale",
    "pid_alive",
    "pid_start_time",
    "quiet_hosts",
    "stale_why",
]
