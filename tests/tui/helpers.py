"""Helpers for the control room's tests: the app, waiting for a condition, notifications."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from ctui.core import Coordinator
from ctui.tui.app import ControlRoom

SIZE = (140, 42)
MIN_WAIT = 30.0
"""No wait gives up sooner: CI shares 2 cores, and a met condition returns at once anyway."""


def control_room(c: Coordinator, **kw: Any) -> ControlRoom:
    return ControlRoom(c, reopen=lambda: Coordinator.open(store_dir=c.store.path), **kw)


async def until(pilot: Any, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Let the app run until `condition()` is truthy; fail after `timeout` (at least MIN_WAIT)."""
    timeout = max(timeout, MIN_WAIT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    shown = notes(pilot.app)
    raise AssertionError(f"condition not met within {timeout}s; notifications: {shown}")


async def loaded(pilot: Any) -> None:
    app = pilot.app
    await until(pilot, lambda: app.loads > 0)
    await pilot.pause()


def notes(app: ControlRoom) -> list[tuple[str, str]]:
    """The notifications shown so far: (severity, text)."""
    return [(n.severity, str(n.message)) for n in app._notifications]


class Tmux:
    """One private tmux server (its own socket), killed at the end and nothing else."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        ).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "ctui")

    def wait_for(self, check: Callable[[str], bool], timeout: float = 20) -> str:
        deadline = time.monotonic() + max(timeout, MIN_WAIT)
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"screen never matched; last screen:\n{text}")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "ctui", *keys)
