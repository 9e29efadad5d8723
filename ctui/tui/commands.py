"""The command palette's ctui commands (ctrl+p): every key action, by name."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Spawn a thread", "spawn", "Start an agent run in its own worktree"),
    ("Stop the selected thread", "stop", "SIGTERM, then SIGKILL after the grace period"),
    ("Force-release the selected lease", "force_release", "Take a lease away (asks for a reason)"),
    ("Cleanup", "cleanup", "Reap stale instances, expired leases and orphaned threads"),
    ("Add a task", "add_task", "Queue a task for agents to claim"),
    ("Log a decision", "log_decision", "Record a decision every agent will see"),
    ("Filter the focused pane", "filter", "Show only rows containing some text"),
    ("Reload now", "reload", "Read the store again"),
    ("Help", "help", "Keys and panes"),
    *(
        (f"Go to {pane}", f"focus_pane('{pane.lower()}')", f"Focus the {pane} pane")
        for pane in ("Instances", "Leases", "Threads", "Tasks", "Decisions", "Activity")
    ),
)


class ControlRoomCommands(Provider):
    """Offers the control room's actions in the command palette."""

    async def _run(self, action: str) -> None:
        await self.app.run_action(action)

    async def discover(self) -> Hits:
        for title, action, help_text in COMMANDS:
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                hit: Any = Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )
                yield hit
