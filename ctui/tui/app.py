"""`ControlRoom`: the live Textual view of one ctui store.

How it stays live without blocking: an async worker watches `.ctui/` with
watchfiles (20 ms debounce) and posts `StoreChanged`, which coalesces in the
queue; a thread worker reads a bounded `Snapshot` and posts `Loaded`; the
panes diff it into their rows in place. A one-second tick re-renders the
countdowns from the last snapshot without reading the store. While the store
cannot be read a banner says why and the tick retries (reopening the store
when its file was replaced). Key actions live in `ctui.tui.actions`.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from ctui.tui.actions import Actions
from ctui.tui.commands import ControlRoomCommands
from ctui.tui.messages import Loaded, StoreChanged, StoreTrouble
from ctui.tui.rows import PANE_IDS, PANES, TICKING
from ctui.tui.snapshot import LIMIT, Snapshot, load, local_root
from ctui.tui.widgets.header import StatusBar
from ctui.tui.widgets.pane import Pane


def trouble_text(exc: BaseException) -> str:
    return str(getattr(exc, "message", None) or exc) or type(exc).__name__


class ControlRoom(Actions, App[None]):
    """Instances, leases, threads, tasks, decisions and activity, live from one store."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "ctui"
    COMMANDS = App.COMMANDS | {ControlRoomCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *Actions.BINDINGS,
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter the focused pane's rows"),
        Binding("f1", "help", "Help", id="help", tooltip="Keys and what the panes show"),
        Binding(
            "q", "quit", "Quit", id="quit", tooltip="Leave the control room (agents keep running)"
        ),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        *(
            Binding(
                str(i + 1),
                f"focus_pane('{pane}')",
                pane.title(),
                id=f"pane.{pane}",
                show=False,
                tooltip=f"Go to the {pane} pane",
            )
            for i, pane in enumerate(PANE_IDS)
        ),
    ]

    def __init__(
        self,
        coord: Any,
        *,
        reopen: Callable[[], Any] | None = None,
        clock: Callable[[], float] | None = None,
        live: bool = True,
        limit: int = LIMIT,
        remote: str | None = None,
    ) -> None:
        super().__init__()
        self.coord = coord
        self.reopen = reopen
        self.clock = clock or coord.now
        self.live = live
        self.limit = limit
        self.remote = remote
        store = getattr(coord, "store", None)
        self.store_dir: Path | None = store.path if store is not None else None
        self.snapshot: Snapshot | None = None
        self.needles: dict[str, str] = {}
        self.trouble = ""
        self.loads = 0
        self._loading = self._pending = False
        self._filtering: str | None = None
        self._stop = asyncio.Event()
        self._inode: int | None = None
        self._seen: tuple[Any, ...] = ()
        self._load_started = 0.0
        self.last_refresh_s = 0.0
        """Seconds from asking for a reload to the panes showing it (the benchmark reads it)."""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Grid(id="panes"):
            for spec in PANES:
                yield Pane(spec)
        yield Input(placeholder="filter the pane (enter to keep, escape to clear)", id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#instances", Pane).focus()
        self.read_info()
        self.reload()
        if self.live:
            self.set_interval(1.0, self.tick)
            if self.store_dir is not None:
                self.watch_store()

    async def on_unmount(self) -> None:
        self._stop.set()

    MAIN_ONLY = frozenset(
        {
            "spawn",
            "stop",
            "force_release",
            "cleanup",
            "add_task",
            "log_decision",
            "filter",
            "focus_pane",
            "clear_filter",
        }
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The control room's own keys act only on the main screen, not over a form or detail."""
        return action not in self.MAIN_ONLY or self.screen is self.default_screen

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    # -- reading -------------------------------------------------------------

    def reload(self) -> None:
        """Read the store again, or once more after the read already under way."""
        if self._loading:
            self._pending = True
            return
        self._loading = True
        self._load_started = time.perf_counter()
        self._load()

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

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        self._seen = self.fingerprint()
        try:
            self._maybe_reopen()
            snap = load(self.coord, limit=self.limit, now=self.clock())
        except Exception as exc:
            self.post_message(StoreTrouble(trouble_text(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(Loaded(snap))

    def _maybe_reopen(self) -> None:
        if self.reopen is None or self.store_dir is None:
            return
        try:
            inode = (self.store_dir / "ctui.db").stat().st_ino
        except OSError:
            return
        if (self._inode is not None and inode != self._inode) or (
            self.trouble and self._inode != inode
        ):
            self.coord = self.reopen()
        self._inode = inode

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._loading = False
        self.loads += 1
        old, self.snapshot = self.snapshot, message.snapshot
        if self.trouble:
            self.trouble = ""
            self.query_one(StatusBar).trouble = ""
            self.notify("The store is back.", timeout=3)
        if old is None or self.needles:
            self.render_panes()
        else:
            new = message.snapshot
            self.render_panes(
                {p for p in PANE_IDS if p in TICKING or new.records.get(p) != old.records.get(p)}
            )
        self.last_refresh_s = time.perf_counter() - self._load_started
        if self._pending:
            self._pending = False
            self.reload()

    @on(StoreTrouble)
    def _store_trouble(self, message: StoreTrouble) -> None:
        self._loading = False
        self.trouble = message.text
        self.query_one(StatusBar).trouble = message.text
        if self._pending:
            self._pending = False

    @on(StoreChanged)
    def _store_changed(self, message: StoreChanged) -> None:
        self.reload()

    def render_panes(self, only: set[str] | frozenset[str] | None = None) -> None:
        """Show the last snapshot at the current time (all panes, or `only` these)."""
        snap = self.snapshot
        panes = {pane.id: pane for pane in self.query(Pane)}
        if snap is None or len(panes) < len(PANES) or not self.is_running:
            return
        now = self.clock()
        for spec in PANES:
            if only is not None and spec.id not in only:
                continue
            panes[spec.id].show(
                snap.records.get(spec.id, []),
                now,
                total=snap.totals.get(spec.id),
                needle=self.needles.get(spec.id, ""),
            )
        live = sum(
            1
            for r in snap.records.get("instances", [])
            if r.get("state") in ("working", "needs_input", "idle")
        )
        bar = self.query_one(StatusBar)
        bar.info = {
            **bar.info,
            "counts": f"{live} live · {snap.totals.get('leases', 0)} leases · "
            f"{snap.totals.get('decisions', 0)} decisions",
        }

    def tick(self) -> None:
        """Each second: redraw countdowns; reload if remote, in trouble or a change was missed."""
        if self.trouble or self.store_dir is None or self.fingerprint() != self._seen:
            self.reload()
        else:
            self.render_panes(TICKING)

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def watch_store(self) -> None:
        """Post `StoreChanged` whenever the database (or a setting) changes on disk."""
        from watchfiles import awatch

        from ctui.core.watch import classify, relevant

        assert self.store_dir is not None
        folder = str(self.store_dir.resolve())
        while not self._stop.is_set():
            if not Path(folder).is_dir():
                await asyncio.sleep(0.5)
                continue
            try:
                async for changes in awatch(
                    folder,
                    debounce=20,
                    step=10,
                    recursive=False,
                    stop_event=self._stop,
                    watch_filter=lambda _c, p: relevant(folder, p),
                ):
                    change = classify(folder, changes)
                    if change.settings:
                        self.read_info()
                    if change.data or change.removed:
                        self.post_message(StoreChanged(removed=change.removed))
            except Exception:
                pass
            await asyncio.sleep(0.2)

    @work(thread=True, exclusive=True, group="info", exit_on_error=False)
    def read_info(self) -> None:
        root = local_root(self.coord)
        info: dict[str, Any] = {
            "repo": str(root or self.remote or "?"),
            "store": str(self.store_dir or "-"),
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
        info["remote"] = self.remote or getattr(self.coord, "url", None)
        if not info["remote"] and self.store_dir is not None:
            try:
                info["server"] = json.loads((self.store_dir / "remote.json").read_text()).get("url")
            except (OSError, ValueError, AttributeError):
                info["server"] = None
        self.call_from_thread(self._set_info, info)

    def _set_info(self, info: dict[str, Any]) -> None:
        bar = self.query_one(StatusBar)
        bar.info = {**bar.info, **info}

    # -- filter --------------------------------------------------------------

    def focused_pane(self) -> Pane:
        return (
            self.focused
            if isinstance(self.focused, Pane)
            else self.pane(self._filtering or "instances")
        )

    def action_filter(self) -> None:
        pane = self.focused_pane()
        self._filtering = pane.id
        box = self.query_one("#filter", Input)
        box.value = self.needles.get(pane.id or "", "")
        box.add_class("shown")
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filtering:
            self.needles[self._filtering] = event.value.strip().lower()
            self.render_panes()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#filter", Input).remove_class("shown")
        self.pane(self._filtering or "instances").focus()

    def action_clear_filter(self) -> None:
        pane = (
            self.focused_pane()
            if self._filtering is None or not self.query_one("#filter").has_focus
            else self.pane(self._filtering)
        )
        self.needles.pop(pane.id or "", None)
        self._filtering = pane.id
        self._filter_done()
        self.render_panes()

    def action_focus_pane(self, pane_id: str) -> None:
        self.pane(pane_id).focus()

    def action_reload(self) -> None:
        self.reload()
