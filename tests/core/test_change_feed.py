"""The SQLite store's change feed: another process's commit wakes a waiter, blocking or async."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.store.feed import FileFeed
from tests.conftest import CTUI


def commit_elsewhere(repo: Path, text: str = "from another process") -> None:
    """One write by a real `ctui` process."""
    out = subprocess.run(
        [CTUI, "task", "add", text], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr


def test_a_blocking_wait_wakes_on_another_process_commit(coord: Coordinator, repo: Path) -> None:
    feed = coord.store.change_feed()
    try:
        assert feed.wait(0) is True, "the first wait arms the feed and answers at once"
        assert feed.wait(0.3) is False, "nothing changed"
        commit_elsewhere(repo)
        assert feed.wait(30) is True
        assert feed.wait(0.3) is False, "one commit wakes once"
        coord.tasks.add("from this process, another connection")
        assert feed.wait(30) is True
    finally:
        feed.close()


def test_a_commit_between_arming_and_waiting_is_not_lost(coord: Coordinator, repo: Path) -> None:
    """A follower reads, then waits: what landed in between must still wake it."""
    feed = coord.store.change_feed()
    try:
        feed.wait(0)
        commit_elsewhere(repo)  # before the wait starts
        assert feed.wait(30) is True
    finally:
        feed.close()


def test_waiting_on_a_missing_store_never_creates_it(tmp_path: Path) -> None:
    folder = tmp_path / ".ctui"
    folder.mkdir()
    feed = FileFeed(folder)
    feed.wait(0)
    assert feed.wait(0.2) is False
    feed.close()
    assert not (folder / "ctui.db").exists()


def test_a_replaced_store_wakes_the_waiter(coord: Coordinator, repo: Path, tmp_path: Path) -> None:
    """A connection to a file that was moved aside never sees another commit: the feed
    notices the new file instead of waiting on the old one forever."""
    feed = coord.store.change_feed()
    try:
        feed.wait(0)
        db = coord.store.db_path
        other = tmp_path / "other.db"
        src, dst = sqlite3.connect(db), sqlite3.connect(other)
        src.backup(dst)
        src.close()
        dst.close()
        other.replace(db)  # a new file (a new inode) where the old one was
        assert feed.wait(30) is True
    finally:
        feed.close()


async def test_every_async_subscriber_sees_another_process_commit(
    coord: Coordinator, repo: Path
) -> None:
    feed = coord.store.change_feed()
    got: list[list[bool]] = [[], []]
    started = asyncio.Event()

    async def subscriber(n: int) -> None:
        async with contextlib.aclosing(feed.changes(idle=0.1)) as changes:
            async for change in changes:
                started.set()
                got[n].append(change.data)
                if change.data:
                    return

    tasks = [asyncio.create_task(subscriber(n)) for n in (0, 1)]
    await asyncio.wait_for(started.wait(), 30)  # both subscribed, the watcher running
    await asyncio.sleep(0.3)  # watchfiles arms its watcher in a thread: let it
    await asyncio.to_thread(commit_elsewhere, repo)
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert all(seen[-1] is True for seen in got)
    await feed.aclose()
    assert feed._task is None


async def test_the_watcher_stops_with_its_last_subscriber(coord: Coordinator) -> None:
    feed = coord.store.change_feed()

    async def one_tick() -> None:
        async with contextlib.aclosing(feed.changes(idle=0.05)) as changes:
            async for _ in changes:
                return

    await one_tick()
    task = feed._task
    assert task is not None
    await asyncio.wait_for(task, 30)  # it ends by itself: nobody listens
    await one_tick()  # and a new subscriber starts a new one
    assert feed._task is not task
    await feed.aclose()


def test_a_store_folder_with_uri_characters_in_its_path(tmp_path: Path) -> None:
    """The feed opens the database by URI: `?`, `#` and `%` in a folder name stay a path."""
    odd = tmp_path / "we?ird #dir %20"
    odd.mkdir()
    subprocess.run(["git", "init", "-q", str(odd)], check=True)
    c = Coordinator.open(odd)
    feed = c.store.change_feed()
    try:
        feed.wait(0)
        commit_elsewhere(odd)
        assert feed.wait(30) is True
    finally:
        feed.close()
        c.close()
