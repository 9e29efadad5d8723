"""Request bodies (and a few answers) of the API, as pydantic models: the OpenAPI schema.

Bounds here are the API's own (a body is at most 1 MiB anyway); the core
still validates meaning (paths, ids, states) and answers 400 with its message.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Text = Field(min_length=1, max_length=10_000)
Id = Field(min_length=1, max_length=200)


def seconds() -> Any:
    """An optional duration in seconds (above 0, at most 30 days)."""
    return Field(default=None, gt=0, le=30 * 86400, allow_inf_nan=False)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(Body):
    kind: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    actor: str | None = Field(default=None, max_length=200)
    subject: str | None = Field(default=None, max_length=1000)
    data: dict[str, Any] = Field(default_factory=dict)


class InstanceIn(Body):
    id: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=200)
    task: str | None = Field(default=None, max_length=10_000)
    session_id: str | None = Field(default=None, max_length=200)
    pid: int | None = Field(default=None, gt=0, lt=2**31)
    ttl: float | None = seconds()
    agent: str | None = Field(default=None, max_length=100)
    cwd: str | None = Field(default=None, max_length=4096)
    state: Literal["working", "needs_input", "idle"] = "idle"
    host: str | None = Field(
        default=None, max_length=255, description="the agent's hostname (default: the server's)"
    )
    host_id: str | None = Field(
        default=None,
        max_length=64,
        description="the agent's host id (`ctui hosts`); its pid is checked only on that host",
    )


class HeartbeatIn(Body):
    state: Literal["working", "needs_input", "idle"] | None = None


class LockIn(Body):
    path: str = Field(min_length=1, max_length=4096)
    instance: str = Field(default="operator", min_length=1, max_length=200)
    intent: str | None = Field(default=None, max_length=10_000)
    ttl: float | None = seconds()
    wait: float | None = Field(default=None, ge=0, le=600, allow_inf_nan=False)


class LockRef(Body):
    path: str = Field(min_length=1, max_length=4096)
    instance: str = Field(default="operator", min_length=1, max_length=200)


class RenewIn(LockRef):
    ttl: float | None = seconds()


class ForceReleaseIn(Body):
    path: str = Field(min_length=1, max_length=4096)
    reason: str = Field(min_length=1, max_length=10_000)
    by: str = Field(default="operator", min_length=1, max_length=200)


class DecisionIn(Body):
    category: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=1000)
    description: str = Field(default="", max_length=100_000)
    scope: Literal["file", "module", "service", "system"] = "module"
    status: Literal["proposed", "accepted", "superseded", "rejected"] = "accepted"
    author: str = Field(default="operator", min_length=1, max_length=200)
    supersedes: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)


class TaskIn(Body):
    description: str = Text
    priority: int = Field(default=5, ge=1, le=10)
    depends_on: list[str] = Field(default_factory=list, max_length=100)
    files: list[str] = Field(default_factory=list, max_length=200)
    hints: list[str] = Field(default_factory=list, max_length=100)
    created_by: str = Field(default="operator", min_length=1, max_length=200)
    max_attempts: int | None = Field(default=None, ge=1, le=100)


class ClaimIn(Body):
    instance: str = Id
    task_id: str | None = Field(default=None, max_length=100)


ATTEMPT = Field(
    default=None,
    ge=1,
    le=2**62,
    description="the claim's attempt number (from the claim); a stale one is refused (409)",
)


class CompleteIn(Body):
    instance: str = Id
    result: str | None = Field(default=None, max_length=100_000)
    attempt: int | None = ATTEMPT


class FailIn(Body):
    instance: str = Id
    reason: str | None = Field(default=None, max_length=100_000)
    attempt: int | None = ATTEMPT


class ByIn(Body):
    by: str = Field(default="operator", min_length=1, max_length=200)


class DependIn(Body):
    on: list[str] = Field(min_length=1, max_length=100)
    by: str = Field(default="operator", min_length=1, max_length=200)


class DiscoveryIn(Body):
    text: str = Text
    tags: list[str] = Field(default_factory=list, max_length=50)
    instance: str = Field(default="operator", min_length=1, max_length=200)


class ThreadIn(Body):
    name: str = Field(min_length=1, max_length=100)
    mode: Literal["automatic", "semi-auto", "interactive"] = "automatic"
    agent: str = Field(default="claude", min_length=1, max_length=100)
    template: str | None = Field(
        default=None,
        max_length=4096,
        description="a built-in or .ctui/templates name, or a path inside the repository",
    )
    prompt: str | None = Field(default=None, max_length=100_000)
    context: dict[str, Any] = Field(default_factory=dict)
    command: str | None = Field(default=None, max_length=10_000)
    worktree: bool = True
    base: str | None = Field(default=None, max_length=200)
    start: bool = Field(
        default=False, description="start the thread right after creating it (spawn)"
    )
    budget_usd: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="stop the thread past this cost"
    )
    budget_tokens: int | None = Field(
        default=None, gt=0, description="stop the thread past this many tokens (input + output)"
    )

    @field_validator("template")
    @classmethod
    def _inside_repository(cls, value: str | None) -> str | None:
        """A remote client names a template; it may not read the server's other files."""
        if value is not None and (value.startswith(("/", "~")) or ".." in value.split("/")):
            raise ValueError("a template is a name or a path inside the repository (no /, ~ or ..)")
        return value


class StartIn(Body):
    again: bool = False


class ResumeIn(Body):
    prompt: str | None = Field(
        default=None,
        max_length=100_000,
        description='what to tell the session (default "continue")',
    )
    budget_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    budget_tokens: int | None = Field(default=None, gt=0)


class StopIn(Body):
    grace: float | None = Field(default=None, gt=0, le=600, allow_inf_nan=False)
    by: str = Field(default="operator", min_length=1, max_length=200)


class TasksImportIn(Body):
    """Option A's tasks.json as `ctui task import` reads it on the client (`plan.load_tasks`)."""

    tasks: list[dict[str, Any]] = Field(
        max_length=10_000, description="the file's task objects, as written"
    )
    file: str | None = Field(
        default=None, max_length=4096, description="where the client read it (kept as the source)"
    )
    results: dict[str, str] = Field(
        default_factory=dict, description="results/<id>.md of done tasks, by the file's task id"
    )
    master_plan: str | None = Field(
        default=None, description="master-plan.md beside the file: the plan when none is set"
    )
    by: str = Field(default="operator", min_length=1, max_length=200)


class DecisionsImportIn(Body):
    """A SkillForge decision-log.json's decision objects, as `ctui decisions import` reads them."""

    decisions: list[dict[str, Any]] = Field(max_length=10_000)
    author: str = Field(
        default="operator", min_length=1, max_length=200, description="who imports (on events)"
    )


class PlanIn(Body):
    goal: str = Field(min_length=1, max_length=10_000, description="what every agent works toward")
    text: str = Field(default="", max_length=1_000_000, description="the master plan")
    by: str = Field(default="operator", min_length=1, max_length=200)


class LogQuery(BaseModel):
    """`GET /api/threads/{name}/logs`: the last lines, or with `offset` what came after it."""

    model_config = ConfigDict(extra="forbid")

    tail: int = Field(
        default=200, ge=0, le=100_000, description="without offset: the last N lines (0: all)"
    )
    offset: int | None = Field(
        default=None,
        ge=0,
        le=2**62,
        description="a byte offset (an earlier answer's next_offset): the whole lines after it",
    )


class Overlap(BaseModel):
    path: str = Field(description="repository-relative path")
    worktrees: list[str] = Field(description="the worktrees (thread names) that changed it")


class LeasedChange(BaseModel):
    path: str = Field(description="repository-relative path")
    worktree: str = Field(description="the worktree (thread name) that changed it")
    holder: str = Field(description="the instance holding its lease (not that thread's)")
    lease: str = Field(description="the leased path or glob that covers it")


class ConflictsOut(BaseModel):
    """`GET /api/conflicts`: the same document as `ctui conflicts --json`."""

    overlaps: list[Overlap] = Field(description="files changed in two or more worktrees")
    leased: list[LeasedChange] = Field(description="files changed under another's lease")


class Error(BaseModel):
    """Every error answer: the one-line message and the CLI exit code that matches it."""

    error: str
    exit_code: int
