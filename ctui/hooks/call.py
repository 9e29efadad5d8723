"""One hook call: from the payload's bytes to what the hook prints and its exit code.

The hook process (`ctui.hook`) runs it on the payload it read from stdin;
`ctui serve` runs the very same function for a hook process that sent its
payload over `.ctui/hooks.sock` (`ctui.hooks.serve`), so a served call answers
exactly as a direct one. Standard library only until an event's handler loads.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

MAX_INPUT = 32 * 1024 * 1024
Outcome = tuple[int, str, str]
"""(exit code, stdout, stderr) of one hook call."""

EVENTS = {
    "SessionStart": "lifecycle",
    "SessionEnd": "lifecycle",
    "UserPromptSubmit": "lifecycle",
    "Notification": "lifecycle",
    "Stop": "lifecycle",
    "SubagentStart": "lifecycle",
    "SubagentStop": "lifecycle",
    "PreToolUse": "edits",
    "PostToolUse": "edits",
    "PostToolUseFailure": "edits",
    "PermissionRequest": "permission",
}


FILE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
"""The tools whose PreToolUse is the lease check (blocking; it never fails open)."""
LONG_TOOLS = ("Bash", "Task", "Agent", "WebFetch", "WebSearch", "mcp__.*")
"""The tools shown while they run besides the file tools (`ctui.hooks.running`): commands,
subagents, the web, MCP servers. Read, Grep, Glob and the like are quick and frequent: a
hook process each would cost more than showing them is worth."""


def is_shown(tool: str) -> bool:
    """Whether ctui's hooks follow `tool` from start to end (the settings' matchers)."""
    return tool in FILE_TOOLS or tool in LONG_TOOLS or tool.startswith("mcp__")


def is_lease_check(payload: dict[str, Any]) -> bool:
    """A PreToolUse on a file tool: the one call that denies rather than fail open. The
    background PreToolUse of the other tools (`ctui.hooks.running`) never denies."""
    return payload.get("hook_event_name") == "PreToolUse" and payload.get("tool_name") in FILE_TOOLS


class HookInputError(Exception):
    """The payload cannot be used: one line for stderr."""


def parse(raw: bytes, event_arg: str | None) -> dict[str, Any]:
    """The payload as a dict with a known `hook_event_name`, a session id and an absolute cwd."""
    from ctui.core import fastjson  # `json` itself loads `re` and `enum`

    try:
        payload = fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HookInputError(
            f"hook payload is not JSON ({exc.__class__.__name__}): ignored"
        ) from None
    except RecursionError:
        raise HookInputError("bad input: hook payload nests too deeply: ignored") from None
    if not isinstance(payload, dict):
        raise HookInputError("hook payload is not a JSON object: ignored")
    try:  # "\ud800" is valid JSON but no valid text: nothing could store or print it
        fastjson.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise HookInputError(
            "bad input: hook payload holds a lone surrogate (\\ud800-\\udfff), not text: ignored"
        ) from None
    except RecursionError:
        raise HookInputError("bad input: hook payload nests too deeply: ignored") from None
    event = payload.get("hook_event_name") or event_arg
    if not isinstance(event, str) or event not in EVENTS:
        raise HookInputError(f"unknown hook event {event!r}: ctui handles {', '.join(EVENTS)}")
    if event_arg and event_arg != event:
        raise HookInputError(
            f"`ctui hook {event_arg}` got a {event} payload: fix the hook's command"
        )
    payload["hook_event_name"] = event
    session = payload.get("session_id")
    if not isinstance(session, str) or not session.strip():
        raise HookInputError(f"{event} payload has no session_id")
    cwd = payload.get("cwd")
    if not isinstance(cwd, str) or not os.path.isabs(cwd) or not os.path.isdir(cwd):
        raise HookInputError(f"{event} payload's cwd {cwd!r} is not an existing absolute folder")
    for key in ("agent_id", "agent_type"):
        if payload.get(key) is not None and not isinstance(payload[key], str):
            raise HookInputError(f"{event} payload's {key} is not a string")
    if payload.get("tool_input") is not None and not isinstance(payload["tool_input"], dict):
        raise HookInputError(f"{event} payload's tool_input is not an object")
    return payload


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Run the event's handler; returns the JSON answer, or None for a silent allow."""
    name = f"ctui.hooks.{EVENTS[payload['hook_event_name']]}"
    __import__(name)  # not importlib.import_module: `importlib` loads `warnings`
    result: dict[str, Any] | None = sys.modules[name].handle(payload)
    return result


def run(payload: dict[str, Any]) -> Outcome:
    """Answer a parsed payload: what the hook process prints, and its exit code."""
    try:
        answer = handle(payload)
    except Exception as exc:
        from ctui.core.errors import CtuiError

        if isinstance(exc, CtuiError):
            return fail(exc.message)
        if not is_lease_check(payload):
            return fail(f"internal error ({exc.__class__.__name__}: {exc}): please report it")
        answer = retry_deny(f"its lease check failed ({one_line(exc)})")  # a last guard
    if answer is None:
        return 0, "", ""
    from ctui.core import fastjson

    return 0, fastjson.dumps(answer) + "\n", ""


def answer(raw: bytes, event_arg: str | None) -> Outcome:
    """`parse` then `run`: the whole call, as `ctui serve` makes it for a hook process."""
    try:
        payload = parse(raw, event_arg)
    except HookInputError as exc:
        return fail(str(exc))
    return run(payload)


def fail(message: str) -> Outcome:
    """A non-blocking error: exit 1, one line on stderr."""
    line = " ".join(message.split())
    return 1, "", f"ctui hook: {line}\n"


def one_line(exc: BaseException, size: int = 300) -> str:
    """`Kind: message` on one line, cut to `size`: never a traceback in a reason."""
    text = " ".join(f"{exc.__class__.__name__}: {exc}".split())
    return text if len(text) <= size else text[: size - 1] + "…"


def retry_deny(why: str) -> dict[str, Any]:
    """The lease check got no answer (`why`): deny, and say to retry (never fail open)."""
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": (
                f"ctui refused this edit on purpose: {why}. Nothing was changed. Retry this "
                "edit in a moment; if it keeps happening, tell the user (`ctui hooks doctor` "
                "checks the store)."
            ),
        }
    }
