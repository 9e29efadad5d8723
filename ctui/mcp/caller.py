"""Who is calling an MCP tool: the instance each call acts as, heartbeated on every call.

In order: the tool's `instance_id` argument, `CTUI_INSTANCE_ID`, then the
Claude Code session that started this server, else one instance registered
for this server process (role from `CTUI_ROLE`, cwd from `CLAUDE_PROJECT_DIR`,
pid of this process so that the reaper frees its claims and leases if the
process dies). A named instance that is unknown, stale or ended is registered
again under its name: an agent that was reaped keeps working, without the
claims it lost.

One session has one identity across faces: Claude Code passes its session id
to MCP servers as `CLAUDE_CODE_SESSION_ID`, and the server then acts as the
very instance the session's hooks act as (`claude-<first 8 of the session id>`,
found or registered by `ctui.hooks.session.Session`), so a lease taken with
`acquire_lock` lets the same session's next Write through the hook. That
instance belongs to the session, not to this server: stopping the server does
not end it (SessionEnd does).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from ctui.core import Coordinator
from ctui.core.errors import NotFound, StaleInstance
from ctui.core.instances import OPERATOR


class Caller:
    """Resolves and heartbeats the acting instance of one MCP server."""

    def __init__(self, coord: Coordinator, env: Mapping[str, str] | None = None) -> None:
        self._c = coord
        self._env = dict(os.environ if env is None else env)
        self._lock = threading.Lock()
        self.own_id: str | None = None

    def resolve(self, instance_id: str | None = None) -> str:
        """The instance this call acts as, after a heartbeat."""
        wanted = instance_id or self._env.get("CTUI_INSTANCE_ID")
        if wanted:
            return self._touch(wanted, own=False)
        session = self._env.get("CLAUDE_CODE_SESSION_ID") or self._env.get("CLAUDE_SESSION_ID")
        if session and session.strip():
            return self._session(session)
        with self._lock:
            if self.own_id is None:
                self.own_id = self._register(None, own=True)
            return self._touch(self.own_id, own=True)

    def _session(self, session_id: str) -> str:
        """The session's own instance (as its hooks see it), heartbeated or registered."""
        from ctui.hooks.session import Session

        cwd = self._env.get("CLAUDE_PROJECT_DIR") or os.getcwd()
        with self._lock:
            return Session({"session_id": session_id, "cwd": cwd}, self._c).ensure(None).id

    def _touch(self, instance_id: str, *, own: bool) -> str:
        try:
            self._c.instances.heartbeat(instance_id)
        except (NotFound, StaleInstance):
            if instance_id == OPERATOR:
                raise
            self._register(instance_id, own=own)
        return instance_id

    def _register(self, instance_id: str | None, *, own: bool) -> str:
        env = self._env
        inst = self._c.instances.register(
            instance_id=instance_id,
            role=env.get("CTUI_ROLE") or "agent",
            session_id=env.get("CLAUDE_SESSION_ID"),
            cwd=env.get("CLAUDE_PROJECT_DIR") or os.getcwd(),
            pid=os.getpid() if own else None,
            agent="mcp",
        )
        return inst.id

    def close(self) -> None:
        """End this server's own instance: its claims are requeued and its leases freed."""
        with self._lock:
            if self.own_id is not None:
                try:
                    self._c.instances.unregister(self.own_id, reason="mcp server stopped")
                except NotFound:
                    pass
                self.own_id = None
