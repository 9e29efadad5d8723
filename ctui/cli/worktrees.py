"""`ctui worktree list | cleanup | diff`, `ctui conflicts` and `ctui attach`."""

from __future__ import annotations

import argparse

from ctui.cli.common import Ctx, Group, leaf, table


def register(sub: argparse._SubParsersAction) -> None:
    w = Group(sub, "worktree", "the git worktrees ctui made for threads (.ctui/worktrees/)")
    w.command("list", wt_list, "worktrees with branch, thread, dirty flag, ahead/behind their base")
    p = w.command("cleanup", wt_cleanup, "remove worktrees of threads that are not running")
    p.add_argument(
        "--force", action="store_true", help="also remove ones with uncommitted or unmerged work"
    )
    p = w.command("diff", wt_diff, "what a worktree changed against its base (diff --stat)")
    p.add_argument("name", help="the thread's name (`ctui worktree list`)")
    leaf(
        sub,
        "conflicts",
        conflicts,
        "files changed in two worktrees, or in a worktree under another's lease",
        epilog="Exit codes: 0 none found, 12 conflicts found. While `ctui remote connect`ed "
        "it scans the server's repository; --local scans this one.",
    )
    p = leaf(
        sub,
        "attach",
        attach,
        "attach to an interactive thread's tmux session (inside tmux: switch to it); "
        "follow a headless thread's live log",
    )
    p.add_argument("name", help="the thread's name (`ctui thread list`)")


def wt_list(ctx: Ctx) -> int:
    found = ctx.coord.worktrees.list()
    ctx.emit(
        [w.to_dict() for w in found],
        lambda: table(
            ["NAME", "BRANCH", "BASE", "THREAD", "DIRTY", "AHEAD", "BEHIND"],
            [
                [
                    w.name,
                    w.branch or "-",
                    w.base,
                    f"{w.thread} ({w.thread_status})" if w.thread else "-",
                    "yes" if w.dirty else "no",
                    w.ahead,
                    w.behind,
                ]
                for w in found
            ],
            empty="(no worktrees)",
        ),
    )
    return 0


def wt_cleanup(ctx: Ctx) -> int:
    result = ctx.coord.worktrees.cleanup(force=ctx.args.force)
    lines = [f"removed {n}" for n in result["removed"]] + [
        f"kept {k['name']}: {k['reason']}" for k in result["kept"]
    ]
    ctx.emit(result, "\n".join(lines) or "nothing to clean up")
    return 0


def wt_diff(ctx: Ctx) -> int:
    info = ctx.coord.worktrees.get(ctx.args.name)
    text = ctx.coord.worktrees.diff(ctx.args.name)
    ctx.emit(
        {"name": info.name, "base": info.base, "stat": text},
        text or f"no changes against {info.base}",
    )
    return 0


def conflicts(ctx: Ctx) -> int:
    from ctui.cli.core import banner
    from ctui.core.errors import CONFLICT
    from ctui.core.flows import radar

    c = ctx.coord
    found = c.conflicts() if getattr(c, "remote", False) is True else radar.scan(c)
    lines = [f"{o['path']}  changed in {', '.join(o['worktrees'])}" for o in found["overlaps"]]
    lines += [
        f"{x['path']}  changed in {x['worktree']} while leased by {x['holder']}"
        for x in found["leased"]
    ]
    ctx.emit(found, banner(c, "\n".join(lines) or "no conflicts"))
    return CONFLICT if lines else 0


def attach(ctx: Ctx) -> int:
    from ctui.cli.steer import attach as show

    return show(ctx)
