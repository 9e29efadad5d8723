"""The remote CLI's wire to the server: one HTTP session, errors, and JSON back to objects.

`Api.call` returns the decoded answer or raises the `CtuiError` subclass whose
exit code the server sent; the `*_of` functions rebuild the core's records
(times come back as epoch seconds) and `Record` stands in for the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import httpx

from ctui.core import errors
from ctui.core.decisions import Decision
from ctui.core.errors import CtuiError, UsageError
from ctui.core.events import Event
from ctui.core.instances import Instance
from ctui.core.leases import Lease

BY_EXIT = {
    errors.USAGE: errors.UsageError,
    errors.NOTHING: errors.NotFound,
    errors.HELD: errors.LeaseHeld,
    errors.EXPIRED: errors.LeaseExpired,
    errors.CONFLICT: errors.Conflict,
    errors.STALE: errors.StaleInstance,
    errors.STORE_BUSY: errors.StoreBusy,
    errors.DISK_FULL: errors.DiskFull,
    errors.READ_ONLY: errors.StoreReadOnly,
    errors.DENIED: errors.StoreDenied,
}


def epoch(value: Any) -> float | None:
    """An ISO-8601 UTC time from the API back to epoch seconds."""
    if not isinstance(value, str):
        return value if isinstance(value, int | float) else None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Record(SimpleNamespace):
    """A task, thread or discovery rebuilt from JSON: attributes, `*_at` as epoch, `to_dict()`."""

    methods: tuple[str, ...] = ()

    def __init__(self, data: dict[str, Any]) -> None:
        attrs = {
            k: epoch(v) if k.endswith("_at") else v
            for k, v in data.items()
            if k not in self.methods
        }
        context = data.get("context")
        if isinstance(context, dict) and "files" in context:
            attrs.setdefault("files", context.get("files", []))
            attrs.setdefault("hints", context.get("hints", []))
        super().__init__(**attrs)
        self._data = data

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        return dict(self._data)


def http_client(url: str, **options: Any) -> httpx.Client:
    """An httpx client for `http://HOST:PORT` or a `unix:/path/api.sock` server."""
    from ctui.api.settings import unix_path

    socket_path = unix_path(url)
    if socket_path is not None:
        options["transport"] = httpx.HTTPTransport(uds=socket_path)
        url = "http://ctui.local"
    return httpx.Client(base_url=url, trust_env=False, **options)


class Api:
    """One HTTP session to the server, turning answers into data or `CtuiError`s."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http_client(self.url, headers=headers, timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {"timeout": timeout} if timeout else {}
        try:
            answer = self.http.request(method, path, json=body, params=query, **extra)
        except httpx.TimeoutException as exc:
            raise CtuiError(
                f"the ctui server at {self.url} did not answer in time ({type(exc).__name__}): "
                "a busy machine? raise CTUI_REMOTE_TIMEOUT or `ctui remote connect --timeout S`"
            ) from None
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if answer.status_code < 400:
            return answer.json() if answer.content else None
        raise self._error(answer)

    def events(
        self, cursor: int, *, kinds: list[str] | None = None, until: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each event after `cursor` as the server logs it, from its event stream (SSE),
        until the monotonic deadline. A dropped stream is opened again from the last
        event seen; a server that does not answer raises as `call` does."""
        params: dict[str, Any] = {"since": cursor, "kind": kinds or None}
        while until is None or time.monotonic() < until:
            left = None if until is None else max(0.05, until - time.monotonic())
            wait = httpx.Timeout(10.0, read=STREAM_READ_S if left is None else min(left, 60.0))
            try:
                with self.http.stream(
                    "GET", "/api/events/stream", params=params, timeout=wait
                ) as answer:
                    if answer.status_code >= 400:
                        answer.read()
                        raise self._error(answer)
                    for item in _sse(answer.iter_lines()):
                        params["since"] = int(item["id"])
                        yield item
            except httpx.ReadTimeout:
                continue  # quiet past the deadline's share (the loop checks it) or a stall
            except httpx.RemoteProtocolError:
                continue  # the server closed the stream (a restart): open it again
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from None

    def _unreachable(self, exc: httpx.TransportError) -> CtuiError:
        return CtuiError(
            f"the ctui server at {self.url} does not answer ({type(exc).__name__}): start it "
            "(`ctui serve`), use --local for this repository's store, "
            "or `ctui remote disconnect`"
        )

    def _error(self, answer: httpx.Response) -> CtuiError:
        if answer.status_code == 401:
            return CtuiError(
                f"the server at {self.url} refused the token: connect again with "
                "`ctui remote connect HOST:PORT` (token from CT_API_TOKEN or --token-file)"
            )
        try:
            data = answer.json()
            message, code = str(data["error"]), int(data["exit_code"])
        except (ValueError, KeyError, TypeError):
            message, code = f"the server answered HTTP {answer.status_code}", errors.ERROR
        kind = BY_EXIT.get(code, errors.StoreError if answer.status_code == 503 else CtuiError)
        return kind(message)

    def close(self) -> None:
        self.http.close()


STREAM_READ_S = 60.0
"""The longest quiet on an event stream before it is opened again (the server's
keep-alive comes every 15 s)."""


def _sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The events of a server-sent event stream: each `data:` document with its `id:`."""
    ident: str | None = None
    data: list[str] = []
    for line in lines:
        if not line:
            if ident is not None and data:
                item = json.loads("\n".join(data))
                item["id"] = int(ident)
                yield item
            ident, data = None, []
        elif line.startswith("id:"):
            ident = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))


def lease_of(data: dict[str, Any], path_key: str = "path") -> Lease:
    now = time.time()
    expires = (
        now + data["expires_in"] if "expires_in" in data else epoch(data.get("expires_at")) or now
    )
    acquired = epoch(data.get("acquired_at")) or now
    return Lease(
        data[path_key],
        bool(data.get("glob")),
        data["holder"],
        int(data["token"]),
        data.get("intent"),
        acquired,
        acquired,
        expires,
        float(data.get("ttl") or 0),
        data.get("sha1"),
    )


def instance_of(data: dict[str, Any]) -> Instance:
    fields = {k: v for k, v in data.items() if k in Instance.FIELDS}
    for key in ("started_at", "heartbeat_at", "state_at", "ended_at"):
        fields[key] = epoch(fields.get(key))
    if "heartbeat_age" in data:
        fields["heartbeat_at"] = time.time() - float(data["heartbeat_age"])
    return Instance(**fields)


def decision_of(data: dict[str, Any]) -> Decision:
    fields = {k: v for k, v in data.items() if k in Decision.FIELDS}
    fields["created_at"] = epoch(fields.get("created_at")) or 0.0
    return Decision(**fields)


def event_of(data: dict[str, Any]) -> Event:
    return Event(
        int(data["id"]),
        epoch(data["at"]) or 0.0,
        data["kind"],
        data.get("actor"),
        data.get("subject"),
        data.get("data") or {},
    )


def seg(text: str) -> str:
    """One URL path segment, escaped."""
    from urllib.parse import quote

    return quote(text, safe="")


def local_only(what: str) -> UsageError:
    return UsageError(
        f"{what} runs on the server's machine, not over the API: run it there, or use --local"
    )


def send_import(api: Api, route: str, body: dict[str, Any], path: Any) -> Any:
    """POST a parsed import file; a file over the server's body limit says what to do."""
    try:
        return api.call("POST", route, body=body, timeout=120)
    except UsageError as exc:
        if "request body over" not in exc.message:
            raise
        raise UsageError(
            f"{path} is too big to send in one request ({exc.message}): split it, "
            "or import it on the server's machine"
        ) from None


class Part:
    """One remote part (`c.leases`, `c.tasks`, ...) sharing the coordinator's session."""

    def __init__(self, api: Api) -> None:
        self.api = api
