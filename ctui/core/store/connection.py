"""The SQLite store under `.ctui/`: connections, transactions and migrations.

One file, WAL mode, a busy timeout of at least five seconds, foreign keys on.
Every write runs in one `BEGIN IMMEDIATE` transaction (`Store.write`), so two
processes never both read-then-write the same rows. Connections are per thread.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from _thread import LockType, allocate_lock
from _thread import _local as local  # threading's own classes, without importing threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctui.core import private
from ctui.core.errors import DiskFull, StoreBusy, StoreDenied, StoreError, StoreReadOnly
from ctui.core.store import schema

DB_NAME = "ctui.db"
WRITER_QUEUE = "write.lock"
BUSY_TIMEOUT_S = 5.0
NETWORK_FS = {
    "nfs",
    "nfs4",
    "cifs",
    "smbfs",
    "smb3",
    "9p",
    "fuse.sshfs",
    "afs",
    "ceph",
    "glusterfs",
}


class Store:
    """A handle on one `.ctui/` folder and its database."""

    backend = "sqlite"

    def __init__(self, path: Path, *, timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self.db_path = path / DB_NAME
        self.timeout = timeout
        self.created = False  # True when `open` made the database (the CLI says so)
        self._local = local()
        self._writer = _writer_lock(self.db_path)
        self._queue = WriterQueue(path / WRITER_QUEUE)

    @classmethod
    def open(cls, path: Path, *, create: bool = True, timeout: float = BUSY_TIMEOUT_S) -> Store:
        """Open the store at `path`, creating and migrating it when `create` allows."""
        store = cls(path, timeout=timeout)
        if not store.db_path.exists():
            if not create:
                raise StoreError(f"no ctui store at {path}: run `ctui init` in the repository")
            store._create_folder()
            store.created = True
        store.conn  # noqa: B018 - opening validates the file and migrates it
        if private.loose(path):
            private.tighten(path)  # a store made by an older ctui (or by hand): once
        return store

    def _create_folder(self) -> None:
        fs = _filesystem_type(self.path)
        if fs in NETWORK_FS:
            raise StoreError(
                f"{self.path} is on a network filesystem ({fs}); SQLite WAL needs a local disk: "
                "set CTUI_DIR or --dir to a local folder"
            )
        try:
            self.path.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
            private.tighten(self.path, say=False)  # also what was there before the database
            ignore = self.path / ".gitignore"
            if not ignore.exists():
                private.write_file(ignore, "*\n")
            private.precreate(self.db_path)
        except OSError as exc:
            raise StoreError(f"cannot create the store at {self.path}: {exc.strerror}") from exc

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened and migrated on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        if self.db_path.exists() and not os.access(self.db_path, os.R_OK | os.W_OK):
            raise diagnose(None, self.db_path)
        try:
            conn = sqlite3.connect(
                self.db_path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError as exc:
            raise translate(exc, self.db_path) from exc
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc
        if version > schema.VERSION:
            conn.close()
            raise StoreError(
                f"{self.db_path} has schema version {version}, newer than this ctui knows "
                f"({schema.VERSION}): upgrade ctui; the store was left untouched"
            )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._ensure_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            if version < schema.VERSION:
                self._migrate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.OperationalError as exc:
            conn.close()
            raise translate(exc, self.db_path) from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._unusable(exc) from exc
        return conn

    def _ensure_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL, retrying while another process does the same.

        Changing the journal mode needs the file to itself and SQLite answers
        "locked" at once, without waiting: when several processes create a
        store together, all but one must retry (and then find WAL already on).
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if mode != "wal":
            raise StoreError(f"{self.db_path}: SQLite refused WAL mode (got {mode})")

    def _unusable(self, exc: Exception) -> StoreError:
        return StoreError(
            f"{self.db_path} is not a usable ctui store ({exc}): move it aside or restore it"
        )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, schema.VERSION):
                for statement in _statements(schema.MIGRATIONS[step]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction; nested calls join the outer one."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        # One deadline for the three waits (this process's threads, other processes'
        # writers, SQLite's own lock): a write gives up after `timeout`, not three times it.
        deadline = time.monotonic() + self.timeout
        if not self._writer.acquire(timeout=self.timeout):
            raise locked(self.db_path)
        try:
            if not self._queue.acquire(max(0.0, deadline - time.monotonic())):
                raise locked(self.db_path)
            try:
                yield from self._write_locked(conn, deadline)
            finally:
                self._queue.release()
        finally:
            self._writer.release()

    def _write_locked(
        self, conn: sqlite3.Connection, deadline: float
    ) -> Iterator[sqlite3.Connection]:
        left = deadline - time.monotonic()
        try:
            if left < self.timeout - 0.05:  # what is left of the deadline, for this BEGIN only
                conn.execute(f"PRAGMA busy_timeout = {max(1, int(left * 1000))}")
            try:
                conn.execute("BEGIN IMMEDIATE")
            finally:
                if left < self.timeout - 0.05:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.OperationalError as exc:
            raise translate(exc, self.db_path) from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise translate(exc, self.db_path) from exc
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            raise self._unusable(exc) from exc
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise translate(exc, self.db_path) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs (a deferred transaction)."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise translate(exc, self.db_path) from exc
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._writer.acquire(blocking=False):  # never while a write of ours is using it
            try:
                self._queue.close()
            finally:
                self._writer.release()

    # Named seams for SQLite-only features, so another backend has one place to fill.

    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        """Increment and return the named counter (call inside `write()`)."""
        row = conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def data_version(self) -> int:
        """A number that changes when another connection commits (cheap change check)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def server_time(self) -> float | None:
        """The store's own clock in epoch seconds, or None when it has none.

        An embedded SQLite file has no clock apart from the caller's, so this
        is None here; a server backend returns its server's time, and each
        host records how far its own clock is from it (`hosts.clock_offset`).
        """
        return None

    def decision_search(
        self, conn: sqlite3.Connection, words: list[str], limit: int
    ) -> list[sqlite3.Row]:
        """Decisions whose title, description or category hold every word (as a prefix),
        best match first: FTS5 here, full-text search on PostgreSQL."""
        query = " ".join(f'"{w}"*' for w in words)
        return conn.execute(
            "SELECT d.* FROM decisions_fts f JOIN decisions d ON d.rowid = f.rowid "
            "WHERE decisions_fts MATCH ? ORDER BY bm25(decisions_fts) LIMIT ?",
            (query, limit),
        ).fetchall()

    def clock(self) -> float:
        """The time the core writes (`Context.now` unless a test gives its own clock):
        this machine's here; the server's on PostgreSQL, so hosts agree on expiries."""
        return time.time()


def _busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite may already have ended it)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into statements, keeping trigger bodies whole."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement:
                yield statement
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


_WRITERS: dict[Path, LockType] = {}
_WRITERS_GUARD = allocate_lock()


def _writer_lock(db_path: Path) -> LockType:
    """One lock per database file in this process: its threads queue here for writes.

    SQLite's busy handler makes a blocked writer sleep 1, 2, 5, 10... ms between
    tries, far longer than one of our transactions; threads of one process (the
    API's thread pool, the control room's workers) hand the write lock over at
    once instead. Other processes still wait in SQLite's busy handler.
    """
    key = db_path.absolute()
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, allocate_lock())


class WriterQueue:
    """Where writers of other processes wait: an advisory `flock` on `.ctui/write.lock`.

    Correctness never rests on it (`BEGIN IMMEDIATE` is the lock); it only
    makes the hand-over quick. Left to SQLite's busy handler, a writer that
    finds the database busy sleeps 1, 2, 5 ... 100 ms between tries, and with
    several processes writing the unlucky one can wait half a second for a
    lock that is free again in a fraction of a millisecond. Here it polls
    with `LOCK_NB` every 50 to 500 µs instead (a blocking `flock` would wait
    forever on a stopped holder, where this gives up at the store's timeout).
    When the file cannot be opened (a read-only folder), or `CTUI_WRITER_QUEUE=off`
    (benchmarks/bench_contention.py compares the two), writers rely on SQLite's
    handler alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._broken = os.environ.get("CTUI_WRITER_QUEUE", "").lower() == "off"

    def acquire(self, timeout: float) -> bool:
        fd = self._open()
        if fd is None:
            return True
        pause, deadline = 0.00005, time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
            time.sleep(pause)
            pause = min(pause * 2, 0.0005)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the descriptor goes with the process
            pass

    def _open(self) -> int | None:
        if self._fd is None and not self._broken:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self._broken = True
        return self._fd


def locked(db_path: Path) -> StoreError:
    return StoreBusy(
        f"the store {db_path} stayed locked by another process past the timeout "
        "(a stopped or hung ctui process holds it?): try again, or end that process"
    )


def translate(exc: sqlite3.OperationalError, db_path: Path) -> StoreError:
    """Turn SQLite's operational errors into one-line store errors.

    SQLite's own words are often vague ("disk I/O error", "unable to open database
    file", "attempt to write a readonly database" for both a read-only mount and a
    file mode), so the filesystem is asked what is really wrong. Only a file SQLite
    cannot read as a database is called unusable (`Store._unusable`), never one on a
    full, read-only or forbidden disk: moving that aside would throw live state away.
    """
    if _busy(exc):
        return locked(db_path)
    return diagnose(exc, db_path)


def diagnose(exc: Exception | None, db_path: Path) -> StoreError:
    """The accurate error for a store that failed to open or write (`exc` may be None)."""
    text = str(exc) if exc is not None else "access denied"
    folder = db_path.parent
    if _read_only_mount(folder):
        return StoreReadOnly(
            f"the store {db_path} is on a read-only filesystem: remount it read-write, "
            "or point CTUI_DIR / --dir at a writable folder"
        )
    denied = _denied(folder, db_path)
    if denied is not None:
        return StoreDenied(
            f"permission denied on {denied}: this user cannot read and write the store; "
            f"check its owner and mode (`ls -la {folder}`)"
        )
    if "full" in text or _disk_full(folder):
        return DiskFull(
            f"the disk holding {db_path} is full: free some space and try again "
            "(the store itself is intact)"
        )
    if "readonly" in text or "read-only" in text:
        return StoreReadOnly(f"the store {db_path} is read-only ({text}): check the file's mode")
    return StoreError(f"store error in {db_path}: {text}")


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _disk_full(folder: Path) -> bool:
    try:
        found = os.statvfs(folder)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024 or (found.f_files > 0 and not found.f_favail)


def _denied(folder: Path, db_path: Path) -> Path | None:
    """The first of the store's folder and files this user may not read and write."""
    wal, shm = Path(f"{db_path}-wal"), Path(f"{db_path}-shm")
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return folder
    for path in (db_path, wal, shm):
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return path
    return None


MOUNTS = Path("/proc/mounts")


def _filesystem_type(path: Path) -> str | None:
    """The filesystem type of the mount holding `path`, which need not exist yet
    (Linux only; None where there is no mount table)."""
    try:
        mounts = MOUNTS.read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1]
        if "\\" in point:  # the table escapes spaces and the like as \040
            point = point.encode().decode("unicode_escape").encode("latin-1").decode()
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(
            best
        ):
            best, kind = point, parts[2]
    return kind
