"""Keys that act on the selected agent: attach, send, restart, delete, and stop/merge
aimed at the agents list. Each makes the core call the CLI makes (`ctui.core.flows.steer`,
`threads.stop`, `threads.remove`), in a thread worker.

A Claude session started by hand is not a thread: ctui cannot type into its
terminal or restart it, and says so. Stopping a thread that already ended says
so at once instead of asking.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from ctui.tui.screens.confirm import ConfirmScreen
from ctui.tui.screens.detail import DetailScreen
from ctui.tui.screens.send import SendScreen

ENDED = ("completed", "failed", "stopped", "merged")
OPERATOR = "operator"


def _remote(c: Any) -> bool:
    """A server's proxy (through the API) rather than a local store."""
    return getattr(c, "store", None) is None and getattr(c, "api", None) is not None


def _route(c: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import quote

    parts = path.split("/")
    return dict(c.api.call("POST", "/".join(quote(p, safe="") for p in parts), body=body))


def send(c: Any, name: str, text: str) -> dict[str, Any]:
    """`ctui send`: the core call locally, its API route through a server."""
    if _remote(c):
        return _route(c, f"/api/threads/{name}/send", {"text": text, "by": OPERATOR})
    from ctui.core.flows import steer

    return steer.send(c, name, text, by=OPERATOR)


def restart(c: Any, name: str) -> int:
    """`ctui restart`; returns the new run's number."""
    if _remote(c):
        return int(_route(c, f"/api/threads/{name}/restart", {"by": OPERATOR})["run_id"])
    from ctui.core.flows import steer

    return steer.restart(c, name, by=OPERATOR).run_id


def answer(c: Any, target: str, allow: bool) -> dict[str, Any]:
    """`ctui approve|deny`."""
    if _remote(c):
        verb = "approve" if allow else "deny"
        return _route(c, f"/api/agents/{target}/{verb}", {"by": OPERATOR})
    from ctui.core.flows import permissions

    return permissions.answer(c, target, allow=allow, by=OPERATOR)


class AgentActions:
    """Mixed into `ControlRoom` before `Actions` (whose `_selected` and stop it refines)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "a",
            "attach",
            "Attach",
            id="attach",
            tooltip="The selected thread's terminal (tmux), or a headless thread's live log",
        ),
        Binding(
            "greater_than_sign",
            "send",
            "Send",
            id="send",
            key_display=">",
            tooltip="A message to the selected thread: into its terminal, or a follow-up run",
        ),
        Binding(
            "y",
            "approve",
            "Approve",
            id="approve",
            tooltip="Approve the permission request the selected agent waits on",
        ),
        Binding(
            "n",
            "deny",
            "Deny",
            id="deny",
            tooltip="Deny the permission request the selected agent waits on",
        ),
        Binding(
            "r", "restart", "Restart", id="restart", show=False, tooltip="Run the thread again"
        ),
        Binding(
            "D",
            "delete",
            "Delete",
            id="delete",
            show=False,
            tooltip="Delete the selected thread (not running) with its worktree and branch",
        ),
    ]

    def _agent_focused(self) -> bool:
        app: Any = self
        from ctui.tui.widgets.pane import Pane

        return app.focused is app.agents or not isinstance(app.focused, Pane)

    def _selected(self, pane_id: str, what: str) -> dict[str, Any] | None:
        """From the agents list, the selected agent's thread record; else the pane's row."""
        app: Any = self
        if pane_id != "threads" or not self._agent_focused():
            return super()._selected(pane_id, what)  # type: ignore[misc]
        agent = app.agents.selected
        if agent is None:
            app.notify("Select an agent first (arrows in the list).", severity="warning")
            return None
        if not agent.get("thread"):
            app.notify(
                f"{agent['name']} is a Claude session started by hand, not a thread: "
                "act on it in its own terminal.",
                severity="warning",
                timeout=5,
            )
            return None
        for t in app.snapshot.records.get("threads", []) if app.snapshot else []:
            if t.get("name") == agent["thread"]:
                return dict(t)
        return None

    def action_stop(self) -> None:
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        if rec.get("status") in ENDED:
            app: Any = self
            app.notify(f"{rec['name']} already {rec['status']}: nothing to stop.", timeout=4)
            return
        super().action_stop()  # type: ignore[misc]

    def action_attach(self) -> None:
        app: Any = self
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        if rec.get("mode") != "interactive":
            app.push_screen(DetailScreen("threads", rec, self.coord, live=app.live))  # type: ignore[attr-defined]
            return
        from ctui.core.flows import steer

        inside = bool(os.environ.get("TMUX"))

        def show(c: Any) -> Any:
            argv = steer.attach(c, rec["name"], inside_tmux=inside)
            if argv is not None and inside:
                subprocess.run(argv, check=False, timeout=10, capture_output=True)
            return argv

        if inside:
            app.core_call(show, lambda _a: f"Switched to {rec['name']}'s terminal (tmux).")
            return
        try:
            argv = steer.attach(self.coord, rec["name"], inside_tmux=False)  # type: ignore[attr-defined]
        except Exception as exc:
            app.notify(str(getattr(exc, "message", None) or exc), severity="error", timeout=6)
            return
        if argv is not None:
            with app.suspend():
                subprocess.run(argv, check=False)

    def action_send(self) -> None:
        app: Any = self
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        name = rec["name"]
        if rec.get("mode") == "interactive" and rec.get("status") in ("running", "waiting"):
            how = "typed into its terminal"
        else:
            how = "a new run of the thread with this as its prompt"

        def say(c: Any, form: dict[str, Any]) -> Any:
            return send(c, name, form["text"])

        def said(done: dict[str, Any]) -> str:
            if done["how"] == "terminal":
                return f"Typed into {name}'s terminal."
            return f"Sent to {name}: run {done['run']} started."

        app.push_screen(SendScreen(name, how, submit=app.reported(say, said)))

    def action_restart(self) -> None:
        app: Any = self
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        name = rec["name"]

        def go() -> None:
            app.core_call(lambda c: restart(c, name), lambda run: f"Restarted {name}: run {run}.")

        if rec.get("status") not in ("running", "waiting"):
            go()
            return
        app.push_screen(
            ConfirmScreen(
                "Restart a thread", f"Stop [b]{name}[/b] and run it again?", yes="Restart"
            ),
            lambda yes: go() if yes else None,
        )

    def action_delete(self) -> None:
        app: Any = self
        rec = self._selected("threads", "a thread")
        if rec is None:
            return
        name = rec["name"]
        if rec.get("status") in ("running", "waiting"):
            app.notify(f"{name} is {rec['status']}: stop it (x) before deleting it.", timeout=5)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                app.core_call(lambda c: c.threads.remove(name), lambda _r: f"Deleted {name}.")

        app.push_screen(
            ConfirmScreen(
                "Delete a thread",
                f"Delete [b]{name}[/b] ({rec.get('status')}) with its worktree and branch?\n"
                "Unmerged work keeps the worktree (ctui thread rm --force removes it).",
                yes="Delete",
            ),
            confirmed,
        )

    def action_approve(self) -> None:
        self._answer(allow=True)

    def action_deny(self) -> None:
        self._answer(allow=False)

    def _answer(self, *, allow: bool) -> None:
        """`ctui approve|deny` for the selected agent (its instance: a thread's current run)."""
        app: Any = self
        agent = app.agents.selected
        if agent is None or agent.get("state") != "waiting":
            app.notify("The selected agent is not waiting for an answer.", severity="warning")
            return
        target = agent.get("instance") or agent["name"]
        name = agent["name"]

        verb = "Approved" if allow else "Denied"
        app.core_call(
            lambda c: answer(c, target, allow),
            lambda d: f"{verb} {name}'s request ({d.get('tool') or 'tool'}).",
        )
