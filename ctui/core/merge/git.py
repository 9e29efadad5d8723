"""Git plumbing for the queue: refs, scratch worktrees, building a candidate, moving the base.

Plain `git` subprocesses (no GitPython): each call is one command whose exit
code and output are all the queue needs. A candidate is built in a detached
scratch worktree, so neither the user's checkout nor the threads' worktrees
are touched until the base moves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ctui.core.errors import Conflict, CtuiError

IDENTITY = {
    "GIT_AUTHOR_NAME": "ctui merge queue",
    "GIT_AUTHOR_EMAIL": "ctui@localhost",
    "GIT_COMMITTER_NAME": "ctui merge queue",
    "GIT_COMMITTER_EMAIL": "ctui@localhost",
}


class GitFailed(CtuiError):
    """A git command that should have worked did not."""


def git(
    cwd: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    strip: bool = True,
) -> str:
    """Run `git ARGS` in `cwd` and return its stdout (stripped); raise GitFailed when `check`."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
    )
    if check and proc.returncode != 0:
        line = (proc.stderr or proc.stdout).strip().splitlines()
        raise GitFailed(f"git {' '.join(args[:3])}: {line[-1] if line else 'failed'}")
    return proc.stdout.strip() if strip else proc.stdout


def ok(cwd: Path, *args: str) -> bool:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    return proc.returncode == 0


def rev(root: Path, name: str) -> str | None:
    """The commit `name` points at, or None."""
    out = git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", check=False)
    return out or None


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    return ok(root, "merge-base", "--is-ancestor", older, newer)


def identity(root: Path) -> dict[str, str]:
    """A committer for merge commits when the repository names none."""
    if git(root, "config", "user.email", check=False):
        return {}
    return IDENTITY


def checkouts(root: Path, branch: str) -> list[Path]:
    """Worktrees (the main one included) that have `branch` checked out."""
    out = git(root, "worktree", "list", "--porcelain")
    found, path = [], None
    for line in out.splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line == f"branch refs/heads/{branch}" and path is not None:
            found.append(path)
    return found


def dirty(worktree: Path) -> list[str]:
    """Tracked files changed (staged or not) in a worktree; untracked files do not count."""
    out = git(worktree, "status", "--porcelain", "--untracked-files=no", strip=False)
    return [line[3:] for line in out.splitlines() if line.strip()]


def changed_files(root: Path, base: str, head: str) -> set[str]:
    """Files a branch changed since it forked from `base`."""
    fork = git(root, "merge-base", base, head, check=False) or base
    return {f for f in git(root, "diff", "--name-only", fork, head).splitlines() if f}


@dataclass
class Step:
    """The result of putting one entry on the candidate."""

    ok: bool
    files: list[str]
    message: str = ""


class Scratch:
    """A detached worktree under the store folder where candidates are built and gated."""

    def __init__(self, root: Path, path: Path, env: dict[str, str]) -> None:
        self.root, self.path, self.env = root, path, env

    @classmethod
    def make(cls, root: Path, path: Path, at: str) -> Scratch:
        remove(root, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        git(root, "worktree", "add", "--detach", "--force", str(path), at)
        return cls(root, path, identity(root))

    def reset(self, at: str) -> None:
        """Back to `at` with a clean tree (an aborted step leaves nothing behind)."""
        git(self.path, "reset", "--hard", "--quiet", at)
        git(self.path, "clean", "-fdxq")

    def head(self) -> str:
        return git(self.path, "rev-parse", "HEAD")

    def put(self, head: str, label: str, strategy: str) -> Step:
        """Merge (or rebase) `head` onto the scratch HEAD; on conflict, undo and say where."""
        before = self.head()
        if strategy == "rebase":
            fork = git(self.path, "merge-base", before, head, check=False)
            commits = git(
                self.path,
                "rev-list",
                "--reverse",
                "--no-merges",
                f"{fork}..{head}" if fork else head,
            ).split()
            for commit in commits:
                proc = self._run("cherry-pick", "--allow-empty", "--keep-redundant-commits", commit)
                if proc.returncode != 0:
                    files = self._unmerged()
                    self._run("cherry-pick", "--abort")
                    self.reset(before)
                    return Step(False, files, _last(proc))
            return Step(True, [])
        proc = self._run("merge", "--no-ff", "--no-edit", "-m", f"Merge {label}", head)
        if proc.returncode != 0:
            files = self._unmerged()
            self._run("merge", "--abort")
            self.reset(before)
            return Step(False, files, _last(proc))
        return Step(True, [])

    def _unmerged(self) -> list[str]:
        return sorted(set(git(self.path, "diff", "--name-only", "--diff-filter=U").splitlines()))

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_EDITOR": "true", **self.env},
        )

    def close(self) -> None:
        remove(self.root, self.path)


def overlapping(changed: dict[str, set[str]]) -> list[tuple[str, list[str]]]:
    """(path, owners) for each path that two or more owners changed, by path.

    Owners keep the order of `changed` (the merge queue passes its entries in queue order).
    """
    owners: dict[str, list[str]] = defaultdict(list)
    for name, files in changed.items():
        for path in files:
            owners[path].append(name)
    return [(p, n) for p, n in sorted(owners.items()) if len(n) > 1]


def remove(root: Path, path: Path) -> None:
    """Remove a scratch worktree (and its record) if it is there."""
    if path.exists():
        git(root, "worktree", "remove", "--force", "--force", str(path), check=False)
        shutil.rmtree(path, ignore_errors=True)
    git(root, "worktree", "prune", check=False)


def _last(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


class Refused(Conflict):
    """The base is checked out with local changes: the queue will not touch it."""


def advance(root: Path, base: str, new: str, old: str) -> bool:
    """Move `base` from `old` to `new` atomically; False when it no longer points at `old`.

    Where `base` is checked out, that worktree must be clean; it is then
    fast-forwarded (`merge --ff-only`, which moves the ref and the files
    together). Elsewhere the ref is swapped with `update-ref NEW OLD`.
    """
    places = checkouts(root, base)
    for place in places:
        changed = dirty(place)
        if changed:
            raise Refused(
                f"{base} is checked out in {place} with uncommitted changes "
                f"({', '.join(changed[:5])}): commit or stash them, then run the queue again; "
                f"{base} was left at {old[:12]}"
            )
    if not places:
        return ok(root, "update-ref", "-m", "ctui merge queue", f"refs/heads/{base}", new, old)
    place = places[0]
    if git(place, "rev-parse", "HEAD") != old:
        return False
    if not ok(place, "merge", "--ff-only", "--quiet", new):
        if rev(root, base) != old:
            return False
        raise Refused(
            f"git could not fast-forward {base} in {place}; {base} was left at {old[:12]}"
        )
    return True
