"""PermissionRequest: hold a tool's permission request open until the operator answers in
ctui (approve or deny), or the configured wait passes (then no answer: the client asks
in its own prompt). See `ctui.core.flows.permissions`.

Waiting for the operator clears what the agent runs (it is `needs_input`); an approved call
is shown running again (its PostToolUse clears it), since its start was reported before."""

from __future__ import annotations

from ctui.core.flows import permissions
from ctui.hooks.call import is_shown
from ctui.hooks.running import target
from ctui.hooks.session import Session, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    s = Session(payload, open_store(payload))
    wait, sessions = permissions.settings(s.c)
    if wait <= 0 or not (sessions or s.thread_instance):
        return None
    tool = str(payload.get("tool_name") or "a tool")
    tool_input = payload.get("tool_input") or {}
    with s.c.store.write():
        me = s.ensure("needs_input")
        rid = permissions.ask(s.c, me.id, tool, tool_input)
    answer = permissions.wait(s.c, rid, wait)
    if answer is None:
        return None
    with s.c.transaction():
        me = s.ensure("working")
        if answer["behavior"] == "allow" and is_shown(tool):  # it runs now: show it again
            s.c.instances.start_tool(me.id, tool, target(payload), None)
    return permissions.hook_output(answer)
