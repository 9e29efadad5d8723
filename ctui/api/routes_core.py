"""Routes over the core that existed first: health, status, events, instances, locks, decisions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

import ctui
from ctui.api.common import ERRORS, JSON, coord, ok, state
from ctui.api.metrics import render
from ctui.api.models import (
    DecisionIn,
    EventIn,
    ForceReleaseIn,
    HeartbeatIn,
    InstanceIn,
    LockIn,
    LockRef,
    RenewIn,
)
from ctui.core import Coordinator
from ctui.core.errors import NotFound

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
metrics_router = APIRouter()
C = Annotated[Coordinator, Depends(coord)]
Cursor = Annotated[int, Query(ge=0, le=2**62, description="events with an id above this")]
Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/health", summary="liveness; the only route without a token")
def health() -> JSON:
    return ok({"status": "ok", "version": ctui.__version__})


@router.get("/status", summary="the same document as `ctui status --json`")
def status(
    request: Request,
    c: C,
    fresh: Annotated[
        bool, Query(description="rebuild now instead of sharing a 100 ms copy")
    ] = False,
) -> Response:
    if fresh:
        return ok(c.snapshot())
    return Response(state(request).status.body(c), media_type="application/json")


@router.post("/cleanup", summary="reap stale instances, expired leases and orphaned threads now")
def cleanup(c: C) -> JSON:
    return ok(c.cleanup())


@router.get("/orchestrator", summary="the orchestrator loop: ticks, last result, errors")
def orchestrator(request: Request) -> JSON:
    loop = state(request).orchestrator
    return ok(loop.describe() if loop is not None else {"running": False})


# -- events -------------------------------------------------------------------


@router.get("/events", summary="events after a cursor, oldest first (tail=N: the newest N instead)")
def events(
    c: C,
    since: Cursor = 0,
    limit: Limit = 500,
    tail: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> JSON:
    found = c.events.recent(tail) if tail else c.events.since(since, limit=limit, kinds=kind)
    return ok([e.to_dict() for e in found])


@router.get("/events/latest", summary="the newest event id (a cursor to follow from)")
def latest(c: C) -> JSON:
    return ok({"id": c.events.latest_id()})


@router.post("/events", status_code=201, summary="publish an event")
def publish(c: C, body: EventIn) -> JSON:
    event_id = c.events.publish(body.kind, actor=body.actor, subject=body.subject, data=body.data)
    return ok({"id": event_id}, 201)


@router.get(
    "/events/stream",
    summary="server-sent events: every new event as it is logged",
    response_class=StreamingResponse,
)
async def stream(
    request: Request, since: Annotated[int | None, Query(ge=0, le=2**62)] = None
) -> StreamingResponse:
    st = state(request)
    c = st.coord
    last = request.headers.get("last-event-id", "")
    cursor = int(last) if last.isdigit() else since
    if cursor is None:
        cursor = await run_in_threadpool(c.events.latest_id)

    async def lines(cursor: int) -> AsyncIterator[str]:
        yield ": connected\n\n"
        quiet = 0
        while not st.should_stop() and not await request.is_disconnected():
            batch = await run_in_threadpool(c.events.since, cursor, limit=500)
            for e in batch:
                cursor = e.id
                data = json.dumps(e.to_dict(), default=str)
                yield f"id: {e.id}\nevent: {e.kind}\ndata: {data}\n\n"
            if not batch:
                quiet += 1
                if quiet % 60 == 0:
                    yield ": keep-alive\n\n"
                await asyncio.sleep(0.25)

    return StreamingResponse(
        lines(cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@metrics_router.get("/metrics", summary="Prometheus text format", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    st = state(request)
    text = render(st.coord, st.latency, st.denials)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


# -- instances ----------------------------------------------------------------


@router.get("/instances", summary="live instances (all=true: ended and stale too)")
def instances(c: C, all: bool = False) -> JSON:
    now = c.now()
    return ok([i.to_dict(now) for i in c.instances.list(include_ended=all)])


@router.post("/instances", status_code=201, summary="register an instance")
def register(c: C, body: InstanceIn) -> JSON:
    inst = c.instances.register(
        instance_id=body.id,
        role=body.role,
        task=body.task,
        session_id=body.session_id,
        pid=body.pid,
        ttl=body.ttl,
        agent=body.agent,
        cwd=body.cwd,
        state=body.state,
    )
    return ok(inst.to_dict(c.now()), 201)


@router.get("/instances/{instance_id}", summary="one instance")
def instance(c: C, instance_id: str) -> JSON:
    return ok(c.instances.get(instance_id).to_dict(c.now()))


@router.post(
    "/instances/{instance_id}/heartbeat", summary="refresh the heartbeat and the instance's leases"
)
def heartbeat(c: C, instance_id: str, body: HeartbeatIn | None = None) -> JSON:
    inst = c.instances.heartbeat(instance_id, state=body.state if body else None)
    return ok(inst.to_dict(c.now()))


@router.delete("/instances/{instance_id}", summary="unregister: release leases, requeue claims")
def unregister(c: C, instance_id: str) -> JSON:
    return ok({"id": instance_id, **c.instances.unregister(instance_id)})


# -- locks --------------------------------------------------------------------


@router.get("/locks", summary="held leases")
def locks(c: C, holder: str | None = None, all: bool = False) -> JSON:
    now = c.now()
    return ok([lease.to_dict(now) for lease in c.leases.list(holder=holder, include_expired=all)])


@router.post("/locks", summary="acquire (or renew) a lease; 409 when another instance holds it")
def acquire(c: C, body: LockIn) -> JSON:
    lease = c.leases.acquire(
        body.path,
        instance=body.instance,
        intent=body.intent,
        ttl=body.ttl,
        wait=body.wait,
        cwd=c.root,
    )
    return ok(lease.to_dict(c.now()))


@router.post("/locks/release", summary="give back your lease")
def release(c: C, body: LockRef) -> JSON:
    lease = c.leases.release(body.path, instance=body.instance, cwd=c.root)
    return ok({**lease.to_dict(c.now()), "released": True})


@router.post("/locks/renew", summary="push your lease's expiry out")
def renew(c: C, body: RenewIn) -> JSON:
    lease = c.leases.renew(body.path, instance=body.instance, ttl=body.ttl, cwd=c.root)
    return ok(lease.to_dict(c.now()))


@router.get("/locks/check", summary="who holds a path (through a glob too)")
def check(c: C, path: Annotated[str, Query(min_length=1, max_length=4096)]) -> JSON:
    key = c.leases.require_key(path, c.root)
    lease = c.leases.check(path, cwd=c.root)
    if lease is None:
        return ok({"path": key, "held": False, "holder": None})
    return ok({"path": key, "held": True, **lease.to_dict(c.now()), "path_leased": lease.path})


@router.post(
    "/locks/verify", summary="409 (exit 12) if the file changed in a way the holder did not make"
)
def verify(c: C, body: LockRef) -> JSON:
    lease = c.leases.verify(body.path, instance=body.instance, cwd=c.root)
    return ok({**lease.to_dict(c.now()), "unchanged": True})


@router.post("/locks/force-release", summary="the operator takes a lease away (needs a reason)")
def force_release(c: C, body: ForceReleaseIn) -> JSON:
    lease = c.leases.force_release(body.path, reason=body.reason, by=body.by, cwd=c.root)
    return ok({**lease.to_dict(c.now()), "forced": True, "reason": body.reason})


# -- decisions ----------------------------------------------------------------


@router.get("/decisions", summary="decisions, newest first")
def decisions(
    c: C,
    category: str | None = None,
    author: str | None = None,
    status: str | None = None,
    since: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    limit: Limit = 50,
) -> JSON:
    found = c.decisions.list(
        category=category, author=author, status=status, since=since, limit=limit
    )
    return ok([d.to_dict() for d in found])


@router.get(
    "/decisions/search", summary="full-text search over titles, descriptions and categories"
)
def search(
    c: C, q: Annotated[str, Query(min_length=1, max_length=1000)], limit: Limit = 20
) -> JSON:
    return ok([d.to_dict() for d in c.decisions.search(q, limit=limit)])


@router.post("/decisions", status_code=201, summary="log a decision")
def add_decision(c: C, body: DecisionIn) -> JSON:
    d = c.decisions.add(
        category=body.category,
        title=body.title,
        description=body.description,
        scope=body.scope,
        status=body.status,
        author=body.author,
        supersedes=body.supersedes,
        tags=body.tags,
    )
    return ok(d.to_dict(), 201)


@router.get("/decisions/{decision_id}", summary="one decision")
def decision(c: C, decision_id: str) -> JSON:
    return ok(c.decisions.get(decision_id).to_dict())


def not_built(part: str) -> NotFound:
    return NotFound(f"this server's ctui has no {part} yet: upgrade it")
