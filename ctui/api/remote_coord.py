"""Remote parts over the coordination routes: leases, instances, decisions and events."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ctui.api.wire import Part, decision_of, event_of, instance_of, lease_of, seg, send_import
from ctui.core.decisions import Decision
from ctui.core.events import Event
from ctui.core.instances import Instance
from ctui.core.leases import Lease


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
        from ctui.core import hostid

        keep = ("role", "task", "session_id", "pid", "ttl", "agent", "cwd", "state")
        body = {
            "id": instance_id,
            **{k: v for k, v in fields.items() if k in keep and v is not None},
            "host": fields.get("host") or hostid.HOSTNAME,  # the pid is this host's, not the
            "host_id": fields.get("host_id") or hostid.local(),  # server's
        }
        return instance_of(self.api.call("POST", "/api/instances", body=body))

    def get(self, instance_id: str) -> Instance:
        return instance_of(self.api.call("GET", f"/api/instances/{seg(instance_id)}"))

    def heartbeat(self, instance_id: str, *, state: str | None = None, **_: Any) -> Instance:
        body = {"state": state} if state else None
        return instance_of(
            self.api.call("POST", f"/api/instances/{seg(instance_id)}/heartbeat", body=body)
        )

    def unregister(self, instance_id: str, **_: Any) -> dict[str, int]:
        data = self.api.call("DELETE", f"/api/instances/{seg(instance_id)}")
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
        return decision_of(self.api.call("GET", f"/api/decisions/{seg(decision_id)}"))

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

    def import_file(self, path: Path, *, author: str = "operator") -> dict[str, Any]:
        """Read and check the log here (as a local import would), then send it in one request."""
        from ctui.core.decisions.import_log import load_log, parse_log

        items = load_log(Path(path))
        parse_log(items, author)  # the file's errors, named as a local import names them
        body = {"decisions": items, "author": author}
        return dict(send_import(self.api, "/api/decisions/import", body, path))


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
        self,
        cursor: int = 0,
        *,
        poll: float = 0.5,
        until: float | None = None,
        kinds: builtins.list[str] | None = None,
    ) -> Iterator[Event]:
        """Events as the server logs them, from its event stream (no polling); `poll`
        is kept for the local signature."""
        for item in self.api.events(cursor, kinds=kinds, until=until):
            yield event_of(item)
