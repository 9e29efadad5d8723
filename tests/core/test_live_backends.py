"""Live views wake on another process's change on both backends; on PostgreSQL, through
LISTEN alone: no file under `.ctui/` changes, so nothing else could have woken them."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from tests.conftest import CTUI

pytestmark = pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL

LINE_WAIT_S = 30.0
"""How long a test waits for a follower's line: half of what it waits before reading anyway
(`cli.core.FEED_TRUST_S`), so a line seen in time was woken by the feed."""


def folder_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under the store folder."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def ctui(repo: Path, *args: str) -> str:
    out = subprocess.run(
        [CTUI, *args], cwd=repo, capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_store_feed_wakes_on_another_process_write(backend: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    feed = c.store.change_feed()
    try:
        feed.wait(0)
        before = folder_state(c.store.path)
        ctui(repo, "task", "add", "from another process")
        assert feed.wait(LINE_WAIT_S) is True
        if backend == "postgres":
            assert type(feed).__name__ == "ListenFeed"
            assert folder_state(c.store.path) == before
    finally:
        feed.close()
        c.close()


def test_events_follow_prints_another_process_event(backend: str, repo: Path) -> None:
    c = Coordinator.open(repo)
    start = c.events.latest_id()
    c.close()
    follower = subprocess.Popen(
        [CTUI, "events", "--follow", "--json", "--for", "300", "--since", str(start)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        ctui(repo, "task", "add", "first")
        first: dict[str, Any] = json.loads(lines.get(timeout=LINE_WAIT_S * 2))
        assert first["kind"] == "task.added"
        # the follower has read everything and waits on the feed now
        before = folder_state(repo / ".ctui")
        ctui(repo, "discover", "add", "found from afar")
        second = json.loads(lines.get(timeout=LINE_WAIT_S))
        assert second["kind"].startswith("discover") and second["id"] > first["id"]
        if backend == "postgres":
            assert folder_state(repo / ".ctui") == before, "only LISTEN could have woken it"
    finally:
        follower.terminate()
        follower.wait(30)
