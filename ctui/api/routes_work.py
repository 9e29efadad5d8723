"""Routes over the work parts: tasks and the plan, discoveries and threads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from ctui.api.common import ERRORS, JSON, coord, ok
from ctui.api.logread import after, tail
from ctui.api.models import (
    ByIn,
    ClaimIn,
    CompleteIn,
    DependIn,
    DiscoveryIn,
    FailIn,
    LogQuery,
    PlanIn,
    ResumeIn,
    StartIn,
    StopIn,
    TaskIn,
    TasksImportIn,
    ThreadIn,
)
from ctui.core import Coordinator
from ctui.core.errors import Conflict

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
C = Annotated[Coordinator, Depends(coord)]
Name = Annotated[str, Query(min_length=1, max_length=100)]


# -- tasks --------------------------------------------------------------------


@router.get(
    "/tasks", summary="tasks in queue order (status: open, pending, available, claimed, done, ...)"
)
def tasks(c: C, status: Annotated[str | None, Query(max_length=20)] = None) -> JSON:
    return ok([t.to_dict() for t in c.tasks.list(status)])


@router.post("/tasks", status_code=201, summary="queue a task")
def add_task(c: C, body: TaskIn) -> JSON:
    task = c.tasks.add(
        body.description,
        priority=body.priority,
        depends_on=body.depends_on,
        files=body.files,
        hints=body.hints,
        created_by=body.created_by,
        max_attempts=body.max_attempts,
    )
    return ok(task.to_dict(), 201)


@router.post(
    "/tasks/import",
    status_code=201,
    summary="import a .coordination/tasks.json task list read by the client: checked whole "
    "first (a bad one changes nothing), then written in short batches (201 with the new ids; "
    "200 when every task was already there)",
)
def import_tasks(c: C, body: TasksImportIn) -> JSON:
    from ctui.core.tasks import plan

    result = plan.import_document(c, body.model_dump(exclude={"by"}), by=body.by)
    return ok(result, 201 if result["imported"] or result["plan"] else 200)


@router.get("/plan", summary="the goal and master plan ({plan: null} before `ctui plan init`)")
def get_plan(c: C) -> JSON:
    plan = c.tasks.plan()
    return ok({"plan": plan.to_dict() if plan else None, "counts": c.tasks.counts()})


@router.put("/plan", summary="set (or replace) the goal and master plan, like `ctui plan init`")
def set_plan(c: C, body: PlanIn) -> JSON:
    return ok(c.tasks.set_plan(body.goal, body.text, by=body.by).to_dict())


@router.post(
    "/tasks/claim", summary="claim the best available task, or a named one (404: nothing to claim)"
)
def claim(c: C, body: ClaimIn) -> JSON:
    return ok(c.tasks.claim(body.instance, body.task_id).to_dict())


@router.get("/tasks/{task_id}", summary="one task")
def task(c: C, task_id: str) -> JSON:
    return ok(c.tasks.get(task_id).to_dict())


@router.post("/tasks/{task_id}/claim", summary="claim this task")
def claim_one(c: C, task_id: str, body: ClaimIn) -> JSON:
    return ok(c.tasks.claim(body.instance, task_id).to_dict())


@router.post("/tasks/{task_id}/complete", summary="mark your claimed task done")
def complete(c: C, task_id: str, body: CompleteIn) -> JSON:
    return ok(
        c.tasks.complete(task_id, body.instance, result=body.result, attempt=body.attempt).to_dict()
    )


@router.post(
    "/tasks/{task_id}/fail",
    summary="give your claimed task back as failed (retried until attempts run out)",
)
def fail(c: C, task_id: str, body: FailIn) -> JSON:
    return ok(
        c.tasks.fail(task_id, body.instance, reason=body.reason, attempt=body.attempt).to_dict()
    )


@router.post("/tasks/{task_id}/cancel", summary="cancel a task (the operator's)")
def cancel(c: C, task_id: str, body: ByIn) -> JSON:
    return ok(c.tasks.cancel(task_id, by=body.by).to_dict())


@router.post("/tasks/{task_id}/retry", summary="put a failed or cancelled task back in the queue")
def retry(c: C, task_id: str, body: ByIn) -> JSON:
    return ok(c.tasks.retry(task_id, by=body.by).to_dict())


@router.post("/tasks/{task_id}/depend", summary="make a task wait for others (no cycles)")
def depend(c: C, task_id: str, body: DependIn) -> JSON:
    return ok(c.tasks.depend(task_id, body.on, by=body.by).to_dict())


# -- discoveries --------------------------------------------------------------


@router.get("/discoveries", summary="shared findings, newest first")
def discoveries(
    c: C,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    instance: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    since_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    since: Annotated[float | None, Query(ge=0, le=1e11, description="epoch seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> JSON:
    found = c.discoveries.list(
        tag=tag, instance=instance, search=q, after_id=since_id, since=since, limit=limit
    )
    return ok([d.to_dict() for d in found])


@router.post("/discoveries", status_code=201, summary="share a finding")
def add_discovery(c: C, body: DiscoveryIn) -> JSON:
    return ok(c.discoveries.add(body.text, instance=body.instance, tags=body.tags).to_dict(), 201)


# -- threads ------------------------------------------------------------------


@router.get(
    "/threads", summary="threads (status: created, ready, running, completed, failed, stopped, ...)"
)
def threads(c: C, status: Annotated[str | None, Query(max_length=20)] = None) -> JSON:
    return ok([t.to_dict() for t in c.threads.list(status=status)])


@router.post(
    "/threads",
    status_code=201,
    summary="create a thread (start=true: and start it, like `ctui spawn`)",
)
def create_thread(c: C, body: ThreadIn) -> JSON:
    t: Any = c.threads.create(
        body.name,
        mode=body.mode,
        agent=body.agent,
        template=body.template,
        prompt=body.prompt,
        context=body.context,
        command=body.command,
        worktree=body.worktree,
        base=body.base,
        cwd=c.root,
        **_budget(body.budget_usd, body.budget_tokens),
    )
    if body.start:
        try:
            t = c.threads.start(t.name)
        except Conflict:
            t = c.threads.get(t.name)
            if t.status == "ready":
                raise
    return ok(t.to_dict(), 201)


@router.get("/threads/{name}", summary="one thread, with its runs")
def thread(c: C, name: str) -> JSON:
    from ctui.core.threads import runs

    return ok({**c.threads.get(name).to_dict(), "runs": runs.listed(c, name)})


@router.post("/threads/{name}/start", summary="start a ready thread (again=true: a finished one)")
def start_thread(c: C, name: str, body: StartIn | None = None) -> JSON:
    return ok(c.threads.start(name, again=bool(body and body.again)).to_dict())


@router.post(
    "/threads/{name}/resume",
    summary="continue the thread's session as a new run (paused, failed, stopped, ended)",
)
def resume_thread(c: C, name: str, body: ResumeIn | None = None) -> JSON:
    body = body or ResumeIn()
    caps = _budget(body.budget_usd, body.budget_tokens)
    return ok(c.threads.resume(name, prompt=body.prompt, **caps).to_dict())


def _budget(usd: float | None, tokens: int | None) -> dict[str, Any]:
    from ctui.core.threads.budget import parse_caps

    caps = parse_caps(usd, tokens)
    return {"budget": caps} if caps else {}


@router.post("/threads/{name}/stop", summary="stop a running thread (SIGTERM, then SIGKILL)")
def stop_thread(c: C, name: str, body: StopIn | None = None) -> JSON:
    body = body or StopIn()
    return ok(c.threads.stop(name, grace=body.grace, by=body.by).to_dict())


@router.get(
    "/threads/{name}/logs",
    summary="the last lines of the thread's log, or with offset the lines written after it "
    "(follow by asking again from next_offset until active is false and more is false)",
)
def thread_logs(c: C, name: str, q: Annotated[LogQuery, Query()]) -> JSON:
    t = c.threads.get(name)
    active = t.is_active  # before reading: a finished thread's log is complete
    path = Path(t.log_path or c.threads.log_path(name))
    found = tail(path, q.tail) if q.offset is None else after(path, q.offset, finished=not active)
    return ok({"name": name, **found, "active": active, "status": t.status})
