"""The store: one SQLite file in WAL mode by default, or a PostgreSQL schema.

`connection` opens SQLite and holds its specific parts (counters, the writer
queue, transactions); `schema` is the DDL and the migrations; `postgres` is
the same interface on a PostgreSQL server (`pg_schema` translates the
migrations), the only module that imports psycopg, loaded only when
`CTUI_STORE_URL`, `[store] url` or a `.ctui/store.json` left by an earlier
open selects it (`open_store`). Each backend names its own failures as the
core's `StoreError` kinds (`failure`).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from ctui.core.errors import StoreError
from ctui.core.store.connection import BUSY_TIMEOUT_S
from ctui.core.store.connection import DB_NAME as DB_NAME
from ctui.core.store.connection import Store as Store
from ctui.core.store.target import MARKER as MARKER
from ctui.core.store.target import SCHEMA_ENV as SCHEMA_ENV
from ctui.core.store.target import URL_ENV as URL_ENV
from ctui.core.store.target import Target as Target
from ctui.core.store.target import exists as exists
from ctui.core.store.target import target as target


def open_store(path: Path, *, create: bool = True, timeout: float | None = None) -> Store:
    """Open the store for the folder `path`: PostgreSQL when `target` names one, else SQLite."""
    wait = timeout or BUSY_TIMEOUT_S
    found = target(path)
    if found is None:
        return Store.open(path, create=create, timeout=wait)
    if (path / DB_NAME).exists():
        raise StoreError(
            f"{path} already holds a SQLite store ({DB_NAME}) but {found.source} selects "
            "PostgreSQL: unset it to keep using SQLite, or move the file aside to start "
            "afresh on PostgreSQL (ctui does not copy a store between backends)"
        )
    from ctui.core.store.postgres import PgStore

    return PgStore.connect(path, found.url, found.schema, create=create, timeout=wait)


def failure(exc: BaseException) -> StoreError | None:
    """The backend's own exception as a `StoreError`, so no face catches `sqlite3.Error`
    or psycopg's errors; None for anything else. psycopg is never imported for this:
    only an error of a module already loaded can be one of its."""
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"store error: {exc}: try again, or move a damaged .ctui/ctui.db aside")
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        from ctui.core.store.postgres import failure_of

        return failure_of(exc)
    return None
