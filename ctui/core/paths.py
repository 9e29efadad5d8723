"""Where the store lives and how file paths map to lease keys.

Everything here reads git's files directly instead of running `git`: the hook
runs on every edit, and a `git rev-parse` subprocess would cost more than the
rest of the hook together.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from ctui.core.errors import UsageError
from ctui.core.record import FrozenRecord

STORE_NAME = ".ctui"
ENV_DIR = "CTUI_DIR"


class GitLayout(FrozenRecord):
    """The git repository around a folder: its worktree, common dir and main worktree."""

    FIELDS = ("worktree", "common_dir")
    __slots__ = FIELDS
    worktree: Path
    common_dir: Path

    def __init__(self, worktree: Path, common_dir: Path) -> None:
        object.__setattr__(self, "worktree", worktree)
        object.__setattr__(self, "common_dir", common_dir)

    @property
    def main_root(self) -> Path:
        """The main worktree's root (the common dir's parent for a non-bare repository)."""
        if self.common_dir.name == ".git":
            return self.common_dir.parent
        return self.worktree


def find_git(start: Path) -> GitLayout | None:
    """Walk up from `start` to the nearest `.git` and describe the repository, or None."""
    here = start.resolve()
    for folder in (here, *here.parents):
        dotgit = folder / ".git"
        if dotgit.is_dir():
            return GitLayout(folder, _common_dir(dotgit))
        if dotgit.is_file():
            gitdir = _read_gitdir_file(dotgit)
            if gitdir is not None:
                return GitLayout(folder, _common_dir(gitdir))
    return None


def _read_gitdir_file(dotgit: Path) -> Path | None:
    try:
        text = dotgit.read_text().strip()
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text[len("gitdir:") :].strip())
    if not target.is_absolute():
        target = dotgit.parent / target
    return target.resolve()


def _common_dir(gitdir: Path) -> Path:
    try:
        rel = (gitdir / "commondir").read_text().strip()
    except OSError:
        return gitdir
    return (gitdir / rel).resolve()


def worktree_branch(start: Path) -> tuple[Path | None, str | None]:
    """The worktree root around `start` and the branch checked out there (None if detached).

    Reads `HEAD` from the worktree's own git dir, so a linked worktree reports
    its branch, not the main one's.
    """
    here = start.resolve()
    for folder in (here, *here.parents):
        dotgit = folder / ".git"
        gitdir = (
            dotgit if dotgit.is_dir() else _read_gitdir_file(dotgit) if dotgit.is_file() else None
        )
        if gitdir is None:
            continue
        try:
            head = (gitdir / "HEAD").read_text().strip()
        except OSError:
            return folder, None
        ref = head[len("ref:") :].strip() if head.startswith("ref:") else ""
        return folder, ref.removeprefix("refs/heads/") or None
    return None, None


def linked_worktrees(common_dir: Path) -> list[Path]:
    """Roots of the linked worktrees git records under `<common dir>/worktrees/`."""
    roots = []
    base = common_dir / "worktrees"
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    for entry in entries:
        try:
            gitfile = Path((entry / "gitdir").read_text().strip())
        except OSError:
            continue
        roots.append(gitfile.parent.resolve())
    return roots


def resolve_store_dir(
    explicit: str | os.PathLike[str] | None = None, start: Path | None = None
) -> Path:
    """The store folder: `--dir`, else `CTUI_DIR`, else `.ctui` in the main worktree.

    Outside a git repository the nearest ancestor holding a `.ctui` wins, and
    failing that the starting folder's (which `refuse_accidental_store` keeps
    from being created unless someone chose it).
    """
    chosen = explicit or os.environ.get(ENV_DIR)
    if chosen:
        return Path(chosen).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    layout = find_git(here)
    if layout is not None:
        return layout.main_root / STORE_NAME
    for folder in (here, *here.parents):
        if (folder / STORE_NAME).is_dir():
            return folder / STORE_NAME
    return here / STORE_NAME


NO_REPOSITORY = (
    "{here} is not inside a git repository and no .ctui/ store is above it: "
    "`ctui init --here` makes a store in this folder, or pass --dir PATH (env CTUI_DIR)"
)


def refuse_accidental_store(
    folder: Path, explicit: str | os.PathLike[str] | None = None, start: Path | None = None
) -> None:
    """Refuse to create `folder` when nobody chose it: outside a git repository.

    Inside a repository a store is made on demand (every worktree shares it);
    outside one, a command run in the wrong folder (a home folder) must not
    leave a `.ctui/` there. `--dir`, `CTUI_DIR` and an existing store are choices.
    """
    if explicit or os.environ.get(ENV_DIR) or folder.is_dir():
        return
    here = (start or Path.cwd()).resolve()
    if find_git(here) is None:
        raise UsageError(NO_REPOSITORY.format(here=here))


class RepoPaths:
    """Maps user-given paths (absolute, relative, in any worktree) to lease keys.

    A key is a POSIX path relative to the repository root. A path inside a
    linked worktree maps to the same key as the main worktree's file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @cached_property
    def roots(self) -> list[Path]:
        """Every worktree root of the repository, longest first so nesting resolves right."""
        found = [self.root]
        layout = find_git(self.root)
        if layout is not None:
            found.extend(linked_worktrees(layout.common_dir))
        return sorted(set(found), key=lambda p: len(p.parts), reverse=True)

    def key(self, path: str, cwd: Path | None = None) -> str | None:
        """The lease key for `path`, or None when it lies outside the repository.

        A relative path is taken from `cwd` when given (the CLI passes the
        shell's folder), else from the repository root: an API server or a
        script may run anywhere, and their callers name repository paths.
        """
        if not path or not path.strip():
            raise UsageError("empty path: name a file or a glob inside the repository")
        if "\x00" in path:
            raise UsageError("path contains a NUL byte")
        full = self.file(path, cwd)
        key = self._relative(full, path)
        if key is None or key.startswith(STORE_NAME + "/"):
            # A worktree added since the roots were read (a long-lived server, the TUI)
            # would otherwise look like a file outside, or inside the store folder.
            self.__dict__.pop("roots", None)
            key = self._relative(full, path)
        if key is None or key == ".git" or key.startswith((".git/", STORE_NAME + "/")):
            return None
        return key

    def file(self, path: str, cwd: Path | None = None) -> Path:
        """The real absolute path the caller names (in whichever worktree it lies)."""
        raw = Path(path).expanduser()
        if not raw.is_absolute():
            raw = (cwd or self.root) / raw
        try:
            return Path(os.path.realpath(raw))
        except OSError as exc:
            raise UsageError(f"bad path {path[:80]!r}: {exc.strerror}") from exc

    def _relative(self, full: Path, given: str) -> str | None:
        for root in self.roots:
            try:
                rel = full.relative_to(root)
            except ValueError:
                continue
            key = rel.as_posix()
            if key in ("", "."):
                raise UsageError(f"{given!r} is the repository root, not a file inside it")
            return key
        return None
