"""`Preview`: the selected agent, beside the list: its output, its question, or its diff.

Bindings (on the app): `p` switches the view (output → question → diff).

* output: a thread's log as readable turns (`ctui.tui.logview`); for a
  hook-only Claude session, its recent activity from the event log;
* question: what the agent waits on (the Notification text), or why it failed;
* diff: its changes against its base, per file, syntax highlighted.

Reading runs in a thread worker (one at a time, the newest wins); the widget
only ever shows the last result for the agent still selected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static
from textual.worker import get_current_worker

from ctui.tui.aio import EventReader
from ctui.tui.logview import pretty
from ctui.tui.rows import Record

MODES = ("output", "question", "diff")
TAIL = 200


class Preview(Vertical):
    """The selected agent's output, question or diff."""

    DEFAULT_CSS = """
    Preview { border: round $panel-lighten-2; border-title-color: $text-muted; }
    Preview #preview-tabs { height: 1; padding: 0 1; }
    Preview #preview-scroll { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    Preview #preview-body { width: 100%; }
    Preview #preview-body.-code { width: auto; min-width: 100%; }
    """

    mode: reactive[str] = reactive("output")
    """Which view shows: output, question or diff."""

    def __init__(self, coord: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.coord = coord
        self.agent: Record | None = None
        self.lines: list[str] = []
        """The plain text last shown (tests and the one-line strip read it)."""
        self.shown = 0
        """How many times a read reached the screen (the benchmark waits on it)."""
        store = getattr(coord, "store", None)
        local = store is not None and store.backend == "sqlite"
        self.events: EventReader | None = EventReader(store.db_path) if local and store else None
        """SQLite stores: the event log read through aiosqlite on the event loop (other
        stores read it through the core in a thread worker)."""

    def compose(self) -> ComposeResult:
        yield Static(id="preview-tabs")
        with VerticalScroll(id="preview-scroll"):
            yield Static(id="preview-body")

    def on_mount(self) -> None:
        self.border_title = "Preview"
        self._tabs()

    def on_resize(self) -> None:
        """A new size (the narrow layout's one line, a resized terminal) keeps the output's
        newest lines in view."""
        if self.mode == "output" and self.lines:
            self.query_one("#preview-scroll", VerticalScroll).scroll_end(animate=False)

    def _tabs(self) -> None:
        line = Text()
        for i, mode in enumerate(MODES):
            if i:
                line.append(" │ ", style="dim")
            line.append(mode, style="bold reverse" if mode == self.mode else "dim")
        line.append("   p switches", style="dim italic")
        self.query_one("#preview-tabs", Static).update(line)

    def watch_mode(self, mode: str) -> None:
        if self.is_mounted:
            self._tabs()
            self.refresh_view()

    def cycle(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]

    def show_agent(self, agent: Record | None) -> None:
        self.agent = agent
        self.border_title = f"Preview: {agent['name']}" if agent else "Preview"
        self.refresh_view()

    def refresh_view(self) -> None:
        agent = self.agent
        if self.events is not None and agent and not agent.get("thread") and self.mode == "output":
            self._read_events(agent)
        else:
            self._read(agent, self.mode)

    @work(exclusive=True, group="preview", exit_on_error=False)
    async def _read_events(self, agent: Record) -> None:
        """A hand-started session's recent activity, read on the event loop (aiosqlite)."""
        assert self.events is not None
        try:
            mine = await self.events.by_actor(str(agent.get("instance")), TAIL)
            body, lines = _session_lines(mine)
        except Exception as exc:
            body = Text(f"cannot show the output: {type(exc).__name__}: {exc}", style="red")
            lines = [body.plain]
        self._set(agent, "output", body, lines)

    async def on_unmount(self) -> None:
        if self.events is not None:
            await self.events.close()

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _read(self, agent: Record | None, mode: str) -> None:
        try:
            body, lines = render(self.coord, agent, mode)
        except Exception as exc:  # a preview that cannot be read says why, never crashes the app
            body = Text(f"cannot show the {mode}: {type(exc).__name__}: {exc}", style="red")
            lines = [body.plain]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._set, agent, mode, body, lines)

    def _set(self, agent: Record | None, mode: str, body: RenderableType, lines: list[str]) -> None:
        if mode != self.mode or (agent or {}).get("key") != (self.agent or {}).get("key"):
            return
        self.lines = lines
        self.shown += 1
        shown = self.query_one("#preview-body", Static)
        shown.set_class(mode == "diff", "-code")  # code scrolls sideways; sentences wrap
        shown.update(body)
        if mode == "output":  # once the new body is laid out, its newest lines in view
            scroll = self.query_one("#preview-scroll", VerticalScroll)
            scroll.call_after_refresh(scroll.scroll_end, animate=False)


def render(coord: Any, agent: Record | None, mode: str) -> tuple[RenderableType, list[str]]:
    """What the preview shows for `agent` in `mode`, and its plain lines."""
    if agent is None:
        text = Text("Select an agent to see its output, question and diff.", style="dim")
        return text, [text.plain]
    if mode == "question":
        return _question(agent)
    if mode == "diff":
        return _diff(coord, agent)
    return _output(coord, agent)


def _question(agent: Record) -> tuple[RenderableType, list[str]]:
    if agent.get("state") == "waiting":
        asked = agent.get("question") or "It waits for input (the client did not say what)."
        text = Text.assemble(
            ("? ", "bold yellow"),
            (f"{agent['name']} asks:\n\n", "bold"),
            (str(asked), ""),
            ("\n\na approves, n denies, > sends a message, enter attaches", "dim"),
        )
    elif agent.get("state") == "failed":
        text = Text.assemble(("✗ failed: ", "bold red"), str(agent.get("reason") or "?"))
    else:
        text = Text(f"{agent['name']} is not waiting for anything.", style="dim")
    return text, text.plain.splitlines()


def _output(coord: Any, agent: Record) -> tuple[RenderableType, list[str]]:
    if agent.get("thread"):
        raw = coord.threads.logs(agent["thread"], TAIL)
        shown = [t for line in raw.splitlines() if line.strip() for t in pretty(line)]
        if not shown:
            shown = [Text("No output yet.", style="dim")]
    else:  # remote: through the API (a local store reads these in `Preview._read_events`)
        who = agent.get("instance")
        mine = [_as_dict(e) for e in coord.events.recent(1000) if _field(e, "actor") == who]
        return _session_lines(mine[-TAIL:])
    return Group(*shown), [t.plain for t in shown]


def _session_lines(mine: list[dict[str, Any]]) -> tuple[RenderableType, list[str]]:
    """A session's events as timed sentences."""
    from ctui.core.flows.roster import sentence

    shown = [
        Text.assemble((_clock(e.get("at")) + " ", "dim"), sentence(e, subjectless=True))
        for e in mine
    ] or [Text("Nothing recorded for this session yet.", style="dim")]
    return Group(*shown), [t.plain for t in shown]


def _diff(coord: Any, agent: Record) -> tuple[RenderableType, list[str]]:
    from ctui.core.threads import diff as agent_diff

    worktree = agent.get("worktree")
    if not worktree or not Path(str(worktree)).is_dir():
        text = Text("No local worktree to diff (remote, or the worktree is gone).", style="dim")
        return text, [text.plain]
    patches = agent_diff.files(Path(str(worktree)), agent.get("base"))
    if not patches:
        text = Text("No changes against its base yet.", style="dim")
        return text, [text.plain]
    plus, minus = agent_diff.size(patches)
    parts: list[RenderableType] = [
        Text.assemble(
            (f"{len(patches)} file(s) ", "bold"), (f"+{plus}", "green"), " ", (f"-{minus}", "red")
        )
    ]
    lines = [parts[0].plain if isinstance(parts[0], Text) else ""]
    for path, patch in patches:
        parts.append(Text(f"\n▌ {path}", style="bold cyan"))
        parts.append(Syntax(patch, "diff", theme="ansi_dark", word_wrap=False))
        lines.append(path)
        lines.extend(patch.splitlines())
    return Group(*parts), lines


def _field(e: Any, name: str) -> Any:
    return e.get(name) if isinstance(e, dict) else getattr(e, name, None)


def _as_dict(e: Any) -> dict[str, Any]:
    if isinstance(e, dict):
        return e
    return {k: getattr(e, k, None) for k in ("id", "kind", "actor", "subject", "data", "at")}


def _clock(at: Any) -> str:
    from ctui.tui.rows import clock_time, ts

    return clock_time(ts(at))
