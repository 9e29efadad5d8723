"""What every route module shares: the store handle, fast JSON answers and error bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ctui.api.cache import StatusCache
from ctui.api.metrics import DenialCounter, Latency
from ctui.api.models import Error
from ctui.core import Coordinator

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text}
    for code, text in (
        (400, "bad input"),
        (401, "missing or wrong token"),
        (404, "unknown id"),
        (409, "a conflict: lease held, wrong state"),
        (413, "body too large"),
        (422, "invalid body or query"),
    )
}


@dataclass
class ServerState:
    """Everything the routes need, kept on `app.state.ctui`."""

    coord: Coordinator
    token: str | None
    latency: Latency = field(default_factory=Latency)
    denials: DenialCounter = field(default_factory=DenialCounter)
    status: StatusCache = field(default_factory=StatusCache)
    orchestrator: Any = None
    stopping: Any = None

    @property
    def root(self) -> Path:
        return self.coord.root

    feed: Any = None
    """The store's change feed, shared by every event stream of this worker (`change_feed`)."""

    def should_stop(self) -> bool:
        return bool(self.stopping and self.stopping())

    def change_feed(self) -> Any:
        """One feed (one watcher, or one LISTEN connection) for all streams, made on first use."""
        if self.feed is None:
            self.feed = self.coord.store.change_feed()
        return self.feed

    async def close_feed(self) -> None:
        feed, self.feed = self.feed, None
        if feed is not None:
            await feed.aclose()


def state(request: Request) -> ServerState:
    return request.app.state.ctui


def coord(request: Request) -> Coordinator:
    """The server's Coordinator: one object, one SQLite connection per worker thread."""
    return request.app.state.ctui.coord


class JSON(Response):
    """A JSON answer serialized once with `json.dumps`, skipping FastAPI's per-field encoder."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def ok(content: Any, status: int = 200) -> JSON:
    return JSON(content, status_code=status)


def error(message: str, exit_code: int, status: int) -> JSON:
    return JSON({"error": message, "exit_code": exit_code}, status_code=status)
