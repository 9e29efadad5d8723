"""Lease keys: what a caller's path or glob means, and which leases overlap it.

Every operation starts by turning the caller's words (a path relative to its
own working folder, a folder, a glob, a TTL) into a repository-relative key
and a checked TTL, so the rules and their error messages live here once. The
overlap query is shared by granting (what blocks a grant) and reading (what
covers a file).
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from ctui.core.errors import UsageError
from ctui.core.leases.globs import (
    canonical,
    compile_glob,
    escape,
    fixed_prefix,
    is_glob,
    overlaps,
    unescape,
)
from ctui.core.leases.record import Lease

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

MAX_TTL = 30 * 86400.0


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:
        raise UsageError(f"bad path {str(path)[:80]!r}: {exc.strerror}") from exc


def key(c: Context, path: str, cwd: Path | None = None) -> str | None:
    """The lease key for a path or glob, or None when it is outside the repository.

    `path` is in glob syntax: a literal file name with `[`, `*` or `?` comes
    escaped (`ctui.core.leases.globs.escape`; the hooks do that for every tool call).
    A plain path is resolved as the file it names and its key escaped again,
    so `app/[[]slug]/page.tsx` and the file `app/[slug]/page.tsx` share a key.
    """
    pattern = canonical(path)
    if is_glob(pattern):
        found = c.paths.key(pattern, cwd)
        if found is not None:
            compile_glob(found)
        return found
    real = unescape(pattern)
    found = c.paths.key(real, cwd)
    if found is None:
        return None
    folder = real.endswith("/") or _is_dir(c.root / found)
    return escape(found) + ("/**" if folder else "")  # a folder's lease covers what is under it


def file(c: Context, path: str, cwd: Path | None = None) -> Path:
    """The real file a plain key's caller names (in whichever worktree it lies)."""
    return c.paths.file(unescape(canonical(path)), cwd)


def require_key(c: Context, path: str, cwd: Path | None = None) -> str:
    """The lease key for `path`; `UsageError` when it is outside the repository."""
    found = key(c, path, cwd)
    if found is None:
        raise UsageError(
            f"{path!r} is outside the repository {c.root}: only its files can be leased"
        )
    return found


def checked_ttl(c: Context, ttl: float | None) -> float:
    """The TTL to grant: the configured default when None, else `ttl` if sane."""
    value = c.config.lease_ttl if ttl is None else ttl
    if (
        not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
        or value > MAX_TTL
    ):
        raise UsageError(f"bad TTL {ttl!r}: a number of seconds above 0 and at most {int(MAX_TTL)}")
    return float(value)


def overlapping(conn: sqlite3.Connection, key: str) -> list[Lease]:
    """Every lease, expired or not, whose key overlaps `key`.

    Only candidates come from SQL (the exact key, the plain paths under a
    glob's fixed prefix, every held glob); `overlaps` decides.
    """
    if is_glob(key):
        prefix = fixed_prefix(key)
        rows = conn.execute(
            "SELECT * FROM leases WHERE is_glob = 0 AND path >= ? AND path < ?",
            (prefix, prefix + "\U0010ffff"),
        ).fetchall()
    else:
        rows = conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchall()
    rows += conn.execute("SELECT * FROM leases WHERE is_glob = 1 AND path != ?", (key,)).fetchall()
    if is_glob(key):
        rows += conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchall()
    return [Lease.from_row(r) for r in rows if overlaps(key, r["path"])]
