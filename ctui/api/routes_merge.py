"""Routes over the merge queue: list it (with predicted conflicts), add, remove, run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from ctui.api.common import ERRORS, JSON, coord, ok
from ctui.api.models import Body, ByIn
from ctui.core import Coordinator

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
C = Annotated[Coordinator, Depends(coord)]


class MergeIn(Body):
    threads: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=100
    )
    by: str = Field(default="operator", min_length=1, max_length=200)


class MergeRunIn(Body):
    limit: int | None = Field(default=None, ge=1, le=1000)


@router.get(
    "/merge",
    summary="the merge queue (open entries; all=true for every one) and the "
    "files two queued branches both change",
)
def merge_list(c: C, all: Annotated[bool, Query()] = False) -> JSON:
    q = c.merge
    return ok({"entries": [e.to_dict() for e in q.list(all=all)], "predicted": q.predicted()})


@router.post("/merge", status_code=201, summary="queue finished threads' branches (all or none)")
def merge_add(c: C, body: MergeIn) -> JSON:
    return ok([e.to_dict() for e in c.merge.add(body.threads, by=body.by)], 201)


@router.get("/merge/{ref}", summary="one entry, by id or by thread (its newest entry)")
def merge_entry(c: C, ref: str) -> JSON:
    return ok(c.merge.get(ref).to_dict())


@router.post("/merge/{ref}/remove", summary="take a queued entry out of the queue")
def merge_remove(c: C, ref: str, body: ByIn | None = None) -> JSON:
    return ok(c.merge.remove(ref, by=(body or ByIn()).by).to_dict())


@router.post(
    "/merge/run",
    summary="land queued entries now and answer with the summary (409 while another "
    "runner, such as this server's loop, holds the queue)",
)
def merge_run(c: C, body: MergeRunIn | None = None) -> JSON:
    from ctui.core.errors import Conflict

    summary = c.merge.run(limit=(body or MergeRunIn()).limit)
    if summary["busy"]:
        raise Conflict(f"the merge queue is being run by {summary['busy']}")
    return ok(summary)
