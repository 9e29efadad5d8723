"""Fixtures for thread tests: the fake agent on the `claude` profile, an isolated tmux."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent.parent / "fakes"


@pytest.fixture(autouse=True)
def fake_agent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every `claude` run in these tests is the fake agent; tmux gets its own server."""
    monkeypatch.setenv("CTUI_CLAUDE_BIN", str(FAKES / "claude"))
    monkeypatch.setenv("FAKE_AGENT_PYTHON", sys.executable)
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))
    monkeypatch.delenv("FAKE_AGENT", raising=False)
    monkeypatch.delenv("FAKE_AGENT_HOOKS", raising=False)
    monkeypatch.delenv("TMUX", raising=False)


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll `check` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
