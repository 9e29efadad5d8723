"""The store: one SQLite file in WAL mode, its schema and migrations.

`connection` opens it and holds the SQLite-specific parts (counters, the
writer queue, transactions); `schema` is the DDL and the migrations.
"""

from ctui.core.store.connection import DB_NAME as DB_NAME
from ctui.core.store.connection import Store as Store
