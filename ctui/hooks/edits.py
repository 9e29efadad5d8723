"""Leases enforced at edit time: PreToolUse and PostToolUse.

PreToolUse on Write, Edit, MultiEdit or NotebookEdit acquires (or renews) the
file's lease for the acting instance; if another live instance holds it, the
answer is a `deny` whose reason tells Claude who holds it, for what, since
when, until when and what to do. PostToolUse records the holder's new SHA-1
(so its own edit is never a conflict), renews, and releases the lease when
`[leases] release = "release-after-edit"`. PostToolUse on Bash (and
PostToolUseFailure: a command that failed may have written too) reports files
the command changed that another instance holds, since Bash writes never pass
through the Write|Edit matcher. Both end the call's tool in the control room.

A subagent may edit under its parent's lease (and the parent under its
subagent's): the lease stays with its holder. Paths outside the repository
pass untouched, without a write to the store.

A tool call names one literal file: `[`, `]`, `*` and `?` in its name are
characters (`app/[slug]/page.tsx` is a file, escaped into its key with
`ctui.core.leases.globs.escape`), and a call never leases more than that file. The
lease check refuses, without touching the store, a path that is a folder, that
is not a regular file (a FIFO, a device, a socket: never opened), or that does
not exist and holds `*` or `?` (a pattern where one file is meant). Explicit
globs remain a CLI, API and MCP feature.

The lease check never fails open: when the store cannot answer in time (it
stayed write-locked past the hook's busy timeout) or at all (corrupt,
unreadable), PreToolUse denies with a reason that says to retry in a moment.
`[hooks] on_timeout = "fail-open"` in `.ctui/config.toml` restores the old
behaviour (exit 1, a non-blocking error) for a repository that prefers it. A
repository without a store did not opt in: its edits pass in silence.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctui.core.errors import CtuiError, LeaseHeld, StoreError, UsageError
from ctui.core.leases import Lease
from ctui.core.leases.globs import escape
from ctui.hooks.call import FILE_TOOLS, one_line, retry_deny
from ctui.hooks.session import CALLER, Session, open_store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

MAX_TEXT = 9_500
MAX_LISTED = 20
WAIT_S = 90  # inside the Bash tool's 2-minute default timeout, with room to start


def handle(payload: dict[str, Any]) -> dict[str, Any] | None:
    """File tools: the lease check and the edit's record. Bash's end (success or failure):
    leased files it changed. Every other call (the background PreToolUse of Bash, the
    ends of the other long tools, a failed edit): what runs now (`ctui.hooks.running`)."""
    event, tool = payload["hook_event_name"], payload.get("tool_name")
    if not isinstance(tool, str) or not tool:
        raise UsageError(f"{event} payload has no tool_name")
    if tool in FILE_TOOLS and event != "PostToolUseFailure":
        path = _file_path(payload, tool)
        if event == "PreToolUse":
            return lease_check(payload, path, tool)
        c = open_store(payload)
        cwd = Path(payload["cwd"])
        try:
            if c.leases.key(escape(path), cwd) is None or _not_one_file(c, path, cwd):
                return None
        except UsageError:  # the lease check refused it already
            return None
        return after_edit(Session(payload, c), escape(path))
    if tool == "Bash" and event != "PreToolUse":
        return after_bash(Session(payload, open_store(payload)))
    from ctui.hooks import running

    running.handle(payload)
    return None


def lease_check(payload: dict[str, Any], path: str, tool: str) -> dict[str, Any] | None:
    """PreToolUse on a file: allow, or deny with a reason; never an unanswered allow.

    Whatever goes wrong inside it, a store that cannot answer or an unexpected
    exception (a row it cannot read, a bug), is a deny that says to retry,
    unless the repository opted out (`_unanswered`).
    """
    cwd = Path(payload["cwd"])
    try:
        return _lease_check(payload, path, tool, cwd)
    except StoreError as exc:
        return _unanswered(cwd, exc, f"it could not check the file's lease in time ({exc.message})")
    except Exception as exc:
        return _unanswered(cwd, exc, f"its lease check failed ({one_line(exc)})")


def _lease_check(payload: dict[str, Any], path: str, tool: str, cwd: Path) -> dict[str, Any] | None:
    c = open_store(payload)
    try:
        if c.leases.key(escape(path), cwd) is None:
            return None
        refusal = _not_one_file(c, path, cwd)
    except UsageError as exc:  # the repository root, a path the system refuses
        refusal = exc.message
    if refusal:
        return deny(f"ctui refused this edit on purpose: {refusal}")
    return before_edit(Session(payload, c), escape(path), tool, target=_shown(c, path, cwd))


def deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason[:MAX_TEXT],
        }
    }


def _not_one_file(c: Any, path: str, cwd: Path) -> str | None:
    """Why `path` is not one regular file a lease can stand for, or None when it is.

    One `stat`, never an `open`: a FIFO is not read and a device not touched.
    """
    import stat

    full = c.paths.file(path, cwd)
    try:
        mode = os.stat(full).st_mode
    except FileNotFoundError:
        if any(ch in (c.paths.key(path, cwd) or "") for ch in "*?"):
            return (
                f"{path} does not exist and its name holds `*` or `?`: a tool call edits one "
                "file, so name that file (ctui leases one file per edit; globs are for "
                "`ctui lock acquire`)"
            )
        return None
    except OSError as exc:
        return f"{path} cannot be examined ({exc.strerror}): name a regular file"
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not a file: a tool call edits and leases one file"
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        return f"{path} is {kind}, not a regular file: ctui leases regular files only"
    return None


def _unanswered(cwd: Path, exc: Exception, why: str) -> dict[str, Any] | None:
    """The lease check got no answer (`why`): deny (retry soon), unless this repository opted out.

    No store at all means the repository never opted in: the edit passes.
    """
    from ctui.core.config import Config
    from ctui.core.store import exists

    folder = _store_folder(cwd)
    if folder is None or not exists(folder):  # a SQLite file, or a PostgreSQL marker
        return None
    try:
        fail_open = Config.load(folder).hook_on_timeout == "fail-open"
    except Exception:
        fail_open = False
    if fail_open:  # exit 1 with one line, a non-blocking error, as the repository asked
        if isinstance(exc, CtuiError):
            raise exc
        raise CtuiError(f"internal error ({one_line(exc)}): please report it") from exc
    return retry_deny(why)


def _store_folder(cwd: Path) -> Path | None:
    """The store this call is for: the server's when `ctui serve` answers it, else by `cwd`."""
    from ctui.core.paths import resolve_store_dir

    caller = CALLER.get()
    if caller is not None:
        return caller.store
    try:
        return resolve_store_dir(None, cwd)
    except Exception:
        return None


def _file_path(payload: dict[str, Any], tool: str) -> str:
    tool_input = payload.get("tool_input") or {}
    path = tool_input.get(
        "notebook_path" if tool == "NotebookEdit" else "file_path"
    ) or tool_input.get("file_path")
    if not isinstance(path, str) or not path.strip():
        raise UsageError(f"{tool} tool_input names no file (file_path / notebook_path)")
    return path


def _shown(c: Any, path: str, cwd: Path) -> str:
    """The file as the control room shows it: relative to the repository when inside it."""
    try:
        return str(c.paths.key(path, cwd) or path)
    except Exception:
        return path


def before_edit(
    s: Session, path: str, tool: str, *, target: str | None = None
) -> dict[str, Any] | None:
    """Acquire or renew; deny when another live instance (outside the family) holds it.

    A granted edit also records `tool` and its `target` as what the agent runs
    now (one UPDATE in this transaction; PostToolUse clears it)."""
    c = s.c
    with c.transaction():
        inst = s.ensure("working")
        try:
            c.leases.acquire(path, instance=inst.id, intent=f"{tool.lower()} it", cwd=s.cwd)
            c.instances.set_tool(inst.id, tool, target or path, _call(s))
            return None
        except LeaseHeld as held:
            refusal = held
        lease: Lease | None = refusal.details.get("lease")  # type: ignore[assignment]
        if lease is not None and lease.holder in s.family(inst):
            try:
                c.leases.acquire(path, instance=lease.holder, cwd=s.cwd)
                c.instances.set_tool(inst.id, tool, target or path, _call(s))
                return None
            except LeaseHeld as third:
                refusal = third
    from ctui.core.leases.keys import file as lease_file

    target = escape(str(lease_file(c, path, s.cwd)))
    return deny(held_reason(refusal, inst.id, c.now(), target))


def held_reason(refusal: LeaseHeld, me: str, now: float, target: str) -> str:
    """A deliberate refusal: who holds the file, for what, since when, and the exact next step.

    `target` is the file as an absolute, escaped path, so the command works from any folder.
    """
    import shlex

    from ctui.core.clock import ago, iso

    key = str(refusal.details.get("path") or "")
    lease: Lease | None = refusal.details.get("lease")  # type: ignore[assignment]
    holder = refusal.details.get("holder")
    if lease is None:
        what = refusal.message.split(":")[0]
    else:
        task = getattr(holder, "task", None)
        what = (
            f"{key} is leased by {lease.holder}"
            + (f" (task {task!r})" if task else "")
            + (f" to {lease.intent}" if lease.intent else "")
            + (f" through {lease.path}" if lease.path != key else "")
            + f" since {iso(lease.acquired_at)}, expires in {ago(lease.expires_at - now)}"
        )
    command = f"{ctui_command()} lock acquire {shlex.quote(target)} --as {me} --wait {WAIT_S}"
    return (
        f"ctui refused this edit on purpose (a lease, not an error): {what}. "
        f"Work on another file first, or queue for this one with the Bash command `{command}` "
        f"(or the MCP tool acquire_lock with that path and wait={WAIT_S}), then retry the "
        f"edit once it succeeds. You are {me}."
    )


def ctui_command() -> str:
    """An absolute command for ctui that works from the agent's shell (this hook's own install)."""
    import shlex
    import sys

    script = Path(sys.executable).parent / "ctui"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    import shutil

    found = shutil.which("ctui")
    if found:
        return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(sys.executable)} -m ctui"


def after_edit(s: Session, path: str) -> dict[str, Any] | None:
    """Record the edit's SHA-1 under the holder's lease, renew, apply the release policy;
    the tool has ended (cleared in this transaction)."""
    c = s.c
    with c.transaction():
        inst = s.ensure("working")
        c.instances.end_tool(inst.id, _call(s))
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
    with c.transaction():
        inst = s.ensure("working")
        c.instances.end_tool(inst.id, _call(s))
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
    return _tell(
        text,
        f"ctui: a command changed {len(hits)} file(s) leased by other agents",
        s.payload["hook_event_name"],
    )


def _call(s: Session) -> str | None:
    from ctui.hooks.running import call_id

    return call_id(s.payload)


def _tell(context: str, summary: str, event: str = "PostToolUse") -> dict[str, Any]:
    return {
        "systemMessage": summary[:500],
        "hookSpecificOutput": {
            "hookEventName": event,
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
    from ctui.core.leases.globs import compile_glob, unescape

    found: list[tuple[Lease, str]] = []
    globs = [lease for lease in leases if lease.is_glob]
    candidates = [(lease, lease.path) for lease in leases if not lease.is_glob]
    if globs:
        dirty = _git_dirty(root)
        for lease in globs:
            pattern = compile_glob(lease.path)
            candidates.extend((lease, key) for key in dirty if pattern.match(key))
    for lease, key in candidates:
        full = root / unescape(key)
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
