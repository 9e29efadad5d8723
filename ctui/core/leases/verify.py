"""A lease's SHA-1: what the holder last saw of its file, and checks against it.

A lease records the file's SHA-1 when granted and after each of the holder's
own edits, so `verify` can tell the holder that someone changed the file under
it. The hashing is here, alone and cheap, because the hooks hash files on
every edit and must not pay for `hashlib`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctui.core.errors import Conflict, UsageError
from ctui.core.leases.globs import is_glob
from ctui.core.leases.holders import own
from ctui.core.leases.keys import file as lease_file
from ctui.core.leases.keys import key as lease_key
from ctui.core.leases.keys import require_key
from ctui.core.leases.record import Lease, require_row, row

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

ABSENT = "absent"
SHA1_CHUNK = 1 << 18
MAX_HASHED = 16 << 20  # about 20-40 ms of hashing, inside a write transaction


def file_sha1(path: Path) -> str | None:
    """SHA-1 of a regular file's bytes, `absent` when there is no file, else None.

    Only regular files up to `MAX_HASHED` bytes are read: a folder, a FIFO, a
    device or a socket is never opened (opening a FIFO blocks until a writer
    comes, and this runs inside the store's write transaction), and a larger
    file is not hashed, so a grant costs at most one bounded read. The open is
    non-blocking and re-checked, in case the name is swapped between the two.

    CPython's own SHA-1 (`_sha1`) gives the same digest as `hashlib`'s without
    loading OpenSSL and BLAKE2, a few milliseconds of every hook call's start-up.
    """
    import stat

    try:
        from _sha1 import sha1
    except ImportError:  # a Python built without it: hashlib's (OpenSSL's) SHA-1
        from hashlib import sha1

    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ABSENT
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_HASHED:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return ABSENT
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or opened.st_size > MAX_HASHED:
            return None
        digest = sha1()
        left = MAX_HASHED + 1
        while left > 0 and (chunk := fh.read(min(SHA1_CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
        return None if left <= 0 else digest.hexdigest()


def verify(c: Context, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
    """Check that the file is as the holder last saw it; `Conflict` (12) if not."""
    key = require_key(c, path, cwd)
    if is_glob(key):
        raise UsageError(f"verify takes a file, not a glob ({key})")
    with c.store.write() as conn:
        lease = own(c, conn, key, instance)
        current = file_sha1(lease_file(c, path, cwd))
        changed = lease.sha1 is not None and current != lease.sha1
        if changed:
            data = {"recorded": lease.sha1, "current": current}
            c.log(conn, "lease.conflict", subject=key, actor=instance, data=data)
    if changed:  # raised after the commit, so the conflict event is kept
        raise Conflict(
            f"{key} changed under your lease (recorded {(lease.sha1 or '')[:12]}, now "
            f"{(current or 'unreadable')[:12]}): re-read it before editing",
            path=key,
            recorded=lease.sha1,
            current=current,
        )
    return lease


def record_edit(c: Context, path: str, *, instance: str, cwd: Path | None = None) -> Lease | None:
    """After the holder's own edit: record the new SHA-1 and renew. None if not held."""
    key = lease_key(c, path, cwd)
    if key is None or is_glob(key):
        return None
    with c.store.write() as conn:
        lease = row(conn, key)
        if lease is None or lease.holder != instance:
            return None
        now = c.now()
        conn.execute(
            "UPDATE leases SET sha1 = ?, expires_at = ?, renewed_at = ? WHERE path = ?",
            (file_sha1(lease_file(c, path, cwd)), now + lease.ttl, now, key),
        )
        return require_row(conn, key)
