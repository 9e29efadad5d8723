"""Which file changes under `.ctui/` mean the store changed.

The SQLite change feed (`feed.FileFeed`) watches the store folder with
watchfiles and asks this module what a batch of changes means, so the rule is
testable without Textual and shared by every face that wants a live view.
SQLite in WAL mode writes every commit to `ctui.db-wal` (and checkpoints into
`ctui.db`); the `-shm` index is memory-mapped, so its writes raise no file
events and are ignored either way.
A deleted database means the store went away; thread logs and the remote
connection file are reported separately so a detail view can follow a log
without reloading every pane.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

DB_FILES = ("ctui.db", "ctui.db-wal", "ctui.db-journal")
SETTINGS_FILES = ("config.toml", "remote.json", "api.json")
ADDED, MODIFIED, DELETED = 1, 2, 3


@dataclass(frozen=True)
class StoreChange:
    """What a batch of file changes under the store folder amounts to."""

    data: bool = False
    """The database changed: reload the panes."""
    removed: bool = False
    """The database file itself was deleted: the store is gone (for now)."""
    settings: bool = False
    """config.toml, remote.json or api.json changed: reload the header."""
    logs: frozenset[str] = field(default_factory=frozenset)
    """Thread names whose `logs/<name>.log` changed."""

    def __bool__(self) -> bool:
        return self.data or self.removed or self.settings or bool(self.logs)

    def __or__(self, other: StoreChange) -> StoreChange:
        """Both changes as one (a burst folded while nobody was reading)."""
        return StoreChange(
            data=self.data or other.data,
            removed=self.removed or other.removed,
            settings=self.settings or other.settings,
            logs=self.logs | other.logs,
        )


def relevant(store_dir: str | PurePath, path: str) -> bool:
    """True when a change to `path` can matter to a live view (a watchfiles filter)."""
    rel = _relative(store_dir, path)
    if rel is None:
        return False
    if len(rel.parts) == 1:
        return rel.name in DB_FILES or rel.name in SETTINGS_FILES
    return len(rel.parts) == 2 and rel.parts[0] == "logs" and rel.suffix == ".log"


def classify(store_dir: str | PurePath, changes: Iterable[tuple[int, str]]) -> StoreChange:
    """Fold watchfiles' `(change, path)` pairs into one `StoreChange`.

    Worktrees, lock files, the `-shm` index and anything else are ignored; a
    burst of WAL writes becomes one `data=True`.
    """
    data = removed = settings = False
    logs: set[str] = set()
    for change, path in changes:
        rel = _relative(store_dir, path)
        if rel is None or not relevant(store_dir, path):
            continue
        if len(rel.parts) == 2:
            logs.add(rel.stem)
        elif rel.name in SETTINGS_FILES:
            settings = True
        else:
            data = True
            if rel.name == "ctui.db" and int(change) == DELETED:
                removed = True
    return StoreChange(data=data, removed=removed, settings=settings, logs=frozenset(logs))


def _relative(store_dir: str | PurePath, path: str) -> PurePath | None:
    try:
        return PurePath(path).relative_to(PurePath(store_dir))
    except ValueError:
        return None
