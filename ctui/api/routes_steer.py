"""Routes that steer one agent: send it a message, restart it (the CLI's `ctui send`,
`ctui restart` and the control room's keys make the same core calls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from ctui.api.common import ERRORS, JSON, coord, ok
from ctui.api.models import Body, ByIn
from ctui.core import Coordinator
from ctui.core.flows import permissions, steer

router = APIRouter(prefix="/api", responses=ERRORS, default_response_class=JSON)
C = Annotated[Coordinator, Depends(coord)]


class SendIn(Body):
    text: str = Field(min_length=1, max_length=steer.MESSAGE_CHARS)
    by: str = Field(default="operator", min_length=1, max_length=200)


@router.post(
    "/threads/{name}/send",
    summary="a message to a thread: typed into an interactive one's terminal, or a "
    "follow-up run of a headless one that finished or waits",
)
def send_thread(c: C, name: str, body: SendIn) -> JSON:
    return ok(steer.send(c, name, body.text, by=body.by))


@router.post("/threads/{name}/restart", summary="stop a thread if it runs, then start a new run")
def restart_thread(c: C, name: str, body: ByIn | None = None) -> JSON:
    return ok(steer.restart(c, name, by=(body or ByIn()).by).to_dict())


class AnswerIn(Body):
    message: str | None = Field(default=None, max_length=2000)
    by: str = Field(default="operator", min_length=1, max_length=200)


@router.post(
    "/agents/{name}/approve",
    summary="approve the permission request a thread or instance waits on (404: none waits)",
)
def approve(c: C, name: str, body: AnswerIn | None = None) -> JSON:
    body = body or AnswerIn()
    return ok(permissions.answer(c, name, allow=True, message=body.message, by=body.by))


@router.post(
    "/agents/{name}/deny",
    summary="deny the permission request a thread or instance waits on (404: none waits)",
)
def deny(c: C, name: str, body: AnswerIn | None = None) -> JSON:
    body = body or AnswerIn()
    return ok(permissions.answer(c, name, allow=False, message=body.message, by=body.by))
