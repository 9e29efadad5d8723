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

import time
from pathlib import Path
from typing import Any

from ctui.api.remote_coord import RemoteDecisions, RemoteEvents, RemoteInstances, RemoteLeases
from ctui.api.remote_work import RemoteDiscoveries, RemoteTasks, RemoteThreads
from ctui.api.settings import read_json
from ctui.api.wire import Api, local_only
from ctui.core.errors import UsageError

REMOTE_TIMEOUT_S = 30.0


def remote_timeout(saved: Any = None) -> float:
    """Seconds to wait for each answer: `CTUI_REMOTE_TIMEOUT`, else what `remote connect
    --timeout` saved, else 30 (a loaded machine can take seconds to answer)."""
    import os

    given = os.environ.get("CTUI_REMOTE_TIMEOUT")
    if given:
        try:
            value = float(given)
        except ValueError:
            value = 0.0
        if not 0 < value < float("inf"):
            raise UsageError(f"CTUI_REMOTE_TIMEOUT={given!r} is not a positive number of seconds")
        return value
    if isinstance(saved, (int, float)) and 0 < saved < float("inf"):
        return float(saved)
    return REMOTE_TIMEOUT_S


class RemoteCoordinator:
    """Stands in for `Coordinator` in the CLI while `.ctui/remote.json` names a server."""

    def __init__(self, url: str, token: str | None, timeout: float = REMOTE_TIMEOUT_S) -> None:
        self.url = url
        self.api = Api(url, token, timeout=timeout)
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
                "run `ctui remote connect HOST:PORT`, or drop --remote"
            )
        return cls(data["url"], data.get("token"), remote_timeout(data.get("timeout")))

    @staticmethod
    def now() -> float:
        return time.time()

    @property
    def root(self) -> Path:
        raise local_only("this command")

    def snapshot(self) -> dict[str, Any]:
        """Fresh, so a CLI sees its own renewals and heartbeats (they log no event)."""
        return dict(self.api.call("GET", "/api/status", params={"fresh": 1}))

    def cleanup(self) -> dict[str, Any]:
        return dict(self.api.call("POST", "/api/cleanup"))

    def conflicts(self) -> dict[str, Any]:
        """What `radar.scan` finds on the server's repository (its worktrees, its leases)."""
        return dict(self.api.call("GET", "/api/conflicts"))

    def close(self) -> None:
        self.api.close()
