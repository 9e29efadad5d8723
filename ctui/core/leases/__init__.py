"""Leases: exclusive, expiring claims on repository files and globs.

A lease key is a repository-relative POSIX path or a glob. Acquire runs in one
`BEGIN IMMEDIATE` transaction, so two processes can never both be granted
overlapping keys. Every grant gets a fencing token from a counter that only
grows. Waiters queue in a table and are served in the order they asked.

This module is the facade, `c.leases`: each method names one operation and
hands it to the module that owns it. The record and its rows are in
`record`, keys, TTLs and overlaps in `keys`, holders and refusals
in `holders`, granting in `grant` (with its FIFO queue in
`queue`), renewal, release and expiry in `release`, and the file's
SHA-1 in `verify`.
"""

from __future__ import annotations

from pathlib import Path

from ctui.core.instances import OPERATOR
from ctui.core.leases import grant as lease_grant
from ctui.core.leases import holders as lease_holders
from ctui.core.leases import keys as lease_keys
from ctui.core.leases import release as lease_release
from ctui.core.leases import verify as lease_verify
from ctui.core.leases.keys import MAX_TTL as MAX_TTL
from ctui.core.leases.record import COLUMNS as COLUMNS
from ctui.core.leases.record import Lease, select
from ctui.core.leases.verify import ABSENT, file_sha1
from ctui.core.leases.verify import SHA1_CHUNK as SHA1_CHUNK

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    import sqlite3

    from ctui.core.context import Context
    from ctui.core.errors import LeaseHeld


class Leases:
    """Acquire, renew, release, check, verify and list leases."""

    def __init__(self, coord: Context) -> None:
        self._c = coord

    def key(self, path: str, cwd: Path | None = None) -> str | None:
        """The lease key for a path or glob, or None when it is outside the repository."""
        return lease_keys.key(self._c, path, cwd)

    def require_key(self, path: str, cwd: Path | None = None) -> str:
        return lease_keys.require_key(self._c, path, cwd)

    def acquire(
        self,
        path: str,
        *,
        instance: str,
        intent: str | None = None,
        ttl: float | None = None,
        wait: float | None = None,
        cwd: Path | None = None,
    ) -> Lease:
        """Grant (or renew, for the holder) the lease on `path`; `LeaseHeld` if taken.

        With `wait`, queue behind earlier waiters and retry until granted or the
        wait runs out.
        """
        return lease_grant.acquire(
            self, path, instance=instance, intent=intent, ttl=ttl, wait=wait, cwd=cwd
        )

    def _try_grant(
        self,
        key: str,
        instance: str,
        intent: str | None,
        ttl: float,
        *,
        waiter: int | None,
        seen: bool = False,
        file: Path | None = None,
    ) -> Lease | LeaseHeld:
        """One grant attempt in its own transaction (`lease_queue` retries with it)."""
        return lease_grant.try_grant(
            self._c, key, instance, intent, ttl, waiter=waiter, seen=seen, file=file
        )

    def renew(
        self, path: str, *, instance: str, ttl: float | None = None, cwd: Path | None = None
    ) -> Lease:
        """Push the expiry of the caller's own lease to now + TTL."""
        return lease_release.renew(self._c, path, instance=instance, ttl=ttl, cwd=cwd)

    def release(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        """Give back the caller's own lease (an expired one is released too)."""
        return lease_release.release(self._c, path, instance=instance, cwd=cwd)

    def force_release(
        self, path: str, *, reason: str, by: str = OPERATOR, cwd: Path | None = None
    ) -> Lease:
        """The operator takes a lease away from its holder; the event names both and why."""
        return lease_release.force_release(self._c, path, reason=reason, by=by, cwd=cwd)

    def release_all(self, conn: sqlite3.Connection, instance: str, *, reason: str) -> int:
        """Release every lease `instance` holds (inside the caller's transaction)."""
        return lease_release.release_all(self._c, conn, instance, reason=reason)

    def expire(self, conn: sqlite3.Connection | None = None) -> int:
        """Delete expired leases and forgotten waiters; returns how many leases went."""
        return lease_release.expire(self._c, conn)

    def check(self, path: str, *, cwd: Path | None = None) -> Lease | None:
        """The unexpired lease that covers `path` (exactly or through a glob), if any."""
        return lease_holders.check(self._c, path, cwd=cwd)

    def held_by_other(self, key: str, instance: str) -> Lease | None:
        """An unexpired lease overlapping `key` whose holder is not `instance`."""
        return lease_holders.held_by_other(self._c, key, instance)

    def verify(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        """Check that the file is as the holder last saw it; `Conflict` (12) if not."""
        return lease_verify.verify(self._c, path, instance=instance, cwd=cwd)

    def record_edit(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease | None:
        """After the holder's own edit: record the new SHA-1 and renew. None if not held."""
        return lease_verify.record_edit(self._c, path, instance=instance, cwd=cwd)

    def list(self, *, holder: str | None = None, include_expired: bool = False) -> list[Lease]:
        """Leases by path: the live ones (`lease_holders.live`: unexpired, holder not
        stale or ended), or every row with `include_expired`."""
        found = select(self._c, holder=holder, include_expired=include_expired)
        if include_expired:
            return found
        c = self._c
        return lease_holders.live(c.store.conn, found, c.now(), c.config.host_lapse)


__all__ = ["ABSENT", "Lease", "Leases", "file_sha1"]
