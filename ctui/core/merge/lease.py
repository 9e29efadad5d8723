"""The runner lease: one row says which process runs the queue, with a fencing token.

Taking it is a compare-and-set in one write transaction; it is free when
nobody holds it, when it expired, or when its holder's process is gone (same
host id, `ctui.core.hostid`). Every step that changes the queue or moves the base checks the token
inside its own write transaction, so a runner that lost its lease (paused
past its expiry, say) cannot land anything.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from ctui.core import hostid
from ctui.core.instances.liveness import HOST, pid_alive, pid_start_time
from ctui.core.merge.context import MergeContext
from ctui.core.store import open_store


class Lost(Exception):
    """This runner no longer holds the lease."""


def holder(conn: sqlite3.Connection) -> sqlite3.Row:
    row: sqlite3.Row = conn.execute("SELECT * FROM merge_runner WHERE id = 1").fetchone()
    return row


def _free(row: sqlite3.Row, now: float) -> bool:
    if row["holder"] is None or row["expires_at"] <= now:
        return True
    here = hostid.is_local(row["host_id"], row["host"])
    return bool(here and row["pid"] and not pid_alive(row["pid"], row["pid_start"]))


def acquire(ctx: MergeContext, conn: sqlite3.Connection, name: str, ttl: float) -> int | None:
    """Take the lease inside `conn`'s write transaction: the new token, or None when held."""
    row = holder(conn)
    now = ctx.now()
    if not _free(row, now):
        return None
    token = int(row["token"]) + 1
    pid = os.getpid()
    conn.execute(
        "UPDATE merge_runner SET holder = ?, pid = ?, pid_start = ?, host = ?, host_id = ?, "
        "token = ?, expires_at = ? WHERE id = 1 AND token = ?",
        (name, pid, pid_start_time(pid), HOST, hostid.local(), token, now + ttl, row["token"]),
    )
    ctx.log(conn, "merge.runner", subject=name, data={"token": token, "took_over": row["holder"]})
    return token


def check(conn: sqlite3.Connection, token: int) -> None:
    """Raise Lost unless `token` is still the lease's (call inside a write transaction)."""
    row = holder(conn)
    if row["token"] != token or row["holder"] is None:
        raise Lost(f"the merge runner lease moved on (token {token}, now {row['token']})")


def renew(ctx: MergeContext, conn: sqlite3.Connection, token: int, ttl: float) -> None:
    check(conn, token)
    conn.execute("UPDATE merge_runner SET expires_at = ? WHERE id = 1", (ctx.now() + ttl,))


def release(ctx: MergeContext, token: int) -> None:
    with ctx.store.write() as conn:
        conn.execute(
            "UPDATE merge_runner SET holder = NULL, pid = NULL, expires_at = 0 "
            "WHERE id = 1 AND token = ?",
            (token,),
        )


class Keeper:
    """Renews the lease from a background thread (its own connection) while a gate runs."""

    def __init__(self, ctx: MergeContext, token: int, ttl: float) -> None:
        self.ctx, self.token, self.ttl = ctx, token, ttl
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ctui-merge-lease", daemon=True)

    def __enter__(self) -> Keeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        store = open_store(self.ctx.store.path, create=False)
        try:
            while not self._stop.wait(self.ttl / 3):
                try:
                    with store.write() as conn:
                        renew(self.ctx, conn, self.token, self.ttl)
                except Lost as exc:
                    self.lost = str(exc)
                    return
                except Exception:  # a busy store: the next beat tries again
                    continue
        finally:
            store.close()
