"""The errors the core raises, each carrying the CLI exit code that reports it.

Every face (CLI, hook, API, MCP) turns a `CtuiError` into its own shape: a
one-line message and an exit code, an HTTP status, or a tool error.
"""

from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
NOTHING = 4
HELD = 10
EXPIRED = 11
CONFLICT = 12
STALE = 13
STORE_BUSY = 14
DISK_FULL = 15
READ_ONLY = 16
DENIED = 17


class CtuiError(Exception):
    """Base of every error ctui reports to a user; `str()` is the one-line message."""

    exit_code = ERROR
    http_status = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class StoreError(CtuiError):
    """The store cannot be opened, read or written (missing, corrupt, newer, locked)."""

    http_status = 503


class StoreBusy(StoreError):
    """Another process held the store's write lock past the timeout (a stopped writer?)."""

    exit_code = STORE_BUSY


class DiskFull(StoreError):
    """The filesystem holding the store has no space left; the store itself is fine."""

    exit_code = DISK_FULL


class StoreReadOnly(StoreError):
    """The store is on a read-only filesystem (or SQLite was refused writing it)."""

    exit_code = READ_ONLY


class StoreDenied(StoreError):
    """This user may not read or write the store's folder or files."""

    exit_code = DENIED


class UsageError(CtuiError):
    """The request itself is malformed: a bad path, glob, TTL, id shape or argument."""

    exit_code = USAGE
    http_status = 400


class NotFound(CtuiError):
    """An id or path names nothing that exists, or there is nothing to do."""

    exit_code = NOTHING
    http_status = 404


class LeaseHeld(CtuiError):
    """Another live instance holds the lease (or waiters are queued ahead)."""

    exit_code = HELD
    http_status = 409


class LeaseExpired(CtuiError):
    """The caller's lease ran out (and may have been taken by someone else)."""

    exit_code = EXPIRED
    http_status = 409


class StaleAttempt(CtuiError):
    """The caller presented a claim attempt that is no longer the task's current one.

    Exit 11, like an expired lease: the claim ran out (and may be someone else's now),
    so the caller's result or failure is not recorded.
    """

    exit_code = EXPIRED
    http_status = 409


class Conflict(CtuiError):
    """A state conflict: a file changed under a lease, a task in the wrong state."""

    exit_code = CONFLICT
    http_status = 409


class StaleInstance(CtuiError):
    """The acting instance is stale or ended and must register again."""

    exit_code = STALE
    http_status = 409
