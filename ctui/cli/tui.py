"""`ctui` / `ctui tui` (the control room) and `ctui demo` (the same on a scratch repo).

`ctui tui --remote` shows the connected server's store through its API (the
panes then refresh every second instead of on file changes). `ctui demo`
makes a temporary git repository with its own store, seeds it, sets the
`claude` profile to the fake agent and runs simulated agents in a background
thread while the control room is open; `--seed-only DIR` fills DIR and exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, leaf


def register(sub: argparse._SubParsersAction) -> None:
    leaf(
        sub,
        "tui",
        open_control_room,
        "the control room: every agent, lease, thread, task and decision, live",
    )
    p = leaf(sub, "demo", demo, "the control room on a scratch repository with simulated agents")
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch repository on exit (its path is printed)",
    )
    p.add_argument(
        "--seed-only", metavar="DIR", help="make DIR a seeded demo repository and exit (no UI)"
    )
    p.add_argument("--no-threads", action="store_true", help="simulated agents never spawn threads")
    p.add_argument("--for", dest="run_for", type=float, metavar="S", help=argparse.SUPPRESS)


def run_app(coord: Any, *, remote: str | None = None, run_for: float | None = None) -> int:
    from ctui.core import Coordinator
    from ctui.tui.app import ControlRoom

    store = getattr(coord, "store", None)
    reopen = (lambda: Coordinator.open(store_dir=store.path)) if store is not None else None
    app = ControlRoom(coord, reopen=reopen, remote=remote)
    if run_for:
        app.call_later(lambda: app.set_timer(run_for, app.exit))
    app.run()
    return 0


def _need_terminal() -> None:
    """Without a terminal Textual would write its escape codes into a pipe or a file."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        from ctui.core.errors import UsageError

        raise UsageError(
            "the control room needs a terminal: run it in one, or print the store with "
            "`ctui status`"
        )


def open_control_room(ctx: Ctx) -> int:
    _need_terminal()
    coord = ctx.coord
    return run_app(
        coord, remote=getattr(coord, "url", None), run_for=getattr(ctx.args, "run_for", None)
    )


def demo(ctx: Ctx) -> int:
    from ctui.core import Coordinator
    from ctui.demo.scratch import make_repo
    from ctui.demo.simulate import Simulation, fake_agent_command, seed

    os.environ["CTUI_CLAUDE_BIN"] = fake_agent_command()  # the demo never runs a real (paid) agent
    seed_only = ctx.args.seed_only
    if not seed_only:
        _need_terminal()
    if seed_only and Path(seed_only).exists() and any(Path(seed_only).iterdir()):
        from ctui.core.errors import UsageError

        raise UsageError(
            f"{seed_only} is not empty: --seed-only makes a new demo repository, give a new folder"
        )
    root = make_repo(Path(seed_only).resolve() if seed_only else None)
    coord = Coordinator.open(root)
    try:
        seed(coord, run_threads=False)
        if seed_only:
            ctx.emit(
                {"root": str(root), "store": str(coord.store.path)},
                f"seeded demo repository at {root}",
            )
            return 0
        sim = Simulation(Coordinator.open(root), spawn=not ctx.args.no_threads)
        agents = sim.start()
        try:
            run_app(coord, run_for=ctx.args.run_for)
        finally:
            sim.stop.set()
            agents.join(timeout=10)  # a spawn under way finishes before the runs are stopped
            _stop_threads(coord)
    finally:
        coord.close()
        if not seed_only and not ctx.args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if ctx.args.keep:
        print(f"the demo repository is kept at {root}")
    return 0


def _stop_threads(coord: Any) -> None:
    """Stop the demo's agent runs so nothing outlives the demo."""
    try:
        for thread in coord.threads.list():
            if thread.status in ("running", "waiting", "blocked"):
                coord.threads.stop(thread.name, grace=1.0)
    except Exception:
        pass
