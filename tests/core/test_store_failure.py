"""A store error SQLite raises past the core's own checks is still one line, exit 1.

The CLI no longer catches `sqlite3.Error` itself: `ctui.core.store.failure` names
the backend's exception as a `StoreError` (so no face imports sqlite3).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ctui.core.errors import StoreError
from ctui.core.store import failure
from tests.conftest import Cli
from tests.support import dump


def test_failure_names_only_the_backends_own_errors() -> None:
    found = failure(sqlite3.OperationalError("no such table: decisions"))
    assert isinstance(found, StoreError) and found.exit_code == 1
    assert str(found).startswith("store error: no such table: decisions")
    assert failure(ValueError("a bug")) is None
    assert failure(OSError("disk")) is None


def test_a_missing_table_is_a_one_line_store_error(cli: Cli, repo: Path) -> None:
    cli("init")
    db = repo / ".ctui" / "ctui.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE decisions_fts")
    conn.execute("DROP TABLE decisions")
    conn.commit()
    conn.close()
    before = dump(db)
    proc = cli("decisions", "list")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "store error: no such table: decisions" in err
    assert "move a damaged .ctui/ctui.db aside" in err
    as_json = cli("decisions", "list", "--json")
    assert json.loads(as_json.stdout)["exit_code"] == 1
    assert dump(db) == before
