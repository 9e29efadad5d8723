"""What a session runs now, for the long tools the lease check never sees.

Bash commands, subagents (`Task`, called `Agent` by newer clients), web fetches
and searches, and MCP tools can run for minutes, and the control room shows
them (`running Bash  npm test`). Their PreToolUse hook runs in the background
(`"async": true`, see `ctui.hooks.settings`): the client starts it and goes on
with the tool, so a Bash call waits for no hook process. It records the tool and
a short target and prints nothing: it never denies.

In the background a start may land after its call's end (a fast `ls`). Every
end (PostToolUse, PostToolUseFailure) is recorded by the call's `tool_use_id`
(`ctui.core.instances.heartbeat.end_tool`), and a start whose id has ended
writes nothing, in the same write transaction as the check: a finished command
is never left showing as running. A start never changes the agent's state
either: landing late, it must not turn a session that waits for the operator
(or has stopped) back into `working`; the agents list shows a tool only while
the agent works.
"""

from __future__ import annotations

from ctui.hooks.session import Session, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

TARGET_KEYS = {
    "Bash": ("command",),
    "Task": ("description", "subagent_type", "prompt"),
    "Agent": ("description", "subagent_type", "prompt"),
    "WebFetch": ("url",),
    "WebSearch": ("query",),
}
MAX_ID = 128


def handle(payload: dict[str, Any]) -> None:
    """PreToolUse: the call started; PostToolUse or PostToolUseFailure: it ended."""
    s = Session(payload, open_store(payload))
    if payload["hook_event_name"] == "PreToolUse":
        started(s, str(payload["tool_name"]), target(payload), call_id(payload))
    else:
        ended(s, call_id(payload))


def started(s: Session, tool: str, what: str | None, call: str | None) -> bool:
    """Record the running tool, unless its call has ended or its session has; True if written."""
    from ctui.core.instances.heartbeat import ended as has_ended

    with s.c.transaction():
        inst = s.find(s.agent_id)
        if inst is not None and (inst.state == "ended" or (call and has_ended(inst, call))):
            return False
        inst = s.ensure(None)
        return s.c.instances.start_tool(inst.id, tool, what, call)


def ended(s: Session, call: str | None) -> None:
    """The call ended: remembered (so its late start writes nothing), its tool cleared."""
    with s.c.transaction():
        inst = s.find(s.agent_id)
        if inst is not None and inst.state == "ended":
            return
        inst = s.ensure(None)
        s.c.instances.end_tool(inst.id, call)


def call_id(payload: dict[str, Any]) -> str | None:
    """The payload's `tool_use_id` when it is one word of sane length, else None."""
    found = payload.get("tool_use_id")
    if not isinstance(found, str) or not found or len(found) > MAX_ID:
        return None
    return None if any(ch.isspace() for ch in found) else found


def target(payload: dict[str, Any]) -> str | None:
    """What the tool works on, on one line: a command's first line, a URL, a query, a
    subagent's description; for another tool (MCP) its first text argument."""
    tool_input = payload.get("tool_input") or {}
    keys = TARGET_KEYS.get(str(payload.get("tool_name")))
    values = [tool_input.get(k) for k in keys] if keys else list(tool_input.values())
    for value in values:
        if isinstance(value, str):
            line = next((ln for ln in value.splitlines() if ln.strip()), "")
            if line:
                return " ".join(line.split())
    return None
