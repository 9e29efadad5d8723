"""`ctui merge NAME...` and `ctui merge list | remove | run`: the merge queue."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ctui.cli.common import Ctx, leaf, positive, table

ACTIONS = ("add", "list", "remove", "run")


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "merge",
        merge,
        "queue finished threads' branches; land each on its base only after a green gate",
        epilog="forms:\n"
        "  ctui merge NAME...          queue threads (also: ctui merge add NAME...)\n"
        "  ctui merge list [--all]     the queue, and files two queued branches both change\n"
        "  ctui merge remove ID|NAME   take a queued entry out\n"
        "  ctui merge run [--wait S]   land queued entries now, in the foreground\n"
        "Settings: [merge] strategy, batch, on_failure in .ctui/config.toml; the gate is "
        "[gate] commands. Exit codes: 0 all landed, 1 some sent back, 12 refused or busy.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("words", nargs="+", metavar="NAME|ACTION", help="threads, or an action")
    p.add_argument("--all", action="store_true", help="list: also landed and sent-back entries")
    p.add_argument(
        "--wait",
        type=positive(),
        metavar="S",
        help="run: wait up to S seconds while another runner holds the queue",
    )
    p.add_argument(
        "--limit", type=positive(int), metavar="N", help="run: stop after deciding N entries"
    )


def merge(ctx: Ctx) -> int:
    from ctui.core.errors import UsageError

    a = ctx.args
    words = list(a.words)
    action = words.pop(0) if words[0] in ACTIONS else "add"
    if action != "list" and a.all:
        raise UsageError("--all goes with `ctui merge list`")
    if action != "run" and (a.wait is not None or a.limit is not None):
        raise UsageError("--wait and --limit go with `ctui merge run`")
    if action in ("list", "run") and words:
        raise UsageError(f"`ctui merge {action}` takes no names")
    if action == "add":
        return _add(ctx, words)
    if action == "list":
        return _list(ctx)
    if action == "remove":
        if not words:
            raise UsageError("name the entries to remove (an id or a thread)")
        removed = [ctx.coord.merge.remove(w, by=ctx.actor).to_dict() for w in words]
        ctx.emit(removed, "\n".join(f"removed #{e['id']} ({e['thread']})" for e in removed))
        return 0
    return _run(ctx)


def _add(ctx: Ctx, names: list[str]) -> int:
    entries = [e.to_dict() for e in ctx.coord.merge.add(names, by=ctx.actor)]
    ctx.emit(
        entries,
        lambda: (
            "\n".join(
                f"queued #{e['id']} {e['thread']} ({e['branch']} → {e['base']})" for e in entries
            )
            + "\nland them: `ctui merge run` (or `ctui serve` runs the queue)"
        ),
    )
    return 0


def rows(entries: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            e["id"],
            e["thread"],
            f"{e['branch']} → {e['base']}",
            e["status"],
            e["attempts"],
            (e["reason"] or "").splitlines()[0][:100] if e["reason"] else "",
        ]
        for e in entries
    ]


def _list(ctx: Ctx) -> int:
    q = ctx.coord.merge
    entries = [e.to_dict() for e in q.list(all=ctx.args.all)]
    predicted = q.predicted()
    data = {"entries": entries, "predicted": predicted}

    def text() -> str:
        out = table(
            ["ID", "THREAD", "BRANCH", "STATUS", "TRIES", "REASON"],
            rows(entries),
            empty="(the merge queue is empty)",
        )
        if predicted:
            out += "\npredicted conflicts between queued branches:\n" + "\n".join(
                f"  {p['path']}  changed by {', '.join(p['threads'])}" for p in predicted
            )
        return out

    ctx.emit(data, text)
    return 0


def _run(ctx: Ctx) -> int:
    from ctui.core.errors import CONFLICT

    out = sys.stderr if ctx.json else sys.stdout

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=out, flush=True)

    a = ctx.args
    summary = ctx.coord.merge.run(wait=a.wait or 0.0, limit=a.limit, report=say)

    def text() -> str:
        if summary["busy"] and not (summary["landed"] or summary["failed"]):
            return f"the queue is being run by {summary['busy']}: try again, or --wait S"
        parts = [
            f"landed: {', '.join(summary['landed']) or '-'}",
            f"conflict: {', '.join(summary['conflict']) or '-'}",
            f"failed: {', '.join(summary['failed']) or '-'}",
            f"gates run: {summary['gates']}, retests after the base moved: {summary['retests']}",
        ]
        if summary["refused"]:
            parts.append(f"refused: {summary['refused']}")
        return "\n".join(parts)

    ctx.emit(summary, text)
    if summary["refused"] or (summary["busy"] and not summary["gates"]):
        return CONFLICT
    return 1 if summary["conflict"] or summary["failed"] else 0
