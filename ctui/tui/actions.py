"""The control room's key actions: spawn, stop, force-release, cleanup, task, decision.

Each one asks what it needs in a modal, then calls the coordinator in a thread
worker (`ctx.coord` locally, or the remote proxy with the same methods), so it
is the same call the CLI makes and obeys the same rules. A form does its call
itself (`FormScreen(submit=...)`) and stays open with what was typed when the
core refuses, showing the core's one-line message; the other actions turn a
refusal into an error notification. Success is a short notification and a reload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from ctui.tui.screens.confirm import ConfirmScreen, ReasonScreen
from ctui.tui.screens.decision import DecisionScreen
from ctui.tui.screens.detail import DetailScreen
from ctui.tui.screens.help import HelpScreen
from ctui.tui.screens.spawn import SpawnScreen
from ctui.tui.screens.task import TaskScreen
from ctui.tui.snapshot import local_root

log = logging.getLogger("ctui.tui")

OPERATOR = "operator"


class Actions:
    """Mixed into `ControlRoom`; expects `coord`, `pane()`, `reload()` and App's methods."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s", "spawn", "Spawn", id="spawn", tooltip="Start an agent run (a thread) from a form"
        ),
        Binding(
            "x", "stop", "Stop", id="stop", tooltip="Stop the thread selected in the Threads pane"
        ),
        Binding(
            "f",
            "force_release",
            "Force-release",
            id="force_release",
            tooltip="Take the lease selected in the Leases pane away from its holder",
        ),
        Binding(
            "c",
            "cleanup",
            "Cleanup",
            id="cleanup",
            tooltip="Reap stale instances, expired leases and orphaned threads",
        ),
        Binding(
            "m",
            "merge",
            "Merge",
            id="merge",
            tooltip="Queue the selected thread's branch to land on its base after the gate",
        ),
        Binding("t", "add_task", "Task", id="add_task", tooltip="Add a task to the queue"),
        Binding("d", "log_decision", "Decision", id="log_decision", tooltip="Log a decision"),
    ]

    coord: Any

    def reported(
        self, fn: Callable[[Any, dict[str, Any]], Any], done: Callable[[Any], str]
    ) -> Callable[[dict[str, Any]], Any]:
        """A form's `submit`: `fn(coord, form)` in the form's worker, then notify and reload.

        It raises the core's refusal unchanged, for the form to show.
        """
        app: Any = self

        def submit(form: dict[str, Any]) -> Any:
            result = fn(self.coord, form)  # a refusal raises here, for the form to show
            try:
                app.call_from_thread(app.notify, done(result), timeout=4)
                app.call_from_thread(app.reload)
            except Exception:  # the change is made: a failed refresh must not read as a refusal
                log.exception("refreshing after a form's change failed")
            return result

        return submit

    @work(thread=True, group="actions", exit_on_error=False)
    def core_call(self, fn: Callable[[Any], Any], done: Callable[[Any], str]) -> Any:
        """Run `fn(coord)` off the event loop; notify with `done(result)` and reload."""
        result = fn(self.coord)
        app: Any = self
        app.call_from_thread(app.notify, done(result), timeout=4)
        app.call_from_thread(app.reload)
        return result

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed core call becomes an error notification (its one-line message)."""
        if event.state == WorkerState.ERROR and event.worker.group == "actions":
            error = event.worker.error
            text = str(getattr(error, "message", None) or error) or type(error).__name__
            app: Any = self
            app.notify(text, title="ctui", severity="error", timeout=8)

    def _selected(self, pane_id: str, what: str) -> dict[str, Any] | None:
        app: Any = self
        rec = app.pane(pane_id).selected
        if rec is None:
            app.notify(
                f"Select {what} first: press {'2' if pane_id == 'leases' else '3'}, "
                "then move with the arrows.",
                severity="warning",
                timeout=4,
            )
        return rec

    def action_spawn(self) -> None:
        """Create and start in one call (`start=True`), so a refusal leaves no thread behind."""

        def spawn(c: Any, form: dict[str, Any]) -> Any:
            return c.threads.create(**form, start=True)

        done = self.reported(
            spawn, lambda thread: f"Spawned thread {getattr(thread, 'name', thread)}."
        )
        app: Any = self
        app.push_screen(SpawnScreen(local_root(self.coord), submit=done))

    def action_stop(self) -> None:
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        name = rec["name"]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.core_call(lambda c: c.threads.stop(name), lambda _r: f"Stopped thread {name}.")

        app: Any = self
        app.push_screen(
            ConfirmScreen(
                "Stop a thread",
                f"Stop thread [b]{name}[/b] ({rec.get('status')})?\n"
                "Its agent gets SIGTERM, then SIGKILL after the grace period.",
                yes="Stop",
            ),
            confirmed,
        )

    def action_merge(self) -> None:
        """Queue the selected thread; `ctui serve` or `ctui merge run` lands it."""
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        name = rec["name"]

        def done(entries: Any) -> str:
            ids = ", ".join(f"#{e.id}" for e in entries)
            return f"Queued {name} for merging ({ids}); the queue runs in ctui serve or merge run."

        self.core_call(lambda c: c.merge.add([name], by=OPERATOR), done)

    def action_force_release(self) -> None:
        rec = self._selected("leases", "a lease")
        if rec is None:
            return

        def release(c: Any, form: dict[str, Any]) -> Any:
            return c.leases.force_release(form["path"], reason=form["reason"], by=OPERATOR)

        path, holder = rec["path"], rec.get("holder") or "?"
        done = self.reported(release, lambda _lease: f"Released {path} (was {holder}'s).")
        app: Any = self
        app.push_screen(ReasonScreen(path, holder, rec.get("token"), submit=done))

    def action_cleanup(self) -> None:
        def summary(result: Any) -> str:
            parts = [
                f"{key.replace('_', ' ')}: {len(v) if isinstance(v, list) else v}"
                for key, v in (result or {}).items()
            ]
            return "Cleanup done. " + ("; ".join(parts) or "nothing to do")

        self.core_call(lambda c: c.cleanup(), summary)

    def action_add_task(self) -> None:
        def add(c: Any, form: dict[str, Any]) -> Any:
            return c.tasks.add(created_by=OPERATOR, **form)

        done = self.reported(add, lambda task: f"Added {getattr(task, 'id', None) or task}.")
        app: Any = self
        app.push_screen(TaskScreen(submit=done))

    def action_log_decision(self) -> None:
        def log(c: Any, form: dict[str, Any]) -> Any:
            return c.decisions.add(author=OPERATOR, **form)

        done = self.reported(log, lambda d: f"Logged {getattr(d, 'id', None) or d}.")
        app: Any = self
        app.push_screen(DecisionScreen(submit=done))

    def action_help(self) -> None:
        app: Any = self
        app.push_screen(HelpScreen())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens its details."""
        app: Any = self
        pane = event.data_table
        rec = getattr(pane, "selected", None)
        if rec is not None:
            app.push_screen(DetailScreen(str(pane.id), rec, self.coord, live=app.live))
