"""`ctui send NAME TEXT`, `ctui restart NAME`, `ctui approve|deny NAME` (and `ctui attach`'s
body): steering one agent.

The same core calls (`ctui.core.flows.steer`) serve the control room's keys and the
API's `/api/threads/{name}/send` and `/restart` routes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from ctui.cli.common import Ctx, leaf


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "send",
        send,
        "give a thread a message: typed into an interactive thread's terminal, or "
        "a follow-up run of a headless thread that finished or waits",
    )
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument("text", help="the message ('-' reads it from stdin)")
    p = leaf(sub, "restart", restart, "stop a thread if it runs, then start a new run of it")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p = leaf(
        sub,
        "notify",
        notify,
        "watch the agents and post each start of waiting, failure or finish to the [notify] "
        "webhooks (once per change); prints each change",
    )
    p.add_argument("--poll", type=float, default=0.5, metavar="S", help="seconds between reads")
    for verb, handler in (("approve", approve), ("deny", deny)):
        p = leaf(
            sub,
            verb,
            handler,
            f"{verb} the permission request an agent waits on (held by its PermissionRequest "
            "hook; exit 4 when none waits)",
        )
        p.add_argument("name", help="a thread's name or an instance id")
        p.add_argument("--message", "-m", help="what the agent is told (a denial's reason)")


def send(ctx: Ctx) -> int:
    from ctui.core.flows import steer

    text = sys.stdin.read() if ctx.args.text == "-" else ctx.args.text
    done = steer.send(ctx.coord, ctx.args.name, text, by=ctx.actor)
    how = "typed into its terminal" if done["how"] == "terminal" else f"run {done['run']} started"
    ctx.emit(done, f"{done['thread']}  {how}")
    return 0


def notify(ctx: Ctx) -> int:
    import threading

    from ctui.core.errors import UsageError
    from ctui.core.flows import notify as notes

    if not 0.05 <= ctx.args.poll <= 60:
        raise UsageError("--poll must be from 0.05 to 60 seconds")
    c = ctx.coord
    urls, topic, retries = notes.settings(c)
    hooks = notes.Webhooks(urls, topic=topic, retries=retries)
    stop = threading.Event()
    if not urls:
        print("ctui: no [notify] webhooks set: printing changes only", file=sys.stderr)
    changes = notes.Changes()
    changes.seen(notes.read_agents(c))  # the starting point: not news
    print(f"ctui notify: watching {len(changes.states or {})} agents", file=sys.stderr, flush=True)
    try:
        notes.watch(
            c,
            hooks,
            poll=ctx.args.poll,
            stop=stop,
            say=lambda t: print(t, flush=True),
            changes=changes,
        )
    except KeyboardInterrupt:
        pass
    finally:
        hooks.close()
    return 0


def approve(ctx: Ctx) -> int:
    return _answer(ctx, allow=True)


def deny(ctx: Ctx) -> int:
    return _answer(ctx, allow=False)


def _answer(ctx: Ctx, *, allow: bool) -> int:
    from ctui.core.flows import permissions

    done = permissions.answer(
        ctx.coord, ctx.args.name, allow=allow, message=ctx.args.message, by=ctx.actor
    )
    said = "approved" if allow else "denied"
    ctx.emit(done, f"{ctx.args.name}  {said} {done.get('tool') or 'the request'}")
    return 0


def restart(ctx: Ctx) -> int:
    from ctui.core.flows import steer

    t = steer.restart(ctx.coord, ctx.args.name, by=ctx.actor)
    ctx.emit(t.to_dict(), f"{t.name}  run {t.run_id} started")
    return 0


def attach(ctx: Ctx) -> int:
    """An interactive thread's terminal (switch-client inside tmux, attach outside);
    a headless thread's live log."""
    from ctui.core.flows import steer

    argv = steer.attach(ctx.coord, ctx.args.name, inside_tmux=bool(os.environ.get("TMUX")))
    if argv is None:  # headless: its live log is the view
        from ctui.cli.threads import logs

        ctx.args.follow, ctx.args.tail, ctx.args.raw = True, 50, False
        return logs(ctx)
    if argv[1] == "attach-session":
        os.execvp(argv[0], argv)
    return subprocess.run(argv, check=False).returncode
