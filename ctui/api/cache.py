"""Status documents shared by concurrent readers instead of rebuilt for each of them.

`/api/status` is what dashboards and remote CLIs poll; building it costs a few
milliseconds of CPU per thousand leases, and sixteen clients building it at
once in one process are slower together than one after another (the GIL, and
sixteen copies of every lease alive at once). Two ways to share it:

- `body()`, the default: keyed by the newest event id (every change that
  matters is logged) plus a 100 ms time bucket, the precision of the
  document's age fields, which also bounds how stale an unlogged heartbeat or
  renewal can look. The key is read before the build, so a change that lands
  during a build makes the next reader rebuild.
- `fresh()`, for `?fresh=1`: a document whose build began after the request
  arrived, so it shows every write that finished before the request was
  sent. Readers that arrive while a build runs wait for the next one, and one
  build then answers all of them.
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
        self._built = threading.Condition()
        self._started = 0  # fresh builds begun
        self._done = 0  # fresh builds finished (or failed)
        self._fresh = b""
        self._error: BaseException | None = None
        self.builds = 0

    def body(self, coord: Coordinator) -> bytes:
        """The JSON bytes of `coord.snapshot()`, current to the last logged change."""
        with self._lock:
            key = (coord.events.latest_id(), int(time.monotonic() / BUCKET_S))
            if key != self._key:
                self._body = _render(coord)
                self._key = key
                self.builds += 1
            return self._body

    def fresh(self, coord: Coordinator) -> bytes:
        """The JSON bytes of a snapshot taken after this call began."""
        with self._built:
            wanted = self._started + 1
            while self._done < wanted:
                if self._started > self._done or self._started >= wanted:
                    # one build at a time; once ours (or a later one) has begun, it is ours
                    self._built.wait()
                    continue
                self._started += 1
                number = self._started
                self._built.release()
                try:
                    body, error = _render(coord), None
                except BaseException as exc:  # every waiter of this build sees the error
                    body, error = b"", exc
                finally:
                    self._built.acquire()
                self._fresh, self._error, self._done = body, error, number
                self.builds += 1
                self._built.notify_all()
            if self._error is not None:
                raise self._error
            return self._fresh


def _render(coord: Coordinator) -> bytes:
    data: Any = coord.snapshot()
    return json.dumps(data, separators=(",", ":"), default=str, ensure_ascii=False).encode()
