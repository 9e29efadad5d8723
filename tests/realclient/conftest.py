"""The real-client tier: the real Claude Code binary against the fake Messages API.

The binary is `CTUI_REAL_CLAUDE` (a path), else the pinned copy `.ci/run`
installs into `.cache/claude-code/`. When neither exists the tests skip with
the reason, unless `CTUI_REAL_CLAUDE_REQUIRED=1` (CI), which makes a missing
binary a failure. Every client runs with a temporary HOME, a fake API key, the
fake server as `ANTHROPIC_BASE_URL` and no traffic anywhere else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from tests.realclient.fake_api import FakeAnthropic

ROOT = Path(__file__).resolve().parents[2]
PINNED = ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
VERSION = "2.1.328"
RUN_TIMEOUT = 180.0

QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
    "CLAUDE_CODE_MAX_RETRIES": "0",
    "CLAUDE_CODE_OVERLOADED_RETRY_BASE_DELAY_MS": "50",
    "CLAUDE_CODE_OVERLOADED_RETRY_MAX_DELAY_MS": "200",
}


def find_claude() -> Path | None:
    named = os.environ.get("CTUI_REAL_CLAUDE")
    if named:
        return Path(named) if Path(named).is_file() else None
    return PINNED if PINNED.is_file() else None


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    found = find_claude()
    if found is None:
        why = (
            f"the real Claude Code client was not found (CTUI_REAL_CLAUDE="
            f"{os.environ.get('CTUI_REAL_CLAUDE', '')!r}, nor {PINNED}): "
            f"`npm install --prefix .cache/claude-code @anthropic-ai/claude-code@{VERSION}`"
        )
        if os.environ.get("CTUI_REAL_CLAUDE_REQUIRED") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return found


@pytest.fixture
def fake_api() -> Iterator[Callable[[], FakeAnthropic]]:
    """A factory of fake API servers (one per client session); all stopped afterwards."""
    made: list[FakeAnthropic] = []

    def make() -> FakeAnthropic:
        api = FakeAnthropic().start()
        made.append(api)
        return api

    yield make
    for api in made:
        api.stop()


def client_env(api: FakeAnthropic, **extra: str) -> dict[str, str]:
    """The environment a client runs in: nothing of the developer's Claude or API setup."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE", "ANTHROPIC", "CTUI_", "FAKE_AGENT"))
    }
    env.update(QUIET)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANTHROPIC_BASE_URL"] = api.url
    env["ANTHROPIC_API_KEY"] = "sk-ant-api03-fake-key-for-tests"
    env.update(extra)
    return env


class Session:
    """One `claude -p ... --output-format stream-json` process and what it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.out = ""
        self.err = ""

    def wait(self, timeout: float = RUN_TIMEOUT) -> Session:
        self.out, self.err = self.proc.communicate(timeout=timeout)
        return self

    @property
    def lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.out.splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return found

    @property
    def result(self) -> dict[str, Any]:
        done = [m for m in self.lines if m.get("type") == "result"]
        assert done, f"no result line (exit {self.proc.returncode}): {self.err[-2000:]}"
        return done[-1]

    @property
    def session_id(self) -> str:
        return str(next(m["session_id"] for m in self.lines if m.get("session_id")))


@pytest.fixture
def claude(claude_bin: Path) -> Iterator[Callable[..., Session]]:
    """Start the real client: `claude(cwd, api, prompt, *flags, env={...})`; killed afterwards."""
    started: list[Session] = []

    def start(
        cwd: Path,
        api: FakeAnthropic,
        prompt: str = "do the task",
        *flags: str,
        env: dict[str, str] | None = None,
        mode: str = "acceptEdits",
    ) -> Session:
        argv = [str(claude_bin), "-p", prompt, "--output-format", "stream-json", "--verbose"]
        argv += ["--permission-mode", mode, *flags]
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=client_env(api, **(env or {})),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        session = Session(proc)
        started.append(session)
        return session

    yield start
    for session in started:
        if session.proc.poll() is None:
            try:
                os.killpg(session.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            session.proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _stop_threads(request: pytest.FixtureRequest) -> Iterator[None]:
    """Threads a test left running in its repository are stopped (by their supervisor's pid)."""
    repo = request.getfixturevalue("repo") if "repo" in request.fixturenames else None
    yield
    if repo is None or not (repo / ".ctui").exists():
        return
    c = Coordinator.open(repo)
    try:
        for t in c.threads.list():
            if t.status in ("running", "waiting"):
                c.threads.stop(t.name, grace=2.0)
    finally:
        c.close()


def wait_for(check: Callable[[], Any], timeout: float = RUN_TIMEOUT, what: str = "it") -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
