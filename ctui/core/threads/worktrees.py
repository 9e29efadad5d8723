"""Git worktrees for threads: `.ctui/worktrees/<name>` on branch `ctui/<name>`.

GitPython is imported inside the functions that need it, so importing the core
(the hook, `ctui lock ...`) never pays for it. Parallel `git worktree add`
calls race on git's lock files (`config.lock`, ref locks) and on each other's
half-written `.git/worktrees/<name>` records; those failures are retried with
backoff. Cleanup never deletes uncommitted or unmerged work
unless forced.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ctui.core import private
from ctui.core.errors import Conflict, CtuiError, NotFound, UsageError

if TYPE_CHECKING:
    from ctui.core.context import Context

T = TypeVar("T")
BRANCH_PREFIX = "ctui/"
RETRY_WORDS = (
    "lock",
    "File exists",
    "Unable to create",
    "failed to read",
    "could not read",
    "missing but already registered",
)
LIVE = ("running", "waiting", "blocked", "created")


@dataclass
class WorktreeInfo:
    """One ctui worktree as git sees it now."""

    name: str
    path: str
    branch: str | None
    base: str
    thread: str | None
    thread_status: str | None
    dirty: bool
    ahead: int
    behind: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def retry_locked(action: Callable[[], T], *, tries: int = 12) -> T:
    """Run a git action, retrying while another git process holds a lock (or half a record)."""
    from git import GitCommandError

    for attempt in range(tries):
        try:
            return action()
        except GitCommandError as exc:
            text = f"{exc.stderr or ''}{exc.stdout or ''}"
            if attempt == tries - 1 or not any(w in text for w in RETRY_WORDS):
                raise
            time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def git_error(exc: Exception) -> str:
    """The useful line of a GitCommandError."""
    text = (getattr(exc, "stderr", "") or str(exc)).strip()
    lines = [
        ln.strip().removeprefix("stderr: ").strip("'") for ln in text.splitlines() if ln.strip()
    ]
    return lines[-1] if lines else str(exc)


class Worktrees:
    """Create, inspect, diff and clean up the worktrees ctui makes for threads."""

    def __init__(self, coord: Context) -> None:
        self._c = coord

    @property
    def folder(self) -> Path:
        return self._c.store.path / "worktrees"

    def repo(self, path: Path | None = None) -> Any:
        from git import InvalidGitRepositoryError, NoSuchPathError, Repo

        try:
            return Repo(path or self._c.root)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise UsageError(
                f"{path or self._c.root} is not a git repository: worktrees need one "
                "(`git init` and a first commit), or spawn with --no-worktree"
            ) from None

    def current_branch(self) -> str:
        """The main worktree's branch (or its commit when HEAD is detached)."""
        repo = self.repo()
        if not repo.head.is_valid():
            raise UsageError(
                "the repository has no commits yet: commit once before creating worktrees"
            )
        if repo.head.is_detached:
            return str(repo.head.commit.hexsha)
        return str(repo.active_branch.name)

    def check_base(self, base: str) -> str:
        """`base` itself when it names a commit (a branch, tag or sha); else a UsageError.

        GitPython resolves common names from git's files; `git rev-parse` settles the rest.
        """
        from git import GitCommandError

        if not base or base.startswith("-"):
            raise UsageError(f"bad base {base!r}: name a branch or commit")
        repo = self.repo()
        try:
            repo.commit(base)
            return base
        except Exception:
            pass
        try:
            repo.git.rev_parse("--verify", "--quiet", f"{base}^{{commit}}")
        except GitCommandError:
            raise UsageError(f"no branch or commit {base!r} to base the worktree on") from None
        return base

    def create(
        self, name: str, base: str | None = None, *, checked: bool = False
    ) -> tuple[Path, str, str]:
        """Add `.ctui/worktrees/<name>` on `ctui/<name>` from `base`: (path, branch, base)."""
        from git import GitCommandError

        repo = self.repo()
        base = base if checked and base else self.check_base(base or self.current_branch())
        path = self.folder / name
        if path.exists():
            raise Conflict(f"{path} already exists: `ctui worktree cleanup` or pick another name")
        branch = BRANCH_PREFIX + name
        if self._branch_exists(repo, branch):
            raise Conflict(
                f"branch {branch} already exists (left by an earlier thread?): merge or delete it "
                f"(`git branch -D {branch}`), or pick another name"
            )
        private.make_dir(self.folder)

        def add() -> Any:
            try:
                if self._branch_exists(repo, branch):
                    return repo.git.worktree("add", str(path), branch)
                return repo.git.worktree("add", "-b", branch, str(path), base)
            except GitCommandError as exc:
                if "missing but already registered" in str(exc.stderr):
                    repo.git.worktree("prune")
                raise

        try:
            retry_locked(add)
        except GitCommandError as exc:
            raise CtuiError(
                f"git could not create the worktree for {name!r}: {git_error(exc)}"
            ) from None
        return path, branch, base

    @staticmethod
    def _branch_exists(repo: Any, branch: str) -> bool:
        return any(head.name == branch for head in repo.heads)

    def _records(self) -> list[tuple[Path, str | None]]:
        """(path, branch) of every git worktree under `.ctui/worktrees/`."""
        out = self.repo().git.worktree("list", "--porcelain")
        found: list[tuple[Path, str | None]] = []
        path: Path | None = None
        for line in [*out.splitlines(), ""]:
            if line.startswith("worktree "):
                path = Path(line[len("worktree ") :])
            elif line.startswith("branch ") and path is not None:
                found.append((path, line[len("branch ") :].removeprefix("refs/heads/")))
                path = None
            elif not line and path is not None:
                found.append((path, None))
                path = None
        root = self.folder.resolve()
        return [(p, b) for p, b in found if p.resolve().parent == root]

    def _threads(self) -> dict[str, tuple[str, str | None]]:
        rows = self._c.store.conn.execute("SELECT name, status, base FROM threads").fetchall()
        return {r["name"]: (r["status"], r["base"]) for r in rows}

    def list(self) -> list[WorktreeInfo]:
        threads = self._threads()
        default_base: str | None = None
        found = []
        for path, branch in self._records():
            name = path.name
            status, base = threads.get(name, (None, None))
            if base is None:
                default_base = default_base or self.current_branch()
                base = default_base
            found.append(self._info(name, path, branch, base, status))
        return found

    def _info(
        self, name: str, path: Path, branch: str | None, base: str, status: str | None
    ) -> WorktreeInfo:
        from git import GitCommandError

        wt = self.repo(path) if path.exists() else None
        dirty = bool(wt is not None and wt.git.status("--porcelain").strip())
        ahead = behind = 0
        if branch:
            try:
                counts = (
                    self.repo()
                    .git.rev_list("--left-right", "--count", f"{base}...{branch}")
                    .split()
                )
                behind, ahead = int(counts[0]), int(counts[1])
            except GitCommandError:
                pass
        return WorktreeInfo(
            name, str(path), branch, base, name if status else None, status, dirty, ahead, behind
        )

    def get(self, name: str) -> WorktreeInfo:
        for info in self.list():
            if info.name == name:
                return info
        raise NotFound(f"no worktree {name!r}: see `ctui worktree list`")

    def changed_files(self, path: Path, base: str) -> set[str]:
        """Repository-relative paths changed in a worktree since its base (untracked included)."""
        from git import GitCommandError

        wt = self.repo(path)
        try:
            fork = wt.git.merge_base(base, "HEAD").strip()
        except GitCommandError:
            fork = base
        files = set(wt.git.diff("--name-only", fork).splitlines())
        files.update(wt.git.ls_files("--others", "--exclude-standard").splitlines())
        return {f for f in files if f}

    def diff(self, name: str) -> str:
        """`git diff --stat` of a worktree against the point it forked from its base."""
        from git import GitCommandError

        info = self.get(name)
        wt = self.repo(Path(info.path))
        try:
            fork = wt.git.merge_base(info.base, "HEAD").strip()
        except GitCommandError:
            fork = info.base
        stat = wt.git.diff("--stat", fork)
        untracked = wt.git.ls_files("--others", "--exclude-standard").splitlines()
        extra = "".join(f"\n {f} (untracked)" for f in untracked)
        return (stat + extra).strip()

    def cleanup(self, *, force: bool = False, only: str | None = None) -> dict[str, Any]:
        """Remove worktrees of threads not running; dirty or unmerged ones only if forced.

        `only` limits it to one worktree (`ctui thread rm`).
        """
        repo = self.repo()
        removed, kept = [], []
        retry_locked(lambda: repo.git.worktree("prune"))
        for info in self.list():
            if only is not None and info.name != only:
                continue
            live = ("running", "waiting") if only else LIVE
            why = self._keep_reason(info, force, live) or self._remove(repo, info, force)
            if why:
                kept.append({"name": info.name, "reason": why})
            else:
                removed.append(info.name)
        retry_locked(lambda: repo.git.worktree("prune"))
        return {"removed": removed, "kept": kept}

    @staticmethod
    def _keep_reason(info: WorktreeInfo, force: bool, live: tuple[str, ...]) -> str | None:
        if info.thread_status in live:
            return f"thread is {info.thread_status}"
        if not force and (info.dirty or info.ahead):
            why = "uncommitted changes" if info.dirty else f"{info.ahead} unmerged commit(s)"
            return f"{why}: merge it, or use --force"
        return None

    @staticmethod
    def _remove(repo: Any, info: WorktreeInfo, force: bool) -> str | None:
        """Remove one worktree and its branch; returns git's complaint, if any."""
        from git import GitCommandError

        args = ["remove", *(["--force", "--force"] if force else []), info.path]
        try:
            retry_locked(lambda: repo.git.worktree(*args))
            if info.branch:
                branch = info.branch
                retry_locked(lambda: repo.git.branch("-D", branch))
        except GitCommandError as exc:
            return git_error(exc)
        return None
