"""The control room follows changes made by other processes, and survives a store that goes away."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.tui.messages import StoreChanged
from tests.core.test_live_backends import folder_state

from .helpers import SIZE, control_room, loaded, until

CTUI = str(Path(sys.executable).parent / "ctui")


async def run(*args: str, cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=os.environ.copy(),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode()


@pytest.mark.usefixtures("backend")  # on PostgreSQL only LISTEN can wake it: no file changes
async def test_a_lease_taken_by_another_process_shows_up(backend: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2")  # the Leases view: a hidden view keeps records, not rows
        await pilot.pause(0.3)
        loads = app.loads
        before = folder_state(c.store.path)
        code, out = await run(
            CTUI, "lock", "acquire", "src/app.py", "--intent", "from afar", cwd=repo
        )
        assert code == 0, out
        await until(pilot, lambda: "src/app.py" in app.pane("leases").records, timeout=10)
        if backend == "postgres":
            assert folder_state(c.store.path) == before
        row = app.pane("leases").get_row("src/app.py")
        assert [str(cell) for cell in row[:2]] == ["src/app.py", "operator"]
        assert app.loads > loads
        code, out = await run(CTUI, "lock", "release", "src/app.py", cwd=repo)
        assert code == 0, out
        await until(pilot, lambda: "src/app.py" not in app.pane("leases").records, timeout=10)
    c.close()


async def test_a_burst_of_changes_coalesces(repo: Path) -> None:
    c = Coordinator.open(repo)
    app = control_room(c, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        before = app.loads
        for _ in range(50):
            app.post_message(StoreChanged())
        await pilot.pause(0.5)
        await until(pilot, lambda: not app._loading)
        assert 1 <= app.loads - before <= 3
    c.close()


async def test_the_countdown_ticks_without_reading_the_store(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.leases.acquire("src/app.py", instance="operator", ttl=90)
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        first = app.pane("leases").get_row("src/app.py")[2].sort
        loads = app.loads
        await until(
            pilot, lambda: app.pane("leases").get_row("src/app.py")[2].sort < first - 0.9, timeout=5
        )
        assert app.loads == loads
    c.close()


async def test_a_vanished_store_shows_a_banner_and_recovers(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.decisions.add(category="x", title="before", author="operator")
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("5")
        assert app.pane("decisions").row_count == 1
        shutil.move(str(repo / ".ctui"), str(repo / "ctui-moved"))
        await until(pilot, lambda: app.trouble, timeout=10)
        banner = app.query_one("#banner")
        assert banner.display and "gone" in app.trouble
        shutil.move(str(repo / "ctui-moved"), str(repo / ".ctui"))
        await until(pilot, lambda: not app.trouble, timeout=10)
        other = Coordinator.open(repo)
        other.decisions.add(category="x", title="after", author="operator")
        other.close()
        await until(pilot, lambda: app.pane("decisions").row_count == 2, timeout=10)
        assert not banner.display
    c.close()


async def test_a_replaced_store_is_reopened(repo: Path) -> None:
    c = Coordinator.open(repo)
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("5")
        shutil.rmtree(repo / ".ctui")
        await until(pilot, lambda: app.trouble, timeout=10)
        fresh = Coordinator.open(repo)
        fresh.decisions.add(category="x", title="new store", author="operator")
        fresh.close()
        await until(pilot, lambda: app.pane("decisions").row_count == 1, timeout=10)
        assert not app.trouble
    c.close()


async def test_a_damaged_store_is_a_banner_not_a_crash(repo: Path) -> None:
    c = Coordinator.open(repo)
    c.decisions.add(category="x", title="kept", author="operator")
    c.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("5")
        db = repo / ".ctui" / "ctui.db"
        good = db.read_bytes()
        db.unlink()
        db.write_bytes(b"this is not a database" * 100)
        await until(pilot, lambda: app.trouble, timeout=10)
        assert app.is_running
        db.unlink()
        db.write_bytes(good)
        await until(pilot, lambda: not app.trouble, timeout=10)
        await until(pilot, lambda: app.pane("decisions").row_count == 1, timeout=10)
    c.close()


async def test_a_record_the_pane_cannot_show_is_a_notification(seeded: Coordinator) -> None:
    from ctui.tui.messages import Loaded
    from ctui.tui.snapshot import load

    from .helpers import notes

    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")  # the Threads view, where the odd record is shown
        snap = load(seeded)
        snap.records["threads"] = [{"name": "odd", "tokens_in": "lots"}, {"no": "key"}]
        app.post_message(Loaded(snap))
        await until(pilot, lambda: any("cannot show the Threads pane" in t for _, t in notes(app)))
        await pilot.press("2")
        assert app.is_running and app.pane("leases").row_count == 4
