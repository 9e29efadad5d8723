"""The orchestrator loop that runs inside `ctui serve`: start ready threads, reap, expire, requeue.

Beside it runs the merge queue (`ctui.core.merge`): a second daemon thread that
lands queued entries whenever there are some, so a gate that takes minutes
never delays a tick. The queue's store lease keeps it to one runner at a time
across processes (a `ctui merge run` in a terminal waits its turn).
It resumes threads paused on a usage limit once their reset time has come,
and starts no ready thread of an agent kind that waits for a reset, nor one
that a budget cap (its own, its `ctui run`'s, the day's) forbids.

It is a daemon thread with its own Coordinator (its own SQLite connection), so
a slow tick never holds up a request. Every tick is one pass; errors are
recorded and the next tick tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctui.api import notifier
from ctui.core import Coordinator, CtuiError
from ctui.core.clock import iso

log = logging.getLogger("ctui.orchestrator")

READY_GRACE_S = 3.0
"""A thread just made ready is left alone this long: `ctui spawn` starts its own thread
right after creating it, and the loop must not race it to the start."""


class Orchestrator:
    """Ticks every `interval` seconds until `stop()`."""

    def __init__(
        self,
        store_dir: Path,
        *,
        max_concurrent: int,
        interval: float = 2.0,
        publish: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.publish = publish  # told `describe()` after every tick (other processes show it)
        self.max_concurrent = max_concurrent
        self.interval = interval
        self.ticks = 0
        self.last: dict[str, Any] = {}
        self.last_at: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ctui-orchestrator", daemon=True)
        self.merge_last: dict[str, Any] = {}
        self.merge_error: str | None = None
        self._merger = threading.Thread(target=self._run_merge, name="ctui-merge", daemon=True)
        self._notifier = threading.Thread(
            target=lambda: notifier.run(self.store_dir, self._stop), name="ctui-notify", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        self._merger.start()
        self._notifier.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def describe(self) -> dict[str, Any]:
        return {
            "running": self._thread.is_alive(),
            "interval": self.interval,
            "max_concurrent": self.max_concurrent,
            "ticks": self.ticks,
            "last_tick_at": iso(self.last_at),
            "last": self.last,
            "last_error": self.last_error,
            "merge": {"last": self.merge_last, "last_error": self.merge_error},
        }

    def _run(self) -> None:
        coord = Coordinator.open(store_dir=self.store_dir)
        try:
            while not self._stop.is_set():
                try:
                    self.last = self.tick(coord)
                    self.last_error = None
                except Exception as exc:  # the loop must outlive any one bad tick
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("orchestrator tick failed: %s", self.last_error)
                self.ticks += 1
                self.last_at = time.time()
                if self.publish is not None:
                    self.publish(self.describe())
                self._stop.wait(self.interval)
        finally:
            coord.close()

    def _run_merge(self) -> None:
        coord = Coordinator.open(store_dir=self.store_dir)
        try:
            while not self._stop.is_set():
                try:
                    coord.merge.requeue_resumed()
                    if coord.merge.list(status="queued"):
                        self.merge_last = coord.merge.run(report=self._merge_say)
                    self.merge_error = None
                except Exception as exc:  # a broken config or repository: say so, keep going
                    self.merge_error = f"{type(exc).__name__}: {exc}"
                    log.warning("merge queue run failed: %s", self.merge_error)
                self._stop.wait(self.interval)
        finally:
            coord.close()

    @staticmethod
    def _merge_say(line: str) -> None:
        log.info("merge queue: %s", line)

    def tick(self, coord: Coordinator) -> dict[str, Any]:
        """One pass: `cleanup()` (reap, expire leases and claims), then start ready threads."""
        result = dict(coord.cleanup())
        result["threads_resumed"] = self._resume_due(coord)
        result["threads_started"] = self._start_ready(coord)
        from ctui.core.threads import limits

        result["held"] = {agent: iso(until) for agent, until in limits.held(coord).items()}
        return result

    def _resume_due(self, coord: Coordinator) -> list[str]:
        """Resume threads paused on a usage limit whose reset time has come."""
        from ctui.core.threads import limits

        resumed: list[str] = []
        threads: Any = coord.threads
        if not hasattr(threads, "resume"):
            return resumed
        running = len(threads.list(status="running"))
        for name in limits.due(coord):
            if running >= self.max_concurrent:
                break
            try:
                threads.resume(name)
            except CtuiError as exc:
                limits.give_up(
                    coord, name, f"could not resume after the usage limit: {exc.message}"
                )
                continue
            resumed.append(name)
            running += 1
        return resumed

    def _start_ready(self, coord: Coordinator) -> list[str]:
        threads: Any = coord.threads
        if not hasattr(threads, "list") or not hasattr(threads, "start"):
            return []
        from ctui.core import hostid
        from ctui.core.threads import budget, limits

        running = len(threads.list(status="running"))
        started = []
        settled = coord.now() - READY_GRACE_S
        held = limits.held(coord)
        for t in threads.list(status="ready"):
            if running >= self.max_concurrent:
                break
            if t.updated_at > settled or t.agent in held:
                continue
            if not hostid.is_local(t.host_id, t.host):  # made on another host: started there
                continue
            if budget.blocked(coord, thread=t.name) is not None:
                continue
            try:
                threads.start(t.name)
            except CtuiError as exc:
                log.warning("could not start thread %s: %s", t.name, exc.message)
                continue
            started.append(t.name)
            running += 1
        return started
