"""LISTEN on PostgreSQL: another process's commit wakes a waiter, with no folder to watch.

These cases talk to a real server (`CTUI_TEST_PG_URL`) in a schema of their own,
made by hand with the two tables the triggers go on, so they test the feed alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import drop_pg_schema, pg_schema_name, pg_url_or_skip

pytestmark = pytest.mark.postgres


@pytest.fixture
def schema() -> Iterator[tuple[str, str]]:
    """A fresh schema with `ctui_schema` and `events`, dropped afterwards."""
    url = pg_url_or_skip()
    import psycopg

    name = pg_schema_name()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"CREATE TABLE {name}.ctui_schema (version INT, changes BIGINT DEFAULT 0)")
        conn.execute(f"INSERT INTO {name}.ctui_schema(version) VALUES (1)")
        conn.execute(f"CREATE TABLE {name}.events (id BIGSERIAL PRIMARY KEY, kind TEXT)")
    try:
        yield url, name
    finally:
        drop_pg_schema(url, name)


def commit_elsewhere(url: str, schema: str, statement: str) -> None:
    """Run one statement in its own transaction, in another real process."""
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1]) as conn:\n"
        "    conn.execute(sys.argv[2])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url, statement.format(s=schema)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


def feed_of(url: str, schema: str, **kw: Any) -> Any:
    from ctui.core.store.listen import ListenFeed

    return ListenFeed(url, schema, **kw)


def test_a_write_in_another_process_wakes_a_blocking_waiter(schema: tuple[str, str]) -> None:
    url, name = schema
    feed = feed_of(url, name)
    try:
        assert feed.wait(0) is True  # armed: triggers installed, listening
        assert feed.wait(0.3) is False
        commit_elsewhere(url, name, "UPDATE {s}.ctui_schema SET changes = changes + 1")
        assert feed.wait(30) is True
        assert feed.wait(0.3) is False, "one commit wakes once"
        commit_elsewhere(url, name, "INSERT INTO {s}.events(kind) VALUES ('x'), ('y')")
        assert feed.wait(30) is True
    finally:
        feed.close()


def test_a_rolled_back_write_wakes_nobody(schema: tuple[str, str]) -> None:
    import psycopg

    url, name = schema
    feed = feed_of(url, name)
    try:
        feed.wait(0)
        with psycopg.connect(url) as conn:
            conn.execute(f"INSERT INTO {name}.events(kind) VALUES ('never')")
            conn.rollback()
        assert feed.wait(0.5) is False
    finally:
        feed.close()


def test_installing_twice_is_a_no_op_and_schemas_do_not_hear_each_other(
    schema: tuple[str, str],
) -> None:
    import psycopg

    from ctui.core.store.listen import channel, install

    url, name = schema
    with psycopg.connect(url, autocommit=True) as conn:
        assert install(conn, name) is True
        assert install(conn, name) is False
        count = conn.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND t.tgname = 'ctui_notify'",
            (name,),
        ).fetchone()[0]
    assert count == 2
    assert channel(name) != channel(name + "x")
    other = feed_of(url, name + "_other")  # no such schema: it listens on its own channel
    try:
        other.wait(0)
        commit_elsewhere(url, name, "UPDATE {s}.ctui_schema SET changes = changes + 1")
        assert other.wait(0.5) is False
    finally:
        other.close()


def test_a_dropped_listen_connection_wakes_and_listens_again(schema: tuple[str, str]) -> None:
    """The server ends the listener's session: the waiter says 'changed' (it may have
    missed something), reconnects, and hears the next commit."""
    import psycopg

    url, name = schema
    feed = feed_of(url, name)
    try:
        feed.wait(0)
        pid = feed._conn.info.backend_pid
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert feed.wait(30) is True  # the loss
        assert feed.wait(30) is True  # reconnected (answers True: it may have missed one)
        assert feed._conn is not None and feed._conn.info.backend_pid != pid
        assert feed.wait(0.3) is False
        commit_elsewhere(url, name, "INSERT INTO {s}.events(kind) VALUES ('after')")
        assert feed.wait(30) is True
    finally:
        feed.close()


async def test_async_subscribers_hear_another_process_commit(schema: tuple[str, str]) -> None:
    url, name = schema
    feed = feed_of(url, name)
    heard: list[int] = [0, 0]
    armed = [asyncio.Event(), asyncio.Event()]

    async def subscriber(n: int) -> None:
        async with contextlib.aclosing(feed.changes(idle=0.1)) as changes:
            async for change in changes:
                if change.data and not armed[n].is_set():
                    armed[n].set()  # the first change: published once LISTEN is in place
                    continue
                if change.data:
                    heard[n] += 1
                    return

    jobs = [asyncio.create_task(subscriber(n)) for n in (0, 1)]
    await asyncio.wait_for(asyncio.gather(*(a.wait() for a in armed)), 30)
    await asyncio.to_thread(
        commit_elsewhere, url, name, "INSERT INTO {s}.events(kind) VALUES ('async')"
    )
    await asyncio.wait_for(asyncio.gather(*jobs), 30)
    assert heard == [1, 1]
    await feed.aclose()


def test_processes_installing_at_once_create_each_trigger_once(schema: tuple[str, str]) -> None:
    """Several real processes race to install on a fresh schema: no error, one winner,
    and each table ends with exactly one trigger. Repeated on fresh triggers."""
    import psycopg

    url, name = schema
    code = (
        "import sys, psycopg\n"
        "from ctui.core.store.listen import install\n"
        "sys.stdin.readline()\n"  # start together
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        "    print(install(conn, sys.argv[2]))\n"
    )
    for _round in range(3):
        with psycopg.connect(url, autocommit=True) as conn:
            for table in ("ctui_schema", "events"):
                conn.execute(f"DROP TRIGGER IF EXISTS ctui_notify ON {name}.{table}")
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", code, url, name],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        answers = [racer.communicate(timeout=60) for racer in racers]
        assert all(racer.returncode == 0 for racer in racers), answers
        assert sorted(out.strip() for out, _ in answers) == ["False", "False", "False", "True"]
        with psycopg.connect(url, autocommit=True) as conn:
            per_table = conn.execute(
                "SELECT c.relname, count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND t.tgname = 'ctui_notify' GROUP BY c.relname "
                "ORDER BY c.relname",
                (name,),
            ).fetchall()
        assert per_table == [("ctui_schema", 1), ("events", 1)]


async def test_the_async_listener_comes_back_after_its_session_ends(
    schema: tuple[str, str],
) -> None:
    """The server ends the async side's LISTEN session: it says 'changed' (what commits
    meanwhile is unknown), connects again, and hears the next commit."""
    import psycopg

    from ctui.core.store.listen import channel

    url, name = schema
    feed = feed_of(url, name)
    listening = f'LISTEN "{channel(name)}"'

    def listener_pids() -> list[int]:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE query = %s", (listening,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    async with contextlib.aclosing(feed.changes(idle=0.1)) as changes:
        seen = 0
        async for change in changes:  # the first change: listening
            if change.data:
                break
        old = await asyncio.to_thread(listener_pids)
        assert len(old) == 1
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (old[0],))
        for _ in range(300):  # listening again, on a new session
            new = await asyncio.to_thread(listener_pids)
            if new and new != old:
                break
            await asyncio.sleep(0.1)
        assert len(new) == 1 and new != old
        async for change in changes:  # the loss and the reconnect, told; then quiet
            if not change:
                break
        await asyncio.to_thread(
            commit_elsewhere, url, name, "UPDATE {s}.ctui_schema SET changes = changes + 1"
        )
        async for change in changes:
            if change.data:
                seen += 1
                break
        assert seen == 1
    await feed.aclose()


async def test_an_unreachable_server_is_news_not_silence(schema: tuple[str, str]) -> None:
    """A listener that cannot reach the server publishes a change once, so a live view
    reads now and shows the store's error instead of going quietly stale."""
    import socket

    _url, name = schema
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once this block ends: nobody listens there
    feed = feed_of(f"postgresql://postgres@127.0.0.1:{port}/ctui", name, connect_timeout=2)
    async with contextlib.aclosing(feed.changes()) as changes:
        change = await asyncio.wait_for(anext(changes), 30)
        assert change.data
    await feed.aclose()
    assert feed.wait(0) is True  # the blocking side: armed or not, it says "read now"
    assert feed.wait(0.2) is True  # still unreachable: every wait says so, after a pause
    feed.close()


async def test_a_subscriber_hears_what_commits_before_it_first_iterates(
    schema: tuple[str, str],
) -> None:
    """A stream subscribes, reads its backlog, then iterates: a commit that lands between
    subscribing and iterating must still wake it (the listener already runs for another
    subscriber, so no 'listening now' change comes to cover it)."""
    url, name = schema
    feed = feed_of(url, name)
    async with contextlib.aclosing(feed.changes(idle=0.1)) as first:
        async for change in first:  # listening
            if change.data:
                break
        async with contextlib.aclosing(feed.changes()) as second:
            await asyncio.to_thread(
                commit_elsewhere, url, name, "INSERT INTO {s}.events(kind) VALUES ('between')"
            )
            change = await asyncio.wait_for(anext(second), 30)
            assert change.data
    await feed.aclose()
