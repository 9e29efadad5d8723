"""The PostgreSQL store: what only it has (the advisory lock, the server clock, the
selection, its errors) and the races READ COMMITTED alone loses.

Issue 18 measured it with the core's own claim and glob-grant logic: on
PostgreSQL's default isolation two racers both got one task and overlapping
leases. Here real processes race for one task and for overlapping leases, round
after round; the advisory lock every write transaction takes first must leave
exactly one winner each round.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.core.errors import LeaseHeld, StoreBusy, StoreError
from ctui.core.store import failure
from ctui.core.store.pg_schema import split
from ctui.core.store.postgres import Catalog, lock_key, redact, translate
from tests.conftest import CTUI
from tests.support import FakeClock, dump, pg_dump, pg_url_or_skip

pytestmark = pytest.mark.postgres

CTX = mp.get_context("fork")
RACERS = 6
ROUNDS = 25


@pytest.fixture
def pg(postgres: str) -> str:
    """The test server's URL; the test's stores live in a schema of their own."""
    return postgres


def _claim_rounds(root: str, me: str, barrier: mp.synchronize.Barrier, out: str) -> None:
    c = Coordinator.open(root, create=False)
    won = []
    for n in range(1, ROUNDS + 1):
        barrier.wait(timeout=60)
        try:
            won.append(c.tasks.claim(me, f"task-{n:04d}").id)
        except Exception:  # Conflict: someone else has it
            pass
    Path(out).write_text(" ".join(won))
    c.close()


def _run(target, args_for, n: int = RACERS) -> None:  # type: ignore[no-untyped-def]
    procs = [CTX.Process(target=target, args=args_for(i)) for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(5)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


def test_racing_processes_claim_each_task_once(pg: str, repo: Path, tmp_path: Path) -> None:
    c = Coordinator.open(repo)
    for n in range(ROUNDS):
        c.tasks.add(f"task {n}")
    racers = [c.instances.register(role="racer", ttl=600).id for _ in range(RACERS)]
    barrier = CTX.Barrier(RACERS)
    _run(_claim_rounds, lambda i: (str(repo), racers[i], barrier, str(tmp_path / f"won-{i}")))
    wins = [w for i in range(RACERS) for w in (tmp_path / f"won-{i}").read_text().split()]
    assert sorted(wins) == [f"task-{n:04d}" for n in range(1, ROUNDS + 1)]  # one winner each
    assert {t.attempts for t in c.tasks.list()} == {1}
    c.close()


def _lease_rounds(
    root: str, me: str, glob: bool, barrier: mp.synchronize.Barrier, out: str
) -> None:
    c = Coordinator.open(root, create=False)
    won = []
    for n in range(ROUNDS):
        key = f"r{n}/*.py" if glob else f"r{n}/app.py"
        barrier.wait(timeout=60)
        try:
            won.append(f"{n}:{c.leases.acquire(key, instance=me, ttl=600).token}")
        except LeaseHeld:
            pass
    Path(out).write_text(" ".join(won))
    c.close()


def test_racing_processes_never_get_overlapping_leases(pg: str, repo: Path, tmp_path: Path) -> None:
    """Half race for a glob, half for a file under it: one grant per round, tokens growing."""
    c = Coordinator.open(repo)
    racers = [c.instances.register(role="racer", ttl=600).id for _ in range(RACERS)]
    barrier = CTX.Barrier(RACERS)
    _run(
        _lease_rounds,
        lambda i: (str(repo), racers[i], i % 2 == 0, barrier, str(tmp_path / f"won-{i}")),
    )
    wins = [
        w.split(":") for i in range(RACERS) for w in (tmp_path / f"won-{i}").read_text().split()
    ]
    assert sorted(int(n) for n, _ in wins) == list(range(ROUNDS))  # exactly one per round
    tokens = [int(t) for _, t in sorted(wins, key=lambda w: int(w[0]))]
    assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)  # fencing only grows
    c.close()


def test_a_write_past_the_timeout_is_busy_and_changes_nothing(pg: str, repo: Path) -> None:
    import psycopg

    c = Coordinator.open(repo, timeout=0.3)
    me = c.instances.register(role="w").id
    before = dump(c.store)
    blocker = psycopg.connect(pg, autocommit=True)
    try:
        blocker.execute("SELECT pg_advisory_lock(%s)", (lock_key(c.store.schema),))
        with pytest.raises(StoreBusy, match="try again"):
            c.leases.acquire("src/app.py", instance=me)
    finally:
        blocker.close()
    assert dump(c.store) == before
    assert c.leases.acquire("src/app.py", instance=me).holder == me  # free again
    c.close()


def test_a_second_process_finds_the_store_without_the_url(pg: str, repo: Path) -> None:
    """Agents never get CTUI_STORE_URL: `.ctui/store.json` (no password) leads them there."""
    c = Coordinator.open(repo)
    c.tasks.add("shared work")
    marker = (repo / ".ctui" / "store.json").read_text()
    assert (
        "postgresql" in marker and oct((repo / ".ctui" / "store.json").stat().st_mode)[-3:] == "600"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CTUI_STORE_URL", "CTUI_STORE_SCHEMA")}
    proc = subprocess.run(
        [CTUI, "task", "list", "--json"], cwd=repo, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "shared work" in proc.stdout
    assert not (repo / ".ctui" / "ctui.db").exists()  # no SQLite store beside it
    c.close()


def test_a_missing_schema_is_an_error_and_is_not_created(
    pg: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("CTUI_STORE_SCHEMA", "ctui_never_made_here")
    with pytest.raises(StoreError, match="no ctui store in PostgreSQL schema ctui_never_made_here"):
        Coordinator.open(repo, create=False)
    with psycopg.connect(pg) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'ctui_never_made_here'"
        ).fetchone()
    assert found is None


def test_an_unreachable_server_is_one_line_and_exit_14(
    pg: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTUI_STORE_URL", "postgresql://ctui:secret@127.0.0.1:1/ctui")
    proc = subprocess.run([CTUI, "task", "list"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 14, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the PostgreSQL store" in lines[0], lines
    assert "secret" not in proc.stderr  # the password never shows
    assert not (repo / ".ctui").exists()


def test_a_bad_url_is_refused_before_anything_is_made(
    pg: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTUI_STORE_URL", "mysql://root@localhost/ctui")
    proc = subprocess.run([CTUI, "task", "list"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1 and "bad store URL" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (repo / ".ctui").exists()


def test_without_psycopg_the_error_says_what_to_install(pg: str, repo: Path) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from ctui.cli import main; sys.exit(main(['task', 'list']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "pip install 'ctui[postgres]'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_time_is_the_servers_unless_a_test_gives_its_own(pg: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    assert c.clock == c.store.clock
    (server,) = c.store.conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
    assert abs(c.now() - server) < 60
    c.close()
    fake = FakeClock()
    c = Coordinator.open(repo, clock=fake)
    assert c.now() == fake.now
    c.close()


def test_another_connections_commit_changes_the_data_version(pg: str, repo: Path) -> None:
    a, b = Coordinator.open(repo), Coordinator.open(repo)
    seen = a.store.data_version()
    assert a.store.data_version() == seen
    b.tasks.add("a change")
    assert a.store.data_version() != seen
    a.close()
    b.close()


def test_search_finds_decisions_by_word_prefixes(pg: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    c.decisions.add(category="api", title="Use REST for the public API", author="operator")
    c.decisions.add(category="db", title="Postgres for teams", author="operator")
    assert [d.title for d in c.decisions.search("rest publ")] == ["Use REST for the public API"]
    assert [d.title for d in c.decisions.search("TEAM")] == ["Postgres for teams"]
    c.close()


def test_store_failure_names_psycopg_errors_without_importing_it() -> None:
    code = (
        "import sys\n"
        "from ctui.core.store import failure\n"
        "assert failure(ValueError('x')) is None\n"
        "assert 'psycopg' not in sys.modules\n"
        "from ctui.core import Coordinator\n"
        "assert 'psycopg' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    pg_url_or_skip()
    import psycopg

    found = failure(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))
    assert found is not None and found.exit_code == 14


def test_the_agents_environment_has_no_store_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctui.core.private import agent_env

    monkeypatch.setenv("CTUI_STORE_URL", "postgresql://u:p@h/d")
    assert "CTUI_STORE_URL" not in agent_env()


CATALOG = Catalog(
    {"runs": ["thread", "run", "kind", "status", "cost_usd"], "events": ["id", "kind"]},
    {"runs": ["thread", "run"], "events": ["id"]},
    {"events"},
)


@pytest.mark.parametrize(
    ("sqlite", "postgres"),
    [
        (
            "SELECT * FROM t WHERE a = ? AND b LIKE 'x%'",
            "SELECT * FROM t WHERE a = %s AND b ILIKE 'x%%'",
        ),
        ("SELECT 1 WHERE agent_id IS ?", "SELECT 1 WHERE agent_id IS NOT DISTINCT FROM %s"),
        ("SELECT 1 WHERE kind GLOB ?", "SELECT 1 WHERE kind ~ glob_regex(%s)"),
        ("SELECT '?' FROM t WHERE x = ?", "SELECT '?' FROM t WHERE x = %s"),
        (
            "INSERT OR IGNORE INTO meta(key, value) VALUES (?, '1')",
            "INSERT INTO meta(key, value) VALUES (%s, '1') ON CONFLICT DO NOTHING",
        ),
        (
            "INSERT OR REPLACE INTO runs(thread, run, kind, status) VALUES (?, ?, ?, 'x')",
            "INSERT INTO runs(thread, run, kind, status) VALUES (%s, %s, %s, 'x') ON CONFLICT "
            "(thread, run) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status, "
            "cost_usd = DEFAULT",
        ),
        (
            "INSERT INTO events(kind) VALUES (?)",
            "INSERT INTO events(kind) VALUES (%s) RETURNING id",
        ),
    ],
)
def test_translation(sqlite: str, postgres: str) -> None:
    assert translate(sqlite, CATALOG).text == postgres


def test_schema_scripts_split_at_statement_ends_only() -> None:
    script = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$;\nINSERT INTO t VALUES ('a;b');"
    assert split(script) == [
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$",
        "INSERT INTO t VALUES ('a;b')",
    ]
    assert redact("postgresql://me:s3cret@db:5432/x") == "postgresql://me@db:5432/x"


def test_both_backends_have_the_same_tables_and_columns(
    pg: str, repo: Path, tmp_path: Path
) -> None:
    import sqlite3

    from ctui.core.store import Store

    c = Coordinator.open(repo)
    pg_tables: dict[str, set[str]] = {}
    for table, column in c.store.conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ?",
        (c.store.schema,),
    ):
        pg_tables.setdefault(table, set()).add(column)
    c.close()
    lite = Store.open(tmp_path / "lite")
    conn = sqlite3.connect(lite.db_path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    lite_tables = {
        n: {r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')}
        for n in names
        if not n.startswith(("decisions_fts", "sqlite_"))
    }
    conn.close()
    lite.close()
    extra = {"decisions": {"rowid", "search"}, "orchestrator_runs": {"rowid"}}
    pg_tables.pop("ctui_schema")
    assert {n: cols - extra.get(n, set()) for n, cols in pg_tables.items()} == lite_tables


def test_doctor_names_the_backend_and_warns_of_a_password(
    pg: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    Coordinator.open(repo).close()
    proc = subprocess.run(
        [CTUI, "hooks", "doctor", "--json"], cwd=repo, capture_output=True, text=True
    )
    doc = json.loads(proc.stdout)
    assert doc["backend"]["kind"] == "postgresql" and doc["warnings"] == [], doc
    assert doc["backend"]["schema"] == os.environ["CTUI_STORE_SCHEMA"]
    with_password = re.sub(r"://([^:/@]+)@", r"://\1:pw1234@", pg)
    assert ":pw1234@" in with_password, pg  # the test server's URL names a user
    monkeypatch.setenv("CTUI_STORE_URL", with_password)
    proc = subprocess.run(
        [CTUI, "hooks", "doctor", "--json"], cwd=repo, capture_output=True, text=True
    )
    doc = json.loads(proc.stdout)
    assert any("password" in w for w in doc["warnings"]), doc
    assert "pw1234" not in proc.stdout + proc.stderr


def test_a_url_over_an_existing_sqlite_store_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never two stores for one repository: the agents would split between them."""
    Coordinator.open(repo).close()
    monkeypatch.setenv("CTUI_STORE_URL", "postgresql://postgres@127.0.0.1:1/ctui")
    with pytest.raises(StoreError, match="already holds a SQLite store"):
        Coordinator.open(repo)


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("task.*", "task.done", True),
        ("task.*", "tasks.done", False),
        ("a[?]b", "a?b", True),
        ("a[?]b", "axb", False),
        ("a?b", "axb", True),
        ("[*]x", "*x", True),
        ("a.b", "axb", False),
        ("x[^0-9]", "xa", True),
        ("x[^0-9]", "x1", False),
        ("a\\b", "a\\b", True),
        ("(a|b)+", "(a|b)+", True),
        ("[", "[", False),
    ],
)
def test_glob_matches_as_sqlite_does(
    pg: str, repo: Path, pattern: str, value: str, matches: bool
) -> None:
    import sqlite3

    lite = sqlite3.connect(":memory:").execute("SELECT ? GLOB ?", (value, pattern)).fetchone()[0]
    assert bool(lite) == matches  # the expectation is SQLite's own answer
    c = Coordinator.open(repo)
    found = c.store.conn.execute("SELECT 1 WHERE ? GLOB ?", (value, pattern)).fetchone()
    assert (found is not None) == matches
    c.close()


def test_a_schema_holding_other_tables_is_not_taken_over(
    pg: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    schema = os.environ["CTUI_STORE_SCHEMA"]
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.orders (id int)")
    with pytest.raises(StoreError, match="holds 1 tables that are not ctui's"):
        Coordinator.open(repo)
    with psycopg.connect(pg) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    assert tables == [("orders",)]


def test_the_catalog_from_pg_catalog_equals_information_schemas(pg: str, repo: Path) -> None:
    """What translation reads (columns, primary keys in order, `id` sequences), checked
    against the standard's views it replaced for speed."""
    c = Coordinator.open(repo)
    raw = c.store.conn.raw  # type: ignore[attr-defined]
    schema = c.store.schema  # type: ignore[attr-defined]
    columns: dict[str, list[str]] = {}
    serial: set[str] = set()
    for table, column, default in raw.execute(
        "SELECT table_name, column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
        (schema,),
    ).fetchall():
        columns.setdefault(table, []).append(column)
        if column == "id" and str(default or "").startswith("nextval("):
            serial.add(table)
    keys: dict[str, list[str]] = {}
    for table, column in raw.execute(
        "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name "
        "AND k.table_schema = tc.table_schema WHERE tc.table_schema = %s "
        "AND tc.constraint_type = 'PRIMARY KEY' ORDER BY tc.table_name, k.ordinal_position",
        (schema,),
    ).fetchall():
        keys.setdefault(table, []).append(column)
    found = Catalog.read(raw, schema)
    c.close()
    assert found == Catalog(columns, keys, serial)
    assert found.keys["runs"] == ["thread", "run"] and "events" in found.serial


def test_a_connection_the_server_ended_is_not_idle(pg: str, repo: Path) -> None:
    """`idle()` is what `ctui serve` asks before reusing a kept store for a hook call."""
    import psycopg

    c = Coordinator.open(repo)
    assert c.store.idle()
    (backend,) = c.store.conn.execute("SELECT pg_backend_pid()").fetchone()
    assert c.store.idle()
    with psycopg.connect(pg_url_or_skip(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    deadline = time.monotonic() + 30
    while c.store.idle():
        assert time.monotonic() < deadline, "the ended connection still looks idle"
        time.sleep(0.05)
    c.close()
    again = Coordinator.open(repo)
    assert again.tasks.add("after the restart").id and again.store.idle()
    again.close()


def test_a_newer_schema_is_refused_and_left_untouched(pg: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    c.tasks.add("keep me")
    c.store.conn.execute("UPDATE ctui_schema SET version = 999")
    before = dump(c.store)
    c.close()
    with pytest.raises(StoreError, match="newer than this ctui knows"):
        Coordinator.open(repo)
    assert pg_dump(pg, os.environ["CTUI_STORE_SCHEMA"]) == before  # version 999 still


def _use_inherited(c: Coordinator) -> None:
    import gc

    c.tasks.add("from the child")  # through the parent's Coordinator, inherited by fork
    c.close()
    gc.collect()


def test_a_forked_child_never_uses_or_closes_its_parents_connection(pg: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    c.tasks.add("from the parent")
    child = CTX.Process(target=_use_inherited, args=(c,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    c.tasks.add("from the parent again")  # its session survived the child
    assert sorted(t.description for t in c.tasks.list()) == [
        "from the child",
        "from the parent",
        "from the parent again",
    ]
    c.close()


def _refusing_server() -> tuple[int, Any]:
    """A server on 127.0.0.1 that speaks just enough of PostgreSQL's protocol to ask for a
    password and refuse it, as a server with password auth does for a wrong one."""
    import socket
    import struct
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    while True:  # SSL or GSS encryption requests: answered "no"
                        size, code = struct.unpack("!ii", conn.recv(8, socket.MSG_WAITALL))
                        if code in (80877103, 80877104):
                            conn.sendall(b"N")
                            continue
                        conn.recv(size - 8, socket.MSG_WAITALL)  # the startup message
                        break
                    conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # cleartext password, please
                    conn.recv(1024)
                    fields = (
                        b"SFATAL\0VFATAL\0C28P01\0"
                        b'Mpassword authentication failed for user "ctui"\0\0'
                    )
                    conn.sendall(b"E" + struct.pack("!i", len(fields) + 4) + fields)
                except (OSError, struct.error):
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], listener


def test_a_refused_login_is_one_line_exit_17_without_the_password(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, listener = _refusing_server()
    try:
        monkeypatch.setenv("CTUI_STORE_URL", f"postgresql://ctui:wrong-pw@127.0.0.1:{port}/ctui")
        proc = subprocess.run([CTUI, "task", "list"], cwd=repo, capture_output=True, text=True)
    finally:
        listener.close()
    assert proc.returncode == 17, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the login" in lines[0] and "pgpass" in lines[0], lines
    assert "wrong-pw" not in proc.stderr
    assert not (repo / ".ctui").exists()


def test_the_store_has_the_servers_clock_for_host_offsets(pg: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    server = c.store.server_time()
    assert server is not None
    (again,) = c.store.conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
    assert server <= again  # the server's own clock, read from the server
    c.close()


def test_a_new_store_notifies_before_anyone_listens(pg: str, repo: Path) -> None:
    """The triggers come with the schema: a plain LISTEN (a role that could not create
    them) hears the first write, with no ctui listener ever started."""
    import psycopg
    from psycopg import sql

    from ctui.core.store.listen import channel

    c = Coordinator.open(repo)
    schema = os.environ["CTUI_STORE_SCHEMA"]
    try:
        with psycopg.connect(pg, autocommit=True) as conn:
            triggers = conn.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND t.tgname = 'ctui_notify' ORDER BY c.relname",
                (schema,),
            ).fetchall()
            assert [t[0] for t in triggers] == ["ctui_schema", "events"]
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(schema))))
            c.tasks.add("heard at once")
            heard = list(conn.notifies(timeout=30, stop_after=1))
        assert [n.channel for n in heard] == [channel(schema)]
    finally:
        c.close()
