"""Routes over the whole store: health, status, cleanup, the loop, events and metrics."""

from __future__ import annotations

import contextlib
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
    EventIn,
)
from ctui.core import Coordinator

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
metrics_router = APIRouter()
C = Annotated[Coordinator, Depends(coord)]
Cursor = Annotated[int, Query(ge=0, le=2**62, description="events with an id above this")]
Limit = Annotated[int, Query(ge=1, le=10_000)]
STREAM_TICK_S = 0.25
"""How often an idle event stream checks for a closed client or a stopping server."""
KEEP_ALIVE_TICKS = 60
SAFETY_READ_TICKS = 8


@router.get("/health", summary="liveness; the only route without a token")
def health() -> JSON:
    return ok({"status": "ok", "version": ctui.__version__})


@router.get("/status", summary="the same document as `ctui status --json`")
def status(
    request: Request,
    c: C,
    fresh: Annotated[
        bool,
        Query(
            description="a document built after this request arrived (it shows every write "
            "finished before), instead of one shared for up to 100 ms"
        ),
    ] = False,
) -> Response:
    cache = state(request).status
    return Response(cache.fresh(c) if fresh else cache.body(c), media_type="application/json")


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
    summary="server-sent events: every new event as it is logged (kind=GLOB: only those)",
    response_class=StreamingResponse,
)
async def stream(
    request: Request,
    since: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> StreamingResponse:
    st = state(request)
    c = st.coord
    last = request.headers.get("last-event-id", "")
    cursor = int(last) if last.isdigit() and len(last) < 19 else since
    if cursor is None:
        cursor = await run_in_threadpool(c.events.latest_id)

    async def lines(cursor: int) -> AsyncIterator[str]:
        yield ": connected\n\n"
        quiet, read = 0, True
        # Woken by the store's change feed. Its quiet ticks check for a closed client or a
        # stopping server, and every few of them the stream reads anyway when the feed
        # may have missed a change (watchfiles, while its watcher started).
        feed = st.change_feed()
        safety = 0 if feed.exact else SAFETY_READ_TICKS
        async with contextlib.aclosing(feed.changes(idle=STREAM_TICK_S)) as changes:
            while True:
                while read:
                    batch = await run_in_threadpool(c.events.since, cursor, limit=500, kinds=kind)
                    for e in batch:
                        if await request.is_disconnected():  # a backlog to a closed socket
                            return
                        cursor = e.id
                        data = json.dumps(e.to_dict(), default=str)
                        yield f"id: {e.id}\nevent: {e.kind}\ndata: {data}\n\n"
                    read = len(batch) == 500
                change = await anext(changes)
                if st.should_stop() or await request.is_disconnected():
                    return
                if change:
                    read = True
                    continue
                quiet += 1
                if quiet % KEEP_ALIVE_TICKS == 0:
                    yield ": keep-alive\n\n"
                read = bool(safety) and quiet % safety == 0

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
