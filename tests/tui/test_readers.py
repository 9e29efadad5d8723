"""The control room's store reads: aiosqlite for a local SQLite store, partial when the
event log allows, always the same records as a full read through the core."""

from __future__ import annotations

import time

from ctui.core import Coordinator
from ctui.tui.aio import CoreReader, SqliteReader, panes_for
from ctui.tui.live import reader_for
from ctui.tui.snapshot import load


def _same(a: object, b: object) -> None:
    for pane in ("instances", "leases", "threads", "tasks", "decisions", "activity", "agents"):
        assert a.records[pane] == b.records[pane], pane  # type: ignore[attr-defined]
        assert a.totals[pane] == b.totals[pane], pane  # type: ignore[attr-defined]


async def test_a_partial_read_shows_what_a_full_read_shows(seeded: Coordinator) -> None:
    reader = reader_for(seeded)
    assert isinstance(reader, SqliteReader)
    try:
        now = seeded.now()
        first = await reader.read(seeded, limit=200, now=now, previous=None, full=True)
        _same(first, load(seeded, now=now))

        seeded.instances.heartbeat("backend-0001", state="needs_input")
        now = seeded.now()
        second = await reader.read(seeded, limit=200, now=now, previous=first, full=False)
        assert reader.partial_reads == 1, "an agent's state change reads no thread or task"
        assert second.records["threads"] is first.records["threads"]
        _same(second, load(seeded, now=now))

        with seeded.store.write() as conn:  # a change that logs no event: its rows tell
            conn.execute("UPDATE threads SET cost_usd = 1.5 WHERE name = 'docs-sweep'")
        third = await reader.read(seeded, limit=200, now=now, previous=second, full=False)
        assert reader.partial_reads == 2
        assert any(t["cost_usd"] == 1.5 for t in third.records["threads"])
        assert third.records["tasks"] is second.records["tasks"], "no task row changed"
        _same(third, load(seeded, now=now))

        seeded.leases.release("src/auth.py", instance="backend-0001")
        seeded.tasks.add("one more")
        fourth = await reader.read(seeded, limit=200, now=now, previous=third, full=False)
        assert reader.partial_reads == 3
        _same(fourth, load(seeded, now=now))
    finally:
        await reader.close()


async def test_changes_without_an_event_show_in_the_panes_they_touched(
    seeded: Coordinator,
) -> None:
    """A heartbeat renews leases and logs nothing; other writes without an event (a task's
    priority, a decision's status by hand) show too: each re-reads only its own pane."""
    reader = reader_for(seeded)
    assert isinstance(reader, SqliteReader)
    try:
        now = seeded.now()
        snap = await reader.read(seeded, limit=200, now=now, previous=None, full=True)
        before = {x["path"]: x["expires_at"] for x in snap.records["leases"]}

        time.sleep(0.01)  # so the renewal moves the expiry on
        seeded.instances.heartbeat("backend-0001")
        now = seeded.now()
        beat = await reader.read(seeded, limit=200, now=now, previous=snap, full=False)
        assert reader.partial_reads == 1
        assert beat.records["threads"] is snap.records["threads"]
        assert beat.records["decisions"] is snap.records["decisions"]
        renewed = {x["path"]: x["expires_at"] for x in beat.records["leases"]}
        assert renewed["src/auth.py"] > before["src/auth.py"]
        _same(beat, load(seeded, now=now))

        with seeded.store.write() as conn:
            conn.execute("UPDATE tasks SET priority = 9")
        tasks = await reader.read(seeded, limit=200, now=now, previous=beat, full=False)
        assert tasks.raw["leases"] is beat.raw["leases"], "no lease row changed"
        assert {t["priority"] for t in tasks.records["tasks"]} == {9}
        _same(tasks, load(seeded, now=now))

        with seeded.store.write() as conn:
            conn.execute("UPDATE decisions SET status = 'rejected' WHERE rowid = 1")
        decided = await reader.read(seeded, limit=200, now=now, previous=tasks, full=False)
        assert decided.records["tasks"] is tasks.records["tasks"]
        assert "rejected" in {d["status"] for d in decided.records["decisions"]}
        _same(decided, load(seeded, now=now))
        assert reader.partial_reads == 3

        with seeded.store.write() as conn:  # not a renewal: the leases are read again
            conn.execute("UPDATE leases SET intent = 'a longer intent than before'")
        moved = await reader.read(seeded, limit=200, now=now, previous=decided, full=False)
        assert {x["intent"] for x in moved.records["leases"]} == {"a longer intent than before"}
        _same(moved, load(seeded, now=now))
    finally:
        await reader.close()


def test_unknown_event_kinds_read_everything() -> None:
    assert panes_for({"instance.state"}) == {"instances", "leases"}
    assert panes_for({"lease.acquired", "task.added"}) == {"leases", "tasks"}
    assert panes_for({"instance.state", "something.new"}) is None


async def test_a_store_that_is_not_local_sqlite_reads_through_the_core(seeded: Coordinator) -> None:
    class Elsewhere:  # a store without a SQLite file, as a PostgreSQL store would be
        def __init__(self, c: Coordinator) -> None:
            self.c = c

        def __getattr__(self, name: str) -> object:
            return None if name == "store" else getattr(self.c, name)

    proxy = Elsewhere(seeded)
    reader = reader_for(proxy)
    assert isinstance(reader, CoreReader)
    snap = await reader.read(proxy, limit=200, now=seeded.now(), previous=None, full=False)
    assert "backend-0001" in {i["id"] for i in snap.records["instances"]}


async def test_a_read_cancelled_inside_its_transaction_does_not_stick(seeded: Coordinator) -> None:
    """A read cancelled between BEGIN and COMMIT (a newer read replaced it) left the
    connection in a transaction; the next read closes it instead of failing forever."""
    reader = reader_for(seeded)
    assert isinstance(reader, SqliteReader)
    try:
        now = seeded.now()
        first = await reader.read(seeded, limit=200, now=now, previous=None, full=True)
        assert reader._conn is not None
        await reader._conn.execute("BEGIN")  # where a cancelled read stops
        seeded.tasks.add("after the cancelled read")
        again = await reader.read(seeded, limit=200, now=seeded.now(), previous=first, full=True)
        assert any("after the cancelled read" in str(t.values()) for t in again.records["tasks"])
    finally:
        await reader.close()
