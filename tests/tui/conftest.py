"""Fixtures for the control room's tests: seeded stores, the app under Pilot, a wait helper."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.demo.simulate import fake_agent_command, seed

from .helpers import Tmux


@pytest.fixture(autouse=True)
def _fake_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads started by the tests run the fake agent, never a real `claude`."""
    monkeypatch.setenv("CTUI_CLAUDE_BIN", fake_agent_command())
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def seeded(repo: Path) -> Iterator[Coordinator]:
    """A store with the demo's agents, leases, decisions, tasks and two ready threads."""
    c = Coordinator.open(repo)
    seed(c)
    yield c
    for t in c.threads.list():
        if t.status in ("running", "waiting"):
            c.threads.stop(t.name, grace=1.0)
    c.close()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"ctui-test-{os.getpid()}-{tmp_path.name}")
    yield t
    t("kill-server")
