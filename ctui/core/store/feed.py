"""How a face waits for the store to change: one seam, one feed per backend.

`store.change_feed()` hands out a `ChangeFeed`, which serves two kinds of waiter:

* `wait(timeout)`, blocking, for one thread (`ctui events --follow`): True when
  the store may have changed since the last call. The first call arms the feed
  and answers True at once, so a reader that reads, then waits, never misses a
  change made between its read and its first wait.
* `changes(idle=...)`, a subscription to iterate on an event loop (the control
  room, the API's event stream): `StoreChange`s as they happen, and an empty one
  after `idle` quiet seconds when asked. One watcher per feed serves every
  subscription, and it stops when the last one is closed.

On SQLite the database is a file under `.ctui/` (`FileFeed`): `wait` polls
`PRAGMA data_version` on a connection of its own (it moves when another
connection commits), `changes` watches the folder with watchfiles and asks
`watch.classify` what a batch of changes means. A PostgreSQL store has no
shared folder: its feed (`listen.ListenFeed`) waits on LISTEN instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Collection
from pathlib import Path, PurePath

from ctui.core.store.watch import StoreChange, classify, relevant

POLL_S = 0.05
"""How often a blocking SQLite wait reads `data_version` (a read of shared memory)."""


class ChangeFeed:
    """What every backend's feed shares: arming, the async subscribers, closing.

    A backend supplies `_arm`, `_wait` and `_close` for the blocking side and
    `_produce(stop)` for the async side (it calls `publish` on the event loop).
    """

    exact = False
    """True when the async side can miss no change (so a stream need not read now and then
    just in case); watchfiles may miss one while its watcher starts."""

    def __init__(self) -> None:
        self._armed = False
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    # -- the blocking side --------------------------------------------------

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds for a change; True when the store may have changed."""
        if not self._armed:
            self._arm()
            self._armed = True
            return True
        return self._wait(max(0.0, timeout))

    def close(self) -> None:
        """Let go of the blocking side's connection (the async side stops with its last
        subscriber, or with `aclose`)."""
        self._close()
        self._armed = False

    def _arm(self) -> None:
        raise NotImplementedError

    def _wait(self, timeout: float) -> bool:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    # -- the async side -----------------------------------------------------

    def changes(self, idle: float | None = None) -> Subscription:
        """Subscribe now (changes from this moment on are kept for the caller), then iterate:
        each change (bursts folded into one), and `StoreChange()` after `idle` quiet seconds.
        Close it (`contextlib.aclosing`) when done; the watcher stops with the last one."""
        sub = Subscription(self, idle)
        self._subscribers.add(sub)
        self._start()
        return sub

    def _leave(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        if not self._subscribers and self._stop is not None:
            self._stop.set()

    def publish(self, change: StoreChange) -> None:
        """Hand a change to every subscriber (call on the event loop)."""
        if not change:
            return
        for sub in self._subscribers:
            sub.pending = sub.pending | change
            sub.ready.set()

    async def aclose(self) -> None:
        """Stop the watcher and wait for it, then close the blocking side."""
        if self._stop is not None:
            self._stop.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()  # at once: a listener may be waiting on its socket for a second
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        self.close()

    def _start(self) -> None:
        if self._stop is not None and not self._stop.is_set() and self._task is not None:
            return  # running; a watcher told to stop winds down alone while a new one starts
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._produce(self._stop))

    async def _produce(self, stop: asyncio.Event) -> None:
        raise NotImplementedError


class Subscription:
    """One async waiter on a feed: registered when made, so a reader that subscribes, reads
    and then iterates misses nothing committed after it subscribed."""

    __slots__ = ("_closed", "_feed", "_idle", "pending", "ready")

    def __init__(self, feed: ChangeFeed, idle: float | None) -> None:
        self._feed = feed
        self._idle = idle
        self._closed = False
        self.pending = StoreChange()
        self.ready = asyncio.Event()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> StoreChange:
        if self._closed:
            raise StopAsyncIteration
        try:
            await asyncio.wait_for(self.ready.wait(), self._idle)
        except TimeoutError:
            return StoreChange()
        self.ready.clear()
        change, self.pending = self.pending, StoreChange()
        return change

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._feed._leave(self)


class FileFeed(ChangeFeed):
    """The SQLite store's feed: `data_version` for blocking waits, watchfiles for async ones."""

    def __init__(self, folder: Path, db_name: str = "ctui.db") -> None:
        super().__init__()
        self.folder = folder
        self.db_path = folder / db_name
        self._conn: sqlite3.Connection | None = None
        self._inode = 0
        self._seen: tuple[int, int] | None = None

    def _arm(self) -> None:
        self._seen = self._read()

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            now = self._read()
            if now != self._seen:
                self._seen = now
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_S, left))

    def _read(self) -> tuple[int, int] | None:
        """The database file's inode and this connection's `data_version` (None: no file).

        The inode catches a store that was replaced: a connection to the old file
        would never see another commit.
        """
        try:
            inode = os.stat(self.db_path).st_ino
        except OSError:
            self._close()
            return None
        try:
            if self._conn is None or inode != self._inode:
                self._close()
                # mode=rw: never create the database a follower is waiting for
                self._conn = sqlite3.connect(
                    f"{self.db_path.resolve().as_uri()}?mode=rw",
                    uri=True,
                    timeout=1.0,
                    check_same_thread=False,
                )
                self._inode = inode
            return inode, int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            self._close()
            return None

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _produce(self, stop: asyncio.Event) -> None:
        await watch_folder(self.folder, stop, self.publish)


async def watch_folder(
    folder: Path,
    stop: asyncio.Event,
    publish: Callable[[StoreChange], None],
    *,
    only: Collection[str] | None = None,
) -> None:
    """Publish what changes under `folder` (only the files named `only`, when given) until
    `stop`; a folder that is missing or goes away is waited for, then watched again."""
    from watchfiles import awatch

    where = str(folder.resolve())

    def wanted(_change: object, path: str) -> bool:
        return relevant(where, path) and (only is None or PurePath(path).name in only)

    while not stop.is_set():
        if not Path(where).is_dir():
            await pause(stop, 0.5)
            continue
        try:
            # a change is yielded 5 ms after the last one seen, a burst at most every 10 ms
            # (the control room's change-to-screen budget; 20/10 cost it 10 ms a change)
            async for found in awatch(
                where, debounce=10, step=5, recursive=False, stop_event=stop, watch_filter=wanted
            ):
                publish(classify(where, found))
        except Exception:  # the folder went away under the watcher: wait for it again
            pass
        await pause(stop, 0.2)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
