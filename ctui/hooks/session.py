"""The store and the instance behind one hook payload.

Identity comes from the payload's `session_id`, never from the folder: two
Claude Code sessions in one folder are two instances (`claude-<first 8 of the
session id>`), and a session in a linked worktree reaches the main worktree's
store through `ctui.core.paths`. A subagent (`agent_id` in the payload) is its
own instance, `<session instance>.<first 8 of the agent id>`, whose parent is
the session's instance. An agent run started by ctui's supervisor
(`CTUI_THREAD_ID` and `CTUI_INSTANCE_ID` both set) acts as that instance.

A hook never creates the store. Hooks may be installed for the user (every
folder Claude Code opens) and a SessionStart in a folder nobody set up would
otherwise litter it with `.ctui/`; `ctui init` or `ctui hooks install` in the
repository create it on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from ctui.core.coordinator import Coordinator
from ctui.core.errors import NotFound
from ctui.core.instances import ID_RE, Instance, is_stale

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

HOOK_BUSY_TIMEOUT_S = 3.0
SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "tcsh", "csh", "busybox"}
    | {"env", "timeout", "nice", "nohup", "time"}
)
MAX_ANCESTORS = 16


class Caller:
    """The hook process behind a call `ctui serve` answers for it (`ctui.hooks.serve`).

    The handlers read who is calling through `environ`, `parent_pid` and
    `open_store`, which fall back to this process when no `Caller` is set: the
    served call then acts exactly as the hook process would have, with that
    process's variables and parent, on the server's store (`store`, opened by
    `opener` with the busy timeout the handler asks for).
    """

    __slots__ = ("env", "opener", "ppid", "store")

    def __init__(
        self, env: dict[str, str], ppid: int, store: Path, opener: Callable[[float], Coordinator]
    ) -> None:
        self.env = env
        self.ppid = ppid
        self.store = store
        self.opener = opener


CALLER: ContextVar[Caller | None] = ContextVar("ctui_hook_caller", default=None)


def environ(name: str) -> str | None:
    caller = CALLER.get()
    return (caller.env if caller is not None else os.environ).get(name)


def parent_pid() -> int:
    caller = CALLER.get()
    return caller.ppid if caller is not None else os.getppid()


def open_store(payload: dict[str, Any], *, timeout: float = HOOK_BUSY_TIMEOUT_S) -> Coordinator:
    """The store for the payload's `cwd` (or `CTUI_DIR`): never created, short busy timeout."""
    caller = CALLER.get()
    if caller is not None:
        return caller.opener(timeout)
    return Coordinator.open(payload["cwd"], create=False, timeout=timeout)


def _stat(pid: int) -> tuple[str, int] | None:
    """(command name, parent pid) of `pid` from /proc, or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    open_paren, close_paren = stat.find(b"("), stat.rfind(b")")
    fields = stat[close_paren + 2 :].split()
    if open_paren < 0 or len(fields) < 2:
        return None
    return stat[open_paren + 1 : close_paren].decode(errors="replace"), int(fields[1])


def session_pid(start: int | None = None) -> int | None:
    """The nearest ancestor that is not a shell or a wrapper: the agent's own process.

    Claude Code runs a hook through `sh -c`, a process that lives for one call;
    its parent is the session. None when /proc cannot tell (then liveness rests
    on heartbeats alone) or when the walk reaches init.
    """
    pid = parent_pid() if start is None else start
    for _ in range(MAX_ANCESTORS):
        if pid <= 1:
            return None
        found = _stat(pid)
        if found is None:
            return None
        name, parent = found
        if name not in SHELLS:
            return pid
        pid = parent
    return None


def _short(text: str) -> str:
    """The letters and digits of an id, or a digest when it has too few to be told apart."""
    clean = "".join(ch for ch in text if ch.isascii() and ch.isalnum()).lower()
    if len(clean) >= 8:
        return clean
    import hashlib

    return hashlib.sha1(text.encode(errors="replace")).hexdigest()


class Session:
    """One hook call's view of the store: who is acting and how to find its relatives."""

    def __init__(self, payload: dict[str, Any], coord: Coordinator) -> None:
        self.payload = payload
        self.c = coord
        self.session_id: str = payload["session_id"]
        self.agent_id: str | None = payload.get("agent_id") or None
        self.agent_type: str | None = payload.get("agent_type") or None
        self.cwd = Path(payload["cwd"])

    @property
    def thread_instance(self) -> str | None:
        """The instance id a ctui supervisor gave this agent run, if any."""
        wanted = environ("CTUI_INSTANCE_ID")
        if wanted and environ("CTUI_THREAD_ID") and ID_RE.match(wanted) and wanted != "operator":
            return wanted
        return None

    def find(self, agent_id: str | None = None) -> Instance | None:
        """The instance of this session (or of one of its subagents), live or not."""
        if agent_id is None and self.thread_instance:
            try:
                return self.c.instances.get(self.thread_instance)
            except NotFound:
                return None
        return self.c.instances.find_session(self.session_id, agent_id)

    def is_live(self, inst: Instance | None) -> bool:
        return inst is not None and inst.is_live and not is_stale(inst, self.c.now())

    def ensure(self, state: str | None = "working") -> Instance:
        """The acting instance (the subagent's when `agent_id` is set), registered if needed.

        Runs inside one write transaction with the caller's work. A live
        instance gets a heartbeat (which renews its leases); a missing, ended
        or stale one is registered again under the same id. A subagent's call
        also heartbeats its parent, so a long subagent run does not let the
        session go stale.
        """
        with self.c.transaction():
            parent = self._ensure(None, None if self.agent_id else state)
            if self.agent_id is None:
                return parent
            return self._ensure(self.agent_id, state, parent)

    def _ensure(
        self, agent_id: str | None, state: str | None, parent: Instance | None = None
    ) -> Instance:
        inst = self.find(agent_id)
        if inst is not None and self.is_live(inst):
            return self.c.instances.heartbeat(inst.id, state=state)
        return self.c.instances.register(
            instance_id=inst.id if inst is not None else self._new_id(agent_id, parent),
            session_id=self.session_id,
            agent_id=agent_id,
            parent_id=parent.id if parent is not None else None,
            role=(inst.role if inst else None) or (self.agent_type if agent_id else None),
            task=inst.task if inst else None,
            pid=session_pid(),
            cwd=str(self.cwd),
            agent="claude",
            thread_id=inst.thread_id if inst else self._thread_id(agent_id),
            state=state or "working",
        )

    def _thread_id(self, agent_id: str | None) -> str | None:
        return environ("CTUI_THREAD_ID") if agent_id is None and self.thread_instance else None

    def _new_id(self, agent_id: str | None, parent: Instance | None) -> str:
        """`claude-<8>` (or `<parent>.<8>`), lengthened when another session owns that id."""
        if agent_id is None and self.thread_instance:
            return self.thread_instance
        base, own = (f"{parent.id}." if parent else "claude-"), _short(agent_id or self.session_id)
        candidate = base + own[:8]
        for size in (8, 12, 16, 24, 32):
            candidate = (base + own[:size])[:64]
            try:
                other = self.c.instances.get(candidate)
            except NotFound:
                return candidate
            if other.session_id == self.session_id and other.agent_id == agent_id:
                return candidate
        return candidate

    def family(self, inst: Instance) -> set[str]:
        """Instances whose leases this one may edit under: its parent session and its own subagents.

        Sibling subagents are not family: two of them editing one file in
        parallel is the clobbering leases exist to stop.
        """
        kin = {inst.id}
        if inst.parent_id:
            kin.add(inst.parent_id)
        kin.update(i.id for i in self.c.instances.list() if i.parent_id == inst.id)
        return kin

    def subagents(self, inst: Instance) -> list[Instance]:
        """Its subagents not yet ended (stale ones too: their claims still need requeueing)."""
        return [
            i
            for i in self.c.instances.list(include_ended=True)
            if i.parent_id == inst.id and i.state != "ended"
        ]
