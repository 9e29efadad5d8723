"""What the control room writes to the terminal when an agent needs the operator, and how a
row shows the tool an agent runs: under Pilot, against a real store and the fake agent."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.core.flows.notify import escape

from .helpers import SIZE, control_room, loaded, until


def _capture(app: object) -> list[str]:
    """Everything the app writes to its terminal from now on (the headless driver drops it)."""
    written: list[str] = []
    driver = app._driver  # type: ignore[attr-defined]
    driver.write = written.append
    return written


def _config(c: Coordinator, text: str) -> Coordinator:
    """The store with `text` as its config.toml, opened again so the new settings hold."""
    (c.store.path / "config.toml").write_text(text)
    return Coordinator.open(store_dir=c.store.path)


@contextlib.asynccontextmanager
async def _probe_starts_waiting(
    seeded: Coordinator, config: str
) -> AsyncIterator[tuple[Any, Any, list[str]]]:
    """The control room under `config`, loaded; then agent probe-1 goes from working to
    waiting in another connection. Yields the app, its pilot and what it writes from then."""
    c = _config(seeded, config)
    seeded.instances.register(instance_id="probe-1", state="working")
    app = control_room(c)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        written = _capture(app)
        seeded.instances.heartbeat("probe-1", state="needs_input")
        yield app, pilot, written


@pytest.mark.parametrize(
    ("setting", "env", "wanted"),
    [
        ('desktop = "osc777"', {}, "\x1b]777;notify;ctui: probe-1 needs input;probe-1 needs input"),
        ('desktop = "osc9"', {}, "\x1b]9;probe-1 needs input"),
        ("", {"TERM_PROGRAM": "iTerm.app"}, "\x1b]9;probe-1 needs input"),
        ("", {"TERM_PROGRAM": "foot"}, "\x1b]777;notify;"),
    ],
)
async def test_an_agent_that_starts_waiting_rings_and_notifies_once(
    seeded: Coordinator,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    env: dict[str, str],
    wanted: str,
) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("WT_SESSION", raising=False)
    monkeypatch.delenv("TERM_PROGRAM", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    async with _probe_starts_waiting(seeded, f"[notify]\n{setting}\n") as (app, pilot, written):
        await until(pilot, lambda: wanted in "".join(written))
        first = "".join(written)
        assert first.startswith("\a\x1b]") and first.count("probe-1 needs input\x07") == 1
        loads = app.loads
        seeded.instances.register(instance_id="probe-2", state="working")  # another change
        await until(pilot, lambda: app.loads > loads and "probe-2" in str(app.agents.records))
        app.reload()
        await until(pilot, lambda: app.loads > loads + 1)
        assert "".join(written) == first, "said once, never repeated"


async def test_alerts_turned_off_write_nothing(seeded: Coordinator) -> None:
    off = '[notify]\nbell = false\ndesktop = "off"\n'
    async with _probe_starts_waiting(seeded, off) as (app, pilot, written):
        await until(
            pilot, lambda: app.agents.records.get("instance:probe-1", {}).get("state") == "waiting"
        )
        await pilot.pause(0.2)
        assert written == []


async def test_a_bad_desktop_setting_is_said_and_the_default_holds(seeded: Coordinator) -> None:
    loud = '[notify]\ndesktop = "loud"\n'
    async with _probe_starts_waiting(seeded, loud) as (app, pilot, written):
        await until(pilot, lambda: "\x1b]" in "".join(written))
        assert any("[notify] desktop must be one of" in str(n.message) for n in app._notifications)


def test_the_escape_cannot_be_ended_early_and_passes_through_tmux() -> None:
    change = {"agent": "a;b", "state": "failed", "text": "a;b failed: \x07\x1b]0;pwned\x07"}
    out = escape(change, "osc777", {})
    assert out.count("\x07") == 1 and out.count("\x1b") == 1
    assert out.startswith("\x1b]777;notify;ctui: a,b failed;a;b failed:")
    wrapped = escape(change, "both", {"TMUX": "/tmp/tmux-0/default,1,0"})
    assert wrapped.startswith("\x1bPtmux;\x1b\x1b]777;") and wrapped.endswith("\x07\x1b\\")


async def test_a_thread_running_a_tool_shows_it(seeded: Coordinator, repo: Path) -> None:
    seeded.threads.create("tests", prompt="FAKE_TOOL=Bash:pytest FAKE_HANG", worktree=False)
    seeded.threads.start("tests")
    seeded.instances.register(instance_id="editor-1", state="working")
    seeded.instances.set_tool("editor-1", "Edit", "src/app.py")
    app = control_room(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        row = lambda key: app.agents.records.get(key) or {}  # noqa: E731
        await until(pilot, lambda: row("thread:tests").get("tool") == "Bash", timeout=20)
        assert row("thread:tests")["doing"] == "pytest"
        cells = app.agents.get_row("thread:tests")
        assert str(cells[0]) == "⚙ running Bash" and str(cells[2]) == "pytest"
        assert str(app.agents.get_row("instance:editor-1")[0]) == "⚙ running Edit"
        seeded.instances.set_tool("editor-1", None)
        await until(pilot, lambda: str(app.agents.get_row("instance:editor-1")[0]) == "● working")
