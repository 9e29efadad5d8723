"""The control room's top line shows today's spend against the day's caps."""

from __future__ import annotations

from pathlib import Path

from ctui.core import Coordinator

from .helpers import SIZE, control_room, loaded, until


async def test_the_top_line_shows_spend_against_the_day_cap(repo: Path) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text("[budget]\nday_usd = 5\nday_tokens = 90000\n")
    c = Coordinator.open(repo)
    try:
        app = control_room(c)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            top = app.query_one("#top")
            await until(pilot, lambda: "today $0.0000 / $5.00" in str(top.content))
            assert "0 / 90,000 tokens" in str(top.content)
    finally:
        c.close()


async def test_no_cap_shows_the_days_cost_alone(repo: Path) -> None:
    c = Coordinator.open(repo)
    try:
        app = control_room(c)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            await until(pilot, lambda: "today" in str(app.query_one("#top").content))
            assert " / $" not in str(app.query_one("#top").content)  # no cap to spend against
    finally:
        c.close()
