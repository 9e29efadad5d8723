"""An agent's changes against its base, file by file (the control room's diff preview).

Reads git with plain subprocesses (no GitPython: this runs on every selection
change). The diff is taken from where the worktree forked from its base, so
commits on the base since then do not show as the agent's; uncommitted edits
to tracked files count, and untracked files are listed as new. `numstat` gives
only the size (+/-), for the agents list's DIFF column: one `git diff --numstat`.
"""

from __future__ import annotations

import subprocess

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from pathlib import Path

GIT_TIMEOUT_S = 10.0
MAX_CHARS = 200_000
"""A patch beyond this is cut (the preview says so): a generated file must not stall the view."""


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=GIT_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git")
    return done.stdout


def _fork(worktree: Path, base: str | None) -> str:
    """Where the worktree forked from `base` (HEAD when there is no base)."""
    if not base:
        return "HEAD"
    try:
        return _git(worktree, "merge-base", base, "HEAD").strip() or base
    except RuntimeError:
        return base


UNTRACKED_BYTES = 1_000_000
"""Untracked files larger than this count as one line (a generated file is not read whole)."""


def numstat(worktree: Path, base: str | None) -> tuple[int, int]:
    """Lines added and removed against the fork point, untracked files' lines as added."""
    plus = minus = 0
    for line in _git(
        worktree, "diff", "--numstat", "--no-ext-diff", _fork(worktree, base)
    ).splitlines():
        added, removed, _path = [*line.split("\t", 2), "", ""][:3]
        if added.isdigit() and removed.isdigit():  # "-" for a binary file
            plus, minus = plus + int(added), minus + int(removed)
    for name in _git(worktree, "ls-files", "--others", "--exclude-standard").splitlines()[:200]:
        try:
            with open(worktree / name, "rb") as fh:
                data = fh.read(UNTRACKED_BYTES + 1)
        except OSError:
            continue
        plus += (
            1
            if len(data) > UNTRACKED_BYTES
            else data.count(b"\n") + (data[-1:] not in (b"", b"\n"))
        )
    return plus, minus


def files(worktree: Path, base: str | None) -> list[tuple[str, str]]:
    """(path, patch text) per changed file, in path order; untracked files say so."""
    fork = _fork(worktree, base)
    text = _git(worktree, "diff", "--no-color", "--no-ext-diff", fork)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS] + "\n… (cut: the diff is longer)\n"
    found: list[tuple[str, str]] = []
    for chunk in text.split("\ndiff --git ")[0:]:
        if not chunk.strip():
            continue
        body = chunk if chunk.startswith("diff --git ") else "diff --git " + chunk
        head = body.splitlines()[0]
        path = head.rsplit(" b/", 1)[-1] if " b/" in head else head
        found.append((path, body.rstrip("\n") + "\n"))
    untracked = _git(worktree, "ls-files", "--others", "--exclude-standard").splitlines()
    found.extend((f, f"new file (untracked): {f}\n") for f in untracked if f)
    found.sort(key=lambda pf: pf[0])
    return found


def size(patches: list[tuple[str, str]]) -> tuple[int, int]:
    """Lines added and removed over all patches."""
    plus = minus = 0
    for _path, text in patches:
        for line in text.splitlines():
            if line.startswith("+") and not line.startswith("+++"):
                plus += 1
            elif line.startswith("-") and not line.startswith("---"):
                minus += 1
    return plus, minus
