"""The control room's merge key under Pilot, and the conflict shown on the thread's row."""

from __future__ import annotations

from pathlib import Path

from ctui.core import Coordinator
from tests.merge.conftest import configure, thread_with
from tests.tui.helpers import SIZE, control_room, loaded, notes, until


async def test_m_queues_the_selected_thread_and_the_row_shows_why_it_came_back(
    repo: Path,
) -> None:
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"same.txt": "a\n"})
    thread_with(c, "b", {"same.txt": "b\n"})
    c.merge.add(["a"])
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        pane = app.pane("threads")
        pane.move_cursor(row=pane.get_row_index("b"))
        await pilot.press("m")
        await until(pilot, lambda: any("Queued b for merging" in t for _s, t in notes(app)))
        assert [e.thread for e in c.merge.list()] == ["a", "b"]
        await pilot.press("m")  # again: refused, the store unchanged
        await until(pilot, lambda: any(s == "error" and "already in" in t for s, t in notes(app)))
        assert len(c.merge.list()) == 2
        c.merge.run()
        app.reload()
        await until(pilot, lambda: pane.records["b"].get("merge", {}).get("status") == "conflict")
        assert "same.txt" in pane.records["b"]["merge"]["reason"]
        row = pane.get_row("b")
        assert "merge conflict" in str(row[1])
        await until(pilot, lambda: pane.records["a"]["status"] == "merged")
    c.close()
