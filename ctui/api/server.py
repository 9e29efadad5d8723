"""The orchestrator's HTTP server: the FastAPI app, its error shapes, and `serve()` on uvicorn.

    app = create_app(coord, token="s3cret")          # an ASGI app, for embedding

Every route but `/api/health` needs `Authorization: Bearer <token>` (the Guard
checks it, for `/mcp` too). Core errors become `{"error", "exit_code"}` with
the status their class names; blocking core calls run in FastAPI's threadpool.
`ctui.api.serving` runs it on uvicorn.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

import ctui
from ctui.api import routes_coord, routes_core, routes_merge, routes_steer, routes_work
from ctui.api.common import JSON, ServerState, error
from ctui.api.guard import MAX_BODY, BodyTooLarge, Guard
from ctui.api.metrics import Latency
from ctui.api.orchestrator import Orchestrator
from ctui.core import Coordinator, CtuiError
from ctui.core.errors import NOTHING, USAGE

log = logging.getLogger("ctui.api")


def create_app(
    coord: Coordinator,
    *,
    token: str | None,
    max_body: int = MAX_BODY,
    orchestrator: Orchestrator | None = None,
    mcp: bool = True,
    on_ready: Any = None,
    on_stop: Any = None,
    latency: Latency | None = None,
) -> Any:
    """The ASGI app: FastAPI inside the Guard. `token=None` only for `--no-auth` (a Unix socket).

    `latency` is given when several worker processes share one histogram.
    """
    st = ServerState(coord=coord, token=token, orchestrator=orchestrator)
    if latency is not None:
        st.latency = latency
    mcp_server = _mcp_server(coord) if mcp else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(st.close_feed)
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            if orchestrator is not None:
                orchestrator.start()
                stack.callback(orchestrator.stop)
            if on_stop is not None:
                stack.callback(on_stop)
            if on_ready is not None:
                on_ready()
            yield

    app = FastAPI(
        title="ctui",
        version=ctui.__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        description="The ctui orchestrator: threads, tasks, leases, decisions, events over HTTP.",
    )
    app.state.ctui = st
    app.include_router(routes_core.router)
    app.include_router(routes_coord.router)
    app.include_router(routes_work.router)
    app.include_router(routes_merge.router)
    app.include_router(routes_steer.router)
    app.include_router(routes_core.metrics_router)
    if mcp_server is not None:
        _mount_mcp(app, mcp_server)
    _errors(app)
    return Guard(app, token=token, latency=st.latency, max_body=max_body)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(CtuiError)
    async def core_error(request: Request, exc: CtuiError) -> JSON:
        return error(exc.message, exc.exit_code, exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSON:
        parts = []
        for item in exc.errors()[:5]:
            if item.get("type") == "json_invalid":  # loc is a character offset, not a field
                parts.append(f"body: not valid JSON ({item.get('ctx', {}).get('error', '?')})")
                continue
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
        return error("; ".join(parts) or "invalid request", USAGE, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSON:
        if isinstance(exc.__cause__, BodyTooLarge):
            return error(str(exc.__cause__), USAGE, 413)
        code = NOTHING if exc.status_code == 404 else USAGE if exc.status_code < 500 else 1
        message = (
            "no such route: see /api/openapi.json" if exc.status_code == 404 else str(exc.detail)
        )
        return error(message, code, exc.status_code)

    @app.exception_handler(UnicodeError)
    async def bad_text(request: Request, exc: UnicodeError) -> JSON:
        return error("text must be valid UTF-8 (no lone surrogates)", USAGE, 400)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> JSON:
        if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):
            return error(f"bad path: {exc.strerror}", USAGE, 400)
        log.exception("OS error on %s %s", request.method, request.url.path)
        return error(f"server error: {exc.strerror or exc}", 1, 500)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSON:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(f"internal error ({type(exc).__name__}): see the server's log", 1, 500)


def _mcp_server(coord: Coordinator) -> Any:
    """The MCP server of ctui.mcp, when that part is installed (same tools as `ctui mcp`)."""
    import importlib

    try:
        mcp_mod = importlib.import_module("ctui.mcp.server")
    except ImportError:
        return None
    build = getattr(mcp_mod, "build_server", None) or getattr(mcp_mod, "build", None)
    if build is None:
        return None
    return build(coord.store.path)


def _mount_mcp(app: FastAPI, server: Any) -> None:
    """Add the SDK's streamable-HTTP route at `/mcp`; its session manager runs in our lifespan."""
    inner = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True
    )
    app.router.routes.extend(inner.routes)
