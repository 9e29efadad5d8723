"""A status document shared by concurrent readers, rebuilt when the store changes.

`/api/status` is what dashboards and remote CLIs poll; building it costs a few
milliseconds of CPU per thousand leases. The cache key is the newest event id
(every change that matters is logged) plus a 100 ms time bucket, the precision
of the document's age fields, which also bounds how stale an unlogged
heartbeat or renewal can look. The key is read before the build, so a change
that lands during a build makes the next reader rebuild. One build runs at a
time; readers that arrive meanwhile wait for it instead of repeating it.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ctui.core import Coordinator

BUCKET_S = 0.1


class StatusCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._body = b""
        self.builds = 0

    def body(self, coord: Coordinator) -> bytes:
        """The JSON bytes of `coord.snapshot()`, current to the last logged change."""
        with self._lock:
            key = (coord.events.latest_id(), int(time.monotonic() / BUCKET_S))
            if key != self._key:
                data: Any = coord.snapshot()
                self._body = json.dumps(
                    data, separators=(",", ":"), default=str, ensure_ascii=False
                ).encode()
                self._key = key
                self.builds += 1
            return self._body
