"""`RemoteCoordinator`: the Coordinator's shape over HTTP, for a CLI connected to a server.

    c = RemoteCoordinator("http://127.0.0.1:31337", token)
    lease = c.leases.acquire("src/app.py", instance="operator")   # a real `Lease`

The parts (`leases`, `instances`, `decisions`, `tasks`, `discoveries`,
`threads`, `events`) have the method names and return types the CLI uses, so a
command module works unchanged on either side. Error answers are raised again
as the `CtuiError` subclass their `exit_code` names; a server that does not
answer is an error that says so, never a quiet fall-back to the local store.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from ctui.api.settings import read_json
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


class Api:
    """One HTTP session to the server, turning answers into data or `CtuiError`s."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, trust_env=False
        )

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
        except httpx.TransportError as exc:
            raise CtuiError(
                f"the ctui server at {self.url} does not answer ({type(exc).__name__}): start it "
                "(`ctui serve`), use --local for this repository's store, "
                "or `ctui remote disconnect`"
            ) from None
        if answer.status_code < 400:
            return answer.json() if answer.content else None
        raise self._error(answer)

    def _error(self, answer: httpx.Response) -> CtuiError:
        if answer.status_code == 401:
            return CtuiError(
                f"the server at {self.url} refused the token: connect again with "
                "`ctui remote connect HOST:PORT --token T`"
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
    fields = {k: v for k, v in data.items() if k in Instance.__dataclass_fields__}
    for key in ("started_at", "heartbeat_at", "state_at", "ended_at"):
        fields[key] = epoch(fields.get(key))
    if "heartbeat_age" in data:
        fields["heartbeat_at"] = time.time() - float(data["heartbeat_age"])
    return Instance(**fields)


def decision_of(data: dict[str, Any]) -> Decision:
    fields = {k: v for k, v in data.items() if k in Decision.__dataclass_fields__}
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


class Part:
    def __init__(self, api: Api) -> None:
        self.api = api


class RemoteLeases(Part):
    def acquire(
        self,
        path: str,
        *,
        instance: str,
        intent: str | None = None,
        ttl: float | None = None,
        wait: float | None = None,
        cwd: Path | None = None,
    ) -> Lease:
        body = {"path": path, "instance": instance, "intent": intent, "ttl": ttl, "wait": wait}
        return lease_of(self.api.call("POST", "/api/locks", body=body, timeout=(wait or 0) + 30))

    def release(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        return lease_of(
            self.api.call("POST", "/api/locks/release", body={"path": path, "instance": instance})
        )

    def renew(
        self, path: str, *, instance: str, ttl: float | None = None, cwd: Path | None = None
    ) -> Lease:
        body = {"path": path, "instance": instance, "ttl": ttl}
        return lease_of(self.api.call("POST", "/api/locks/renew", body=body))

    def verify(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        return lease_of(
            self.api.call("POST", "/api/locks/verify", body={"path": path, "instance": instance})
        )

    def force_release(
        self, path: str, *, reason: str, by: str = "operator", cwd: Path | None = None
    ) -> Lease:
        body = {"path": path, "reason": reason, "by": by}
        return lease_of(self.api.call("POST", "/api/locks/force-release", body=body))

    def check(self, path: str, *, cwd: Path | None = None) -> Lease | None:
        data = self.api.call("GET", "/api/locks/check", params={"path": path})
        return lease_of(data, "path_leased") if data.get("held") else None

    def require_key(self, path: str, cwd: Path | None = None) -> str:
        return str(self.api.call("GET", "/api/locks/check", params={"path": path})["path"])

    def list(
        self, *, holder: str | None = None, include_expired: bool = False
    ) -> builtins.list[Lease]:
        found = self.api.call(
            "GET", "/api/locks", params={"holder": holder, "all": include_expired or None}
        )
        return [lease_of(item) for item in found]


class RemoteInstances(Part):
    def register(self, *, instance_id: str | None = None, **fields: Any) -> Instance:
        keep = ("role", "task", "session_id", "pid", "ttl", "agent", "cwd", "state")
        body = {
            "id": instance_id,
            **{k: v for k, v in fields.items() if k in keep and v is not None},
        }
        return instance_of(self.api.call("POST", "/api/instances", body=body))

    def get(self, instance_id: str) -> Instance:
        return instance_of(self.api.call("GET", f"/api/instances/{_seg(instance_id)}"))

    def heartbeat(self, instance_id: str, *, state: str | None = None, **_: Any) -> Instance:
        body = {"state": state} if state else None
        return instance_of(
            self.api.call("POST", f"/api/instances/{_seg(instance_id)}/heartbeat", body=body)
        )

    def unregister(self, instance_id: str, **_: Any) -> dict[str, int]:
        data = self.api.call("DELETE", f"/api/instances/{_seg(instance_id)}")
        return {k: v for k, v in data.items() if k != "id"}

    def list(self, *, include_ended: bool = False) -> builtins.list[Instance]:
        found = self.api.call("GET", "/api/instances", params={"all": include_ended or None})
        return [instance_of(item) for item in found]


class RemoteDecisions(Part):
    def add(self, *, category: str, title: str, author: str, **fields: Any) -> Decision:
        keep = ("description", "scope", "status", "supersedes", "tags")
        body = {
            "category": category,
            "title": title,
            "author": author,
            **{k: v for k, v in fields.items() if k in keep and v is not None},
        }
        return decision_of(self.api.call("POST", "/api/decisions", body=body))

    def get(self, decision_id: str) -> Decision:
        return decision_of(self.api.call("GET", f"/api/decisions/{_seg(decision_id)}"))

    def list(
        self,
        *,
        category: str | None = None,
        author: str | None = None,
        status: str | None = None,
        since: float | None = None,
        limit: int = 50,
    ) -> builtins.list[Decision]:
        params = {
            "category": category,
            "author": author,
            "status": status,
            "since": since,
            "limit": limit,
        }
        return [decision_of(item) for item in self.api.call("GET", "/api/decisions", params=params)]

    def search(self, text: str, *, limit: int = 20) -> builtins.list[Decision]:
        found = self.api.call("GET", "/api/decisions/search", params={"q": text, "limit": limit})
        return [decision_of(item) for item in found]

    def count(self) -> int:
        return int(self.api.call("GET", "/api/status")["counts"]["decisions"])

    def import_file(self, *_: Any, **__: Any) -> Any:
        raise _local_only("importing a decision log")


class RemoteTasks(Part):
    def add(self, description: str, **fields: Any) -> Record:
        body: dict[str, Any] = {"description": description}
        for key in ("priority", "depends_on", "files", "hints", "created_by", "max_attempts"):
            value = fields.get(key)
            if value is not None:
                body[key] = (
                    [value]
                    if isinstance(value, str) and key in ("files", "hints")
                    else (list(value) if isinstance(value, tuple | list) else value)
                )
        return Record(self.api.call("POST", "/api/tasks", body=body))

    def get(self, task_id: str) -> Record:
        return Record(self.api.call("GET", f"/api/tasks/{_seg(task_id)}"))

    def list(self, status: str | None = None) -> builtins.list[Record]:
        return [
            Record(item) for item in self.api.call("GET", "/api/tasks", params={"status": status})
        ]

    def claim(self, instance: str, task_id: str | None = None) -> Record:
        return Record(
            self.api.call(
                "POST", "/api/tasks/claim", body={"instance": instance, "task_id": task_id}
            )
        )

    def complete(self, task_id: str, instance: str, result: str | None = None) -> Record:
        body = {"instance": instance, "result": result}
        return Record(self.api.call("POST", f"/api/tasks/{_seg(task_id)}/complete", body=body))

    def fail(self, task_id: str, instance: str, reason: str | None = None) -> Record:
        body = {"instance": instance, "reason": reason}
        return Record(self.api.call("POST", f"/api/tasks/{_seg(task_id)}/fail", body=body))

    def cancel(self, task_id: str, by: str = "operator") -> Record:
        return Record(self.api.call("POST", f"/api/tasks/{_seg(task_id)}/cancel", body={"by": by}))

    def retry(self, task_id: str, by: str = "operator") -> Record:
        return Record(self.api.call("POST", f"/api/tasks/{_seg(task_id)}/retry", body={"by": by}))

    def depend(self, task_id: str, on: Any, by: str = "operator") -> Record:
        body = {"on": list(on), "by": by}
        return Record(self.api.call("POST", f"/api/tasks/{_seg(task_id)}/depend", body=body))

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for task in self.list():
            found[task.status] = found.get(task.status, 0) + 1
        return found

    def import_file(self, *_: Any, **__: Any) -> Any:
        raise _local_only("importing a task file")


class RemoteDiscoveries(Part):
    def add(self, text: str, *, instance: str = "operator", tags: Any = ()) -> Record:
        body = {
            "text": text,
            "tags": [tags] if isinstance(tags, str) else list(tags or ()),
            "instance": instance,
        }
        return Record(self.api.call("POST", "/api/discoveries", body=body))

    def list(
        self,
        *,
        tag: str | None = None,
        instance: str | None = None,
        search: str | None = None,
        after_id: int | None = None,
        since: float | None = None,
        limit: int = 50,
        **_: Any,
    ) -> builtins.list[Record]:
        params = {
            "since": since,
            "tag": tag,
            "instance": instance,
            "q": search,
            "since_id": after_id,
            "limit": limit,
        }
        return [Record(item) for item in self.api.call("GET", "/api/discoveries", params=params)]

    def search(self, text: str, *, limit: int = 50) -> builtins.list[Record]:
        return self.list(search=text, limit=limit)


class RemoteThread(Record):
    """A thread from the API, with the two behaviours the CLI calls on `Thread`."""

    methods = ("runtime", "is_active")

    @property
    def is_active(self) -> bool:
        return self.status in ("running", "waiting")

    def runtime(self, now: float | None = None) -> float | None:
        value = self._data.get("runtime")
        return float(value) if value is not None else None


class RemoteThreads(Part):
    def create(self, name: str, *, start: bool = False, **fields: Any) -> RemoteThread:
        keep = ("mode", "agent", "template", "prompt", "context", "command", "worktree", "base")
        body = {
            "name": name,
            "start": start,
            **{k: v for k, v in fields.items() if k in keep and v is not None},
        }
        return RemoteThread(self.api.call("POST", "/api/threads", body=body, timeout=120))

    def get(self, name: str) -> RemoteThread:
        return RemoteThread(self.api.call("GET", f"/api/threads/{_seg(name)}"))

    def list(self, status: str | None = None) -> builtins.list[RemoteThread]:
        found = self.api.call("GET", "/api/threads", params={"status": status})
        return [RemoteThread(item) for item in found]

    def start(self, name: str, *, again: bool = False, **_: Any) -> RemoteThread:
        body = {"again": again}
        return RemoteThread(
            self.api.call("POST", f"/api/threads/{_seg(name)}/start", body=body, timeout=120)
        )

    def stop(self, name: str, *, grace: float | None = None, by: str = "operator") -> RemoteThread:
        body = {"grace": grace, "by": by}
        return RemoteThread(
            self.api.call("POST", f"/api/threads/{_seg(name)}/stop", body=body, timeout=700)
        )

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.5) -> RemoteThread:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            t = self.get(name)
            if not t.is_active or (deadline is not None and time.monotonic() >= deadline):
                return t
            time.sleep(poll)

    def logs(self, name: str, tail: int = 200) -> str:
        data = self.api.call("GET", f"/api/threads/{_seg(name)}/logs", params={"tail": tail})
        return "\n".join(data["lines"])

    def log_path(self, name: str) -> Path:
        raise _local_only("following a log file")


class RemoteEvents(Part):
    def since(
        self, cursor: int = 0, *, limit: int = 500, kinds: list[str] | None = None
    ) -> builtins.list[Event]:
        found = self.api.call(
            "GET", "/api/events", params={"since": cursor, "limit": limit, "kind": kinds}
        )
        return [event_of(item) for item in found]

    def recent(self, limit: int = 50) -> builtins.list[Event]:
        return [
            event_of(item) for item in self.api.call("GET", "/api/events", params={"tail": limit})
        ]

    def latest_id(self) -> int:
        return int(self.api.call("GET", "/api/events/latest")["id"])

    def publish(
        self,
        kind: str,
        *,
        actor: str | None = None,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        body = {"kind": kind, "actor": actor, "subject": subject, "data": data or {}}
        return int(self.api.call("POST", "/api/events", body=body)["id"])

    def follow(
        self, cursor: int = 0, *, poll: float = 0.5, until: float | None = None
    ) -> Iterator[Event]:
        while until is None or time.monotonic() < until:
            batch = self.since(cursor)
            for event in batch:
                cursor = event.id
                yield event
            if not batch:
                time.sleep(poll)


class RemoteCoordinator:
    """Stands in for `Coordinator` in the CLI while `.ctui/remote.json` names a server."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.api = Api(url, token)
        self.leases = RemoteLeases(self.api)
        self.instances = RemoteInstances(self.api)
        self.decisions = RemoteDecisions(self.api)
        self.tasks = RemoteTasks(self.api)
        self.discoveries = RemoteDiscoveries(self.api)
        self.threads = RemoteThreads(self.api)
        self.events = RemoteEvents(self.api)
        self.remote = True

    @classmethod
    def from_file(cls, path: Path) -> RemoteCoordinator:
        data = read_json(path)
        if data is None or not isinstance(data.get("url"), str):
            raise UsageError(
                f"not connected to a ctui server ({path} is missing or unreadable): "
                "run `ctui remote connect HOST:PORT --token T`, or drop --remote"
            )
        return cls(data["url"], data.get("token"))

    @staticmethod
    def now() -> float:
        return time.time()

    @property
    def root(self) -> Path:
        raise _local_only("this command")

    def snapshot(self) -> dict[str, Any]:
        return dict(self.api.call("GET", "/api/status"))

    def cleanup(self) -> dict[str, Any]:
        return dict(self.api.call("POST", "/api/cleanup"))

    def close(self) -> None:
        self.api.close()


def _seg(text: str) -> str:
    """One URL path segment, escaped."""
    from urllib.parse import quote

    return quote(text, safe="")


def _local_only(what: str) -> UsageError:
    return UsageError(
        f"{what} runs on the server's machine, not over the API: run it there, or use --local"
    )
