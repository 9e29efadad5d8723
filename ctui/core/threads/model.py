"""A thread's record: its name rules, statuses and row, shared by the parts that run it."""

from __future__ import annotations

import json
import re
import sqlite3

from ctui.core.clock import iso
from ctui.core.errors import UsageError
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STATUSES = (
    "created",
    "ready",
    "running",
    "waiting",
    "blocked",
    "paused",
    "completed",
    "failed",
    "stopped",
    "budget_exceeded",
    "merged",
)
ACTIVE = ("running", "waiting")
FINISHED = ("completed", "failed", "stopped", "budget_exceeded", "merged")
RESUMABLE = ("paused", "completed", "failed", "stopped", "budget_exceeded")
"""A thread in one of these may continue its session as a new run (`Threads.resume`)."""
LAUNCH_GRACE_S = 60.0


def check_name(name: str) -> str:
    """A thread name is a slug: it becomes a folder, a branch and a tmux session."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        hint = re.sub(r"[^a-z0-9_-]+", "-", str(name).lower()).strip("-_")[:63] or "my-thread"
        raise UsageError(
            f"bad thread name {name!r}: use lowercase letters, digits, '-' and '_' "
            f"(up to 63, starting with a letter or digit), e.g. {hint!r}"
        )
    return name


class Thread(Record):
    """One thread's row."""

    FIELDS = (
        "name",
        "mode",
        "agent",
        "command",
        "template",
        "prompt",
        "context",
        "status",
        "worktree",
        "branch",
        "base",
        "supervisor_pid",
        "supervisor_start",
        "host",
        "agent_pid",
        "run_id",
        "exit_code",
        "error",
        "log_path",
        "session_id",
        "instance_id",
        "task_id",
        "turns",
        "cost_usd",
        "tokens_in",
        "tokens_out",
        "tokens_cache_creation",
        "tokens_cache_read",
        "api_error_status",
        "gate",
        "created_at",
        "updated_at",
        "started_at",
        "ended_at",
        "resume_at",
        "port_base",
        "budget",
        "run_group",
        "host_id",
        "stop_requested_at",
        "stop_requested_by",
    )
    __slots__ = FIELDS
    name: str
    mode: str
    agent: str
    command: str | None
    template: str | None
    prompt: str | None
    context: str
    status: str
    worktree: str | None
    branch: str | None
    base: str | None
    supervisor_pid: int | None
    supervisor_start: str | None
    host: str | None
    agent_pid: int | None
    run_id: int
    exit_code: int | None
    error: str | None
    log_path: str | None
    session_id: str | None
    instance_id: str | None
    task_id: str | None
    turns: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    tokens_cache_creation: int
    tokens_cache_read: int
    api_error_status: int | None
    gate: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None
    resume_at: float | None
    port_base: int | None
    budget: str | None
    run_group: str | None
    host_id: str | None
    stop_requested_at: float | None
    stop_requested_by: str | None

    def __init__(
        self,
        name: str,
        mode: str,
        agent: str,
        command: str | None,
        template: str | None,
        prompt: str | None,
        context: str,
        status: str,
        worktree: str | None,
        branch: str | None,
        base: str | None,
        supervisor_pid: int | None,
        supervisor_start: str | None,
        host: str | None,
        agent_pid: int | None,
        run_id: int,
        exit_code: int | None,
        error: str | None,
        log_path: str | None,
        session_id: str | None,
        instance_id: str | None,
        task_id: str | None,
        turns: int,
        cost_usd: float,
        tokens_in: int,
        tokens_out: int,
        tokens_cache_creation: int,
        tokens_cache_read: int,
        api_error_status: int | None,
        gate: str | None,
        created_at: float,
        updated_at: float,
        started_at: float | None,
        ended_at: float | None,
        resume_at: float | None = None,
        port_base: int | None = None,
        budget: str | None = None,
        run_group: str | None = None,
        host_id: str | None = None,
        stop_requested_at: float | None = None,
        stop_requested_by: str | None = None,
    ) -> None:
        self.name = name
        self.mode = mode
        self.agent = agent
        self.command = command
        self.template = template
        self.prompt = prompt
        self.context = context
        self.status = status
        self.worktree = worktree
        self.branch = branch
        self.base = base
        self.supervisor_pid = supervisor_pid
        self.supervisor_start = supervisor_start
        self.host = host
        self.agent_pid = agent_pid
        self.run_id = run_id
        self.exit_code = exit_code
        self.error = error
        self.log_path = log_path
        self.session_id = session_id
        self.instance_id = instance_id
        self.task_id = task_id
        self.turns = turns
        self.cost_usd = cost_usd
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.tokens_cache_creation = tokens_cache_creation
        self.tokens_cache_read = tokens_cache_read
        self.api_error_status = api_error_status
        self.gate = gate
        self.created_at = created_at
        self.updated_at = updated_at
        self.started_at = started_at
        self.ended_at = ended_at
        self.resume_at = resume_at
        self.port_base = port_base
        self.budget = budget
        self.run_group = run_group
        self.host_id = host_id
        """The home host (`ctui.core.hostid`): where its supervisor runs."""
        self.stop_requested_at = stop_requested_at
        """When a stop was asked for this run; the supervisor on the home host obeys it."""
        self.stop_requested_by = stop_requested_by

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Thread:
        return cls(**{name: row[name] for name in cls.FIELDS})

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def tokens(self) -> int:
        """All four figures: input, output, cache creation and cache read."""
        return (
            self.tokens_in + self.tokens_out + self.tokens_cache_creation + self.tokens_cache_read
        )

    def runtime(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return round((self.ended_at or now) - self.started_at, 1)

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        import time

        return {
            "name": self.name,
            "status": self.status,
            "mode": self.mode,
            "agent": self.agent,
            "command": self.command,
            "template": self.template,
            "prompt": self.prompt,
            "context": json.loads(self.context or "{}"),
            "worktree": self.worktree,
            "branch": self.branch,
            "base": self.base,
            "run_id": self.run_id,
            "supervisor_pid": self.supervisor_pid,
            "agent_pid": self.agent_pid,
            "host": self.host,
            "host_id": self.host_id,
            "stop_requested_at": iso(self.stop_requested_at),
            "stop_requested_by": self.stop_requested_by,
            "exit_code": self.exit_code,
            "error": self.error,
            "log_path": self.log_path,
            "session_id": self.session_id,
            "instance_id": self.instance_id,
            "task_id": self.task_id,
            "turns": self.turns,
            "cost_usd": round(self.cost_usd, 6),
            "tokens": self.tokens,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cache_creation": self.tokens_cache_creation,
            "tokens_cache_read": self.tokens_cache_read,
            "api_error_status": self.api_error_status,
            "runtime": self.runtime(time.time() if now is None else now),
            "gate": json.loads(self.gate) if self.gate else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "resume_at": iso(self.resume_at),
            "port_base": self.port_base,
            "budget": json.loads(self.budget) if self.budget else None,
            "run_group": self.run_group,
        }
