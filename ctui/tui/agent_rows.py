"""How one agent (a `ctui.core.flows.roster` record) becomes one row of the agents list.

Columns carry a priority: when the list is narrow the lowest-priority ones
drop first, and DOING takes whatever width is left (its text ellipsised), so
no column is ever cut off half-way. Failed rows show their reason in DOING.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from ctui.core.clock import ago
from ctui.core.fmt import money
from ctui.tui.rows import Cell, Column, PaneSpec, Record, short

STATE_LOOK = {
    "working": ("● working", "bold green"),
    "waiting": ("? waiting", "bold yellow"),
    "idle": ("○ idle", "cyan"),
    "failed": ("✗ failed", "bold red"),
    "done": ("✓ done", "dim"),
}


@dataclass(frozen=True)
class AgentColumn:
    key: str
    label: str
    width: int
    keep: int
    """Priority: the lower, the longer it stays as the list narrows (DOING: flexible)."""


COLUMNS: tuple[AgentColumn, ...] = (
    AgentColumn("state", "STATE", 14, 0),
    AgentColumn("name", "NAME", 16, 0),
    AgentColumn("doing", "DOING", 0, 1),
    AgentColumn("files", "FILES", 16, 5),
    AgentColumn("task", "TASK", 16, 6),
    AgentColumn("branch", "BRANCH", 16, 7),
    AgentColumn("diff", "DIFF", 11, 4),
    AgentColumn("runtime", "RUNTIME", 7, 2),
    AgentColumn("cost", "COST", 7, 3),
)
PADDING = 2
"""A DataTable cell's padding (one space each side)."""
DOING_MIN = 16


def fit(width: int) -> tuple[AgentColumn, ...]:
    """The columns that fit `width` cells, DOING widened to fill the rest (at least DOING_MIN)."""
    shown = list(COLUMNS)
    while True:
        fixed = sum(c.width + PADDING for c in shown if c.key != "doing")
        room = width - fixed - PADDING - 1  # the scrollbar
        droppable = [c for c in shown if c.keep > 1]
        if room >= DOING_MIN or not droppable:
            break
        shown.remove(max(droppable, key=lambda c: c.keep))
    room = max(DOING_MIN, room)
    return tuple(
        AgentColumn(c.key, c.label, room, c.keep) if c.key == "doing" else c for c in shown
    )


def cells(a: Record, now: float) -> dict[str, Cell]:
    """Every column's cell for one agent (the list picks the ones that fit)."""
    state = str(a.get("state") or "idle")
    label, style = STATE_LOOK.get(state, (state, ""))
    if state == "working" and a.get("tool"):
        label = f"⚙ running {a['tool']}"
    doing_style = ""
    doing = a.get("doing") or ""
    if state == "failed":
        doing, doing_style = f"{a.get('reason') or 'failed'}", "red"
    elif state == "waiting":
        doing = doing or "needs input"
        doing_style = "yellow"
    files: Sequence[str] = a.get("files") or []
    held = ""
    if files:
        held = files[0].rsplit("/", 1)[-1] + (f" +{len(files) - 1}" if len(files) > 1 else "")
    diff = a.get("diff")
    diff_cell = Cell("-", -1)
    if diff:
        plus, minus = diff
        text = Text.assemble((f"+{plus}", "green"), " ", (f"-{minus}", "red"))
        diff_cell = Cell(text.plain, plus + minus, "", text)
    runtime = a.get("runtime")
    cost = a.get("cost") or 0.0
    return {
        "state": Cell(label, state, style),
        "name": Cell(str(a["name"]), str(a["name"]), "bold" if state != "done" else "dim"),
        "doing": Cell(short(doing, 200) or "-", doing, doing_style),
        "files": Cell(held or "-", len(files)),
        "task": Cell(short(a.get("task"), 60) or "-", str(a.get("task") or "")),
        "branch": Cell(str(a.get("branch") or "-"), str(a.get("branch") or "")),
        "diff": diff_cell,
        "runtime": Cell(ago(runtime) if runtime is not None else "-", runtime or 0.0),
        "cost": Cell(money(cost) if cost else "-", cost),
    }


def spec(columns: tuple[AgentColumn, ...]) -> PaneSpec:
    """A pane spec showing `columns` of each agent."""
    keys = [c.key for c in columns]

    def row(a: Record, now: float) -> list[Cell]:
        every = cells(a, now)
        return [every[k] for k in keys]

    return PaneSpec(
        "agents",
        "Agents",
        "key",
        tuple(Column(c.key, c.label, c.width) for c in columns),
        row,
        "No agents. Press s to spawn one, or start Claude Code here with the hooks installed.",
    )
