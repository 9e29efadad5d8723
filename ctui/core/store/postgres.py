"""The PostgreSQL store: the same `Store` interface over one schema of a shared server.

The only module that imports psycopg, and only when a store is opened here
(`import ctui.core` never loads it: it costs ~450 ms). Domain code is
unchanged: `PgStore.conn` is a `Connection` that speaks the part of
`sqlite3.Connection` the core uses and translates each distinct SQLite
statement once (`translate`): `?` marks, `INSERT OR IGNORE/REPLACE`,
`IS ?`, `GLOB`, `LIKE` (case-blind for ASCII, as SQLite's), `lastrowid`
through `RETURNING id`. Its rows index by number and by name like
`sqlite3.Row`, and it raises `sqlite3.IntegrityError` where SQLite would, so
the core's `except` clauses keep working; any other server error becomes a
one-line `StoreError` of the right kind.

Guarantees, as on SQLite:

- Writes serialise on one advisory lock per schema
  (`pg_advisory_xact_lock`), taken first in every write transaction, in the
  round trip that begins it and reads the server's clock. The transaction
  is READ COMMITTED on purpose: its later statements see every write
  committed before the lock was granted (a REPEATABLE READ snapshot would
  be taken while waiting for the lock and miss them). Measured in issue 18:
  without the lock, READ COMMITTED grants one task and overlapping leases
  to two racers; with it, exactly one wins.
- Reads are REPEATABLE READ READ ONLY snapshots.
- A lock wait past the store's timeout is `StoreBusy` (`lock_timeout`), as is
  a statement past `statement_timeout`, a lost connection and an
  unreachable server: the caller may try again (a hook denies with "retry").
- Time: `PgStore.clock` is the server's clock (read with each write's lock,
  then advanced by the local monotonic clock), so hosts whose clocks differ
  still agree on expiries. `Context` uses it unless a test gave its own.

Connections are per thread, like SQLite's (no pool: each thread holds one
for its life; a server process that wants a pool builds it over `connect`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ctui.core import private
from ctui.core.errors import StoreBusy, StoreDenied, StoreError
from ctui.core.store import pg_schema
from ctui.core.store.connection import BUSY_TIMEOUT_S, DB_NAME, Store

if TYPE_CHECKING:
    import psycopg

    from ctui.core.store.feed import ChangeFeed

from ctui.core.store.target import MARKER, redact

INSTALL = "pip install 'ctui[postgres]'"

_FORKS = [0]
_CATALOGS: dict[tuple[str, str], Catalog] = {}
_TRANSLATED: dict[tuple[str, str], dict[tuple[str, bool], Statement]] = {}
"""Per (url, schema), shared by every store this process opens on it: read and translated
once (a server answering hooks opens stores often). A store is at the code's schema
version once open, so what was read stays true."""
_INHERITED: list[Any] = []


def _forked() -> None:
    """In a forked child: connections of the parent are never used, nor closed (closing
    one would end the parent's session on the server): they are kept until exit."""
    _FORKS[0] += 1


os.register_at_fork(after_in_child=_forked)


def load_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            f"the store is on PostgreSQL but psycopg is not installed: {INSTALL}"
        ) from None
    return psycopg


class PgStore(Store):
    """A handle on one repository's schema (and its local `.ctui/` folder for the rest)."""

    backend = "postgresql"

    def __init__(
        self, path: Path, url: str, schema: str, *, timeout: float = BUSY_TIMEOUT_S
    ) -> None:
        # Not Store.__init__: no SQLite file, no writer queue.
        self.path = path
        self.db_path = path / DB_NAME  # no file there: kept for the type only
        self.url = url
        self.schema = schema
        self.timeout = timeout
        self.created = False
        self._local = threading.local()
        self._key = lock_key(schema)
        self._sql = _TRANSLATED.setdefault((url, schema), {})
        self._seen = (time.time(), time.monotonic())  # (server time, local monotonic) pair

    @classmethod
    def connect(
        cls,
        path: Path,
        url: str,
        schema: str,
        *,
        create: bool = True,
        timeout: float = BUSY_TIMEOUT_S,
    ) -> PgStore:
        """Open (and when `create` allows, create and migrate) the schema behind `path`."""
        check_url(url)
        check_schema(schema)
        load_psycopg()
        store = cls(path, url, schema, timeout=timeout)
        store._prepare(create)
        if create:
            store._create_folder()
        if path.is_dir():
            write_marker(path, url, schema)
        return store

    def _create_folder(self) -> None:
        """The local `.ctui/` folder (config, logs, worktrees): private, ignored by git."""
        try:
            self.path.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)
            private.tighten(self.path, say=False)
            ignore = self.path / ".gitignore"
            if not ignore.exists():
                private.write_file(ignore, "*\n")
        except OSError as exc:
            raise StoreError(f"cannot create the store folder {self.path}: {exc.strerror}") from exc

    # -- connections

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (a `Connection` that quacks like `sqlite3.Connection`)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed or conn.fork != _FORKS[0]:
            if conn is not None and conn.fork != _FORKS[0]:
                _INHERITED.append(conn)
            conn = Connection(self, self._open_raw())
            self._local.conn = conn
        return cast(sqlite3.Connection, conn)

    def _open_raw(self) -> psycopg.Connection[Any]:
        psycopg = load_psycopg()
        ms = max(1, int(self.timeout * 1000))
        options = (
            f"-c search_path={self.schema} -c lock_timeout={ms} "
            f"-c statement_timeout={ms * 4 + 30000} -c idle_in_transaction_session_timeout=60000"
        )
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(2, int(self.timeout + 0.999)),
                options=options,
                application_name="ctui",
                row_factory=_rows,
            )
        except psycopg.Error as exc:
            raise connect_failure(exc, self.url) from None
        raw.adapters.register_loader("numeric", _numeric_loader(psycopg))
        return raw

    def _prepare(self, create: bool) -> None:
        conn = self._pg
        psycopg = load_psycopg()
        try:
            conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({self._key})")
            try:
                found = conn.execute(
                    "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.ctui_schema",)
                ).fetchone()[0]
                if not found:
                    if not create:
                        raise StoreError(
                            f"no ctui store in PostgreSQL schema {self.schema} at "
                            f"{redact(self.url)}: run `ctui init` in the repository "
                            "(or set CTUI_STORE_SCHEMA / [store] schema)"
                        )
                    others = conn.execute(
                        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                        (self.schema,),
                    ).fetchone()[0]
                    if others:
                        raise StoreError(
                            f"PostgreSQL schema {self.schema} already holds {others} tables that "
                            "are not ctui's: name another with CTUI_STORE_SCHEMA or [store] schema"
                        )
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    conn.execute(
                        f"CREATE TABLE {self.schema}.ctui_schema (version INTEGER NOT NULL, "
                        "changes BIGINT NOT NULL DEFAULT 0)"
                    )
                    conn.execute(f"INSERT INTO {self.schema}.ctui_schema(version) VALUES (0)")
                    self.created = True
                table = f"{self.schema}.ctui_schema"
                (version,) = conn.execute(f"SELECT version FROM {table}").fetchone()
                if version > pg_schema.VERSION:
                    raise StoreError(
                        f"PostgreSQL schema {self.schema} has version {version}, newer than this "
                        f"ctui knows ({pg_schema.VERSION}): upgrade ctui; the store was left "
                        "untouched"
                    )
                for step in range(version, pg_schema.VERSION):
                    for statement in pg_schema.ddl(step, self.schema):
                        conn.execute(statement)
                    conn.execute(f"UPDATE {self.schema}.ctui_schema SET version = %s", (step + 1,))
                if version < pg_schema.VERSION:  # made or migrated: it notifies from the start
                    from ctui.core.store.listen import create_missing

                    create_missing(conn, self.schema)
                (server,) = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
                conn.execute("COMMIT")
                self._seen = (float(server), time.monotonic())
            except BaseException:
                _rollback(conn)
                raise
        except psycopg.Error as exc:
            raise failure_of(exc) from None

    @property
    def _pg(self) -> Any:
        return cast(Connection, self.conn).raw

    # -- transactions

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction behind the schema's advisory lock; nested calls join it."""
        conn = cast(Connection, self.conn)
        if conn.in_transaction:
            if conn.mode == "read":
                raise StoreError("a write inside a read snapshot (store.read()): a ctui bug")
            yield cast(sqlite3.Connection, conn)
            return
        psycopg = load_psycopg()
        try:
            # One round trip: begin, wait for the lock, then (holding it) bump the change
            # counter `data_version` reads and read the server's clock.
            cur = conn.raw.execute(
                f"BEGIN; SELECT pg_advisory_xact_lock({self._key}); "
                "UPDATE ctui_schema SET changes = changes + 1 "
                "RETURNING extract(epoch FROM clock_timestamp())"
            )
            while cur.nextset():
                pass
            row = cur.fetchone()
            self._seen = (float(row[0]), time.monotonic())
        except psycopg.Error as exc:
            _rollback(conn.raw)
            raise failure_of(exc) from None
        conn.mode = "write"
        try:
            yield cast(sqlite3.Connection, conn)
        except BaseException:
            _rollback(conn.raw)
            raise
        finally:
            conn.mode = ""
        try:
            conn.raw.execute("COMMIT")
        except psycopg.Error as exc:
            _rollback(conn.raw)
            raise failure_of(exc) from None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs (REPEATABLE READ, READ ONLY)."""
        conn = cast(Connection, self.conn)
        if conn.in_transaction:
            yield cast(sqlite3.Connection, conn)
            return
        psycopg = load_psycopg()
        try:
            conn.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            raise failure_of(exc) from None
        conn.mode = "read"
        try:
            yield cast(sqlite3.Connection, conn)
        finally:
            conn.mode = ""
            if conn.in_transaction:
                _rollback(conn.raw)  # nothing to keep: it only read

    def idle(self) -> bool:
        """Also False when the server has spoken on an idle connection: it only does that to
        end it (a restart, `pg_terminate_backend`), so a kept store is not reused broken."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return True
        if conn.raw.closed or conn.fork != _FORKS[0] or conn.in_transaction:
            return False
        import select

        try:
            readable, _, _ = select.select([conn.raw.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        """Close this thread's connection (other threads close theirs on exit)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.fork != _FORKS[0]:
            _INHERITED.append(conn)  # the parent's: left open (see `_forked`)
        elif conn is not None:
            conn.raw.close()
        self._local.conn = None

    # -- the named seams

    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, 1) "
            "ON CONFLICT(name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def data_version(self) -> int:
        """Changes with every committed write (a counter the write transaction bumps)."""
        return int(self.conn.execute("SELECT changes FROM ctui_schema").fetchone()[0])

    def change_feed(self) -> ChangeFeed:
        """LISTEN on the schema's channel (`listen.ListenFeed`): there is no shared folder
        to watch; the local one still holds this host's settings."""
        from ctui.core.store.listen import ListenFeed

        return ListenFeed(
            self.url, self.schema, self.path, lock=self._key, connect_timeout=self.timeout
        )

    def decision_search(self, conn: sqlite3.Connection, words: list[str], limit: int) -> list[Any]:
        query = " & ".join(f"{w}:*" for w in words)
        return conn.execute(
            "SELECT * FROM decisions WHERE search @@ to_tsquery('simple', ?) "
            "ORDER BY ts_rank(search, to_tsquery('simple', ?)) DESC, created_at DESC LIMIT ?",
            (query, query, limit),
        ).fetchall()

    def server_time(self) -> float | None:
        """The server's clock now (one round trip; `clock` is the cheap estimate)."""
        (server,) = self.conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        self._seen = (float(server), time.monotonic())
        return float(server)

    def clock(self) -> float:
        """The server's time: the last one read, plus local monotonic time since."""
        server, local = self._seen
        return server + (time.monotonic() - local)

    # -- translation

    def statement(self, sql: str, many: bool) -> Statement:
        found = self._sql.get((sql, many))
        if found is None:
            catalog = _CATALOGS.get((self.url, self.schema))
            if catalog is None:
                catalog = _CATALOGS[(self.url, self.schema)] = Catalog.read(self._pg, self.schema)
            found = self._sql[(sql, many)] = translate(sql, catalog, many=many)
        return found


class Statement:
    __slots__ = ("returns_id", "text", "writes")

    def __init__(self, text: str, returns_id: bool, writes: bool) -> None:
        self.text = text
        self.returns_id = returns_id
        self.writes = writes


class Catalog:
    """Columns, primary keys and `id` sequences of the schema's tables (for translation)."""

    def __init__(
        self, columns: dict[str, list[str]], keys: dict[str, list[str]], serial: set[str]
    ) -> None:
        self.columns = columns
        self.keys = keys
        self.serial = serial

    @classmethod
    def read(cls, conn: psycopg.Connection[Any], schema: str) -> Catalog:
        """From `pg_catalog` in one round trip (`information_schema`'s views take tens of
        milliseconds on a loaded server: every process opening the store pays it)."""
        columns: dict[str, list[str]] = {}
        serial: set[str] = set()
        keyed: dict[str, list[tuple[int, str]]] = {}
        for table, column, default, key in conn.execute(
            "SELECT c.relname, a.attname, pg_get_expr(d.adbin, d.adrelid), k.ord "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
            "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
            "LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "ON k.attnum = a.attnum "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'f') "
            "ORDER BY c.relname, a.attnum",
            (schema,),
        ).fetchall():
            columns.setdefault(table, []).append(column)
            if column == "id" and str(default or "").startswith("nextval("):
                serial.add(table)
            if key is not None:
                keyed.setdefault(table, []).append((int(key), column))
        keys = {table: [column for _, column in sorted(key)] for table, key in keyed.items()}
        return cls(columns, keys, serial)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalog) and (self.columns, self.keys, self.serial) == (
            other.columns,
            other.keys,
            other.serial,
        )


LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
IS_PARAM = re.compile(r"\bIS\s+(NOT\s+)?\?", re.I)
GLOB = re.compile(r"\bGLOB\s+\?", re.I)
LIKE = re.compile(r"\bLIKE\b", re.I)
OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
OR_REPLACE = re.compile(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.I)
INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.I)
RETURNING = re.compile(r"\bRETURNING\b", re.I)
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


def translate(sql: str, catalog: Catalog, *, many: bool = False) -> Statement:
    """One SQLite statement as PostgreSQL with `%s` marks (see the module docstring)."""
    out, end = [], 0
    for found in LITERAL.finditer(sql):
        out.append(_code(sql[end : found.start()]))
        out.append(found.group(0).replace("%", "%%"))
        end = found.end()
    out.append(_code(sql[end:]))
    text = "".join(out)
    suffix = ""
    if OR_IGNORE.match(text):
        text = OR_IGNORE.sub("INSERT INTO", text, count=1)
        suffix = " ON CONFLICT DO NOTHING"
    elif found_replace := OR_REPLACE.match(text):
        table = found_replace.group(1)
        given = [c.strip() for c in found_replace.group(2).split(",")]
        key = catalog.keys.get(table) or []
        sets = [f"{c} = EXCLUDED.{c}" for c in given if c not in key]
        sets += [f"{c} = DEFAULT" for c in catalog.columns.get(table, []) if c not in given]
        text = re.sub(r"^\s*INSERT\s+OR\s+REPLACE\s+INTO", "INSERT INTO", text, count=1, flags=re.I)
        suffix = f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {', '.join(sets)}"
    returns_id = False
    if suffix:
        returning = RETURNING.search(text)
        at = returning.start() if returning else len(text)
        text = f"{text[:at].rstrip()}{suffix} {text[at:]}".rstrip()
    into = INSERT_INTO.match(text)
    if into and not many and into.group(1) in catalog.serial and not RETURNING.search(text):
        text += " RETURNING id"
        returns_id = True
    return Statement(text, returns_id, bool(WRITE.match(text)))


def _code(part: str) -> str:
    part = part.replace("%", "%%")
    part = IS_PARAM.sub(
        lambda m: "IS DISTINCT FROM ?" if m.group(1) else "IS NOT DISTINCT FROM ?", part
    )
    part = GLOB.sub("~ glob_regex(?)", part)  # the pattern stays the right-hand operand
    part = LIKE.sub("ILIKE", part)
    return part.replace("?", "%s")


class Row:
    """A result row like `sqlite3.Row`: by index, by column name, `keys()`, iteration."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, values: Sequence[Any], names: list[str], index: dict[str, int]) -> None:
        self._values = values
        self._names = names
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key.lower()]]
            except KeyError:
                raise IndexError("No item with that key") from None
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and tuple(self._values) == tuple(other._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._names, self._values, strict=True))!r})"


def _rows(cursor: Any) -> Any:
    """psycopg row factory: `Row`s sharing one name index per result."""
    description = cursor.description
    if description is None:
        return tuple
    names = [d.name for d in description]
    index = {name.lower(): i for i, name in enumerate(names)}
    return lambda values: Row(values, names, index)


def _numeric_loader(psycopg: Any) -> type:
    """`numeric` (what SUM of integers and `extract` answer) as int or float, never Decimal."""

    class NumericLoader(psycopg.adapt.Loader):
        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            return float(text) if any(ch in text for ch in ".eEN") else int(text)

    return NumericLoader


class Cursor:
    """What the core uses of `sqlite3.Cursor`: execute, fetch, iterate, rowcount, lastrowid."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cur: Any = None
        self._rows: list[Any] | None = None
        self.row_factory: Any = _rows
        self.rowcount = -1
        self.lastrowid: int | None = None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._conn.run(self, sql, params, many=False)
        return self

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        self._conn.run(self, sql, seq, many=True)
        return self

    def fetchone(self) -> Any:
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        return self._cur.fetchone() if self._has_rows() else None

    def fetchall(self) -> list[Any]:
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        return list(self._cur.fetchall()) if self._has_rows() else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def _has_rows(self) -> bool:
        return self._cur is not None and self._cur.description is not None

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()


class Connection:
    """The part of `sqlite3.Connection` the core uses, over one psycopg connection."""

    def __init__(self, store: PgStore, raw: psycopg.Connection[Any]) -> None:
        self.store = store
        self.raw: Any = raw  # typed loosely: rows come back as `Row`s
        self.mode = ""  # "read" or "write" inside the store's transactions
        self.fork = _FORKS[0]

    @property
    def in_transaction(self) -> bool:
        return bool(self.raw.info.transaction_status != 0)  # 0: IDLE

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.cursor().execute(sql, params)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        return self.cursor().executemany(sql, seq)

    def close(self) -> None:
        self.raw.close()

    def run(self, cursor: Cursor, sql: str, params: Any, *, many: bool) -> None:
        statement = self.store.statement(sql, many)
        if statement.writes and not self.in_transaction:
            with self.store.write():  # a write on its own still takes the lock
                self._run(cursor, statement, params, many)
            return
        self._run(cursor, statement, params, many)

    def _run(self, cursor: Cursor, statement: Statement, params: Any, many: bool) -> None:
        psycopg = load_psycopg()
        try:
            cur = self.raw.cursor(row_factory=cursor.row_factory or _tuples)
            if many:
                cur.executemany(statement.text, [_params(p) for p in params])
            else:
                cur.execute(statement.text, _params(params))
        except psycopg.errors.IntegrityError as exc:
            raise sqlite3.IntegrityError(_line(exc)) from None
        except psycopg.Error as exc:
            raise failure_of(exc) from None
        cursor._cur = cur
        cursor.rowcount = cur.rowcount
        if statement.returns_id:
            row = cur.fetchone()
            cursor.lastrowid = int(row[0]) if row is not None else None
            cursor._rows = []


def _tuples(cursor: Any) -> Any:
    return tuple


def _params(params: Any) -> Any:
    if isinstance(params, dict):
        return params
    return [int(p) if isinstance(p, bool) else p for p in params]


def _rollback(raw: Any) -> None:
    try:
        if not raw.closed and raw.info.transaction_status != 0:
            raw.execute("ROLLBACK")
    except Exception:  # a broken connection: the server ends the transaction itself
        pass


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def failure_of(exc: BaseException) -> StoreError:
    """A psycopg error as the core's `StoreError` kind, in one line."""
    text = _line(exc)
    state = getattr(exc, "sqlstate", None) or ""
    if state in ("55P03", "57014", "40P01", "40001"):  # lock or statement timeout, deadlock
        return StoreBusy(
            "the PostgreSQL store stayed locked past the timeout (a long write elsewhere?): "
            f"try again ({text})"
        )
    if state.startswith("08") or type(exc).__name__ in ("OperationalError", "InterfaceError"):
        return StoreBusy(f"lost the connection to the PostgreSQL store: try again ({text})")
    if state.startswith("28") or state == "42501":
        return StoreDenied(f"PostgreSQL refused access to the store: {text}")
    return StoreError(f"store error (PostgreSQL): {text}")


def connect_failure(exc: BaseException, url: str) -> StoreError:
    """Why a connection could not be made: auth, unreachable, or anything else, one line."""
    text = _line(exc)
    where = redact(url)
    if "password authentication failed" in text or "no password supplied" in text:
        return StoreDenied(
            f"PostgreSQL at {where} refused the login: put the password in ~/.pgpass "
            "(or PGPASSFILE), not in the URL"
        )
    if "does not exist" in text:
        return StoreError(f"PostgreSQL at {where}: {text.split('FATAL:')[-1].strip()}")
    if "Connection refused" in text or "timeout" in text.lower() or "could not" in text:
        return StoreBusy(
            f"cannot reach the PostgreSQL store at {where}: is the server running? ({text})"
        )
    return StoreError(f"cannot connect to the PostgreSQL store at {where}: {text}")


def lock_key(schema: str) -> int:
    """The advisory lock of one schema: a signed 64-bit number from its name."""
    digest = hashlib.sha256(f"ctui:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


URL = re.compile(r"^postgres(ql)?://", re.I)
SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_url(url: str) -> None:
    if not URL.match(url):
        raise StoreError(
            f"bad store URL {redact(url)!r}: use postgresql://user@host:port/database "
            "(CTUI_STORE_URL or [store] url)"
        )


def check_schema(schema: str) -> None:
    if not SCHEMA.match(schema):
        raise StoreError(
            f"bad store schema name {schema!r}: lower-case letters, digits and _ "
            "(CTUI_STORE_SCHEMA or [store] schema)"
        )


def write_marker(path: Path, url: str, schema: str) -> None:
    """Note in `.ctui/store.json` that this folder's store lives on PostgreSQL.

    A process that has neither `CTUI_STORE_URL` (agents never get it) nor
    `[store] url` still finds the same store through it, instead of quietly
    starting a SQLite one beside it.
    """
    target = path / MARKER
    doc = {"backend": "postgresql", "url": redact(url), "schema": schema}
    try:
        if target.exists() and json.loads(target.read_text()) == doc:
            return
        private.write_json(target, doc)
    except (OSError, ValueError):
        pass
