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

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")

    def watch_info(self, info: dict[str, Any]) -> None:
        line = Text()
        line.append(" ctui ", style="bold reverse")
        line.append(f"  {info.get('repo', '?')}", style="bold")
        line.append(f"  ⎇ {info.get('branch') or '-'}", style="magenta")
        line.append(f"  store {info.get('store', '-')}", style="dim")
        remote, server = info.get("remote"), info.get("server")
        if remote:
            line.append(f"  ⇄ remote {remote}", style="bold cyan")
        else:
            line.append("  local", style="dim")
            if server:
                line.append(f" (server {server}: ctui tui --remote)", style="cyan")
        if info.get("counts"):
            line.append(f"  {info['counts']}", style="dim")
        spend = info.get("spend")
        if spend and (spend.get("usd") or spend.get("usd_cap") or spend.get("tokens_cap")):
            from ctui.core.threads.budget import headline

            share = spend.get("share") or 0
            style = "bold red" if share >= 1 else "bold yellow" if share >= 0.8 else "green"
            line.append(f"  {headline({'day': spend})}", style=style)
        waiting = info.get("waiting") or []
        if waiting:
            who = ", ".join(waiting[:3]) + (f" +{len(waiting) - 3}" if len(waiting) > 3 else "")
            line.append(f"  ⚠ needs input: {who}", style="bold yellow")
        self.query_one("#top", Static).update(line)

    def watch_trouble(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(f"⚠ {text}  (retrying every second)" if text else "")
        banner.set_class(bool(text), "shown")
