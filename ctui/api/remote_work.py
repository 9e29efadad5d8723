"""Remote parts over the work routes: tasks, discoveries and threads."""

from __future__ import annotations

import builtins
import time
from pathlib import Path
from typing import Any

from ctui.api.wire import Part, Record, local_only, seg, send_import


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
        return Record(self.api.call("GET", f"/api/tasks/{seg(task_id)}"))

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

    def complete(
        self, task_id: str, instance: str, result: str | None = None, attempt: int | None = None
    ) -> Record:
        body = {"instance": instance, "result": result, "attempt": attempt}
        return Record(self.api.call("POST", f"/api/tasks/{seg(task_id)}/complete", body=body))

    def fail(
        self, task_id: str, instance: str, reason: str | None = None, attempt: int | None = None
    ) -> Record:
        body = {"instance": instance, "reason": reason, "attempt": attempt}
        return Record(self.api.call("POST", f"/api/tasks/{seg(task_id)}/fail", body=body))

    def cancel(self, task_id: str, by: str = "operator") -> Record:
        return Record(self.api.call("POST", f"/api/tasks/{seg(task_id)}/cancel", body={"by": by}))

    def retry(self, task_id: str, by: str = "operator") -> Record:
        return Record(self.api.call("POST", f"/api/tasks/{seg(task_id)}/retry", body={"by": by}))

    def depend(self, task_id: str, on: Any, by: str = "operator") -> Record:
        body = {"on": list(on), "by": by}
        return Record(self.api.call("POST", f"/api/tasks/{seg(task_id)}/depend", body=body))

    def counts(self) -> dict[str, int]:
        """The server's own counts (every status, zeros too), as `GET /api/plan` gives them."""
        return dict(self.api.call("GET", "/api/plan")["counts"])

    def import_file(self, path: str | Path, *, by: str = "operator") -> dict[str, Any]:
        """Read and check the file here (as a local import would), then send it in one request.

        The server applies it as a local import does: in short batches, after the whole file
        was checked here (a bad file changes nothing).
        """
        from ctui.core.tasks.plan import load_tasks

        doc = load_tasks(Path(path))
        return dict(send_import(self.api, "/api/tasks/import", {**doc, "by": by}, path))

    def plan(self) -> Record | None:
        found = self.api.call("GET", "/api/plan")["plan"]
        return Record(found) if found else None

    def set_plan(self, goal: str, text: str = "", *, by: str = "operator") -> Record:
        body = {"goal": goal, "text": text or "", "by": by}
        return Record(self.api.call("PUT", "/api/plan", body=body))


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
        caps = fields.get("budget") or {}
        body = {
            "name": name,
            "start": start,
            **{k: v for k, v in fields.items() if k in keep and v is not None},
            **{f"budget_{unit}": value for unit, value in caps.items()},
        }
        return RemoteThread(self.api.call("POST", "/api/threads", body=body, timeout=120))

    def get(self, name: str) -> RemoteThread:
        return RemoteThread(self.api.call("GET", f"/api/threads/{seg(name)}"))

    def list(self, status: str | None = None) -> builtins.list[RemoteThread]:
        found = self.api.call("GET", "/api/threads", params={"status": status})
        return [RemoteThread(item) for item in found]

    def start(self, name: str, *, again: bool = False, **_: Any) -> RemoteThread:
        body = {"again": again}
        return RemoteThread(
            self.api.call("POST", f"/api/threads/{seg(name)}/start", body=body, timeout=120)
        )

    def resume(
        self, name: str, prompt: str | None = None, *, budget: dict[str, float] | None = None
    ) -> RemoteThread:
        body: dict[str, Any] = {"prompt": prompt}
        body.update({f"budget_{unit}": value for unit, value in (budget or {}).items()})
        return RemoteThread(
            self.api.call("POST", f"/api/threads/{seg(name)}/resume", body=body, timeout=120)
        )

    def stop(self, name: str, *, grace: float | None = None, by: str = "operator") -> RemoteThread:
        body = {"grace": grace, "by": by}
        return RemoteThread(
            self.api.call("POST", f"/api/threads/{seg(name)}/stop", body=body, timeout=700)
        )

    def wait(self, name: str, *, timeout: float | None = None, poll: float = 0.5) -> RemoteThread:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            t = self.get(name)
            if not t.is_active or (deadline is not None and time.monotonic() >= deadline):
                return t
            time.sleep(poll)

    def logs(self, name: str, tail: int = 200) -> str:
        return "\n".join(self.log_chunk(name, tail=tail)["lines"])

    def log_chunk(self, name: str, *, offset: int | None = None, tail: int = 200) -> dict[str, Any]:
        """The last `tail` lines, or with `offset` the lines after it; `next_offset` continues."""
        params = {"tail": max(0, tail)} if offset is None else {"offset": offset}
        return dict(self.api.call("GET", f"/api/threads/{seg(name)}/logs", params=params))

    def log_path(self, name: str) -> Path:
        raise local_only("following a log file")
