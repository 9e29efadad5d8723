"""Leases: exclusive, expiring claims on repository files and globs.

A lease key is a repository-relative POSIX path or a glob. Acquire runs in one
`BEGIN IMMEDIATE` transaction, so two processes can never both be granted
overlapping keys. Every grant gets a fencing token from a counter that only
grows. Waiters queue in a table and are served in the order they asked.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

from ctui.core import lease_queue
from ctui.core.clock import ago, iso
from ctui.core.errors import Conflict, CtuiError, LeaseExpired, LeaseHeld, NotFound, UsageError
from ctui.core.globs import compile_glob, fixed_prefix, is_glob, overlaps
from ctui.core.instances import OPERATOR, Instance, is_stale
from ctui.core.lease_queue import WAITER_STALE_S
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator

MAX_TTL = 30 * 86400.0
ABSENT = "absent"
SHA1_CHUNK = 1 << 18
COLUMNS = "path, is_glob, holder, token, intent, acquired_at, renewed_at, expires_at, ttl, sha1"
"""The `Lease` fields in constructor order."""


class Lease(Record):
    """One granted lease."""

    FIELDS = (
        "path",
        "is_glob",
        "holder",
        "token",
        "intent",
        "acquired_at",
        "renewed_at",
        "expires_at",
        "ttl",
        "sha1",
    )
    __slots__ = FIELDS
    path: str
    is_glob: bool
    holder: str
    token: int
    intent: str | None
    acquired_at: float
    renewed_at: float
    expires_at: float
    ttl: float
    sha1: str | None

    def __init__(
        self,
        path: str,
        is_glob: bool,
        holder: str,
        token: int,
        intent: str | None,
        acquired_at: float,
        renewed_at: float,
        expires_at: float,
        ttl: float,
        sha1: str | None,
    ) -> None:
        self.path = path
        self.is_glob = is_glob
        self.holder = holder
        self.token = token
        self.intent = intent
        self.acquired_at = acquired_at
        self.renewed_at = renewed_at
        self.expires_at = expires_at
        self.ttl = ttl
        self.sha1 = sha1

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Lease:
        return cls(
            row["path"],
            bool(row["is_glob"]),
            row["holder"],
            row["token"],
            row["intent"],
            row["acquired_at"],
            row["renewed_at"],
            row["expires_at"],
            row["ttl"],
            row["sha1"],
        )

    def expired(self, now: float) -> bool:
        return self.expires_at <= now

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "glob": self.is_glob,
            "holder": self.holder,
            "token": self.token,
            "intent": self.intent,
            "acquired_at": iso(self.acquired_at),
            "expires_at": iso(self.expires_at),
            "ttl": self.ttl,
            "sha1": self.sha1,
        }
        if now is not None:
            data["expires_in"] = round(self.expires_at - now, 1)
        return data


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:
        raise UsageError(f"bad path {str(path)[:80]!r}: {exc.strerror}") from exc


def file_sha1(path: Path) -> str | None:
    """SHA-1 of the file's bytes, `absent` when there is no file, None for a folder.

    CPython's own SHA-1 (`_sha1`) gives the same digest as `hashlib`'s without
    loading OpenSSL and BLAKE2, a few milliseconds of every hook call's start-up.
    """
    try:
        from _sha1 import sha1
    except ImportError:  # a Python built without it: hashlib's (OpenSSL's) SHA-1
        from hashlib import sha1

    try:
        with open(path, "rb") as fh:
            digest = sha1()
            while chunk := fh.read(SHA1_CHUNK):
                digest.update(chunk)
            return digest.hexdigest()
    except FileNotFoundError:
        return ABSENT
    except (IsADirectoryError, NotADirectoryError, PermissionError):
        return None


class Leases:
    """Acquire, renew, release, check, verify and list leases."""

    def __init__(self, coord: Coordinator) -> None:
        self._c = coord

    # -- keys ---------------------------------------------------------------

    def key(self, path: str, cwd: Path | None = None) -> str | None:
        """The lease key for a path or glob, or None when it is outside the repository."""
        key = self._c.paths.key(path, cwd)
        if (
            key is not None
            and not is_glob(key)
            and (path.endswith("/") or _is_dir(self._c.root / key))
        ):
            key += "/**"  # a folder's lease covers everything under it
        if key is not None and is_glob(key):
            compile_glob(key)
        return key

    def require_key(self, path: str, cwd: Path | None = None) -> str:
        key = self.key(path, cwd)
        if key is None:
            raise UsageError(
                f"{path!r} is outside the repository {self._c.root}: only its files can be leased"
            )
        return key

    def _ttl(self, ttl: float | None) -> float:
        value = self._c.config.lease_ttl if ttl is None else ttl
        if (
            not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
            or value > MAX_TTL
        ):
            raise UsageError(
                f"bad TTL {ttl!r}: a number of seconds above 0 and at most {int(MAX_TTL)}"
            )
        return float(value)

    # -- acquire ------------------------------------------------------------

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
        key = self.require_key(path, cwd)
        ttl = self._ttl(ttl)
        if wait is not None and (not math.isfinite(wait) or wait < 0):
            raise UsageError(f"bad wait {wait!r}: a number of seconds, 0 or more")
        file = None if is_glob(key) else self._c.paths.file(path, cwd)
        if not wait:
            result = self._try_grant(key, instance, intent, ttl, waiter=None, file=file)
            if isinstance(result, LeaseHeld):
                raise result
            return result
        return lease_queue.wait_for(self, key, instance, intent, ttl, wait, file=file)

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
        """One grant attempt in its own transaction.

        A refusal is returned, not raised, so the transaction still commits
        what it learnt on the way: dead holders reaped, the waiter's `seen_at`.
        """
        with self._c.store.write() as conn:
            if seen and waiter is not None:
                conn.execute(
                    "UPDATE lease_waiters SET seen_at = ? WHERE id = ?", (self._c.now(), waiter)
                )
            try:
                return self._grant(conn, key, instance, intent, ttl, waiter=waiter, file=file)
            except LeaseHeld as held:
                return held

    def _grant(
        self,
        conn: sqlite3.Connection,
        key: str,
        instance: str,
        intent: str | None,
        ttl: float,
        *,
        waiter: int | None,
        file: Path | None = None,
    ) -> Lease:
        """Grant inside `conn`; `file` is the caller's own copy (it may sit in a worktree)."""
        now = self._c.now()
        self._c.instances.require_live(instance, conn)
        mine = self._row(conn, key)
        if mine is not None and mine.holder == instance and not mine.expired(now):
            conn.execute(
                "UPDATE leases SET expires_at = ?, renewed_at = ?, ttl = ?, "
                "intent = COALESCE(?, intent) "
                "WHERE path = ?",
                (now + ttl, now, ttl, intent, key),
            )
            return self._require_row(conn, key)
        blocking = self._blocking(conn, key, instance, now)
        if blocking:
            raise self._held_error(conn, key, blocking[0], now)
        ahead = self._waiters_ahead(conn, key, instance, waiter, now)
        if ahead:
            raise LeaseHeld(
                f"{key} is free but {ahead} earlier waiter(s) are queued for it: "
                "use `ctui lock acquire --wait SECONDS` to queue too",
                path=key,
                waiters=ahead,
            )
        mine = self._row(conn, key)  # reaping a dead holder may have removed it already
        if mine is not None:
            conn.execute("DELETE FROM leases WHERE path = ?", (key,))
            self._c.log(
                conn,
                "lease.expired",
                subject=key,
                actor=mine.holder,
                data={"holder": mine.holder, "token": mine.token},
            )
        token = self._c.store.next_counter(conn, "fence")
        sha1 = None if is_glob(key) else file_sha1(file or self._c.root / key)
        conn.execute(
            "INSERT INTO leases(path, is_glob, prefix, holder, token, intent, acquired_at, "
            "renewed_at, "
            "expires_at, ttl, sha1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                int(is_glob(key)),
                fixed_prefix(key),
                instance,
                token,
                intent,
                now,
                now,
                now + ttl,
                ttl,
                sha1,
            ),
        )
        if waiter is not None:
            conn.execute("DELETE FROM lease_waiters WHERE id = ?", (waiter,))
        self._c.log(
            conn,
            "lease.acquired",
            subject=key,
            actor=instance,
            data={"token": token, "intent": intent, "ttl": ttl},
        )
        return self._require_row(conn, key)

    def _blocking(
        self, conn: sqlite3.Connection, key: str, instance: str, now: float
    ) -> list[Lease]:
        """Unexpired leases of other live instances that overlap `key` (reaping dead holders)."""
        found = [
            lease
            for lease in self._overlapping(conn, key)
            if lease.holder != instance and not lease.expired(now)
        ]
        if not found:
            return []
        holders = sorted({lease.holder for lease in found})
        reaped: set[str] = set(self._c.instances.reap(conn=conn, only=holders))
        return [lease for lease in found if lease.holder not in reaped]

    def _overlapping(self, conn: sqlite3.Connection, key: str) -> list[Lease]:
        if is_glob(key):
            prefix = fixed_prefix(key)
            rows = conn.execute(
                "SELECT * FROM leases WHERE is_glob = 0 AND path >= ? AND path < ?",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        else:
            rows = conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchall()
        rows += conn.execute(
            "SELECT * FROM leases WHERE is_glob = 1 AND path != ?", (key,)
        ).fetchall()
        if is_glob(key):
            rows += conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchall()
        return [Lease.from_row(r) for r in rows if overlaps(key, r["path"])]

    def _waiters_ahead(
        self, conn: sqlite3.Connection, key: str, instance: str, waiter: int | None, now: float
    ) -> int:
        return lease_queue.ahead(conn, key, instance, waiter, now, self._holder_gone)

    def _held_error(
        self, conn: sqlite3.Connection, key: str, lease: Lease, now: float
    ) -> LeaseHeld:
        row = conn.execute("SELECT * FROM instances WHERE id = ?", (lease.holder,)).fetchone()
        holder = Instance.from_row(row) if row else None
        who = lease.holder
        if holder is not None and (holder.role or holder.task):
            bits = [
                f"role {holder.role}" if holder.role and holder.role != holder.id else "",
                f"task {holder.task!r}" if holder.task else "",
            ]
            joined = ", ".join(b for b in bits if b)
            who += f" ({joined})" if joined else ""
        what = f"{key} overlaps {lease.path}, leased" if lease.path != key else f"{key} is leased"
        intent = f" to {lease.intent}" if lease.intent else ""
        message = (
            f"{what} by {who}{intent} since {iso(lease.acquired_at)}, "
            f"expires in {ago(lease.expires_at - now)}: work on another file, wait with "
            f"`ctui lock acquire {key} --wait 300`, or ask the operator to force-release it"
        )
        return LeaseHeld(message, path=key, lease=lease, holder=holder)

    # -- renew, release -----------------------------------------------------

    def _row(self, conn: sqlite3.Connection, key: str) -> Lease | None:
        row = conn.execute("SELECT * FROM leases WHERE path = ?", (key,)).fetchone()
        return Lease.from_row(row) if row else None

    def _require_row(self, conn: sqlite3.Connection, key: str) -> Lease:
        lease = self._row(conn, key)
        if lease is None:
            raise CtuiError(f"lease {key} vanished inside its own transaction")
        return lease

    def _own(
        self, conn: sqlite3.Connection, key: str, instance: str, *, allow_expired: bool = False
    ) -> Lease:
        """The caller's own lease on `key`, or the error: held (10), expired (11), none (4)."""
        lease = self._row(conn, key)
        now = self._c.now()
        if lease is None:
            raise NotFound(f"{instance} holds no lease on {key}")
        if lease.holder != instance:
            if lease.expired(now):
                raise NotFound(f"{instance} holds no lease on {key}")
            raise self._held_error(conn, key, lease, now)
        if lease.expired(now) and not allow_expired:
            raise LeaseExpired(
                f"your lease on {key} expired {ago(now - lease.expires_at)} ago: acquire it again "
                "(and `ctui lock verify` the file before trusting your copy)",
                path=key,
                lease=lease,
            )
        return lease

    def renew(
        self, path: str, *, instance: str, ttl: float | None = None, cwd: Path | None = None
    ) -> Lease:
        """Push the expiry of the caller's own lease to now + TTL."""
        key = self.require_key(path, cwd)
        with self._c.store.write() as conn:
            self._c.instances.require_live(instance, conn)
            lease = self._own(conn, key, instance)
            new_ttl = lease.ttl if ttl is None else self._ttl(ttl)
            now = self._c.now()
            conn.execute(
                "UPDATE leases SET expires_at = ?, renewed_at = ?, ttl = ? WHERE path = ?",
                (now + new_ttl, now, new_ttl, key),
            )
            return self._require_row(conn, key)

    def release(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        """Give back the caller's own lease (an expired one is released too)."""
        key = self.require_key(path, cwd)
        with self._c.store.write() as conn:
            lease = self._own(conn, key, instance, allow_expired=True)
            conn.execute("DELETE FROM leases WHERE path = ?", (key,))
            self._c.log(
                conn, "lease.released", subject=key, actor=instance, data={"token": lease.token}
            )
            return lease

    def force_release(
        self, path: str, *, reason: str, by: str = OPERATOR, cwd: Path | None = None
    ) -> Lease:
        """The operator takes a lease away from its holder; the event names both and why."""
        if by != OPERATOR:
            raise UsageError("only the operator may force-release a lease: run it without --as")
        if not reason or not reason.strip():
            raise UsageError(
                "force-release needs a reason (--reason TEXT): it is logged for the holder"
            )
        key = self.require_key(path, cwd)
        with self._c.store.write() as conn:
            lease = self._row(conn, key)
            if lease is None:
                raise NotFound(f"no lease on {key}: see `ctui lock list`")
            conn.execute("DELETE FROM leases WHERE path = ?", (key,))
            self._c.log(
                conn,
                "lease.forced",
                subject=key,
                actor=by,
                data={"holder": lease.holder, "token": lease.token, "reason": reason.strip()},
            )
            return lease

    def release_all(self, conn: sqlite3.Connection, instance: str, *, reason: str) -> int:
        """Release every lease `instance` holds (inside the caller's transaction)."""
        rows = conn.execute(
            "SELECT path, token FROM leases WHERE holder = ?", (instance,)
        ).fetchall()
        for row in rows:
            self._c.log(
                conn,
                "lease.released",
                subject=row["path"],
                actor=instance,
                data={"token": row["token"], "reason": reason},
            )
        conn.execute("DELETE FROM leases WHERE holder = ?", (instance,))
        return len(rows)

    def expire(self, conn: sqlite3.Connection | None = None) -> int:
        """Delete expired leases and forgotten waiters; returns how many leases went."""
        if conn is None:
            with self._c.store.write() as wconn:
                return self.expire(wconn)
        now = self._c.now()
        rows = conn.execute(
            "SELECT path, holder, token FROM leases WHERE expires_at <= ?", (now,)
        ).fetchall()
        for row in rows:
            self._c.log(
                conn,
                "lease.expired",
                subject=row["path"],
                actor=row["holder"],
                data={"holder": row["holder"], "token": row["token"]},
            )
        conn.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM lease_waiters WHERE seen_at <= ?", (now - WAITER_STALE_S,))
        return len(rows)

    # -- reading ------------------------------------------------------------

    def check(self, path: str, *, cwd: Path | None = None) -> Lease | None:
        """The unexpired lease that covers `path` (exactly or through a glob), if any."""
        key = self.require_key(path, cwd)
        now = self._c.now()
        conn = self._c.store.conn
        live = [
            lease
            for lease in self._overlapping(conn, key)
            if not lease.expired(now) and not self._holder_gone(conn, lease.holder, now)
        ]
        live.sort(key=lambda lease: (lease.path != key, lease.acquired_at))
        return live[0] if live else None

    def _holder_gone(self, conn: sqlite3.Connection, holder: str, now: float) -> bool:
        """Whether the holder is stale or ended (its leases go at the next write)."""
        row = conn.execute("SELECT * FROM instances WHERE id = ?", (holder,)).fetchone()
        return (
            row is None
            or is_stale(Instance.from_row(row), now)
            or row["state"] in ("ended", "stale")
        )

    def held_by_other(self, key: str, instance: str) -> Lease | None:
        """An unexpired lease overlapping `key` whose holder is not `instance`."""
        now = self._c.now()
        conn = self._c.store.conn
        for lease in self._overlapping(conn, key):
            if (
                lease.holder != instance
                and not lease.expired(now)
                and not self._holder_gone(conn, lease.holder, now)
            ):
                return lease
        return None

    def verify(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease:
        """Check that the file is as the holder last saw it; `Conflict` (12) if not."""
        key = self.require_key(path, cwd)
        if is_glob(key):
            raise UsageError(f"verify takes a file, not a glob ({key})")
        with self._c.store.write() as conn:
            lease = self._own(conn, key, instance)
            current = file_sha1(self._c.paths.file(path, cwd))
            changed = lease.sha1 is not None and current != lease.sha1
            if changed:
                data = {"recorded": lease.sha1, "current": current}
                self._c.log(conn, "lease.conflict", subject=key, actor=instance, data=data)
        if changed:  # raised after the commit, so the conflict event is kept
            raise Conflict(
                f"{key} changed under your lease (recorded {(lease.sha1 or '')[:12]}, now "
                f"{(current or 'unreadable')[:12]}): re-read it before editing",
                path=key,
                recorded=lease.sha1,
                current=current,
            )
        return lease

    def record_edit(self, path: str, *, instance: str, cwd: Path | None = None) -> Lease | None:
        """After the holder's own edit: record the new SHA-1 and renew. None if not held."""
        key = self.key(path, cwd)
        if key is None or is_glob(key):
            return None
        with self._c.store.write() as conn:
            lease = self._row(conn, key)
            if lease is None or lease.holder != instance:
                return None
            now = self._c.now()
            conn.execute(
                "UPDATE leases SET sha1 = ?, expires_at = ?, renewed_at = ? WHERE path = ?",
                (file_sha1(self._c.paths.file(path, cwd)), now + lease.ttl, now, key),
            )
            return self._require_row(conn, key)

    def list(self, *, holder: str | None = None, include_expired: bool = False) -> list[Lease]:
        """Leases by path. Plain tuples, not `sqlite3.Row`: `status` lists thousands."""
        sql = f"SELECT {COLUMNS} FROM leases"
        args: list[Any] = []
        where: list[str] = []
        if holder is not None:
            where.append("holder = ?")
            args.append(holder)
        if not include_expired:
            where.append("expires_at > ?")
            args.append(self._c.now())
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path"
        cursor = self._c.store.conn.cursor()
        cursor.row_factory = None
        return [Lease(r[0], bool(r[1]), *r[2:]) for r in cursor.execute(sql, args)]


__all__ = ["ABSENT", "Lease", "Leases", "file_sha1"]
