"""Write the README's screenshots (SVG) from the real control room on a seeded demo store.

    .venv/bin/python scripts/export_screenshots.py [--out screenshots] [--size 160x44]

Seeds a scratch repository like `ctui demo --seed-only`, runs one thread to the
end with the fake agent (so it has a log, cost and tokens), then opens the app
headless with `run_test(size=...)`, drives it with keys and saves each screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ctui.core import Coordinator
from ctui.demo.scratch import make_repo
from ctui.demo.simulate import fake_agent_command, seed
from ctui.tui.app import ControlRoom


async def settle(pilot: Any, check: Callable[[], Any], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise SystemExit("the app did not reach the expected state in time")
        await pilot.pause(0.05)
    await pilot.pause(0.2)


async def shoot(
    c: Coordinator,
    size: tuple[int, int],
    out: Path,
    name: str,
    drive: Callable[[Any], Awaitable[None]],
) -> Path:
    app = ControlRoom(c, live=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.loads > 0)
        await drive(pilot)
        path = Path(app.save_screenshot(filename=f"{name}.svg", path=str(out)))
    print(f"wrote {path}")
    return path


async def pick(pilot: Any, name: str) -> None:
    """Select agent `name` in the agents list (shown once the list has it)."""
    agents = pilot.app.agents
    await settle(pilot, lambda: any(r["name"] == name for r in agents.records.values()))
    key = next(k for k, r in agents.records.items() if r["name"] == name)
    agents.move_cursor(row=agents.get_row_index(key))


def preview_says(pilot: Any, text: str) -> Callable[[], bool]:
    from ctui.tui.widgets.preview import Preview

    return lambda: any(text in line for line in pilot.app.query_one(Preview).lines)


async def main_screen(pilot: Any) -> None:
    await pilot.press("e")  # show the finished run too
    await pick(pilot, "fix-cart-total")
    await settle(pilot, preview_says(pilot, "turns"))
    await settle(pilot, lambda: pilot.app.diffs.sizes.get("thread:price-fix"))  # DIFF column


async def question(pilot: Any) -> None:
    await pick(pilot, "frontend-0002")
    await pilot.press("p")
    await settle(pilot, preview_says(pilot, "npm run build"))


async def diff(pilot: Any) -> None:
    await pick(pilot, "price-fix")
    await pilot.press("p", "p")
    await settle(pilot, preview_says(pilot, "def rounded"))


async def spawn_form(pilot: Any) -> None:
    await pilot.press("s")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "SpawnScreen")
    screen = pilot.app.screen
    screen.query_one("#name").value = "fix-issue-42"
    screen.query_one("#template").value = "prompts/fix.md"
    screen.query_one("#context").value = '{"issue": "#42", "file": "src/cart.py"}'
    screen.query_one("#base").value = "main"


async def thread_detail(pilot: Any) -> None:
    await pilot.press("3")  # the Threads view (a hidden view's table fills when shown)
    pane = pilot.app.pane("threads")
    pane.move_cursor(row=pane.get_row_index("fix-cart-total"))
    await pilot.press("enter")
    await settle(
        pilot,
        lambda: (
            bool(pilot.app.screen.query("#detail-log"))
            and len(pilot.app.screen.query_one("#detail-log").lines) > 2
        ),
    )


async def force_release(pilot: Any) -> None:
    await pilot.press("2")
    pane = pilot.app.pane("leases")
    pane.move_cursor(row=pane.get_row_index("src/auth.py"))
    await pilot.press("f")
    await settle(pilot, lambda: type(pilot.app.screen).__name__ == "ReasonScreen")
    await pilot.press(*"backend-0001 is stuck; taking over the login work")


async def run(out: Path, size: tuple[int, int]) -> None:
    os.environ["CTUI_CLAUDE_BIN"] = fake_agent_command()
    root = Path(tempfile.mkdtemp(prefix="ctui-shots-")) / "shop"
    try:
        make_repo(root)
        c = Coordinator.open(root)
        seed(c, run_threads=True)
        c.threads.create("price-fix", prompt="Round cart totals once", worktree=True)
        tree = root / ".ctui" / "worktrees" / "price-fix"
        cart = tree / "src" / "cart.py"
        cart.write_text(cart.read_text() + "\n\ndef rounded(total):\n    return round(total, 2)\n")
        out.mkdir(parents=True, exist_ok=True)
        for name, drive in (
            ("main", main_screen),
            ("question", question),
            ("diff", diff),
            ("spawn", spawn_form),
            ("thread-detail", thread_detail),
            ("force-release", force_release),
        ):
            await shoot(c, size, out, name, drive)
        c.close()
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots"
    )
    parser.add_argument("--size", default="160x44", help="COLSxROWS (default 160x44)")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.lower().split("x"))
    asyncio.run(run(args.out, (cols, rows)))


if __name__ == "__main__":
    main()
