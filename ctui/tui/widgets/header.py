"""`StatusBar`: the control room's top line and its trouble banner.

The top line names the repository, its branch, the store folder and the
connection (local, or the remote server's address); the banner below it is
shown only while the store cannot be read, and says what is wrong.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static


class StatusBar(Vertical):
    """Repository, branch, store and connection, plus a banner for store trouble."""

    DEFAULT_CSS = """
    StatusBar { height: auto; dock: top; }
    StatusBar #top { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusBar #banner {
        height: auto; background: $error; color: $text; padding: 0 1; display: none;
    }
    StatusBar #banner.shown { display: block; }
    """

    info: reactive[dict[str, Any]] = reactive(dict, always_update=True)
    """repo, branch, store, remote, the counts, and who needs input (shown on the top line)."""
    trouble: reactive[str] = reactive("")
    """Why the store cannot be read right now; empty when all is well."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._drawn: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")

    def watch_info(self, info: dict[str, Any]) -> None:
        self._draw(info)

    def on_resize(self) -> None:
        self._draw(self.info)

    def _draw(self, info: dict[str, Any]) -> None:
        width = max(20, self.size.width - 2) if self.size.width else 200
        line = top_line(info, width)
        if line == self._drawn:
            return  # each read sets `info`: an unchanged line costs nothing
        self._drawn = line
        # one line, its size fixed by the CSS: a new text needs no layout of the screen
        # (each read redrew every widget when it asked for one)
        self.query_one("#top", Static).update(line, layout=False)

    def watch_trouble(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(f"⚠ {text}  (retrying every second)" if text else "")
        banner.set_class(bool(text), "shown")


def top_line(info: dict[str, Any], width: int) -> Text:
    """The header in `width` cells: the needs-input alert first, then the agent counts,
    today's cost and leases, then the repository, branch, store and connection.

    Parts drop whole, lowest priority first; the alert is never dropped (a long list of
    waiting agents is shortened to a count instead)."""
    alert = Text()
    waiting = info.get("waiting") or []
    if waiting:
        alert.append(f" ⚠ needs input: {', '.join(waiting)} ", style="bold reverse yellow")
        if alert.cell_len > width // 2:
            alert = Text(f" ⚠ {len(waiting)} need input: {waiting[0]}… ", "bold reverse yellow")
    n = info.get("agents") or {}
    status: list[tuple[int, Text]] = []
    if n:
        status.append((1, Text(f"● {n.get('working', 0)} working", "green")))
        status.append((1, Text(f"? {n.get('waiting', 0)} waiting", "yellow")))
        failed = n.get("failed", 0)
        status.append((1, Text(f"✗ {failed} failed", "bold red" if failed else "dim")))
    spend = info.get("spend") or {}
    if spend.get("usd_cap") or spend.get("tokens_cap"):  # a day's budget: spend against it
        from ctui.core.threads.budget import headline

        share = spend.get("share") or 0
        style = "bold red" if share >= 1 else "bold yellow" if share >= 0.8 else "green"
        status.append((2, Text(headline({"day": spend}), style)))
    elif info.get("cost_today") is not None:
        from ctui.core.fmt import money

        status.append((2, Text(f"{money(info['cost_today'])} today", "bold")))
    if info.get("leases") is not None:
        status.append((2, Text(f"{info['leases']} leases", "")))
    where: list[tuple[int, Text]] = [
        (0, Text(" ctui ", style="bold reverse")),
        (5, Text(str(info.get("repo", "?")), style="bold")),
        (3, Text(f"⎇ {info.get('branch') or '-'}", style="magenta")),
        (6, Text(f"store {info.get('store', '-')}", style="dim")),
    ]
    remote, server = info.get("remote"), info.get("server")
    if remote:
        where.append((2, Text(f"⇄ remote {remote}", style="bold cyan")))
    elif server:
        where.append((4, Text(f"local (server {server}: ctui tui --remote)", style="cyan")))
    else:
        where.append((4, Text("local", style="dim")))
    parts = where + status
    while True:
        line = Text()
        for _prio, part in parts:
            if line:
                line.append("  ")
            line.append_text(part)
        if alert:
            line.append("  ")
            line.append_text(alert)
        droppable = [p for p in parts if p[0] > 0]
        if line.cell_len <= width or not droppable:
            break
        parts.remove(max(droppable, key=lambda p: p[0]))
    line.truncate(width, overflow="ellipsis")
    return line
