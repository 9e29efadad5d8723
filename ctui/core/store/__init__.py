"""The store: one SQLite file in WAL mode, its schema and migrations.

`connection` opens it and holds the SQLite-specific parts (counters, the
writer queue, transactions); `schema` is the DDL and the migrations.
"""

import sqlite3

from ctui.core.errors import StoreError
from ctui.core.store.connection import DB_NAME as DB_NAME
from ctui.core.store.connection import Store as Store


def failure(exc: BaseException) -> StoreError | None:
    """The backend's own exception as a `StoreError`, so no face catches `sqlite3.Error`;
    None for anything else."""
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"store error: {exc}: try again, or move a damaged .ctui/ctui.db aside")
    return None
