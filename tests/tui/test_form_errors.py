"""A refused form stays open: what was typed is kept, the core's error shows in the form.

Each test drives the real control room under Pilot on a real seeded store: it
submits a value the core refuses, checks the form, its values, the error line
(under the field, or at the top) and that the store did not change; then it
fixes the value, submits again and checks the form closed and the store changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.widgets import Checkbox, Input, Select, Static

from ctui.core import Coordinator
from ctui.tui.screens.confirm import ReasonScreen
from ctui.tui.screens.decision import DecisionScreen
from ctui.tui.screens.form import FormScreen
from ctui.tui.screens.spawn import SpawnScreen
from ctui.tui.screens.task import TaskScreen
from tests.support import dump

from .helpers import MIN_WAIT, SIZE, control_room, loaded, notes, until


def typed(screen: Any) -> dict[str, Any]:
    """Every field's value in the form, by id."""
    fields = screen.query("Input, Select, Checkbox")
    return {w.id: w.value for w in fields if isinstance(w, Input | Select | Checkbox)}


def errors(screen: Any) -> dict[str, str]:
    """The error lines the form shows: {line id: text}."""
    return {
        str(line.id): str(line.render())
        for line in screen.query(".form-error").results(Static)
        if line.display and str(line.render())
    }


async def refused(pilot: Any, screen: FormScreen, line: str, words: str) -> dict[str, str]:
    """Submit, wait for the refusal on `line`, and check the form is still there, ready again."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: words in errors(screen).get(line, ""))
    assert pilot.app.screen is screen
    assert not screen.busy and not screen.query_one("#ok").disabled
    shown = errors(screen)
    assert list(shown) == [line], shown  # one error, in one place
    return shown


async def test_spawn_keeps_the_form_when_the_name_is_taken(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s", *"docs-sweep")
        screen = app.screen
        assert isinstance(screen, SpawnScreen)
        screen.query_one("#prompt", Input).value = "Say hello FAKE_SLEEP=0.2"
        screen.query_one("#context", Input).value = '{"issue": 7}'
        screen.query_one("#worktree", Checkbox).value = False
        screen.query_one("#mode", Select).value = "semi-auto"
        before, values = dump(seeded.store.db_path), typed(screen)

        await refused(pilot, screen, "name-error", "already exists")
        assert typed(screen) == values
        assert app.focused is screen.query_one("#name")
        assert dump(seeded.store.db_path) == before
        assert not [text for sev, text in notes(app) if sev == "error"]

        screen.query_one("#name", Input).value = "say-hello"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not screen)
        assert seeded.threads.get("say-hello").mode == "semi-auto"
        await until(pilot, lambda: "say-hello" in app.pane("threads").records)
        assert any("Spawned thread say-hello" in text for _, text in notes(app))


async def test_spawn_shows_a_bad_base_under_its_field_and_leaves_no_thread(
    seeded: Coordinator,
) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s", *"from-nowhere")
        screen = app.screen
        screen.query_one("#prompt", Input).value = "Say hello FAKE_SLEEP=0.2"
        screen.query_one("#base", Input).value = "no-such-branch"
        before, values = dump(seeded.store.db_path), typed(screen)

        await refused(pilot, screen, "base-error", "no-such-branch")
        assert typed(screen) == values
        assert app.focused is screen.query_one("#base")
        assert dump(seeded.store.db_path) == before
        assert not (seeded.store.path / "worktrees" / "from-nowhere").exists()

        screen.query_one("#base", Input).value = ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not screen)
        thread = seeded.threads.get("from-nowhere")
        assert thread.worktree and thread.worktree.endswith("from-nowhere")


async def test_add_task_keeps_the_form_on_an_unknown_dependency(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("t", *"Write the changelog")
        screen = app.screen
        assert isinstance(screen, TaskScreen)
        screen.query_one("#priority", Input).value = "3"
        screen.query_one("#depends_on", Input).value = "task-0002, task-9999"
        screen.query_one("#files", Input).value = "CHANGELOG.md"
        before, values = dump(seeded.store.db_path), typed(screen)

        await refused(pilot, screen, "depends_on-error", "unknown dependency 'task-9999'")
        assert typed(screen) == values
        assert app.focused is screen.query_one("#depends_on")
        assert dump(seeded.store.db_path) == before

        screen.query_one("#depends_on", Input).value = "task-0002"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not screen)
        task = seeded.tasks.list()[-1]
        assert (task.description, task.priority, task.depends_on, len(seeded.tasks.list())) == (
            "Write the changelog",
            3,
            ["task-0002"],
            6,
        )
        await until(pilot, lambda: task.id in app.pane("tasks").records)


async def test_log_decision_keeps_the_form_on_a_bad_category_or_no_title(
    seeded: Coordinator,
) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("d", *"Bad Category!")
        screen = app.screen
        assert isinstance(screen, DecisionScreen)
        screen.query_one("#description", Input).value = "naive datetimes caused two bugs"
        screen.query_one("#scope", Select).value = "system"
        before, values = dump(seeded.store.db_path), typed(screen)

        await refused(pilot, screen, "title-error", "title")
        assert typed(screen) == values
        assert app.focused is screen.query_one("#title")

        screen.query_one("#title", Input).value = "Use UTC everywhere"
        values = typed(screen)
        await refused(pilot, screen, "category-error", "bad category")
        assert typed(screen) == values
        assert app.focused is screen.query_one("#category")
        assert dump(seeded.store.db_path) == before

        screen.query_one("#category", Input).value = "time"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not screen)
        decision = seeded.decisions.list(limit=1)[0]
        assert (decision.category, decision.title, decision.scope) == (
            "time",
            "Use UTC everywhere",
            "system",
        )
        assert seeded.decisions.count() == 5
        await until(pilot, lambda: decision.id in app.pane("decisions").records)


async def test_force_release_keeps_the_reason_when_the_lease_is_gone(
    seeded: Coordinator,
) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("2")
        pane = app.pane("leases")
        pane.move_cursor(row=pane.get_row_index("src/auth.py"))
        await pilot.press("f")
        screen = app.screen
        assert isinstance(screen, ReasonScreen)
        before = dump(seeded.store.db_path)

        await refused(pilot, screen, "reason-error", "needs a reason")
        assert app.focused is screen.query_one("#reason")
        assert seeded.leases.check("src/auth.py").holder == "backend-0001"
        assert dump(seeded.store.db_path) == before

        await pilot.press(*"stuck agent")
        seeded.leases.release("src/auth.py", instance="backend-0001")
        gone = dump(seeded.store.db_path)
        await refused(pilot, screen, "form-error", "no lease on src/auth.py")
        assert typed(screen) == {"reason": "stuck agent"}
        assert dump(seeded.store.db_path) == gone

        seeded.leases.acquire("src/auth.py", instance="backend-0001")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is not screen)
        assert seeded.leases.check("src/auth.py") is None
        forced = [e for e in seeded.events.recent(5) if e.kind == "lease.forced"]
        assert [e.data["reason"] for e in forced] == ["stuck agent"]
        await until(pilot, lambda: "src/auth.py" not in app.pane("leases").records)


async def test_a_new_submit_clears_the_old_error(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        screen = app.screen
        await refused(pilot, screen, "description-error", "Describe the task")
        await pilot.press(*"Write the changelog")
        screen.query_one("#depends_on", Input).value = "task-9999"
        await refused(pilot, screen, "depends_on-error", "unknown dependency")
        await pilot.press("escape")
        assert app.screen is not screen
        assert len(seeded.tasks.list()) == 5


class Gate:
    """Holds a form's core call in its worker thread until the test opens it."""

    def __init__(self, call: Callable[[Any, dict[str, Any]], Any]) -> None:
        self.call, self.open, self.threads = call, threading.Event(), []

    def __call__(self, c: Any, form: dict[str, Any]) -> Any:
        self.threads.append(threading.current_thread())
        assert self.open.wait(timeout=MIN_WAIT)
        return self.call(c, form)


def add_task(c: Any, form: dict[str, Any]) -> Any:
    return c.tasks.add(created_by="operator", **form)


async def test_a_form_submits_once_and_off_the_event_loop(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        gate = Gate(add_task)
        screen = TaskScreen(submit=app.reported(gate, lambda task: f"Added {task.id}."))
        await app.push_screen(screen)
        await pilot.press(*"Write the changelog", "ctrl+s")
        await until(pilot, lambda: gate.threads)
        assert screen.busy and screen.query_one("#ok").disabled
        await pilot.press("ctrl+s")
        await pilot.click("#ok")
        gate.open.set()
        await until(pilot, lambda: app.screen is not screen)
        assert gate.threads and all(t is not threading.main_thread() for t in gate.threads)
        assert len(gate.threads) == 1
        assert len(seeded.tasks.list()) == 6
        await until(pilot, lambda: "task-0006" in app.pane("tasks").records)


async def test_a_form_closed_while_the_core_answers_still_reports(seeded: Coordinator) -> None:
    app = control_room(seeded, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        for depends_on, said in (("task-9999", "unknown dependency"), ("", "Added task-0006")):
            gate = Gate(add_task)
            screen = TaskScreen(submit=app.reported(gate, lambda task: f"Added {task.id}."))
            await app.push_screen(screen)
            await pilot.press(*"Write the changelog")
            screen.query_one("#depends_on", Input).value = depends_on
            await pilot.press("ctrl+s")
            await until(pilot, lambda g=gate: g.threads)
            await pilot.press("escape")
            assert app.screen is not screen
            gate.open.set()
            await until(pilot, lambda s=said: any(s in text for _, text in notes(app)))
        assert [text for sev, text in notes(app) if sev == "error"] == [
            "unknown dependency 'task-9999': add that task first (see `ctui task list`)"
        ]
        assert len(seeded.tasks.list()) == 6
        await until(pilot, lambda: "task-0006" in app.pane("tasks").records)
