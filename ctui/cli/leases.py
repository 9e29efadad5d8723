"""`ctui lock acquire | release | renew | check | verify | list | cleanup | force-release`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ctui.cli.common import Ctx, Group, positive, table
from ctui.core.clock import ago, iso
from ctui.core.errors import HELD


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(
        sub,
        "lock",
        "file leases: exclusive, expiring claims on files and globs",
        epilog="Exit codes: 0 ok, 4 no such lease, 10 held by another instance, "
        "11 your lease expired, 12 the file changed under your lease, 13 you are stale.",
    )
    p = g.command("acquire", acquire, "take (or renew) the lease on a path or glob")
    p.add_argument("path", help="a file or a glob (src/*.py, backend/**), relative or absolute")
    p.add_argument("--intent", help="what you will do, shown to others who are refused")
    p.add_argument(
        "--ttl", type=positive(), help="seconds until it expires unless renewed (default 300)"
    )
    p.add_argument(
        "--wait",
        type=float,
        metavar="S",
        help="queue up to S seconds for it (first come, first served)",
    )
    for name, handler, text in (
        ("release", release, "give back your lease"),
        ("renew", renew, "push your lease's expiry out by its TTL"),
        ("check", check, "who holds a path (exit 10 if another instance does)"),
        ("verify", verify, "exit 12 if the file changed in a way you did not make"),
    ):
        p = g.command(name, handler, text)
        p.add_argument("path", help="a file or a glob, as it was leased")
        if name == "renew":
            p.add_argument("--ttl", type=positive(), help="a new TTL in seconds")
    p = g.command("list", list_cmd, "held leases")
    p.add_argument("--holder", help="only this instance's")
    p.add_argument("--all", action="store_true", help="include expired ones not yet cleaned up")
    g.command("cleanup", cleanup, "remove expired leases and reap stale instances")
    p = g.command(
        "force-release", force_release, "take a lease away from its holder (operator only)"
    )
    p.add_argument("path", help="a file or a glob, as it was leased")
    p.add_argument("--reason", required=True, help="why: logged in the event the holder sees")


def acquire(ctx: Ctx) -> int:
    a = ctx.args
    c = ctx.coord
    if a.wait is not None and a.wait < 0:
        from ctui.core.errors import UsageError

        raise UsageError("--wait takes a number of seconds, 0 or more")
    lease = c.leases.acquire(
        a.path, instance=ctx.actor, intent=a.intent, ttl=a.ttl, wait=a.wait, cwd=Path.cwd()
    )
    now = c.now()
    ctx.emit(
        lease.to_dict(now),
        f"{lease.path}  held by {lease.holder}  token {lease.token}  "
        f"expires in {ago(lease.expires_at - now)}",
    )
    return 0


def release(ctx: Ctx) -> int:
    lease = ctx.coord.leases.release(ctx.args.path, instance=ctx.actor, cwd=Path.cwd())
    ctx.emit({"path": lease.path, "released": True, "token": lease.token}, f"released {lease.path}")
    return 0


def renew(ctx: Ctx) -> int:
    c = ctx.coord
    lease = c.leases.renew(ctx.args.path, instance=ctx.actor, ttl=ctx.args.ttl, cwd=Path.cwd())
    now = c.now()
    ctx.emit(lease.to_dict(now), f"{lease.path}  renewed, expires in {ago(lease.expires_at - now)}")
    return 0


def check(ctx: Ctx) -> int:
    c = ctx.coord
    lease = c.leases.check(ctx.args.path, cwd=Path.cwd())
    key = c.leases.require_key(ctx.args.path, Path.cwd())
    now = c.now()
    if lease is None:
        ctx.emit({"path": key, "held": False, "holder": None}, f"{key}  free")
        return 0
    mine = lease.holder == ctx.actor
    ctx.emit(
        {"path": key, "held": True, **lease.to_dict(now), "path_leased": lease.path},
        f"{key}  held by {lease.holder}{' (you)' if mine else ''}"
        f"{'' if lease.path == key else ' through ' + lease.path}  "
        f"since {iso(lease.acquired_at)}  expires in {ago(lease.expires_at - now)}",
    )
    return 0 if mine else HELD


def verify(ctx: Ctx) -> int:
    lease = ctx.coord.leases.verify(ctx.args.path, instance=ctx.actor, cwd=Path.cwd())
    ctx.emit(
        {"path": lease.path, "unchanged": True, "sha1": lease.sha1}, f"{lease.path}  unchanged"
    )
    return 0


def list_cmd(ctx: Ctx) -> int:
    c = ctx.coord
    now = c.now()
    found = c.leases.list(holder=ctx.args.holder, include_expired=ctx.args.all)
    ctx.emit(
        [lease.to_dict(now) for lease in found],
        lambda: table(
            ["PATH", "HOLDER", "EXPIRES", "TOKEN", "SINCE", "INTENT"],
            [
                [
                    lease.path,
                    lease.holder,
                    "expired" if lease.expired(now) else ago(lease.expires_at - now),
                    lease.token,
                    iso(lease.acquired_at),
                    lease.intent or "-",
                ]
                for lease in found
            ],
            empty="(no leases held)",
        ),
    )
    return 0


def cleanup(ctx: Ctx) -> int:
    result = ctx.coord.cleanup()
    ctx.emit(
        result,
        f"expired {result['leases_expired']} lease(s); reaped {len(result['instances_reaped'])} "
        "stale instance(s)",
    )
    return 0


def force_release(ctx: Ctx) -> int:
    lease = ctx.coord.leases.force_release(
        ctx.args.path, reason=ctx.args.reason, by=ctx.actor, cwd=Path.cwd()
    )
    ctx.emit(
        {"path": lease.path, "holder": lease.holder, "forced": True, "reason": ctx.args.reason},
        f"force-released {lease.path} from {lease.holder}",
    )
    return 0
