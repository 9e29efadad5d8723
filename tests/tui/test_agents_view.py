"""The agents list and its keys under Pilot, against a real store and the fake agent."""

from __future__ import annotations

from ctui.core import Coordinator
from ctui.core.flows import roster
from ctui.tui.screens.confirm import ConfirmScreen
from ctui.tui.screens.detail import DetailScreen
from ctui.tui.screens.send import SendScreen
from ctui.tui.widgets.preview import Preview

from .helpers import SIZE, control_room, loaded, notes, until


def select(app: object, name: str) -> None:
    agents = app.agents  # type: ignore[attr-defined]
    key = next(k for k, r in agents.records.items() if r["name"] == name)
    agents.move_cursor(row=agents.get_row_index(key))


async def test_agents_list_shows_threads_and_sessions_without_the_operator(
    seeded: Coordinator,
) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        names = {r["name"]: r["state"] for r in app.agents.records.values()}
        assert "operator" not in names
        assert names["frontend-0002"] == "waiting" and names["fix-cart-total"] == "idle"
        select(app, "frontend-0002")
        preview = app.query_one(Preview)
        from ctui.tui.aio import EventReader

        assert isinstance(preview.events, EventReader)  # a session's events: aiosqlite
        await until(pilot, lambda: any("took docs/api.md" in line for line in preview.lines))
        await pilot.press("p")
        assert preview.mode == "question"
        await until(pilot, lambda: any("npm run build" in line for line in preview.lines))
        await pilot.press("p")
        assert preview.mode == "diff"


COLUMN_ORDER = ["STATE", "NAME", "DOING", "FILES", "TASK", "BRANCH", "DIFF", "RUNTIME", "COST"]


async def test_the_list_takes_every_column_when_wide_and_drops_the_least_first(
    seeded: Coordinator,
) -> None:
    """At 200 columns every one shows (the preview takes what is left); narrower, BRANCH,
    TASK, FILES, DIFF go in that order, and COST stays down to 80 columns."""
    shown = {}
    for width, height in ((200, 50), (160, 45), (120, 40), (80, 24)):
        app = control_room(seeded)
        async with app.run_test(size=(width, height)) as pilot:
            await loaded(pilot)
            await pilot.pause()
            shown[width] = [str(c.label) for c in app.agents.columns.values()]
            inner = app.agents.scrollable_content_region.width
            assert sum(c.get_render_width(app.agents) for c in app.agents.columns.values()) <= (
                inner
            ), f"a column is cut at {width} columns"
            assert not app.agents.show_horizontal_scrollbar
    assert shown[200] == COLUMN_ORDER
    for wide, narrow in ((200, 160), (160, 120), (120, 80)):
        assert set(shown[narrow]) <= set(shown[wide])
        gone = [c for c in COLUMN_ORDER if c in shown[wide] and c not in shown[narrow]]
        assert all(COLUMN_ORDER.index(c) in (3, 4, 5, 6) for c in gone), (
            f"{gone} dropped before the lower-priority columns"
        )
    assert {"STATE", "NAME", "DOING", "RUNTIME", "COST"} <= set(shown[80])


async def test_ended_agents_are_hidden_until_e(seeded: Coordinator) -> None:
    seeded.threads.create("quick", prompt="FAKE_SLEEP=0", worktree=False)
    seeded.threads.start("quick")
    seeded.threads.wait("quick", timeout=30)
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        shown = lambda: {r["name"] for r in app.agents.records.values()}  # noqa: E731
        assert "quick" not in shown()
        await pilot.press("e")
        await until(pilot, lambda: "quick" in shown())
        await pilot.press("e")
        await until(pilot, lambda: "quick" not in shown())


async def test_stop_on_an_ended_thread_says_so_at_once(seeded: Coordinator) -> None:
    seeded.threads.create("over", prompt="FAKE_SLEEP=0", worktree=False)
    seeded.threads.start("over")
    seeded.threads.wait("over", timeout=30)
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        await until(pilot, lambda: any(r["name"] == "over" for r in app.agents.records.values()))
        select(app, "over")
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("already completed" in n for _s, n in notes(app)), notes(app)


async def test_stop_from_the_agents_list_asks_then_stops(seeded: Coordinator) -> None:
    seeded.threads.create("hang", prompt="wait FAKE_HANG", worktree=False)
    seeded.threads.start("hang")
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await until(pilot, lambda: any(r["name"] == "hang" for r in app.agents.records.values()))
        select(app, "hang")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: seeded.threads.get("hang").status == "stopped", timeout=15)


async def test_send_starts_a_follow_up_run(seeded: Coordinator) -> None:
    seeded.threads.create("w", prompt="FAKE_SLEEP=0", worktree=False)
    seeded.threads.start("w")
    seeded.threads.wait("w", timeout=30)
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        await until(pilot, lambda: any(r["name"] == "w" for r in app.agents.records.values()))
        select(app, "w")
        await pilot.press(">")
        assert isinstance(app.screen, SendScreen)
        await pilot.press("ctrl+s")  # empty: refused in the form
        assert isinstance(app.screen, SendScreen)
        await pilot.press(*"more FAKE_SLEEP=0", "enter")
        await until(pilot, lambda: seeded.threads.get("w").run_id == 2, timeout=15)
        assert any("run 2 started" in n for _s, n in notes(app))
        seeded.threads.wait("w", timeout=30)


async def test_restart_delete_and_attach(seeded: Coordinator) -> None:
    seeded.threads.create("r", prompt="FAKE_SLEEP=0", worktree=False)
    seeded.threads.start("r")
    seeded.threads.wait("r", timeout=30)
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        await until(pilot, lambda: any(r["name"] == "r" for r in app.agents.records.values()))
        select(app, "r")
        await pilot.press("r")  # ended: no question, a new run at once
        await until(pilot, lambda: seeded.threads.get("r").run_id == 2, timeout=15)
        seeded.threads.wait("r", timeout=30)
        await pilot.press("a")  # headless: the live log
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.default_screen)
        await until(pilot, lambda: app.agents.selected and app.agents.selected["name"] == "r")
        await pilot.press("D")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: "r" not in {t.name for t in seeded.threads.list()}, timeout=15)


async def test_a_hand_started_session_cannot_be_sent_to(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        select(app, "backend-0001")
        await pilot.press(">")
        assert app.screen is app.default_screen
        assert any("started by hand" in n for _s, n in notes(app))


def test_sentences_reach_the_activity_view(seeded: Coordinator) -> None:
    said = [roster.sentence(e.field_dict()) for e in seeded.events.recent(200)]
    assert any(s.startswith("backend-0001 took src/auth.py") for s in said), said


async def test_approve_and_deny_answer_the_waiting_request(seeded: Coordinator) -> None:
    from ctui.core.flows import permissions

    waiting = seeded.instances.register(role="asker").id
    seeded.instances.heartbeat(waiting, state="needs_input")
    first = permissions.ask(seeded, waiting, "Bash", {"command": "rm -rf build"})
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await until(pilot, lambda: any(r["name"] == waiting for r in app.agents.records.values()))
        select(app, "backend-0001")  # working: nothing to answer, the keys are not offered
        await pilot.pause()
        assert app.check_action("approve", ()) is False
        select(app, waiting)
        await pilot.pause()
        assert app.check_action("approve", ()) is True
        preview = app.query_one(Preview)
        await pilot.press("p")
        await until(pilot, lambda: any("rm -rf build" in line for line in preview.lines))
        await pilot.press("y")
        await until(pilot, lambda: permissions.pending(seeded, waiting) is None)
        answered = [e for e in seeded.events.since(first) if e.kind == "permission.answered"]
        assert [(e.subject, e.data["behavior"]) for e in answered] == [(str(first), "allow")]
        second = permissions.ask(seeded, waiting, "Write", {"file_path": "/etc/passwd"})
        await pilot.press("n")
        await until(pilot, lambda: permissions.pending(seeded, waiting) is None)
        answered = [e for e in seeded.events.since(second) if e.kind == "permission.answered"]
        assert [e.data["behavior"] for e in answered] == ["deny"]


async def test_the_diff_column_counts_a_worktrees_changes_and_follows_them(
    seeded: Coordinator,
) -> None:
    seeded.threads.create("price-fix", prompt="fix prices", worktree=True)
    tree = seeded.root / ".ctui" / "worktrees" / "price-fix"
    (tree / "NOTES.md").write_text("one\ntwo\n")
    readme = tree / "README.md"
    readme.write_text(readme.read_text() + "more\n")
    app = control_room(seeded)
    async with app.run_test(size=(200, 50)) as pilot:
        await loaded(pilot)
        diff = lambda: str(app.agents.get_cell("thread:price-fix", "diff"))  # noqa: E731
        await until(pilot, lambda: diff() == "+3 -0")
        (tree / "NOTES.md").unlink()
        await until(pilot, lambda: diff() == "+1 -0", timeout=30)  # measured again within secs
        assert str(app.agents.get_cell("thread:fix-cart-total", "diff")) == "-"  # no worktree


async def test_the_selection_stays_on_its_agent_when_a_change_moves_its_row(
    seeded: Coordinator,
) -> None:
    """A session starting to wait sorts above the selected agent: the cursor moves with
    the selected agent, and the preview keeps showing it."""
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)

        def rows() -> list[str]:
            keys = [
                app.agents.coordinate_to_cell_key((i, 0)).row_key.value
                for i in range(app.agents.row_count)
            ]
            return [app.agents.records[str(k)]["name"] for k in keys]

        by_name = {r["name"]: r for r in app.agents.records.values()}
        before = rows()
        movers = [
            i
            for i, n in enumerate(before)
            if by_name[n].get("instance") and by_name[n]["state"] != "waiting"
        ]
        mover = before[movers[-1]]
        chosen = before[movers[-1] - 1]
        assert by_name[chosen]["state"] != "waiting", before
        select(app, chosen)
        await until(pilot, lambda: (app.query_one(Preview).agent or {}).get("name") == chosen)
        seeded.instances.set_state(by_name[mover]["instance"], "needs_input")
        await until(pilot, lambda: rows().index(chosen) == before.index(chosen) + 1)
        assert app.agents.selected is not None and app.agents.selected["name"] == chosen
        await pilot.pause(0.2)
        assert (app.query_one(Preview).agent or {}).get("name") == chosen


async def test_the_question_view_wraps_its_sentences_in_a_narrow_preview(
    seeded: Coordinator,
) -> None:
    app = control_room(seeded)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        select(app, "backend-0001")  # not waiting: a sentence longer than the preview
        await pilot.press("p")
        preview = app.query_one(Preview)
        await until(pilot, lambda: any("not waiting" in line for line in preview.lines))
        await pilot.pause(0.2)
        scroll = preview.query_one("#preview-scroll")
        assert scroll.virtual_size.width <= scroll.size.width, "a sentence runs off the side"
        await pilot.press("p")  # the diff: code keeps its lines, and may scroll sideways
        await until(pilot, lambda: preview.mode == "diff" and preview.shown)
