"""`ctui instance register | heartbeat | unregister | list`."""

from __future__ import annotations

import argparse
import os

from ctui.cli.common import Ctx, Group, positive, table
from ctui.core.clock import ago
from ctui.core.instances import LIVE_STATES


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(sub, "instance", "agent sessions: register, heartbeat, unregister, list")
    p = g.command("register", register_cmd, "register an instance and print its id")
    p.add_argument("--id", dest="instance_id", help="choose the id (default: ROLE-NNNN)")
    p.add_argument("--role", help="what kind of agent this is (backend, reviewer, ...)")
    p.add_argument("--task", help="what it is working on")
    p.add_argument("--session-id", help="the Claude Code session id, when known")
    p.add_argument("--pid", type=int, help="the agent's process id, for liveness (default: none)")
    p.add_argument(
        "--ttl", type=positive(), help="seconds without heartbeat before stale (default 300)"
    )
    p.add_argument("--agent", help="agent kind (claude, codex, script)")
    p = g.command("heartbeat", heartbeat, "refresh an instance's heartbeat and leases")
    p.add_argument("id", nargs="?", help="the instance (default: --as / CTUI_INSTANCE_ID)")
    p.add_argument("--state", choices=LIVE_STATES, help="also set the state")
    p = g.command(
        "unregister", unregister, "end an instance: release its leases, requeue its tasks"
    )
    p.add_argument("id", nargs="?", help="the instance (default: --as / CTUI_INSTANCE_ID)")
    p = g.command("list", list_cmd, "live instances (with --all, ended and stale ones too)")
    p.add_argument("--all", action="store_true", help="include ended and stale instances")


def _target(ctx: Ctx) -> str:
    return ctx.args.id or ctx.actor


def register_cmd(ctx: Ctx) -> int:
    a = ctx.args
    inst = ctx.coord.instances.register(
        instance_id=a.instance_id,
        role=a.role,
        task=a.task,
        session_id=a.session_id,
        pid=a.pid,
        ttl=a.ttl,
        agent=a.agent,
        cwd=os.getcwd(),
    )
    ctx.emit(inst.to_dict(), inst.id)
    return 0


def heartbeat(ctx: Ctx) -> int:
    inst = ctx.coord.instances.heartbeat(_target(ctx), state=ctx.args.state)
    ctx.emit(inst.to_dict(), f"{inst.id} {inst.state}")
    return 0


def unregister(ctx: Ctx) -> int:
    target = _target(ctx)
    freed = ctx.coord.instances.unregister(target)
    ctx.emit(
        {"id": target, **freed},
        f"{target} ended; released {freed['leases_released']} lease(s), "
        f"requeued {freed['tasks_requeued']} task(s)",
    )
    return 0


def list_cmd(ctx: Ctx) -> int:
    c = ctx.coord
    now = c.now()
    found = c.instances.list(include_ended=ctx.args.all)
    ctx.emit(
        [i.to_dict(now) for i in found],
        lambda: table(
            ["ID", "STATE", "BEAT", "ROLE", "BRANCH", "TASK", "PID", "SESSION"],
            [
                [
                    i.id,
                    i.state,
                    "-" if i.id == "operator" else ago(now - i.heartbeat_at),
                    i.role or "-",
                    i.branch or "-",
                    i.task or "-",
                    i.pid or "-",
                    (i.session_id or "-")[:12],
                ]
                for i in found
            ],
        ),
    )
    return 0
