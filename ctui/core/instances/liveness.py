"""Liveness: whether an instance's process still runs, and whether it has gone stale.

An instance is stale when its heartbeat is older than its TTL or, on this
host, its process is gone. A pid alone is not enough: the kernel reuses pids,
so the process start time is recorded at registration and compared (Linux
`/proc`). Pids on other hosts are never checked, only heartbeats. Readers use
`is_stale` without writing; `instance_reap` marks stale instances in a write.
"""

from __future__ import annotations

import os
import sqlite3

from ctui.core.errors import StaleInstance
from ctui.core.instances.record import OPERATOR, Instance, get

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.context import Context

HOST = os.uname().nodename  # socket.gethostname() without importing socket


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


def is_stale(inst: Instance, now: float) -> bool:
    """Whether a live-state instance should be reaped now."""
    if inst.id == OPERATOR or not inst.is_live:
        return False
    if now - inst.heartbeat_at > inst.ttl:
        return True
    return inst.pid is not None and inst.host == HOST and not pid_alive(inst.pid, inst.pid_start)


def require_live(c: Context, instance_id: str, conn: sqlite3.Connection | None = None) -> Instance:
    """The instance, or `StaleInstance` when it is stale or ended (exit 13)."""
    inst = get(conn or c.store.conn, instance_id)
    if not inst.is_live or is_stale(inst, c.now()):
        raise StaleInstance(
            f"instance {instance_id!r} is {'stale' if inst.is_live else inst.state}: "
            "register again (`ctui instance register`)"
        )
    return inst
