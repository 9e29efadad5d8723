"""Permission requests held open for the operator: ask, answer (approve / deny), wait.

Claude Code's `PermissionRequest` hook fires when a tool call needs the
user's yes. ctui's hook records the request (`permission.asked`, with the tool
and its input, and the question text the control room shows), marks the agent
waiting, and polls for the operator's answer (`permission.answered`, from the
TUI, `ctui approve|deny NAME` or the API). If none comes within the configured
wait, it records `permission.expired` and gives no answer, so the client asks
in its own prompt. Answering and expiring both run in one write transaction
that first checks the request is still open: exactly one of them wins.

Settings (`.ctui/config.toml`):

    [permissions]
    wait = 60          # seconds a request is held for the operator (0: never held)
    sessions = false   # also hold requests of Claude sessions started by hand

Runs ctui started (threads) are held by default; a session started by hand,
whose user sits at its own prompt, only with `sessions = true`.
"""

from __future__ import annotations

import json
import time

from ctui.core.errors import NotFound, UsageError
from ctui.core.flows.roster import ASKED

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator

ASK = "permission.asked"
ANSWER = "permission.answered"
EXPIRE = "permission.expired"
WAIT_S = 60.0
MAX_WAIT_S = 590.0
"""Below the hook's own timeout (600 s in the installed settings)."""
POLL_S = 0.1
INPUT_CHARS = 2000


def settings(c: Coordinator) -> tuple[float, bool]:
    """(wait seconds, hold hand-started sessions too) from `[permissions]`."""
    table = c.config.raw.get("permissions", {}) if isinstance(c.config.raw, dict) else {}
    wait = table.get("wait", WAIT_S)
    sessions = table.get("sessions", False)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_S:
        raise UsageError(f"[permissions] wait must be a number of seconds from 0 to {MAX_WAIT_S:g}")
    if not isinstance(sessions, bool):
        raise UsageError("[permissions] sessions must be true or false")
    return float(wait), sessions


def question(tool: str, tool_input: dict[str, Any]) -> str:
    """What the operator is asked: the tool and its main argument."""
    target = (
        tool_input.get("command")
        or tool_input.get("file_path")
        or tool_input.get("notebook_path")
        or tool_input.get("url")
        or tool_input.get("pattern")
    )
    if target is None and tool_input:
        target = json.dumps(tool_input, separators=(",", ":"))[:200]
    said = f"Permission to use {tool}" + (f": {target}" if target else "")
    return said[:INPUT_CHARS]


def ask(c: Coordinator, instance: str, tool: str, tool_input: dict[str, Any]) -> int:
    """Record a request by `instance` (already marked waiting); returns its id."""
    text = question(tool, tool_input)
    shown = json.dumps(tool_input, default=str)[:INPUT_CHARS]
    with c.store.write() as conn:
        rid = c.log(
            conn, ASK, actor=instance, subject=instance, data={"tool": tool, "input": shown}
        )
        c.log(
            conn,
            ASKED,
            actor=instance,
            subject=instance,
            data={"message": text, "type": "permission_request", "request": rid},
        )
    return rid


def _closed(c: Coordinator, rid: int) -> dict[str, Any] | None:
    """The answer or expiry of request `rid`, if any (its data, with `kind`)."""
    for row in c.store.conn.execute(
        "SELECT kind, data FROM events WHERE id > ? AND kind IN (?, ?) AND subject = ? "
        "ORDER BY id LIMIT 1",
        (rid, ANSWER, EXPIRE, str(rid)),
    ):
        data = json.loads(row["data"] or "{}")
        data["kind"] = row["kind"]
        return dict(data)
    return None


def pending(c: Coordinator, target: str) -> dict[str, Any] | None:
    """The open request of `target` (an instance id, or a thread's name: its instance)."""
    instances = {target}
    row = c.store.conn.execute(
        "SELECT instance_id FROM threads WHERE name = ?", (target,)
    ).fetchone()
    if row is not None and row[0]:
        instances.add(row[0])
    marks = ",".join("?" * len(instances))
    for ask_row in c.store.conn.execute(
        f"SELECT id, actor, data FROM events WHERE kind = ? AND actor IN ({marks}) "
        "ORDER BY id DESC LIMIT 20",
        (ASK, *instances),
    ):
        if _closed(c, int(ask_row["id"])) is None:
            data = json.loads(ask_row["data"] or "{}")
            return {"id": int(ask_row["id"]), "instance": ask_row["actor"], **data}
    return None


def answer(
    c: Coordinator, target: str, *, allow: bool, message: str | None = None, by: str = "operator"
) -> dict[str, Any]:
    """Approve or deny `target`'s open request; NotFound when it has none (any more)."""
    behavior = "allow" if allow else "deny"
    with c.store.write() as conn:
        req = pending(c, target)
        if req is None:
            raise NotFound(
                f"{target} has no permission request waiting (answered, expired, or none asked)"
            )
        data: dict[str, Any] = {"behavior": behavior, "by": by}
        if message:
            data["message"] = message[:INPUT_CHARS]
        c.log(conn, ANSWER, actor=by, subject=str(req["id"]), data=data)
    return {"request": req["id"], "instance": req["instance"], "tool": req.get("tool"), **data}


def wait(
    c: Coordinator, rid: int, timeout: float, *, poll: float = POLL_S
) -> dict[str, Any] | None:
    """Block until request `rid` is answered (its answer) or `timeout` passes (None, recorded
    as expired unless an answer slipped in first)."""
    deadline = time.monotonic() + timeout
    while True:
        done = _closed(c, rid)
        if done is not None:
            return done if done["kind"] == ANSWER else None
        if time.monotonic() >= deadline:
            with c.store.write() as conn:
                done = _closed(c, rid)
                if done is None:
                    c.log(conn, EXPIRE, subject=str(rid), data={"after_s": timeout})
                    return None
            return done if done["kind"] == ANSWER else None
        time.sleep(poll)


def hook_output(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer in Claude Code's PermissionRequest schema."""
    decision: dict[str, Any] = {"behavior": answer["behavior"]}
    if answer["behavior"] == "deny":
        decision["message"] = (
            answer.get("message") or f"denied by {answer.get('by', 'the operator')} in ctui"
        )
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}
