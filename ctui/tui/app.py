"""`ControlRoom`: the live Textual view of one ctui store (or of a server, through its API).

Agents first: under the header, the list of agents (`AgentList`) beside a
preview of the selected one (`Preview`: output, question, diff); below them a
strip with one of six secondary views (instances, leases, threads, tasks,
decisions, activity), switched by 1-6 and hidden or shown by `v`. Narrow
terminals put the preview under the list as one line; short ones hide the strip.
How it stays live is in `ctui.tui.live`; what each key does is in
`ctui.tui.actions` and `ctui.tui.agent_actions`; what each pane shows is in
`ctui.tui.rows` and `ctui.tui.agent_rows`. This module lays them out and owns
the view keys (jump, filter, ended agents, preview mode).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Footer, Static

from ctui.core.errors import CtuiError
from ctui.core.flows.notify import Changes, escape, terminal
from ctui.core.flows.roster import ENDED, counts
from ctui.tui.actions import Actions
from ctui.tui.agent_actions import AgentActions
from ctui.tui.commands import ControlRoomCommands
from ctui.tui.diffsizes import DiffSizes
from ctui.tui.live import Live
from ctui.tui.rows import PANE_IDS, PANES, ts
from ctui.tui.snapshot import LIMIT
from ctui.tui.widgets.agent_list import AgentList
from ctui.tui.widgets.filter import FilterBar
from ctui.tui.widgets.header import StatusBar
from ctui.tui.widgets.pane import Pane
from ctui.tui.widgets.preview import Preview

FOOTER_HIDDEN = frozenset({"force_release", "cleanup", "add_task", "log_decision", "merge"})
"""Keys kept out of the footer so it fits 80 columns (F1 and the palette list them)."""


def _quiet(b: BindingType) -> BindingType:
    """The binding, kept out of the footer when it is one of FOOTER_HIDDEN."""
    return replace(b, show=False) if isinstance(b, Binding) and b.id in FOOTER_HIDDEN else b


ANSWERS = frozenset({"approve", "deny"})
NARROW = 110
"""Below this width the preview goes under the list, one line high."""
LIST_FULL = 144
"""The agents list's width with every column shown (borders and scrollbar included)."""
PREVIEW_MIN = 36
SHORT = 34
"""Below this height the secondary strip starts hidden (v shows it)."""

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
        "focus_agents",
        "clear_filter",
        "toggle_views",
        "toggle_ended",
        "preview_mode",
        "attach",
        "send",
        "restart",
        "delete",
    }
)
"""Actions that make sense only on the main screen (not over a form or a detail screen)."""


class ControlRoom(Live, AgentActions, Actions, App[None]):
    """Instances, leases, threads, tasks, decisions and activity, live from one store."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "ctui"
    COMMANDS = App.COMMANDS | {ControlRoomCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="help", tooltip="Keys and what the views show"),
        Binding(
            "q", "quit", "Quit", id="quit", tooltip="Leave the control room (agents keep running)"
        ),
        *(_quiet(b) for b in Actions.BINDINGS),
        *AgentActions.BINDINGS,
        Binding(
            "p",
            "preview_mode",
            "Preview",
            id="preview_mode",
            show=False,
            tooltip="Switch the preview: output, question, diff",
        ),
        Binding(
            "e",
            "toggle_ended",
            "Ended",
            id="toggle_ended",
            show=False,
            tooltip="Show or hide agents that ended",
        ),
        Binding(
            "v",
            "toggle_views",
            "Views",
            id="toggle_views",
            show=False,
            tooltip="Show or hide the strip of leases, tasks, decisions and activity",
        ),
        Binding(
            "0",
            "focus_agents",
            "Agents",
            id="pane.agents",
            show=False,
            tooltip="Go to the agents list",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="filter",
            show=False,
            tooltip="Filter the focused list's rows",
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
                tooltip=f"Show the {pane} view in the strip and go to it",
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
        self.show_ended = False
        self._changes = Changes()
        self._alerts: tuple[bool, str] | None = None
        self.diffs = DiffSizes()
        self.views_chosen: bool | None = None
        """The operator's choice for the strip (v); None follows the terminal's height."""
        self.setup_live()

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            yield AgentList()
            yield Preview(self.coord, id="preview")
        with Vertical(id="lower"):
            yield Static(id="views-tabs")
            with ContentSwitcher(id="views", initial=PANE_IDS[0]):
                for spec in PANES:
                    yield Pane(spec)
        yield FilterBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.agents.focus()
        self._view_tabs()
        self.read_info()
        self.reload()
        if self.live:
            self.set_interval(1.0, self.tick)
            if self.store_dir is not None:
                self.watch_store()

    def on_resize(self, event: events.Resize) -> None:
        self.fit_layout(event.size.width, event.size.height)

    def fit_layout(self, width: int, height: int) -> None:
        """Narrow: the preview under the list, one line; wide: beside it, with what the list
        leaves once every column shows (at most 45%, at least 28% and PREVIEW_MIN, so the
        list drops its last columns first); short: the strip hidden unless chosen."""
        self.screen.set_class(width < NARROW, "-narrow")
        if width >= NARROW:  # the list gets every column once it can, the preview the rest
            share = max(PREVIEW_MIN, width * 28 // 100, min(width * 45 // 100, width - LIST_FULL))
            self.query_one(Preview).styles.width = share
        else:
            self.query_one(Preview).styles.width = None  # the stylesheet's one line under it
        show = self.views_chosen if self.views_chosen is not None else height >= SHORT
        self.query_one("#lower").display = show
        self._catch_up()

    def _catch_up(self) -> None:
        """The view now on screen shows the records it was given while hidden."""
        if self.query_one("#lower").display:
            current = self.query_one(ContentSwitcher).current
            if current:
                self.pane(current).catch_up()

    @property
    def agents(self) -> AgentList:
        return self.default_screen.query_one(AgentList)

    async def on_unmount(self) -> None:
        await self.stop_watching()
        await self.reader.close()
        self.restore_memory()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ANSWERS:  # shown (and bound) only while the selected agent waits
            if self.screen is not self.default_screen:
                return False
            try:
                agent = self.agents.selected
            except Exception:
                return False
            return bool(agent and agent.get("state") == "waiting")
        return action not in MAIN_ONLY or self.screen is self.default_screen

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    def render_panes(
        self, only: set[str] | frozenset[str] | None = None, *, tick: bool = False
    ) -> None:
        """Show the last snapshot at the current time (all panes, or `only` these; `tick`:
        the same records a second later, so only the rows in view are redrawn)."""
        snap = self.snapshot
        panes = {pane.id: pane for pane in self.query(Pane)}
        if snap is None or len(panes) <= len(PANES) or not self.is_running:
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
                        tick=tick,
                    )
                except Exception as exc:  # a record this version cannot show: say so, keep going
                    self._shown_error(spec.title, exc)
        every = snap.records.get("agents", [])
        # the agents list draws on every view's records: always refresh it
        sizes = self.diffs.sizes
        every = [  # a new record when its diff size changed, so the row sees the change
            a if a.get("diff") == sizes.get(a["key"]) else {**a, "diff": sizes.get(a["key"])}
            for a in every
        ]
        snap.records["agents"] = every
        shown = [a for a in every if self.show_ended or a["state"] not in ENDED]
        try:
            self.agents.show(
                shown, now, total=len(every), needle=self.needles.get("agents", ""), tick=tick
            )
        except Exception as exc:
            self._shown_error("Agents", exc)
        self._tell(every)
        found = counts(every)
        waiting = [a["name"] for a in every if a["state"] == "waiting"]
        bar = self.query_one(StatusBar)
        bar.info = {
            **bar.info,
            "agents": found,
            "cost_today": cost_today(snap.records.get("threads", []), now),
            "leases": snap.totals.get("leases", 0),
            "waiting": waiting,
            "spend": snap.spend,
        }

    def _tell(self, every: list[dict[str, Any]]) -> None:
        """A bell, a desktop notification escape and a note when an agent starts waiting,
        fails or finishes (once per change; `[notify] bell` and `desktop` turn them off)."""
        changes = self._changes.seen(every)
        if changes:
            bell, desktop = self._terminal_alerts()
            out = "\a" if bell else ""
            for change in changes[:3]:
                out += escape(change, desktop, os.environ)
            if out:
                self.write_terminal(out)
            for change in changes[:3]:
                failed = change["state"] == "failed"
                self.notify(
                    change["text"],
                    title="ctui",
                    severity="error" if failed else "warning",
                    timeout=6,
                )

    def _terminal_alerts(self) -> tuple[bool, str]:
        """`[notify] bell` and `desktop` (a bad value is said once, then the defaults hold)."""
        if self._alerts is None:
            try:
                config = getattr(self.coord, "config", None)
                self._alerts = terminal(self.coord) if config is not None else (True, "auto")
            except CtuiError as exc:
                self._alerts = (True, "auto")
                self.notify(exc.message, title="ctui", severity="error", timeout=8)
        return self._alerts

    def write_terminal(self, data: str) -> None:
        """Write an escape (a bell, a notification) to the terminal, past Textual's screen."""
        driver = self._driver
        if driver is not None:
            driver.write(data)
            driver.flush()

    def _shown_error(self, title: str, exc: Exception) -> None:
        text = f"cannot show the {title} pane: {type(exc).__name__}: {exc}"
        if text not in self._errors_shown:
            self._errors_shown.add(text)
            self.notify(text, title="ctui", severity="error", timeout=8)

    def _focused_pane(self) -> Pane:
        return self.focused if isinstance(self.focused, Pane) else self.agents

    def action_filter(self) -> None:
        pane = self._focused_pane()
        self.query_one(FilterBar).open(str(pane.id), self.needles.get(str(pane.id), ""))

    def on_filter_bar_applied(self, event: FilterBar.Applied) -> None:
        if event.needle:
            self.needles[event.pane] = event.needle
        else:
            self.needles.pop(event.pane, None)
        self.render_panes({event.pane})
        if event.done:
            self.query_one(f"#{event.pane}", Pane).focus()

    def action_clear_filter(self) -> None:
        pane = self.focused
        if isinstance(pane, Pane) and str(pane.id) in self.needles:
            del self.needles[str(pane.id)]
            self.render_panes({str(pane.id)})

    def action_focus_pane(self, pane_id: str) -> None:
        """Show `pane_id` in the strip (showing the strip) and move there."""
        self.query_one("#lower").display = True
        self.query_one(ContentSwitcher).current = pane_id
        self._catch_up()
        self._view_tabs()
        self.pane(pane_id).focus()

    def action_focus_agents(self) -> None:
        self.agents.focus()

    def action_toggle_views(self) -> None:
        lower = self.query_one("#lower")
        self.views_chosen = not lower.display
        lower.display = self.views_chosen
        self._catch_up()
        if not lower.display and self.focused is not None and self.focused is not self.agents:
            self.agents.focus()

    def action_toggle_ended(self) -> None:
        self.show_ended = not self.show_ended
        self.render_panes({"agents"})
        self.notify(
            "Showing ended agents too." if self.show_ended else "Ended agents hidden.", timeout=2
        )

    def action_preview_mode(self) -> None:
        self.query_one(Preview).cycle()

    def on_agent_list_selected(self, event: AgentList.Selected) -> None:
        for preview in self.default_screen.query(Preview):  # none while the app shuts down
            preview.show_agent(event.agent)
        if self.screen_stack:  # a selection that lands while the app closes has no keys to show
            self.refresh_bindings()

    def _view_tabs(self) -> None:
        current = self.query_one(ContentSwitcher).current
        line = Text()
        for i, spec in enumerate(PANES):
            line.append(f" {i + 1} ", style="bold")
            line.append(f"{spec.title} ", style="bold reverse" if spec.id == current else "dim")
        line.append("  v hides, 0 agents", style="dim italic")
        self.query_one("#views-tabs", Static).update(line)

    def action_reload(self) -> None:
        self.reload()


def cost_today(threads: list[dict[str, Any]], now: float) -> float:
    """What the threads that ran today (local time) have cost so far."""
    import time as _time

    midnight = _time.mktime((*_time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    return sum(
        float(t.get("cost_usd") or 0.0)
        for t in threads
        if (ts(t.get("ended_at")) or ts(t.get("started_at")) or now) >= midnight
        or t.get("status") == "running"
    )
