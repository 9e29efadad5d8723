"""Every key action under Pilot, and its effect on the real store."""

from __future__ import annotations

from ctui.core import Coordinator
from ctui.tui.screens.confirm import ConfirmScreen, ReasonScreen
from ctui.tui.screens.detail import DetailScreen
from ctui.tui.screens.help import HelpScreen
from ctui.tui.screens.spawn import SpawnScreen

from .helpers import SIZE, control_room, loaded, notes, until


async def test_the_panes_show_the_store(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        panes = ("instances", "leases", "threads", "tasks", "decisions")
        assert {p: len(app.pane(p).records) for p in panes} == {
            "instances": 5,
            "leases": 4,
            "threads": 2,
            "tasks": 5,
            "decisions": 4,
        }
        assert app.pane("leases").row_count == 0, "a hidden view keeps its records, not its rows"
        counts = {}
        for key, p in zip("12345", panes, strict=True):
            await pilot.press(key)  # in view: its table catches up
            counts[p] = app.pane(p).row_count
        assert counts == {"instances": 5, "leases": 4, "threads": 2, "tasks": 5, "decisions": 4}
        await pilot.press("6")
        assert app.pane("activity").row_count > 20
        assert "backend-0001" in app.pane("instances").records


async def test_spawn_creates_and_starts_a_thread(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SpawnScreen)
        await pilot.press(*"fix-login")
        app.screen.query_one("#prompt").value = "Fix the login FAKE_SLEEP=0.2"
        app.screen.query_one("#worktree").value = False
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "fix-login" in app.pane("threads").records)
        thread = seeded.threads.get("fix-login")
        assert thread.status in ("running", "completed")
        assert thread.worktree is None
        assert any("Spawned thread fix-login" in text for _, text in notes(app))


async def test_spawn_refuses_bad_input_and_leaves_the_store_alone(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s", *"Bad Name", "ctrl+s")
        assert isinstance(app.screen, SpawnScreen)
        assert "Name:" in str(app.screen.query_one("#name-error").render())
        app.screen.query_one("#name").value = "ok-name"
        app.screen.query_one("#prompt").value = "x"
        app.screen.query_one("#context").value = "[1, 2"
        await pilot.press("ctrl+s")
        assert "Context: not valid JSON" in str(app.screen.query_one("#context-error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, SpawnScreen)
        assert sorted(t.name for t in seeded.threads.list()) == ["docs-sweep", "fix-cart-total"]


async def test_stop_asks_then_stops_the_selected_thread(seeded: Coordinator) -> None:
    seeded.threads.create("hang", prompt="wait FAKE_HANG", worktree=False)
    seeded.threads.start("hang")
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        pane = app.pane("threads")
        pane.move_cursor(row=pane.get_row_index("hang"))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert seeded.threads.get("hang").status == "running"
        await pilot.press("x", "y")
        await until(pilot, lambda: seeded.threads.get("hang").status == "stopped", timeout=15)
        await until(pilot, lambda: app.pane("threads").records["hang"]["status"] == "stopped")


async def test_force_release_needs_a_reason_and_logs_it(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        pane = app.pane("leases")
        pane.move_cursor(row=pane.get_row_index("src/auth.py"))
        await pilot.press("f", "enter")
        assert isinstance(app.screen, ReasonScreen)
        assert seeded.leases.check("src/auth.py") is not None
        await pilot.press(*"stuck agent", "enter")
        await until(pilot, lambda: seeded.leases.check("src/auth.py") is None)
        forced = [e for e in seeded.events.recent(5) if e.kind == "lease.forced"]
        assert forced and forced[-1].data["reason"] == "stuck agent"
        assert forced[-1].data["holder"] == "backend-0001"
        await until(pilot, lambda: "src/auth.py" not in app.pane("leases").records)


async def test_a_refused_force_release_is_shown_in_the_form(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        pane = app.pane("leases")
        pane.move_cursor(row=pane.get_row_index("src/auth.py"))
        seeded.leases.release("src/auth.py", instance="backend-0001")
        await pilot.press("f", *"too late", "enter")
        error = app.screen.query_one("#form-error")
        await until(pilot, lambda: "no lease on src/auth.py" in str(error.render()))
        assert isinstance(app.screen, ReasonScreen) and app.is_running


async def test_cleanup_reaps_stale_instances(seeded: Coordinator) -> None:
    seeded.instances.register(instance_id="gone", ttl=0.2)
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.pause(0.3)
        await pilot.press("c")
        await until(pilot, lambda: seeded.instances.get("gone").state == "stale")
        done = await until(
            pilot, lambda: [text for _, text in notes(app) if "Cleanup done" in text]
        )
        assert "instances reaped: 1" in done[0], done  # the key reaped it, nothing else did


async def test_add_task_validates_and_queues(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("t", *"Write the changelog")
        app.screen.query_one("#priority").value = "11"
        await pilot.press("ctrl+s")
        assert "Priority" in str(app.screen.query_one("#priority-error").render())
        app.screen.query_one("#priority").value = "2"
        app.screen.query_one("#depends_on").value = "task-0002"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: len(seeded.tasks.list()) == 6)
        task = seeded.tasks.list()[-1]
        assert (task.description, task.priority, task.depends_on) == (
            "Write the changelog",
            2,
            ["task-0002"],
        )
        await until(pilot, lambda: task.id in app.pane("tasks").records)


async def test_log_decision(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("d", *"Bad Category!")
        app.screen.query_one("#title").value = "Use UTC everywhere"
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#category-error")
        await until(pilot, lambda: "bad category" in str(error.render()))
        app.screen.query_one("#category").value = "time"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: seeded.decisions.count() == 5)
        assert seeded.decisions.list(limit=1)[0].title == "Use UTC everywhere"


async def test_enter_shows_details(seeded: Coordinator) -> None:
    seeded.threads.create("quick", prompt="Say hello FAKE_SLEEP=0.5", worktree=False)
    seeded.threads.start("quick")
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        pane = app.pane("threads")
        pane.move_cursor(row=pane.get_row_index("quick"))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        log = app.screen.query_one("#detail-log")
        fields = app.screen.query_one("#detail-fields")
        await until(pilot, lambda: "completed" in _text(fields), timeout=20)
        await until(pilot, lambda: any("success" in line.text for line in log.lines))
        await pilot.press("escape", "1")
        pane = app.pane("instances")
        pane.move_cursor(row=pane.get_row_index("backend-0001"))
        await pilot.press("enter")
        extra = app.screen.query_one("#detail-extra")
        await until(pilot, lambda: "src/auth.py" in _text(extra))
        assert "task-0002" in _text(extra)
        await pilot.press("escape", "5", "enter")
        await until(pilot, lambda: "Property tests" in _text(app.screen.query_one("#detail-extra")))


def _text(widget: object) -> str:
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    Console(file=out, width=200).print(widget.content)  # type: ignore[attr-defined]
    return out.getvalue()


async def test_filter_sort_jump_help_and_quit(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        for key, pane in zip(
            "123456",
            ("instances", "leases", "threads", "tasks", "decisions", "activity"),
            strict=True,
        ):
            await pilot.press(key)
            assert app.focused is app.pane(pane)
        await pilot.press("tab")
        assert app.focused is not app.pane("activity")
        await pilot.press("2", "slash", *"src/")
        assert set(app.pane("leases").records) == {"src/auth.py", "src/db/**"}
        await pilot.press("enter")
        assert app.focused is app.pane("leases")
        assert app.pane("instances").row_count == 5
        await pilot.press("escape")
        assert app.pane("leases").row_count == 4
        await pilot.press("o", "o", "o")
        pane = app.pane("leases")
        expiries = [pane.records[str(k.value)]["expires_at"] for k in pane.rows]
        ordered = [pane.get_row_at(i) for i in range(pane.row_count)]
        assert [c.sort for c in (row[2] for row in ordered)] == sorted(
            c.sort for c in (row[2] for row in ordered)
        )
        assert len(expiries) == 4
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert not app.is_running


async def test_the_command_palette_offers_the_actions(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"log a dec")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "DecisionScreen")


async def test_spawn_in_a_worktree_from_a_template(seeded: Coordinator) -> None:
    (seeded.root / "prompts").mkdir(exist_ok=True)
    (seeded.root / "prompts" / "fix.md").write_text("Fix {{issue}} FAKE_SLEEP=0.2\n")
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s", *"wt-run")
        screen = app.screen
        screen.query_one("#template").value = "prompts/missing.md"
        await pilot.press("ctrl+s")
        assert "Template: no file" in str(screen.query_one("#template-error").render())
        screen.query_one("#template").value = "prompts/fix.md"
        screen.query_one("#context").value = '{"issue": "#42"}'
        screen.query_one("#base").value = "main"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "wt-run" in app.pane("threads").records)
        thread = seeded.threads.get("wt-run")
        assert thread.worktree and thread.worktree.endswith("wt-run") and thread.base == "main"
        assert thread.prompt and "Fix #42" in thread.prompt
        await pilot.press("s", *"builtin-missing")
        app.screen.query_one("#template").value = "no-such-template.md"
        await pilot.press("ctrl+s")
        error = app.screen.query_one("#template-error")
        await until(pilot, lambda: "no template" in str(error.render()))


async def test_a_detail_whose_thread_vanished_says_so_once(seeded: Coordinator) -> None:
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("3")
        pane = app.pane("threads")
        pane.move_cursor(row=pane.get_row_index("docs-sweep"))
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        with seeded.store.write() as conn:
            conn.execute("DELETE FROM threads WHERE name = 'docs-sweep'")
        await until(
            pilot, lambda: any("docs-sweep" in text for sev, text in notes(app) if sev == "error")
        )
        await pilot.pause(1.2)
        assert sum(1 for sev, _ in notes(app) if sev == "error") == 1
