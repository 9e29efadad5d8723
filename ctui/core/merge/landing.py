"""What happens to a thread after the queue decides its entry.

Landed: the thread becomes `merged`, its worktree and branch are removed
(never when the worktree has changes, nor when the branch moved past what
landed), and a decision records what landed with which gate result.
Conflict or failed: per `[merge] on_failure`, the thread is resumed with the
reason as its next prompt, or left for the operator (the entry says why).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctui.core.errors import CtuiError
from ctui.core.merge import git
from ctui.core.merge.context import MergeContext
from ctui.core.merge.record import Entry
from ctui.core.merge.settings import MergeSettings


def after(
    ctx: MergeContext, entry: Entry, head: str, result: dict[str, Any], *, tip: str, to: str
) -> dict[str, Any]:
    """Mark the thread merged, remove its worktree and branch, record a decision."""
    root = ctx.root
    row = ctx.store.conn.execute(
        "SELECT status, worktree FROM threads WHERE name = ?", (entry.thread,)
    ).fetchone()
    kept: list[str] = []
    if row is not None and row["status"] in ("running", "waiting"):
        kept.append(f"thread is {row['status']}")
    worktree = Path(row["worktree"]) if row is not None and row["worktree"] else None
    if not kept and worktree is not None and worktree.is_dir():
        if git.git(worktree, "status", "--porcelain", check=False):
            kept.append(f"worktree {worktree} has changes")
        else:
            git.git(root, "worktree", "remove", str(worktree), check=False)
            if worktree.is_dir():
                kept.append(f"git would not remove {worktree}")
    if not kept and git.rev(root, entry.branch) is not None:
        if head and git.rev(root, entry.branch) != head:
            kept.append(f"branch {entry.branch} moved past what landed")
        else:
            git.git(root, "branch", "-D", entry.branch, check=False)
    commands = ", ".join(r["command"] for r in result.get("results", [])) or "no gate commands"
    verdict = "passed" if result.get("passed", True) else "failed"
    with ctx.store.write() as conn:
        conn.execute(
            "UPDATE threads SET status = 'merged', updated_at = ? "
            "WHERE name = ? AND status NOT IN ('running', 'waiting')",
            (ctx.now(), entry.thread),
        )
        ctx.log(
            conn,
            "thread.merged",
            subject=entry.thread,
            data={"id": entry.id, "base": entry.base, "commit": to, "kept": kept},
        )
        ctx.decide(
            conn,
            f"Landed {entry.branch} on {entry.base}",
            f"Merge queue entry #{entry.id} (thread {entry.thread}) landed on {entry.base}: "
            f"{tip[:12] or '?'} -> {to[:12]}, branch head {head[:12]}. Gate {verdict} "
            f"({commands}).",
            ["merge-queue", entry.thread],
        )
    return {"kept": kept}


def prompt_for(entry: Entry, status: str, reason: str) -> str:
    """The next prompt for an agent whose branch could not land."""
    if status == "conflict":
        ask = (
            f"Bring your branch {entry.branch} up to date with {entry.base} (merge or rebase "
            f"{entry.base} into it), resolve the conflicts, run the tests and commit."
        )
    else:
        ask = (
            f"Your branch {entry.branch} passes alone but the gate fails on top of "
            f"{entry.base}. Merge {entry.base} into your branch, fix the failures below, "
            "run the tests and commit."
        )
    return f"The merge queue could not land your work.\n\n{reason}\n\n{ask}"


def send_back(
    ctx: MergeContext,
    settings: MergeSettings,
    entry: Entry,
    status: str,
    reason: str,
    say: Callable[[str], None],
) -> None:
    """Resume the thread with the reason as its prompt (on_failure = "resume"), or leave it."""
    if status not in ("conflict", "failed") or settings.on_failure != "resume":
        return
    try:
        thread = ctx.resume(entry.thread, prompt_for(entry, status, reason))
    except CtuiError as exc:
        say(f"{entry.thread}: could not resume it: {exc.message}")
        with ctx.store.write() as conn:
            ctx.log(conn, "merge.resume_failed", subject=entry.thread, data={"error": exc.message})
        return
    say(f"{entry.thread}: resumed with the {status} as its next prompt")
    run = getattr(thread, "run_id", None)
    with ctx.store.write() as conn:
        conn.execute(
            "UPDATE merge_queue SET detail = json_set(detail, '$.resumed_run', ?) WHERE id = ?",
            (run, entry.id),
        )
        ctx.log(
            conn,
            "merge.resumed",
            subject=entry.thread,
            data={"id": entry.id, "as": status, "run": run},
        )


def requeue_resumed(ctx: MergeContext, add: Callable[[list[str]], Any]) -> list[str]:
    """Queue again the threads the queue resumed, once that run has completed.

    The agent was asked to fix its branch; when it finishes, the fix goes back in
    line by itself. A thread whose run failed, or whose branch is not ready (still
    conflicting with nothing new, dirty), stays for the operator.
    """
    rows = ctx.store.conn.execute(
        "SELECT q.id, q.thread, json_extract(q.detail, '$.resumed_run') AS run, t.status, "
        "t.run_id FROM merge_queue q JOIN threads t ON t.name = q.thread "
        "WHERE q.status IN ('conflict', 'failed') "
        "AND json_extract(q.detail, '$.resumed_run') IS NOT NULL "
        "AND q.id = (SELECT MAX(id) FROM merge_queue WHERE thread = q.thread)"
    ).fetchall()
    again = []
    for row in rows:
        if row["status"] != "completed" or row["run_id"] < int(row["run"]):
            continue
        try:
            add([row["thread"]])
        except CtuiError as exc:
            with ctx.store.write() as conn:
                conn.execute(
                    "UPDATE merge_queue SET detail = json_remove(detail, '$.resumed_run') "
                    "WHERE id = ?",
                    (row["id"],),
                )
                ctx.log(
                    conn, "merge.not_requeued", subject=row["thread"], data={"error": exc.message}
                )
            continue
        again.append(row["thread"])
    return again
