"""Session events: start, prompt, notification, stop, subagents and the end.

A session's first prompt becomes its task, so others see what it works on
(in `ctui status` and in the reason their edit is denied). State follows
Claude Code's own signals: a prompt or tool call means
`working`, a permission prompt or question `needs_input`, Stop `idle`.
SessionEnd releases everything the session and its subagents hold, requeues
their task claims and marks them ended, inside Claude Code's 1.5 s budget for
SessionEnd hooks (hence the shorter busy timeout there).
"""

from __future__ import annotations

from ctui.core.flows.roster import ASKED
from ctui.hooks import context
from ctui.hooks.session import Session, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

SESSION_END_BUSY_TIMEOUT_S = 1.0
TASK_CHARS = 100
MESSAGE_CHARS = 2000
WAITING = frozenset({"permission_prompt", "idle_prompt", "elicitation_dialog"})


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    event = payload["hook_event_name"]
    if event == "SessionEnd":
        return session_end(payload)
    s = Session(payload, open_store(payload))
    if event in ("SubagentStart", "SubagentStop") and s.agent_id is None:
        return None
    return HANDLERS[event](s)


def session_start(s: Session) -> dict[str, Any] | None:
    with s.c.transaction():
        me = s.ensure("idle")
        seen = s.c.events.latest_id()
        text = context.at_start(s.c, me)
        s.c.instances.mark_seen(me.id, seen)
    return context.answer("SessionStart", text)


def user_prompt(s: Session) -> dict[str, Any] | None:
    """Heartbeat, news since the last prompt; the first prompt becomes the instance's task."""
    with s.c.transaction():
        me = s.ensure("working")
        s.c.instances.set_tool(me.id, None)  # a new prompt: no tool runs yet
        task = _task_from(s.payload.get("prompt"))
        if me.task is None and task:
            me = s.c.instances.set_task(me.id, task)
        seen = s.c.events.latest_id()
        text = context.since_last_seen(s.c, me)
        if seen > me.last_seen_event:
            s.c.instances.mark_seen(me.id, seen)
    return context.answer("UserPromptSubmit", text)


def _task_from(prompt: object) -> str | None:
    """The first non-empty line of a prompt, cut to TASK_CHARS (what others see in a deny)."""
    if not isinstance(prompt, str):
        return None
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    return line if len(line) <= TASK_CHARS else line[: TASK_CHARS - 1] + "…"


def notification(s: Session) -> dict[str, Any] | None:
    """Waiting for the operator: the state, and what is asked (the control room shows it)."""
    kind = s.payload.get("notification_type")
    waits = kind is None or kind in WAITING
    with s.c.store.write() as conn:
        me = s.ensure("needs_input" if waits else None)
        message = s.payload.get("message")
        if waits and isinstance(message, str) and message.strip():
            s.c.log(
                conn,
                ASKED,
                actor=me.id,
                subject=me.id,
                data={"message": message[:MESSAGE_CHARS], "type": kind},
            )
    return None


def stop(s: Session) -> dict[str, Any] | None:
    s.ensure("idle")
    return None


def subagent_start(s: Session) -> dict[str, Any] | None:
    with s.c.transaction():
        me = s.ensure("working")
        text = context.for_subagent(s.c, me)
    return context.answer("SubagentStart", text)


def subagent_stop(s: Session) -> dict[str, Any] | None:
    """End the subagent's instance (its leases go); the parent session carries on."""
    with s.c.transaction():
        sub = s.find(s.agent_id)
        if sub is not None and sub.state != "ended":
            s.c.instances.unregister(sub.id, reason="subagent stopped")
        parent = s.find(None)
        if s.is_live(parent):
            assert parent is not None
            s.c.instances.heartbeat(parent.id)
    return None


def session_end(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Release all, requeue claims, mark the session and its subagents ended."""
    s = Session(payload, open_store(payload, timeout=SESSION_END_BUSY_TIMEOUT_S))
    reason = payload.get("reason")
    why = f"session ended ({reason})" if isinstance(reason, str) and reason else "session ended"
    with s.c.transaction():
        me = s.find(None)
        if me is None:
            return None
        for sub in s.subagents(me):
            s.c.instances.unregister(sub.id, reason=why)
        if me.state != "ended":
            s.c.instances.unregister(me.id, reason=why)
    return None


HANDLERS = {
    "SessionStart": session_start,
    "UserPromptSubmit": user_prompt,
    "Notification": notification,
    "Stop": stop,
    "SubagentStart": subagent_start,
    "SubagentStop": subagent_stop,
}
