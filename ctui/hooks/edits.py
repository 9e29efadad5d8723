"""Leases enforced at edit time: PreToolUse and PostToolUse.

PreToolUse on Write, Edit, MultiEdit or NotebookEdit acquires (or renews) the
file's lease for the acting instance; if another live instance holds it, the
answer is a `deny` whose reason tells Claude who holds it, for what, since
when, until when and what to do. PostToolUse records the holder's new SHA-1
(so its own edit is never a conflict), renews, and releases the lease when
`[leases] release = "release-after-edit"`. PostToolUse on Bash reports files
the command changed that another instance holds, since Bash writes never pass
through the Write|Edit matcher.

A subagent may edit under its parent's lease (and the parent under its
subagent's): the lease stays with its holder. Paths outside the repository
pass untouched, without a write to the store.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctui.core.errors import LeaseHeld, UsageError
from ctui.core.leases import Lease
from ctui.hooks.session import Session, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

FILE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
MAX_TEXT = 9_500
MAX_LISTED = 20


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    event, tool = payload["hook_event_name"], payload.get("tool_name")
    if not isinstance(tool, str) or not tool:
        raise UsageError(f"{event} payload has no tool_name")
    if tool in FILE_TOOLS:
        path = _file_path(payload, tool)
        c = open_store(payload)
        if c.leases.key(path, Path(payload["cwd"])) is None:
            return None
        session = Session(payload, c)
        return (
            before_edit(session, path, tool) if event == "PreToolUse" else after_edit(session, path)
        )
    if tool == "Bash" and event == "PostToolUse":
        return after_bash(Session(payload, open_store(payload)))
    return None


def _file_path(payload: dict[str, Any], tool: str) -> str:
    tool_input = payload.get("tool_input") or {}
    path = tool_input.get(
        "notebook_path" if tool == "NotebookEdit" else "file_path"
    ) or tool_input.get("file_path")
    if not isinstance(path, str) or not path.strip():
        raise UsageError(f"{tool} tool_input names no file (file_path / notebook_path)")
    return path


def before_edit(s: Session, path: str, tool: str) -> dict[str, Any] | None:
    """Acquire or renew; deny when another live instance (outside the family) holds it."""
    c = s.c
    with c.transaction():
        inst = s.ensure("working")
        try:
            c.leases.acquire(path, instance=inst.id, intent=f"{tool.lower()} it", cwd=s.cwd)
            return None
        except LeaseHeld as held:
            refusal = held
        lease: Lease | None = refusal.details.get("lease")  # type: ignore[assignment]
        if lease is not None and lease.holder in s.family(inst):
            try:
                c.leases.acquire(path, instance=lease.holder, cwd=s.cwd)
                return None
            except LeaseHeld as third:
                refusal = third
    reason = (
        f"ctui: {refusal.message}. You are {inst.id}: add `--as {inst.id}` to ctui commands "
        f"(`ctui lock check {refusal.details.get('path', path)}` shows the holder now)."
    )
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason[:MAX_TEXT],
        }
    }


def after_edit(s: Session, path: str) -> dict[str, Any] | None:
    """Record the edit's SHA-1 under the holder's lease, renew, apply the release policy."""
    c = s.c
    with c.transaction():
        inst = s.ensure("working")
        mine = c.leases.record_edit(path, instance=inst.id, cwd=s.cwd)
        if mine is None:
            current = c.leases.check(path, cwd=s.cwd)
            if current is not None and current.holder in s.family(inst):
                c.leases.record_edit(path, instance=current.holder, cwd=s.cwd)
                return None
            if current is not None:
                return _tell(
                    f"you edited {current.path} while {current.holder} holds its lease "
                    f"(expires in {int(current.expires_at - c.now())}s): tell the user, and "
                    "coordinate before editing it again",
                    f"ctui: {inst.id} edited a file {current.holder} holds ({current.path})",
                )
            try:
                mine = c.leases.acquire(path, instance=inst.id, intent="edited it", cwd=s.cwd)
            except LeaseHeld as held:
                return _tell(held.message, f"ctui: {inst.id} edited a leased file")
        if c.config.release_policy == "release-after-edit" and mine.holder == inst.id:
            c.leases.release(path, instance=inst.id, cwd=s.cwd)
    return None


def after_bash(s: Session) -> dict[str, Any] | None:
    """Files the command changed (modified since this instance's last call) that others lease."""
    c = s.c
    before = s.find(s.agent_id)
    since = before.heartbeat_at if before is not None and s.is_live(before) else 0.0
    inst = s.ensure("working")
    family = s.family(inst)
    live = {i.id for i in c.instances.list()}
    others = [
        lease for lease in c.leases.list() if lease.holder not in family and lease.holder in live
    ]
    if not others:
        return None
    root = _worktree_root(s.cwd)
    if root is None:
        return None
    hits = _changed(root, others, since - 1.0)
    if not hits:
        return None
    listed = [
        f"{key} (held by {lease.holder}{' through ' + lease.path if lease.path != key else ''})"
        for lease, key in hits[:MAX_LISTED]
    ]
    more = f" and {len(hits) - MAX_LISTED} more" if len(hits) > MAX_LISTED else ""
    text = (
        f"ctui: your last command changed {len(hits)} file(s) that other agents hold leases on: "
        f"{', '.join(listed)}{more}. Undo your change to them or coordinate with the holder before "
        f"going on (`ctui lock check FILE` shows who holds a file; you are {inst.id})."
    )
    return _tell(text, f"ctui: a command changed {len(hits)} file(s) leased by other agents")


def _tell(context: str, summary: str) -> dict[str, Any]:
    return {
        "systemMessage": summary[:500],
        "hookSpecificOutput": {
            "hookEventName": "PostToolUse",
            "additionalContext": context[:MAX_TEXT],
        },
    }


def _worktree_root(cwd: Path) -> Path | None:
    from ctui.core.paths import find_git

    layout = find_git(cwd)
    return layout.worktree if layout is not None else None


def _changed(root: Path, leases: list[Lease], since: float) -> list[tuple[Lease, str]]:
    """Leased files in this worktree modified after `since` and unlike the holder's last record.

    Plain keys cost one `stat` each; only a glob lease asks git for the
    worktree's changed files.
    """
    from ctui.core.leases import file_sha1
    from ctui.core.leases.globs import compile_glob

    found: list[tuple[Lease, str]] = []
    globs = [lease for lease in leases if lease.is_glob]
    candidates = [(lease, lease.path) for lease in leases if not lease.is_glob]
    if globs:
        dirty = _git_dirty(root)
        for lease in globs:
            pattern = compile_glob(lease.path)
            candidates.extend((lease, key) for key in dirty if pattern.match(key))
    for lease, key in candidates:
        full = root / key
        try:
            if os.stat(full).st_mtime < since:
                continue
        except OSError:
            continue
        if lease.sha1 is not None and file_sha1(full) == lease.sha1:
            continue
        found.append((lease, key))
    return found


def _git_dirty(root: Path) -> list[str]:
    """Paths git reports as changed or untracked in the worktree (empty if git fails)."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            capture_output=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths, entries = [], out.split(b"\0")
    skip = False
    for entry in entries:
        if skip or len(entry) < 4:
            skip = False
            continue
        status, name = entry[:2], entry[3:]
        skip = status[0:1] in (b"R", b"C")
        paths.append(name.decode(errors="surrogateescape"))
    return paths
