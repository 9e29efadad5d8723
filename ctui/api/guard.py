"""The outermost ASGI layer: bearer-token auth, a request body limit and latency timing.

A plain ASGI middleware rather than Starlette's `BaseHTTPMiddleware`, so
streaming responses (SSE, MCP) pass through untouched and the cost per request
stays a few microseconds. It covers the mounted `/mcp` app too.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ctui.api.metrics import Latency

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/api/health"})
MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes the limit."""


class Guard:
    """Refuses unauthenticated requests (401) and oversized bodies (413); times the rest."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, latency: Latency, max_body: int = MAX_BODY
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.latency = latency
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (
            self.expected is not None
            and scope["path"] not in OPEN_PATHS
            and not self._authorized(scope)
        ):
            await _answer(
                send,
                401,
                "missing or invalid bearer token",
                1,
                extra=[(b"www-authenticate", b'Bearer realm="ctui"')],
            )
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _answer(send, 413, f"request body over {self.max_body} bytes", 2)
            return
        started = time.perf_counter()
        status: list[int] = []
        sent = 0

        async def counted() -> Message:
            nonlocal sent
            message = await receive()
            if message["type"] == "http.request":
                sent += len(message.get("body", b""))
                if sent > self.max_body:
                    raise BodyTooLarge(f"request body over {self.max_body} bytes")
            return message

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if not status:
                await _answer(send, 413, f"request body over {self.max_body} bytes", 2)
        route = scope.get("route")
        name = getattr(route, "path", None) or (
            "/mcp" if scope["path"].startswith("/mcp") else "unmatched"
        )
        self.latency.observe(scope["method"], name, time.perf_counter() - started)

    def _authorized(self, scope: Scope) -> bool:
        given = _header(scope, b"authorization")
        assert self.expected is not None
        return given is not None and hmac.compare_digest(given.encode("latin-1"), self.expected)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _answer(
    send: Send, status: int, message: str, code: int, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message, "exit_code": code}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
