"""The PostgreSQL store's change feed: LISTEN, because there is no shared folder to watch.

Every write transaction on a PostgreSQL store bumps `ctui_schema.changes`, and
every event is a row in `events`; a statement trigger on each calls `pg_notify`
on the schema's channel (`channel`). The store creates them with its schema
(`create_missing`, in the creating transaction), so a role that may not create
triggers still hears every change; a listener on a schema made by an older ctui
adds them (`install`). PostgreSQL delivers a
notification when the transaction commits, and folds identical ones of one
transaction into one, so a waiter wakes once per commit, on any host.

`ListenFeed` is `feed.ChangeFeed` over that: the blocking `wait` holds one
LISTEN connection (`Connection.notifies` with a timeout), the async side
another (`AsyncConnection.notifies`), and publishes a change after every
(re)connect, since a notification sent while nobody listened is gone. The
local `.ctui/` folder still holds this host's settings, so the async side
watches those files too. Only the PostgreSQL store imports this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ctui.core.store.feed import ChangeFeed, pause, watch_folder
from ctui.core.store.watch import SETTINGS_FILES, StoreChange

TRIGGER = "ctui_notify"
NOTIFYING = ("ctui_schema", "events")
"""The tables whose changes notify: every write bumps the first; the second is the event log."""
RETRY_S = 1.0
CHECK_S = 1.0
"""How often the async listener looks up from the socket to see whether it should stop."""


def channel(schema: str) -> str:
    """The schema's notification channel (a name within PostgreSQL's 63 bytes)."""
    name = f"ctui_{schema}"
    return name if len(name) <= 63 else "ctui_" + hashlib.sha1(schema.encode()).hexdigest()


def install(conn: psycopg.Connection[Any], schema: str, lock: int | None = None) -> bool:
    """Create the notifying triggers that are missing (idempotent; True when it made any).

    Runs in a transaction of its own behind an advisory lock (`lock`, the store's
    write lock, else one of its own for the schema), so two processes that install
    at once do not both create them.
    """
    if not _missing(conn, schema):
        return False
    if lock is None:
        lock = int.from_bytes(
            hashlib.sha256(f"ctui-notify:{schema}".encode()).digest()[:8], "big", signed=True
        )
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
        missing = create_missing(conn, schema)
    return bool(missing)


def create_missing(conn: Any, schema: str) -> list[str]:
    """Create the function and the triggers `schema` lacks, in the caller's transaction
    (which holds a lock against a second creator); the tables it made them on."""
    missing = _missing(conn, schema)
    if missing:
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {}.ctui_notify() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify(TG_ARGV[0], ''); "
                "RETURN NULL; END $$"
            ).format(sql.Identifier(schema))
        )
    for table in missing:
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {}.{} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {}.ctui_notify({})"
            ).format(
                sql.Identifier(TRIGGER),
                sql.Identifier(schema),
                sql.Identifier(table),
                sql.Identifier(schema),
                sql.Literal(channel(schema)),
            )
        )
    return missing


def _missing(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """The notifying tables of `schema` that exist and have no trigger yet."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p') "
        "AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = %s) "
        "ORDER BY c.relname",
        (schema, list(NOTIFYING), TRIGGER),
    ).fetchall()
    return [str(row[0]) for row in rows]


class ListenFeed(ChangeFeed):
    """Wait on the schema's notification channel (see the module docstring)."""

    exact = True  # every (re)connect publishes a change: nothing is missed while arming

    def __init__(
        self,
        url: str,
        schema: str,
        folder: Path | None = None,
        *,
        lock: int | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.schema = schema
        self.folder = folder
        self.channel = channel(schema)
        self._lock = lock
        self._connect_timeout = max(2, int(connect_timeout + 0.999))
        self._conn: psycopg.Connection[Any] | None = None
        self._installed = False

    # -- the blocking side

    def _arm(self) -> None:
        try:
            self._conn = self._listen()
        except psycopg.Error:
            self._close()  # the next wait retries; the caller's own read says what is wrong

    def _listen(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            application_name="ctui-listen",
        )
        try:
            self._install(conn)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _install(self, conn: psycopg.Connection[Any]) -> None:
        """Make sure the triggers exist; a failure (a role that may not create them, a
        lock wait past its timeout) still listens, and the next connection tries again."""
        if not self._installed:
            try:
                install(conn, self.schema, self._lock)
                self._installed = True
            except psycopg.Error:
                pass

    def _wait(self, timeout: float) -> bool:
        if self._conn is None:  # lost: connect again, and say "changed" (some may be missed)
            time.sleep(min(timeout, RETRY_S))
            self._arm()
            return True
        try:
            # one generator at a time: each holds the connection's lock until it ends
            with contextlib.closing(self._conn.notifies(timeout=timeout, stop_after=1)) as gen:
                heard = next(gen, None) is not None
            if heard:
                for _ in self._conn.notifies(timeout=0):  # the rest of a burst: one wake
                    pass
            return heard
        except psycopg.Error:
            self._close()
            return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    # -- the async side

    async def _produce(self, stop: asyncio.Event) -> None:
        jobs = [asyncio.ensure_future(self._listen_async(stop))]
        if self.folder is not None:
            jobs.append(
                asyncio.ensure_future(
                    watch_folder(self.folder, stop, self.publish, only=SETTINGS_FILES)
                )
            )
        try:
            await asyncio.gather(*jobs)
        finally:
            for job in jobs:
                job.cancel()

    async def _listen_async(self, stop: asyncio.Event) -> None:
        """LISTEN until `stop`, connecting again after a loss. Each (re)connect publishes a
        change (what committed meanwhile is unknown), and so does the start of an outage,
        so a view reads at once and shows what is wrong instead of going quietly stale."""
        down = False
        while not stop.is_set():
            try:
                if not self._installed:
                    await asyncio.to_thread(self._install_once)
                conn = await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=self._connect_timeout,
                    application_name="ctui-listen",
                )
                try:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    down = False
                    self.publish(StoreChange(data=True))
                    while not stop.is_set():
                        async for _ in conn.notifies(timeout=CHECK_S):
                            self.publish(StoreChange(data=True))
                finally:
                    await conn.close()
            except psycopg.Error:
                if not down:
                    down = True
                    self.publish(StoreChange(data=True))
            await pause(stop, RETRY_S)

    def _install_once(self) -> None:
        with psycopg.connect(
            self.url, autocommit=True, connect_timeout=self._connect_timeout
        ) as conn:
            self._install(conn)
