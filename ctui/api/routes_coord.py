"""Routes over instances, locks (leases), the conflict radar and decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from ctui.api.common import ERRORS, JSON, coord, ok
from ctui.api.models import (
    ConflictsOut,
    DecisionIn,
    DecisionsImportIn,
    ForceReleaseIn,
    HeartbeatIn,
    InstanceIn,
    LockIn,
    LockRef,
    RenewIn,
)
from ctui.core import Coordinator
from ctui.core.flows import radar

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
C = Annotated[Coordinator, Depends(coord)]
Limit = Annotated[int, Query(ge=1, le=10_000)]


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
        host=body.host,
        host_id=body.host_id,
    )
    return ok(inst.to_dict(c.now()), 201)


# -- hosts --------------------------------------------------------------------


@router.get("/hosts", summary="the machines sharing this store: heartbeat, clock offset, state")
def hosts(c: C) -> JSON:
    now, lapse = c.now(), c.config.host_lapse
    return ok([h.to_dict(now, lapse) for h in c.hosts.list()])


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


@router.post(
    "/locks",
    status_code=201,
    summary="acquire a lease (201), or renew the caller's own (200); 409 when another holds it",
)
def acquire(c: C, body: LockIn) -> JSON:
    lease = c.leases.acquire(
        body.path,
        instance=body.instance,
        intent=body.intent,
        ttl=body.ttl,
        wait=body.wait,
        cwd=c.root,
    )
    granted = lease.renewed_at == lease.acquired_at
    return ok(lease.to_dict(c.now()), 201 if granted else 200)


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


@router.get(
    "/conflicts",
    response_model=ConflictsOut,
    response_class=JSONResponse,  # for the schema only: `ok` still renders the answer
    summary="files changed in two worktrees, or in a worktree under another's lease "
    "(the same document as `ctui conflicts --json`)",
)
def conflicts(c: C) -> JSON:
    return ok(radar.scan(c))


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


@router.post(
    "/decisions/import",
    status_code=201,
    summary="import a SkillForge decision log's decisions: checked whole first (a bad one "
    "changes nothing), then written in short batches (201 with the new ids; 200 when every "
    "one was already there)",
)
def import_decisions(c: C, body: DecisionsImportIn) -> JSON:
    result = c.decisions.import_items(body.decisions, author=body.author)
    return ok(result, 201 if result["imported"] else 200)


@router.get("/decisions/{decision_id}", summary="one decision")
def decision(c: C, decision_id: str) -> JSON:
    return ok(c.decisions.get(decision_id).to_dict())
