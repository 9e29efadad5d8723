"""Liveness: whether an instance's process still runs, and whether it has gone stale.

An instance is stale when its heartbeat is older than its TTL; when, on this
host, its process is gone; or when its host has lapsed (`ctui.core.hosts`) and
its own heartbeat is as old as that lapse. "This host" is the host id
(`ctui.core.hostid`), never the hostname, which containers share. A pid alone
is not enough: the kernel reuses pids, so the process start time is recorded
at registration and compared (Linux `/proc`). Pids on other hosts are never
checked. Readers use `is_stale` without writing; `instance_reap` marks stale
instances in a write.
"""

from __future__ import annotations

import os
import sqlite3

from ctui.core import hostid
from ctui.core.errors import StaleInstance
from ctui.core.hosts import NONE, Lapsed, lapsed
from ctui.core.instances.record import OPERATOR, Instance, get

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

HOST = hostid.HOSTNAME


def pid_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux), used to notice a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def pid_alive(pid: int, start: str | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if known, started when we recorded."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True
    rest = stat[stat.rfind(b")") + 2 :].split()
    if rest and rest[0] in (b"Z", b"X"):
        return False
    return not (start is not None and len(rest) > 19 and rest[19].decode() != start)


def is_here(inst: Instance) -> bool:
    """Whether the instance runs on this host, so its pid can be looked up here."""
    return hostid.is_local(inst.host_id, inst.host)


def stale_why(inst: Instance, now: float, quiet: Lapsed = NONE) -> str | None:
    """Why a live-state instance should be reaped now, or None while it lives.

    `quiet` holds the hosts that have lapsed (`hosts.lapsed`); without it only
    the heartbeat and, on this host, the pid count.
    """
    if inst.id == OPERATOR or not inst.is_live:
        return None
    if now - inst.heartbeat_at > inst.ttl:
        return "heartbeat"
    if is_here(inst):
        if inst.pid is not None and not pid_alive(inst.pid, inst.pid_start):
            return "process gone"
        return None
    if quiet.dead(inst.host_id, inst.heartbeat_at, now):
        return quiet.why(inst.host_id or "")
    return None


def is_stale(inst: Instance, now: float, quiet: Lapsed = NONE) -> bool:
    """Whether a live-state instance should be reaped now."""
    return stale_why(inst, now, quiet) is not None


def quiet_hosts(c: Context, conn: sqlite3.Connection | None = None) -> Lapsed:
    """The hosts that have lapsed now (read inside `conn` when given)."""
    return lapsed(conn or c.store.conn, c.now(), c.config.host_lapse)


def require_live(c: Context, instance_id: str, conn: sqlite3.Connection | None = None) -> Instance:
    """The instance, or `StaleInstance` when it is stale or ended (exit 13)."""
    inst = get(conn or c.store.conn, instance_id)
    quiet = NONE if not inst.is_live or is_here(inst) else quiet_hosts(c, conn)
    if not inst.is_live or is_stale(inst, c.now(), quiet):
        raise StaleInstance(
            f"instance {instance_id!r} is {'stale' if inst.is_live else inst.state}: "
            "register again (`ctui instance register`)"
        )
    return inst
