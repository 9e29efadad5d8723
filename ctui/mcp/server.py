"""The MCP server: tasks, discoveries, leases and decisions as tools, over one store.

    server = build_server(".ctui")          # an mcp.server.mcpserver.MCPServer
    server.run()                            # stdio (`ctui mcp`)
    app = server.streamable_http_app()      # or mount it at /mcp

Every server process works on the same SQLite store, so two agents with two
servers see one queue and can never be handed the same task. Each tool call
acts as an instance (see `ctui.mcp.caller`) and heartbeats it; a `CtuiError`
becomes a tool error (`is_error`) whose text says what to do.
"""

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import Field, ValidationError

from ctui.core import Coordinator
from ctui.core.errors import CtuiError, NotFound
from ctui.mcp.caller import Caller

T = TypeVar("T")
MAX_WAIT_S = 600.0

InstanceId = Annotated[
    str | None,
    Field(
        description="Act as this ctui instance (default: CTUI_INSTANCE_ID, else this server's own)."
    ),
]
TaskId = Annotated[str, Field(description="A task id such as task-0007.")]
Attempt = Annotated[
    int | None,
    Field(
        ge=1,
        description="The claim's attempt number (default: the one this session claimed); "
        "refused once that claim ran out.",
    ),
]
Priority = Annotated[int, Field(ge=1, le=10, description="1 runs first, 10 last.")]
Tags = Annotated[list[str], Field(description="Short lowercase tags, e.g. ['testing', 'db'].")]

INSTRUCTIONS = """\
ctui coordinates several agents on one repository. Workers: claim_task, do the work,
then complete_task with a result (or fail_task with a reason). Before editing a file
another agent may touch, acquire_lock it and release_lock when done. Share what you
learn with add_discovery; record choices with log_decision. get_status shows the goal,
progress and who holds what. heartbeat keeps your claims and locks alive."""


class OneLineErrors(MCPServer):
    """Arguments that fail the tool's schema are reported in one line, like every ctui error.

    The SDK's own text is pydantic's multi-line dump with a documentation link; the model
    reading it needs the field and the rule. The cause stays a `ValidationError`, so the SDK
    still logs only the field names, never the caller's values.
    """

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc']) or 'arguments'}: {err['msg']}"
                for err in cause.errors()
            )
            raise ToolError(f"bad arguments to {name}: {problems}") from cause


def build_server(
    store: str | os.PathLike[str] | Coordinator | None = None, *, name: str = "ctui"
) -> MCPServer:
    """An MCPServer whose tools act on `store`: a store folder, an open Coordinator, or
    None for the store found from the working directory (`CTUI_DIR` first)."""
    if isinstance(store, Coordinator):
        coord = store
    else:
        coord = Coordinator.open(store_dir=store) if store else Coordinator.open()
    caller = Caller(coord)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield
        finally:
            caller.close()

    server: MCPServer = OneLineErrors(
        name, instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING"
    )
    _add_tools(server, coord, caller)
    return server


def run(fn: Callable[[], T]) -> T:
    """Run one core call; ctui's errors become tool errors the model can read."""
    try:
        return fn()
    except CtuiError as exc:
        raise ToolError(exc.message) from exc


def _add_tools(server: MCPServer, c: Coordinator, caller: Caller) -> None:
    tool = server.tool
    # The attempt each session claimed, by (session, instance, task): complete_task and
    # fail_task present it, so a session whose claim ran out (stopped past the TTL while
    # another took the task under the same instance id) is refused instead of overwriting.
    claimed: dict[tuple[str, str, str], int] = {}

    def who(instance_id: str | None) -> str:
        return run(lambda: caller.resolve(instance_id))

    def session_of(ctx: Context) -> str:
        """The MCP session over HTTP (its `mcp-session-id`); "" on stdio, one per process."""
        try:
            request = ctx.request_context.request
        except (AttributeError, ValueError):  # called outside a request
            return ""
        headers = getattr(request, "headers", None)
        return str(headers.get("mcp-session-id", "")) if headers is not None else ""

    def attempt_of(ctx: Context, me: str, task_id: str, given: int | None) -> int | None:
        if given is not None:
            return given
        return claimed.get((session_of(ctx), me, task_id))

    @tool()
    def init_coordination(
        goal: str, master_plan: str = "", instance_id: InstanceId = None
    ) -> dict[str, Any]:
        """Set the goal every agent works toward and the master plan explaining the approach."""
        me = who(instance_id)
        return run(lambda: c.tasks.set_plan(goal, master_plan, by=me).to_dict())

    @tool()
    def create_task(
        description: str,
        priority: Priority = 5,
        dependencies: Annotated[
            list[str], Field(description="Task ids that must be done first.")
        ] = [],  # noqa: B006
        files: Annotated[list[str], Field(description="Files the task touches.")] = [],  # noqa: B006
        hints: Annotated[list[str], Field(description="Advice for whoever claims it.")] = [],  # noqa: B006
        max_attempts: Annotated[int | None, Field(ge=1, le=100)] = None,
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Add a task to the shared queue. It becomes available once every dependency is done."""
        me = who(instance_id)
        return run(
            lambda: c.tasks.add(
                description,
                priority=priority,
                depends_on=dependencies,
                files=files,
                hints=hints,
                created_by=me,
                max_attempts=max_attempts,
            ).to_dict()
        )

    @tool()
    def claim_task(
        task_id: Annotated[
            str | None, Field(description="A task to claim (default: the best available).")
        ] = None,
        instance_id: InstanceId = None,
        ctx: Context = None,  # type: ignore[assignment]  # the SDK fills it in
    ) -> dict[str, Any]:
        """Claim the best available task (lowest priority number, then oldest), or the named one.

        Returns {"task": {...}} with the task now yours, or {"task": null, "message": ...} when
        nothing is available. Complete or fail it when done; the claim expires if you go quiet.
        """
        me = who(instance_id)
        try:
            task = c.tasks.claim(me, task_id)
        except NotFound as exc:
            if task_id is not None:
                raise ToolError(exc.message) from exc
            return {"task": None, "message": exc.message}
        except CtuiError as exc:
            raise ToolError(exc.message) from exc
        claimed[(session_of(ctx), me, task.id)] = task.attempt
        return {"task": task.to_dict(), "message": f"{task.id} is yours"}

    @tool()
    def complete_task(
        task_id: TaskId,
        result: str = "",
        instance_id: InstanceId = None,
        attempt: Attempt = None,
        ctx: Context = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Mark your claimed task done, with what you did (files changed, notes for others)."""
        me = who(instance_id)
        n = attempt_of(ctx, me, task_id, attempt)
        return run(lambda: c.tasks.complete(task_id, me, result or None, attempt=n).to_dict())

    @tool()
    def fail_task(
        task_id: TaskId,
        reason: str = "",
        instance_id: InstanceId = None,
        attempt: Attempt = None,
        ctx: Context = None,  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Give up your claimed task with a reason; it is requeued until its attempts run out."""
        me = who(instance_id)
        n = attempt_of(ctx, me, task_id, attempt)
        return run(lambda: c.tasks.fail(task_id, me, reason or None, attempt=n).to_dict())

    @tool()
    def get_status(instance_id: InstanceId = None) -> dict[str, Any]:
        """The goal, task counts, open tasks, live instances, held locks and recent discoveries."""
        me = who(instance_id)
        plan = c.tasks.plan()
        now = c.now()
        return {
            "you": me,
            "plan": plan.to_dict() if plan else None,
            "counts": c.tasks.counts(),
            "open_tasks": [t.to_dict() for t in c.tasks.list("open")][:100],
            "instances": [i.to_dict(now) for i in c.instances.list()],
            "locks": [lease.to_dict(now) for lease in c.leases.list()],
            "discoveries": [d.to_dict() for d in c.discoveries.list(limit=5)],
        }

    @tool()
    def add_discovery(text: str, tags: Tags = [], instance_id: InstanceId = None) -> dict[str, Any]:  # noqa: B006
        """Share a finding that would save another agent time."""
        me = who(instance_id)
        return run(lambda: c.discoveries.add(text, instance=me, tags=tags).to_dict())

    @tool()
    def list_discoveries(
        tag: str | None = None,
        search: Annotated[str | None, Field(description="Only those holding every word.")] = None,
        by_instance: str | None = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 20,
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Shared findings, newest first, filtered by tag, words or author."""
        who(instance_id)
        found = run(
            lambda: c.discoveries.list(tag=tag, search=search, instance=by_instance, limit=limit)
        )
        return {"discoveries": [d.to_dict() for d in found]}

    @tool()
    async def acquire_lock(
        path: Annotated[
            str, Field(description="A repository file or glob (src/*.py, backend/**).")
        ],
        intent: Annotated[
            str | None, Field(description="What you will do, shown to others.")
        ] = None,
        ttl: Annotated[
            float | None, Field(gt=0, description="Seconds until it expires unless renewed.")
        ] = None,
        wait: Annotated[
            float,
            Field(
                ge=0,
                le=MAX_WAIT_S,
                description="If another agent holds it, queue and wait up to this many seconds "
                "(first come, first served) instead of failing at once.",
            ),
        ] = 0,
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Take the exclusive lease on a file before editing it (renews if you already hold it).

        A file name is glob syntax here: write `[`, `*`, `?` in a literal name as `[[]`,
        `[*]`, `[?]` (the edit hook's refusal gives the exact path to pass).
        """
        import anyio

        me = who(instance_id)

        def take() -> dict[str, Any]:
            lease = c.leases.acquire(path, instance=me, intent=intent, ttl=ttl, wait=wait or None)
            return lease.to_dict(c.now())

        return await anyio.to_thread.run_sync(lambda: run(take))  # waiting blocks no other call

    @tool()
    def release_lock(path: str, instance_id: InstanceId = None) -> dict[str, Any]:
        """Give back your lease on a file or glob."""
        me = who(instance_id)
        lease = run(lambda: c.leases.release(path, instance=me))
        return {"path": lease.path, "released": True, "token": lease.token}

    @tool()
    def list_locks(holder: str | None = None, instance_id: InstanceId = None) -> dict[str, Any]:
        """Held leases: path, holder, intent and when each expires."""
        who(instance_id)
        now = c.now()
        return {"locks": [lease.to_dict(now) for lease in c.leases.list(holder=holder)]}

    @tool()
    def log_decision(
        category: Annotated[str, Field(description="e.g. api-design, database, architecture")],
        title: str,
        description: str = "",
        scope: Annotated[str, Field(pattern="^(file|module|service|system)$")] = "module",
        tags: Tags = [],  # noqa: B006
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Record a decision every agent should follow; returns it with its DEC- id."""
        me = who(instance_id)
        return run(
            lambda: c.decisions.add(
                category=category,
                title=title,
                description=description,
                scope=scope,
                author=me,
                tags=tags,
            ).to_dict()
        )

    @tool()
    def list_decisions(
        category: str | None = None,
        search: Annotated[str | None, Field(description="Full-text search words.")] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 20,
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Decisions, newest first (or best match first with `search`)."""
        who(instance_id)
        if search:
            found = run(lambda: c.decisions.search(search, limit=limit))
        else:
            found = run(lambda: c.decisions.list(category=category, limit=limit))
        return {"decisions": [d.to_dict() for d in found]}

    @tool()
    def merge_thread(
        threads: Annotated[list[str], Field(min_length=1, max_length=50)],
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Queue finished threads' branches for the merge queue, which lands each on its base
        only after the test gate passes on top of everything landed before it."""
        me = who(instance_id)
        return {"queued": [e.to_dict() for e in run(lambda: c.merge.add(threads, by=me))]}

    @tool()
    def merge_queue(all: bool = False, instance_id: InstanceId = None) -> dict[str, Any]:
        """The merge queue: open entries (all=true: also landed and sent back, with why),
        and files that two queued branches both change (predicted conflicts)."""
        who(instance_id)
        entries = run(lambda: c.merge.list(all=all))
        return {"entries": [e.to_dict() for e in entries], "predicted": run(c.merge.predicted)}

    @tool()
    def heartbeat(
        state: Annotated[str | None, Field(pattern="^(working|needs_input|idle)$")] = None,
        instance_id: InstanceId = None,
    ) -> dict[str, Any]:
        """Say you are alive: renews your locks and your task claims; optionally set your state."""
        me = who(instance_id)
        inst = run(lambda: c.instances.heartbeat(me, state=state))
        renewed = run(lambda: c.tasks.renew(me))
        return {"instance": inst.to_dict(c.now()), "claims_renewed": [t.id for t in renewed]}
