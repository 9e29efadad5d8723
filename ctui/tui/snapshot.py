"""One consistent read of everything the control room shows, bounded in size.

Runs in a thread worker. Each pane gets at most `limit` records (the most
relevant first) plus the total, so a store with years of history costs the
same to show as a fresh one. Works on a local `Coordinator` or a remote proxy
with the same methods: records become plain dicts either way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctui.tui.rows import Record, ts

LIMIT = 200
ORDER = {
    "running": 0,
    "waiting": 1,
    "blocked": 1,
    "needs_input": 0,
    "working": 1,
    "idle": 2,
    "claimed": 0,
    "available": 1,
    "pending": 2,
    "ready": 2,
    "created": 3,
    "stale": 3,
}


@dataclass
class Snapshot:
    """The records behind every pane, with totals and when and how fast they were read."""

    at: float
    records: dict[str, list[Record]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    took: float = 0.0
    spend: dict[str, Any] | None = None
    """Today's spend against the day's caps (`budget.summary()["day"]`); None through a remote."""


def record(item: Any, now: float | None = None) -> Record:
    """A plain dict from a core object (its fields) or an API document (as is)."""
    if isinstance(item, dict):
        return item
    names = getattr(item, "FIELDS", None)  # a core record (`ctui.core.record`)
    if isinstance(names, tuple):
        return {name: getattr(item, name) for name in names}
    if hasattr(item, "__dict__"):
        return dict(vars(item))
    to_dict = getattr(item, "to_dict", None)
    return dict(to_dict()) if to_dict else {}


def local_root(coord: Any) -> Path | None:
    """The repository folder of a local store; None through a remote server."""
    try:
        root = coord.root
    except Exception:
        return None
    return root if isinstance(root, Path) else None


def _call(part: Any, method: str, **kw: Any) -> list[Any]:
    fn = getattr(part, method, None)
    if fn is None:
        return []
    try:
        return list(fn(**kw))
    except NotImplementedError:
        return []


def _bounded(items: Iterable[Record], limit: int, key: Any) -> tuple[list[Record], int]:
    rows = list(items)
    rows.sort(key=key)
    return rows[:limit], len(rows)


def _with_merges(coord: Any, threads: list[Record]) -> None:
    """Put each thread's newest merge-queue entry on its record (`merge`): status and why."""
    latest = getattr(getattr(coord, "merge", None), "latest", None)
    if latest is None or not threads:
        return
    entries = latest()
    for t in threads:
        entry = entries.get(t.get("name"))
        if entry is not None:
            t["merge"] = {
                "id": entry.id,
                "status": entry.status,
                "reason": entry.reason,
                "landed": entry.landed,
            }


def load(coord: Any, *, limit: int = LIMIT, now: float | None = None) -> Snapshot:
    """Read every pane's records from `coord` in one read transaction when local."""
    started = time.perf_counter()
    now = coord.now() if now is None else now
    store = getattr(coord, "store", None)
    if store is not None and not store.db_path.exists():
        from ctui.core.errors import StoreError

        raise StoreError(f"the store {store.db_path} is gone: run `ctui init` to create it again")
    snap = Snapshot(at=now)
    reading = coord.read_snapshot() if store is not None else contextlib.nullcontext()
    with reading:
        insts = [record(i) for i in coord.instances.list(include_ended=True)]
        insts = [
            i
            for i in insts
            if i.get("state") != "ended" or (ts(i.get("ended_at")) or 0) > now - 600
        ]
        snap.records["instances"], snap.totals["instances"] = _bounded(
            insts, limit, lambda i: (i["id"] != "operator", ORDER.get(i.get("state"), 9), i["id"])
        )
        snap.records["leases"], snap.totals["leases"] = _bounded(
            (record(x) for x in coord.leases.list()), limit, lambda x: x["path"]
        )
        threads = [record(t) for t in _call(getattr(coord, "threads", None), "list")]
        _with_merges(coord, threads)
        snap.records["threads"], snap.totals["threads"] = _bounded(
            threads,
            limit,
            lambda t: (ORDER.get(t.get("status"), 5), -(ts(t.get("created_at")) or 0)),
        )
        tasks = [record(t) for t in _call(getattr(coord, "tasks", None), "list")]
        snap.records["tasks"], snap.totals["tasks"] = _bounded(
            tasks,
            limit,
            lambda t: (ORDER.get(t.get("status"), 5), t.get("priority") or 5, str(t.get("id"))),
        )
        snap.records["decisions"] = [record(d) for d in coord.decisions.list(limit=limit)]
        snap.totals["decisions"] = (
            int(coord.decisions.count()) if hasattr(coord.decisions, "count") else 0
        )
        events = [record(e) for e in coord.events.recent(limit)]
        events.reverse()
        snap.records["activity"] = events
        snap.totals["activity"] = int(events[0]["id"]) if events else 0
        snap.records["agents"] = _agents(coord, insts, threads, snap, now)
        snap.totals["agents"] = len(snap.records["agents"])
    if store is not None:
        from ctui.core.threads import budget

        snap.spend = budget.summary(coord)["day"]
    snap.took = time.perf_counter() - started
    return snap


LAST_LINES = 50
"""Running threads whose log's last line is read for DOING (the rest show their events)."""
TAIL = 12
"""Log lines read per running thread: the last readable one, and the tool running now."""


def _agents(
    coord: Any, insts: list[Record], threads: list[Record], snap: Snapshot, now: float
) -> list[Record]:
    """The agents list (ended ones included: the app hides them unless asked)."""
    from ctui.core.flows.roster import agents
    from ctui.core.threads.agents import tool_now

    lines: dict[str, str] = {}
    tools: dict[str, tuple[str, str | None]] = {}
    running = [t["name"] for t in threads if t.get("status") == "running"][:LAST_LINES]
    logs = getattr(getattr(coord, "threads", None), "logs", None)
    if logs is not None and getattr(coord, "store", None) is not None:
        for name in running:
            with contextlib.suppress(Exception):
                tail = logs(name, TAIL)
                last = _readable(tail)
                if last:
                    lines[name] = last
                tool = tool_now(tail.splitlines())
                if tool is not None:
                    tools[name] = tool
    return agents(
        insts,
        threads,
        snap.records.get("leases", []),
        snap.records.get("activity", []),
        now=now,
        last_lines=lines,
        tools=tools,
        ended=True,
    )


def _readable(tail: str) -> str | None:
    """The last line of a log tail as a person reads it (stream-json made plain)."""
    from ctui.tui.logview import pretty

    for line in reversed(tail.splitlines()):
        if line.strip():
            shown = pretty(line)
            return shown[-1].plain if shown else None
    return None
