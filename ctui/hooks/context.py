"""The `additionalContext` Claude reads at SessionStart, UserPromptSubmit and SubagentStart.

At the start of a session: who else is working, which files others hold,
open tasks, recent decisions and discoveries. At each prompt: only what is
new since this instance last looked (decisions and discoveries logged by
others after its `last_seen_event`). Every section is cut to a few lines with
a "see `ctui ...`" pointer, and the whole text stays under Claude Code's
10,000-character cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from ctui.core.clock import ago
from ctui.core.coordinator import Coordinator
from ctui.core.instances import OPERATOR, Instance

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

LIMIT = 9_000
PER_SECTION = 12
LINE = 220
NEWS_LIMIT = 500


def _section(title: str, items: list[str], more_hint: str, total: int | None = None) -> str:
    """A titled list of at most PER_SECTION lines; `total` None means "items may be a sample"."""
    if not items:
        return ""
    shown = [f"- {_cut(item)}" for item in items[:PER_SECTION]]
    if total is not None and total > len(shown):
        shown.append(f"- ... and {total - len(shown)} more: {more_hint}")
    elif total is None and len(items) > len(shown):
        shown.append(f"- ... and more: {more_hint}")
    return f"{title}\n" + "\n".join(shown)


def _cut(text: str, size: int = LINE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _join(header: str, sections: Iterable[str]) -> str | None:
    """Header plus the non-empty sections, cut at a section boundary to stay under LIMIT."""
    body = [s for s in sections if s]
    if not body:
        return None
    text = header
    for part in body:
        if len(text) + len(part) + 2 > LIMIT:
            room = LIMIT - len(text) - 60
            if room > 200:
                text += "\n\n" + part[:room].rsplit("\n", 1)[0]
            text += "\n\n(more was left out: run `ctui status`)"
            break
        text += "\n\n" + part
    return text[:LIMIT]


def _guarded(read: Callable[[], list[Any]]) -> list[Any]:
    """A list from a part that may not exist yet in this version of the core."""
    try:
        return list(read())
    except (AttributeError, TypeError, NotImplementedError):
        return []


def _agents(c: Coordinator, me: Instance, now: float) -> str:
    others = [i for i in c.instances.list() if i.id not in (me.id, OPERATOR)]
    return _section(
        "Other live agents:",
        [
            f"{i.id} [{i.state}]"
            + (f" role {i.role}" if i.role else "")
            + (f", task: {i.task}" if i.task else "")
            + (f", branch {i.branch}" if i.branch else "")
            + f", last active {ago(now - i.heartbeat_at)} ago"
            for i in others
        ],
        "`ctui instance list`",
        len(others),
    )


def _leases(c: Coordinator, me: Instance, now: float) -> str:
    held = [lease for lease in c.leases.list() if lease.holder not in (me.id, me.parent_id)]
    return _section(
        "Files leased by others (an edit to these is denied until released):",
        [
            f"{lease.path} by {lease.holder}"
            + (f" ({lease.intent})" if lease.intent else "")
            + f", expires in {ago(lease.expires_at - now)}"
            for lease in held
        ],
        "`ctui lock list`",
        len(held),
    )


def _tasks(c: Coordinator) -> str:
    tasks: list[Any] = []
    for status in ("available", "claimed"):
        tasks += _guarded(partial(c.tasks.list, status=status))
    return _section(
        "Open tasks (`ctui task claim --as YOU` takes the best available one):",
        [
            f"{t.id} p{t.priority} [{t.status}{' by ' + t.claimed_by if t.claimed_by else ''}] "
            + t.description
            for t in tasks
        ],
        "`ctui task list`",
        len(tasks),
    )


def _decisions(c: Coordinator) -> str:
    found = c.decisions.list(limit=PER_SECTION + 1)
    return _section(
        "Recent decisions:",
        [f"{d.id} [{d.category}] {d.title}" for d in found],
        "`ctui decisions list`",
        c.decisions.count(),
    )


def _discoveries(c: Coordinator) -> str:
    found = _guarded(lambda: c.discoveries.list(limit=PER_SECTION + 1))
    return _section(
        "Discoveries shared by agents:",
        [f"{d.text} ({d.instance or 'someone'})" for d in found],
        "`ctui discover list`",
    )


def _news(c: Coordinator, me: Instance) -> str:
    events = [
        e
        for e in c.events.since(
            me.last_seen_event, limit=NEWS_LIMIT, kinds=["decision.logged", "discovery.added"]
        )
        if e.actor != me.id
    ]
    items = []
    for e in reversed(events):
        if e.kind == "decision.logged":
            items.append(
                f"decision {e.subject} [{e.data.get('category', '?')}] {e.data.get('title', '')}"
                f" (by {e.actor})"
            )
        else:
            items.append(f"discovery by {e.actor}: {e.data.get('text', '')}")
    return _section(
        "New since your last prompt:",
        items,
        "`ctui decisions list` / `ctui discover list`",
        None if len(events) >= NEWS_LIMIT else len(items),
    )


def at_start(c: Coordinator, me: Instance) -> str | None:
    """Everything a new session should know before it edits anything."""
    from ctui.hooks.edits import WAIT_S, ctui_command

    now = c.now()
    ctui = ctui_command()
    header = (
        f"ctui coordinates the agents on this repository; you are instance {me.id}. "
        "Before editing a file another agent leases, your edit is denied: pick other work or "
        f"wait (`{ctui} lock acquire FILE --wait {WAIT_S} --as {me.id}`). Log decisions others "
        f"should follow with `{ctui} decisions add --as {me.id}`."
    )
    text = _join(
        header,
        (_agents(c, me, now), _leases(c, me, now), _tasks(c), _decisions(c), _discoveries(c)),
    )
    return text or header


def since_last_seen(c: Coordinator, me: Instance) -> str | None:
    """Decisions and discoveries others logged since this instance last looked (None if none)."""
    return _join(f"ctui (you are {me.id}):", (_news(c, me),))


def for_subagent(c: Coordinator, me: Instance) -> str | None:
    """A subagent needs to know which files it cannot edit."""
    now = c.now()
    return _join(
        f"ctui: you are instance {me.id}, a subagent of {me.parent_id}.", (_leases(c, me, now),)
    )


def answer(event: str, text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    return {"hookSpecificOutput": {"hookEventName": event, "additionalContext": text[:LIMIT]}}
