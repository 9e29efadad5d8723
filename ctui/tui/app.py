"""`ControlRoom`: the live Textual view of one ctui store (or of a server, through its API).

Six panes in a grid under a status bar: instances, leases, threads, tasks,
decisions and activity. How it stays live is in `ctui.tui.live`; what each
key does is in `ctui.tui.actions`; what each pane shows is in `ctui.tui.rows`.
This module lays them out and owns the pane-level keys (jump, filter).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.widgets import Footer

from ctui.tui.actions import Actions
from ctui.tui.commands import ControlRoomCommands
from ctui.tui.live import Live
from ctui.tui.rows import PANE_IDS, PANES
from ctui.tui.snapshot import LIMIT
from ctui.tui.widgets.filter import FilterBar
from ctui.tui.widgets.header import StatusBar
from ctui.tui.widgets.pane import Pane

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
"""Actions that make sense only on the main screen (not over a form or a detail screen)."""


class ControlRoom(Live, Actions, App[None]):
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
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            id="clear_filter",
            show=False,
            tooltip="Show every row of the focused pane again",
        ),
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
        """`coord` is a Coordinator or a remote proxy; `live=False` (tests, screenshots)
        turns off the watcher, the tick and cursor blinking; `clock` overrides the time."""
        super().__init__()
        self.coord = coord
        self.reopen = reopen
        self.clock = clock or coord.now
        self.live = live
        self.limit = limit
        self.remote = remote
        store = getattr(coord, "store", None)
        self.store_dir: Path | None = store.path if store is not None else None
        self.needles: dict[str, str] = {}
        self._errors_shown: set[str] = set()
        self.setup_live()

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Grid(id="panes"):
            for spec in PANES:
                yield Pane(spec)
        yield FilterBar()
        yield Footer()

    def on_mount(self) -> None:
        self.pane("instances").focus()
        self.read_info()
        self.reload()
        if self.live:
            self.set_interval(1.0, self.tick)
            if self.store_dir is not None:
                self.watch_store()

    async def on_unmount(self) -> None:
        self._stop.set()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action not in MAIN_ONLY or self.screen is self.default_screen

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def render_panes(self, only: set[str] | frozenset[str] | None = None) -> None:
        """Show the last snapshot at the current time (all panes, or `only` these)."""
        snap = self.snapshot
        panes = {pane.id: pane for pane in self.query(Pane)}
        if snap is None or len(panes) < len(PANES) or not self.is_running:
            return
        now = self.clock()
        for spec in PANES:
            if only is None or spec.id in only:
                try:
                    panes[spec.id].show(
                        snap.records.get(spec.id, []),
                        now,
                        total=snap.totals.get(spec.id),
                        needle=self.needles.get(spec.id, ""),
                    )
                except Exception as exc:  # a record this version cannot show: say so, keep going
                    self._shown_error(spec.title, exc)
        live = sum(
            1
            for r in snap.records.get("instances", [])
            if r.get("state") in ("working", "needs_input", "idle")
        )
        waiting = [
            r["id"] for r in snap.records.get("instances", []) if r.get("state") == "needs_input"
        ]
        bar = self.query_one(StatusBar)
        bar.info = {
            **bar.info,
            "counts": f"{live} live · {snap.totals.get('leases', 0)} leases · "
            f"{snap.totals.get('decisions', 0)} decisions",
            "waiting": waiting,
            "spend": snap.spend,
        }

    def _shown_error(self, title: str, exc: Exception) -> None:
        text = f"cannot show the {title} pane: {type(exc).__name__}: {exc}"
        if text not in self._errors_shown:
            self._errors_shown.add(text)
            self.notify(text, title="ctui", severity="error", timeout=8)

    def action_filter(self) -> None:
        pane = self.focused if isinstance(self.focused, Pane) else self.pane("instances")
        self.query_one(FilterBar).open(str(pane.id), self.needles.get(str(pane.id), ""))

    def on_filter_bar_applied(self, event: FilterBar.Applied) -> None:
        if event.needle:
            self.needles[event.pane] = event.needle
        else:
            self.needles.pop(event.pane, None)
        self.render_panes({event.pane})
        if event.done:
            self.pane(event.pane).focus()

    def action_clear_filter(self) -> None:
        pane = self.focused
        if isinstance(pane, Pane) and str(pane.id) in self.needles:
            del self.needles[str(pane.id)]
            self.render_panes({str(pane.id)})

    def action_focus_pane(self, pane_id: str) -> None:
        self.pane(pane_id).focus()

    def action_reload(self) -> None:
        self.reload()
