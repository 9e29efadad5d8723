"""How the control room stays live: watch, coalesce, read in a thread, diff in place.

An async worker iterates the store's change feed (on SQLite, watchfiles on
`.ctui/` with a 10 ms debounce; on PostgreSQL, LISTEN) and posts `StoreChanged`,
which replaces any copy already queued; `reload()` starts one read at a time
(a change during a read asks for one more read, never a queue of them) through
the store's reader (`ctui.tui.aio`: aiosqlite on the event loop for a local
SQLite store, the core in a thread otherwise); a watched change may read only
the panes its events touched, and the tick reads everything once the files
changed since the last full read. The read posts `Loaded` and the app diffs the panes.
A one-second tick redraws countdowns from the last snapshot, and reloads when
remote (no files to watch), when in trouble (retrying) or when the database
files changed without an event (a watcher that died with a deleted folder).
A store whose file was replaced is reopened.
"""

from __future__ import annotations

import contextlib
import gc
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from textual import work
from textual.worker import get_current_worker

from ctui.tui.aio import CoreReader, SnapshotReader, SqliteReader
from ctui.tui.messages import DiffsMeasured, Loaded, StoreChanged, StoreTrouble
from ctui.tui.rows import PANE_IDS, TICKING
from ctui.tui.snapshot import local_root
from ctui.tui.widgets.header import StatusBar

RECONCILE_S = 3.0
"""At most this long between full reads while the watcher reports changes."""
GC_THRESHOLD = (20_000, 50, 100)
"""The collector's thresholds while the control room runs live. Each read makes thousands
of short-lived records; at Python's default (700 allocations) a young collection ran
every millisecond or two during a read, and a full one (every object the app holds)
paused the event loop for tens of milliseconds now and then."""


def reader_for(coord: Any) -> SnapshotReader:
    """aiosqlite for a local SQLite store; the core's API in a thread for anything else."""
    store = getattr(coord, "store", None)
    db_path = getattr(store, "db_path", None)
    if isinstance(db_path, Path) and getattr(store, "backend", None) == "sqlite":
        return SqliteReader(db_path)
    return CoreReader()


def trouble_text(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


class Live:
    """Mixed into `ControlRoom` (which provides `render_panes` and the App methods)."""

    coord: Any
    store_dir: Path | None

    def setup_live(self) -> None:
        self.snapshot: Any = None
        self.trouble = ""
        self.loads = 0
        self.last_refresh_s = 0.0
        """Seconds from asking for a reload to the panes showing it (the benchmark reads it)."""
        self._loading = self._pending = False
        self._feed: Any = None
        self._inode: int | None = None
        self._seen: tuple[Any, ...] = ()
        self._load_started = 0.0
        self._measuring = False
        self._pending_full = False
        self._full_at = 0.0
        self._gc_before: tuple[int, int, int] | None = None
        self._watched = False
        """Whether the watcher saw a change since the last full read (then the tick waits)."""
        self.reader: SnapshotReader = reader_for(self.coord)

    @property
    def _app(self) -> Any:
        return self

    def reload(self, *, full: bool = True) -> None:
        """Read the store again, or once more after the read already under way.

        `full=False` (a change the watcher saw) lets the reader re-read only the
        panes the new events touched; the tick then reads everything within a
        second, since the files changed after the last full read."""
        if self._loading:
            self._pending = True
            self._pending_full = self._pending_full or full
            return
        self._loading = True
        self._load_started = time.perf_counter()
        self._load(full)

    def fingerprint(self) -> tuple[Any, ...]:
        """Identity, size and time of the database files: a change the watcher may have missed."""
        if self.store_dir is None:
            return ()
        found: list[Any] = []
        for name in ("ctui.db", "ctui.db-wal"):
            try:
                st = (self.store_dir / name).stat()
                found.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                found.append(None)
        return tuple(found)

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _load(self, full: bool) -> None:
        app = self._app
        if full:
            self._seen = self.fingerprint()
            self._full_at, self._watched = time.monotonic(), False
        try:
            if self._maybe_reopen():
                await self.reader.close()
                self.reader = reader_for(self.coord)
            snap = await self.reader.read(
                self.coord, limit=app.limit, now=app.clock(), previous=self.snapshot, full=full
            )
        except Exception as exc:
            app.post_message(StoreTrouble(trouble_text(exc)))
            return
        if not get_current_worker().is_cancelled:
            app.post_message(Loaded(snap))

    def _maybe_reopen(self) -> bool:
        """Open the store again when its file was replaced; whether it was."""
        reopen = self._app.reopen
        if reopen is None or self.store_dir is None:
            return False
        try:
            inode = (self.store_dir / "ctui.db").stat().st_ino
        except OSError:
            return False
        again = self._inode is not None and inode != self._inode
        if again:
            self.coord = reopen()
        self._inode = inode
        return again

    def settle_memory(self) -> None:
        """Live: collect less often, and leave what the first paint built (Textual, the
        widgets, the first snapshot) out of every later full collection (`gc.freeze`
        only moves them aside: no pause)."""
        if self._gc_before is None:
            self._gc_before = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLD)
            gc.freeze()

    def restore_memory(self) -> None:
        """Leaving: the collector as it was (tests run many apps in one process)."""
        before, self._gc_before = self._gc_before, None
        if before is not None:
            gc.unfreeze()
            gc.set_threshold(*before)

    def on_loaded(self, message: Loaded) -> None:
        app = self._app
        self._loading = False
        self.loads += 1
        old, self.snapshot = self.snapshot, message.snapshot
        if self.trouble:
            self.trouble = ""
            app.query_one(StatusBar).trouble = ""
            app.notify("The store is back.", timeout=3)
        if old is None or app.needles:
            app.render_panes()
        else:
            new = message.snapshot
            app.render_panes(
                {p for p in PANE_IDS if p in TICKING or new.records.get(p) != old.records.get(p)}
            )
        self.last_refresh_s = time.perf_counter() - self._load_started
        if old is None and app.live:
            self.settle_memory()
        self.measure_diffs()
        if self._pending:
            self._pending = False
            full, self._pending_full = self._pending_full, False
            self.reload(full=full)

    def measure_diffs(self) -> None:
        """Measure the worktrees that are due (thread worker, one round at a time)."""
        app = self._app
        if self.snapshot is None or self._measuring or app.store_dir is None:
            return
        due = app.diffs.due(self.snapshot.records.get("agents", []), time.monotonic())
        if due:
            self._measuring = True
            self._measure(due)

    @work(thread=True, exclusive=True, group="diffs", exit_on_error=False)
    def _measure(self, due: list[Any]) -> None:
        app = self._app
        found: dict[str, tuple[int, int]] = {}
        try:
            found = app.diffs.measure(due, time.monotonic())
        finally:  # always answer, so the next round can start
            app.post_message(DiffsMeasured(found))

    def on_diffs_measured(self, message: DiffsMeasured) -> None:
        self._measuring = False
        if self._app.diffs.update(message.sizes):
            self._app.render_panes({"agents"})

    def on_store_trouble(self, message: StoreTrouble) -> None:
        self._loading = self._pending = False
        self.trouble = message.text
        self._app.query_one(StatusBar).trouble = message.text

    def on_store_changed(self, message: StoreChanged) -> None:
        self._watched = True
        self.reload(full=message.removed)

    def tick(self) -> None:
        """Each second: redraw countdowns; reload if remote, in trouble or a change was missed.

        Files that changed since the last full read are read in full at once when no
        watched read followed them (a missed change), else at most every RECONCILE_S
        (the partial reads showed the changes the event log names meanwhile)."""
        changed = self.store_dir is not None and self.fingerprint() != self._seen
        due = not self._watched or time.monotonic() - self._full_at >= RECONCILE_S
        if self.trouble or self.store_dir is None or (changed and due):
            self.reload()
        else:
            self._app.render_panes(TICKING, tick=True)
            self.measure_diffs()

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_store(self) -> None:
        """Post `StoreChanged` whenever the store changes (watchfiles on SQLite, LISTEN on
        PostgreSQL: the store's change feed decides) and re-read the header's settings."""
        self._feed = self.coord.store.change_feed()
        async with contextlib.aclosing(self._feed.changes()) as changes:
            async for change in changes:
                if change.settings:
                    self.read_info()
                if change.data or change.removed:
                    self._app.post_message(StoreChanged(removed=change.removed))

    async def stop_watching(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            await feed.aclose()

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def read_info(self) -> None:
        """Repository, branch, store and connection for the header (git runs here, off the loop)."""
        app = self._app
        root = local_root(self.coord)
        info: dict[str, Any] = {
            "repo": str(root or app.remote or "?"),
            "store": ".ctui/"
            if root is not None and self.store_dir is not None and self.store_dir.parent == root
            else str(self.store_dir or "-"),
        }
        if root is not None:
            try:
                info["branch"] = subprocess.run(
                    ["git", "-C", str(root), "rev-parse", "--abbrev-ref", "HEAD"],
                    capture_output=True,
                    text=True,
                    timeout=2,
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                info["branch"] = None
        info["remote"] = app.remote or getattr(self.coord, "url", None)
        if not info["remote"] and self.store_dir is not None:
            try:
                info["server"] = json.loads((self.store_dir / "remote.json").read_text()).get("url")
            except (OSError, ValueError, AttributeError):
                info["server"] = None
        app.call_from_thread(self._set_info, info)

    def _set_info(self, info: dict[str, Any]) -> None:
        bar = self._app.query_one(StatusBar)
        bar.info = {**bar.info, **info}
