"""Snapshots of each screen on a frozen, seeded store (no live countdown, fixed path and clock).

Update them after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.demo.scratch import make_repo
from ctui.demo.simulate import seed
from ctui.tui.app import ControlRoom

from .helpers import until

T0 = 1_795_000_000.0
"""2026-11-18 11:06:40 UTC: when the seeded store was 'written'."""
NOW = T0 + 42.0
SIZE = (140, 42)
ROOT = Path("/tmp/ctui-snapshots/shop")
"""A fixed path: the header shows it, so it must not vary between runs."""
LOG = """{"type":"system","subtype":"init","session_id":"5e1f0c2a"}
Reading src/cart.py
Rounding happens per line item; moving it to the total.
Editing src/cart.py
Running pytest -q: 12 passed
{"type":"result","subtype":"success","total_cost_usd":0.0312,"num_turns":4}
"""


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A seeded demo store written at T0, always at the same path; the app sees T0 + 42 s.

    Its host is the same on every machine: a fixed host id, and the hostname on rows
    written as `build-box`.

    The path is shared by every run on the machine, so a lock file next to it makes a
    second run (another checkout, another user's CI job) wait instead of deleting the
    store under the first.
    """
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(ROOT.parent / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(ROOT, ignore_errors=True)
        make_repo(ROOT)
        writer = Coordinator.open(ROOT, clock=lambda: T0)
        monkeypatch.setenv("CTUI_HOST_ID", "h-build-box")
        seed(writer)
        with writer.store.write() as conn:
            for table in ("threads", "instances"):
                conn.execute(f"UPDATE {table} SET host = 'build-box' WHERE host IS NOT NULL")
        logs = writer.store.path / "logs"
        logs.mkdir(exist_ok=True)
        (logs / "fix-cart-total.log").write_text(LOG)
        writer.close()
        c = Coordinator.open(ROOT, clock=lambda: NOW)
        try:
            yield c
        finally:
            c.close()
            shutil.rmtree(ROOT, ignore_errors=True)


def steps(
    *keys: str,
    screen: str | None = None,
    after: Callable[[Any], Any] | None = None,
    select: tuple[str, str] | None = None,
) -> Any:
    """A `run_before`: wait for the first load, select a row, press `keys`, wait for `screen`."""

    async def run_before(pilot: Any) -> None:
        await until(pilot, lambda: pilot.app.loads > 0)
        await pilot.pause()
        if select:
            pane = pilot.app.pane(select[0])
            pane.catch_up()  # a hidden view's table fills when shown: fill it to select in it
            pane.move_cursor(row=pane.get_row_index(select[1]))
        for key in keys:
            await pilot.press(key)
        if screen:
            await until(pilot, lambda: type(pilot.app.screen).__name__ == screen)
        if after:
            await until(pilot, lambda: after(pilot.app))
        await pilot.pause(0.1)

    return run_before


def app(c: Coordinator) -> ControlRoom:
    return ControlRoom(c, live=False)


SnapCompare = Callable[..., bool | Awaitable[bool]]


def test_main_screen(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    assert snap_compare(app(frozen), terminal_size=SIZE, run_before=steps())


def test_spawn_form(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    assert snap_compare(
        app(frozen), terminal_size=SIZE, run_before=steps("s", screen="SpawnScreen")
    )


def test_spawn_form_with_an_error(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    keys = ("s", "B", "a", "d", "ctrl+s")
    assert snap_compare(
        app(frozen), terminal_size=SIZE, run_before=steps(*keys, screen="SpawnScreen")
    )


def _log_shown(a: Any) -> bool:
    return bool(a.screen.query("#detail-log")) and len(a.screen.query_one("#detail-log").lines) >= 6


def test_thread_detail(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    run = steps(
        "3", "enter", screen="DetailScreen", after=_log_shown, select=("threads", "fix-cart-total")
    )
    assert snap_compare(app(frozen), terminal_size=SIZE, run_before=run)


def test_force_release_dialog(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    keys = ("2", "down", "f")
    assert snap_compare(
        app(frozen), terminal_size=SIZE, run_before=steps(*keys, screen="ReasonScreen")
    )


def test_stop_confirmation(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    assert snap_compare(
        app(frozen), terminal_size=SIZE, run_before=steps("3", "x", screen="ConfirmScreen")
    )


def test_help_screen(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    assert snap_compare(
        app(frozen), terminal_size=SIZE, run_before=steps("f1", screen="HelpScreen")
    )


def test_filtered_pane(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    keys = ("6", "slash", "l", "e", "a", "s", "e")
    assert snap_compare(app(frozen), terminal_size=SIZE, run_before=steps(*keys))


def test_empty_store_says_what_to_do(tmp_path: Path, snap_compare: SnapCompare) -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    make_repo(ROOT)
    c = Coordinator.open(ROOT, clock=lambda: T0)
    try:
        assert snap_compare(app(c), terminal_size=SIZE, run_before=steps())
    finally:
        c.close()
        shutil.rmtree(ROOT, ignore_errors=True)


@pytest.mark.parametrize(
    "size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"]
)
def test_agents_screen_fits(
    frozen: Coordinator, snap_compare: SnapCompare, size: tuple[int, int]
) -> None:
    """No column cut half-way, the needs-input alert and the key hints whole, at each size."""
    run = steps(after=_preview_loaded)
    assert snap_compare(app(frozen), terminal_size=size, run_before=run)


def _preview_loaded(a: Any) -> bool:
    from ctui.tui.widgets.preview import Preview

    preview = a.query_one(Preview)
    scroll = preview.query_one("#preview-scroll")
    laid_out = scroll.virtual_size.height >= len(preview.lines)  # then scrolled to its end
    one_line = not a.screen.has_class("-narrow") or scroll.size.height <= 1
    return (
        preview.agent is not None
        and bool(preview.lines)
        and laid_out
        and one_line
        and scroll.scroll_y == scroll.max_scroll_y
    )


def _pick(name: str, *keys: str, after: Callable[[Any], Any] | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        await until(pilot, lambda: pilot.app.loads > 0)
        agents = pilot.app.agents
        await until(pilot, lambda: any(r["name"] == name for r in agents.records.values()))
        key = next(k for k, r in agents.records.items() if r["name"] == name)
        agents.move_cursor(row=agents.get_row_index(key))
        for k in keys:
            await pilot.press(k)
        if after:
            await until(pilot, lambda: after(pilot.app))
        await pilot.pause(0.1)

    return run_before


def _preview_says(text: str) -> Callable[[Any], bool]:
    from ctui.tui.widgets.preview import Preview

    return lambda a: any(text in line for line in a.query_one(Preview).lines)


def test_a_waiting_agents_question(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    run = _pick("frontend-0002", "p", after=_preview_says("npm run build"))
    assert snap_compare(app(frozen), terminal_size=(120, 40), run_before=run)


def test_a_failed_agent_says_why(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    with frozen.store.write() as conn:
        conn.execute(
            "UPDATE threads SET status = 'failed', exit_code = 3, started_at = ?, ended_at = ?, "
            "error = 'agent exited with code 3: ModuleNotFoundError: No module named cart' "
            "WHERE name = 'docs-sweep'",
            (T0 - 120, T0 - 30),
        )
    run = _pick("docs-sweep", "p", after=_preview_says("ModuleNotFoundError"))
    assert snap_compare(app(frozen), terminal_size=(120, 40), run_before=run)


def test_an_agents_diff(frozen: Coordinator, snap_compare: SnapCompare) -> None:
    frozen.threads.create("price-fix", prompt="fix prices", worktree=True)
    tree = ROOT / ".ctui" / "worktrees" / "price-fix"
    target = tree / "src" / "cart.py"
    target.write_text(target.read_text() + "\n\ndef rounded(total):\n    return round(total, 2)\n")
    (tree / "NOTES.md").write_text("prices are rounded once\n")
    says = _preview_says("def rounded")
    run = _pick(
        "price-fix", "p", "p", after=lambda a: says(a) and a.diffs.sizes.get("thread:price-fix")
    )
    assert snap_compare(app(frozen), terminal_size=(120, 40), run_before=run)
