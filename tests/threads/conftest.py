"""Fixtures for thread tests: the fake agent on the `claude` profile, an isolated tmux."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator

FAKES = Path(__file__).resolve().parent.parent / "fakes"


@pytest.fixture(autouse=True)
def fake_agent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every `claude` run in these tests is the fake agent; tmux gets its own server.

    Afterwards (also when the test failed half-way) every thread still running in the
    test's repository is stopped by its pid, and the test's private tmux server is killed.
    """
    monkeypatch.setenv("CTUI_CLAUDE_BIN", str(FAKES / "claude"))
    monkeypatch.setenv("FAKE_AGENT_PYTHON", sys.executable)
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))
    monkeypatch.delenv("FAKE_AGENT", raising=False)
    monkeypatch.delenv("FAKE_AGENT_HOOKS", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    if "backend" in request.fixturenames:
        request.getfixturevalue("backend")  # set up first, so its schema outlives the stop below
    repo = request.getfixturevalue("repo") if "repo" in request.fixturenames else None
    yield
    if repo is not None and (repo / ".ctui").exists():
        c = Coordinator.open(repo, create=False)
        try:
            for t in c.threads.list():
                if t.status in ("running", "waiting"):
                    c.threads.stop(t.name, grace=1.0)
        finally:
            c.close()
    if shutil.which("tmux"):
        subprocess.run(["tmux", "kill-server"], capture_output=True, timeout=10, check=False)


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll `check` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
