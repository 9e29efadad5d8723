"""Steering an agent from the control room, the CLI and the API: one core path each.

* `send`: a message to a thread. An interactive thread whose terminal is open
  gets it typed in (tmux send-keys); a headless thread that finished, waits or
  is blocked gets a follow-up run with the message as its prompt, a new run of
  the same thread. A headless run still working is refused: its stdin is closed,
  so there is nothing to type into; wait for it or stop it first.
* `restart`: stop the thread if it runs, then run it again (a new run).
* `attach`: how to see the thread's terminal (a tmux command), or None for a
  headless thread, whose live log is the view.

The follow-up run goes through `threads.start(again=True, prompt=...)`; where
the store knows how to resume the agent's own session (`claude -p --resume`),
`_follow_up` is the one place to switch over.
"""

from __future__ import annotations

from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.threads import tmux
from ctui.core.threads.model import FINISHED

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator
    from ctui.core.threads.model import Thread

MESSAGE_CHARS = 20_000
FOLLOW_UP = (*FINISHED, "waiting", "blocked", "ready")
"""Statuses in which a headless thread takes a message as a new run."""


def send(c: Coordinator, name: str, text: str, *, by: str = "operator") -> dict[str, Any]:
    """Give thread `name` the message `text`; says how it went (terminal or a new run)."""
    text = text.strip()
    if not text:
        raise UsageError("the message is empty: say what the agent should do")
    if len(text) > MESSAGE_CHARS:
        raise UsageError(f"the message is over {MESSAGE_CHARS} characters: shorten it")
    t = c.threads.get(name)
    if t.mode == "interactive" and t.status in ("running", "waiting"):
        if not tmux.available() or not tmux.alive(name):
            raise Conflict(f"thread {name!r} has no open terminal to type into: restart it")
        tmux.send_keys(name, text)
        _log(c, name, by, "terminal", t.run_id, text)
        return {"thread": name, "how": "terminal", "run": t.run_id}
    if t.status not in FOLLOW_UP:
        raise Conflict(
            f"thread {name!r} is {t.status}: a headless run cannot be typed into; "
            f"wait for it to finish, or `ctui thread stop {name}` first"
        )
    started = _follow_up(c, name, text)
    _log(c, name, by, "run", started.run_id, text)
    return {"thread": name, "how": "run", "run": started.run_id}


def _follow_up(c: Coordinator, name: str, text: str) -> Thread:
    """A new run of the thread with `text` as its prompt (its session resumed when it has one)."""
    return c.threads.follow_up(name, text)


def _log(c: Coordinator, name: str, by: str, how: str, run: int, text: str) -> None:
    with c.store.write() as conn:
        c.log(
            conn,
            "thread.sent",
            subject=name,
            actor=by,
            data={"how": how, "run": run, "message": text[:200]},
        )


def restart(c: Coordinator, name: str, *, by: str = "operator") -> Thread:
    """Stop the thread if it is active, then start a new run of it."""
    t = c.threads.get(name)
    if t.status in ("running", "waiting"):
        c.threads.stop(name, by=by)
    return c.threads.start(name, again=True)


def attach(c: Coordinator, name: str, *, inside_tmux: bool) -> list[str] | None:
    """The command that shows thread `name`'s terminal, or None when it has none (headless:
    its live log is the view). A finished thread has nothing to attach to."""
    t = c.threads.get(name)
    if t.mode != "interactive":
        return None
    if t.status not in ("running", "waiting") or not tmux.alive(name):
        raise NotFound(f"thread {name!r} has no tmux session (it is {t.status})")
    import os

    env = dict(os.environ)
    if not inside_tmux:
        env.pop("TMUX", None)
    return tmux.attach_argv(name, env)  # inside tmux: switch-client, never a nested attach
