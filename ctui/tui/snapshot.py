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
SIGNATURES: dict[str, tuple[str, ...]] = {
    "leases": (  # which leases (held by whom, for what), then their times (a renewal)
        "SELECT count(*), total(token), total(acquired_at), total(length(intent)), count(sha1), "
        "total(length(holder)), total(length(path)) FROM leases",
        "SELECT total(expires_at), total(renewed_at) FROM leases",
    ),
    "threads": (
        "SELECT count(*), total(updated_at), total(cost_usd), total(tokens_in), "
        "total(tokens_out), total(turns), total(run_id), count(ended_at), group_concat(status), "
        "total(length(error)), count(stop_requested_at), total(agent_pid) FROM threads",
        "SELECT count(*), max(id), total(updated_at), group_concat(status) FROM merge_queue",
        "SELECT count(*), total(cost_usd), total(tokens), total(started_at), count(ended_at), "
        "count(exit_code), group_concat(status) FROM runs",
    ),
    "tasks": (
        "SELECT count(*), total(num), total(updated_at), group_concat(status), total(priority), "
        "total(claim_expires_at), total(attempts), count(claimed_by) FROM tasks",
        "SELECT count(*), total(rowid) FROM task_deps",
    ),
    "decisions": (
        "SELECT count(*), max(rowid), count(supersedes), total(status = 'accepted') FROM decisions",
    ),
}
"""A summary of the rows behind each pane, computed by SQLite (one scan each, no row
reaches Python): compared with the last read's to tell which panes a change without an
event touched, so a heartbeat that renewed leases re-reads the leases alone. A change a
summary cannot see (two edits that cancel out) shows at the next full read (the app's
reconciliation, `ctui.tui.live.RECONCILE_S`)."""
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
    raw: dict[str, list[Record]] = field(default_factory=dict)
    """Every lease and thread (not only the first `limit`): the agents list needs them all."""
    lines: dict[str, str] | None = None
    """Running threads' last log lines, kept when a partial read does not look at threads."""
    tools: dict[str, tuple[str, str | None]] | None = None
    """Running threads' tools from their logs, kept likewise."""
    sigs: dict[str, Any] = field(default_factory=dict)
    """The summary of each pane's rows when read (`SIGNATURES`; local SQLite reads only)."""


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


def load(
    coord: Any,
    *,
    limit: int = LIMIT,
    now: float | None = None,
    previous: Snapshot | None = None,
    only: frozenset[str] | None = None,
    instances: list[Record] | None = None,
    events: list[Record] | None = None,
    compare: bool = False,
) -> Snapshot:
    """Read every pane's records from `coord` in one read transaction when local.

    With `previous` and `only`, only the panes in `only` are read again and the
    others keep the previous snapshot's records (a change the event log says
    touched nothing else); `instances` and `events` may come read already (the
    app reads them through aiosqlite). `compare` (a local SQLite store) also
    reads again the panes whose row summaries (`SIGNATURES`) differ from
    `previous`'s, in the same transaction: what changed without an event saying
    so (a thread's running cost); leases that were only renewed (a heartbeat)
    get their new times patched in instead. The reader asks for it on full
    reads and on changes without a new event, so a change the events explain
    costs no comparison. The agents list is always folded anew.
    """
    started = time.perf_counter()
    now = coord.now() if now is None else now
    store = getattr(coord, "store", None)
    if store is not None and store.backend == "sqlite" and not store.db_path.exists():
        from ctui.core.errors import StoreError

        raise StoreError(f"the store {store.db_path} is gone: run `ctui init` to create it again")
    snap = Snapshot(at=now)
    if previous is None:
        only = None
    renewed: list[Record] | None = None
    reading = coord.read_snapshot() if store is not None else contextlib.nullcontext()
    with reading:
        if compare and store is not None and store.backend == "sqlite":
            with store.read() as conn:  # the transaction just begun
                snap.sigs = {
                    pane: tuple(conn.execute(sql).fetchall() for sql in queries)
                    for pane, queries in SIGNATURES.items()
                }
            if only is not None and previous is not None:
                changed = {p for p in SIGNATURES if previous.sigs.get(p) != snap.sigs[p]}
                was = previous.sigs.get("leases")
                same_leases = was is not None and was[0] == snap.sigs["leases"][0]
                if "leases" in changed and "leases" not in only and same_leases:
                    changed.discard("leases")  # only renewed: their times are patched in
                    renewed = _renewed(store, previous)
                only = only | changed
        elif only is not None and previous is not None:  # a pane read again has no rows to
            # compare with until a read compares (it then reads that pane once more)
            snap.sigs = {p: rows for p, rows in previous.sigs.items() if p not in only}
        fresh = (lambda pane: True) if only is None else (lambda pane: pane in only)
        if not fresh("threads") and previous is not None:
            snap.spend, snap.lines, snap.tools = previous.spend, previous.lines, previous.tools
        if instances is None:
            instances = [record(i) for i in coord.instances.list(include_ended=True)]
        insts = [
            i
            for i in instances
            if i.get("state") != "ended" or (ts(i.get("ended_at")) or 0) > now - 600
        ]
        snap.records["instances"], snap.totals["instances"] = _bounded(
            insts, limit, lambda i: (i["id"] != "operator", ORDER.get(i.get("state"), 9), i["id"])
        )
        for pane, read in (
            ("leases", lambda: _leases(coord, limit, snap)),
            ("threads", lambda: _threads(coord, limit, snap)),
            ("tasks", lambda: _tasks(coord, limit, snap)),
            ("decisions", lambda: _decisions(coord, limit, snap)),
        ):
            if fresh(pane) or previous is None:
                read()
            elif pane == "leases" and renewed is not None:
                snap.raw[pane] = renewed
                snap.records[pane], snap.totals[pane] = renewed[:limit], len(renewed)
            else:
                snap.records[pane] = previous.records.get(pane, [])
                snap.totals[pane] = previous.totals.get(pane, 0)
                snap.raw[pane] = previous.raw.get(pane, [])
        if events is None:
            found = [record(e) for e in coord.events.recent(limit)]
            found.reverse()
            events = found
        snap.records["activity"] = events
        snap.totals["activity"] = int(events[0]["id"]) if events else 0
        if only is not None:  # leases whose holder has gone since: hidden without a read
            snap.records["leases"] = _held(snap.raw.get("leases", []), insts, now, limit)
        snap.records["agents"] = _agents(coord, insts, snap.raw.get("threads", []), snap, now)
        snap.totals["agents"] = len(snap.records["agents"])
    if store is not None and snap.spend is None:
        from ctui.core.threads import budget

        snap.spend = budget.summary(coord)["day"]
    snap.took = time.perf_counter() - started
    return snap


def _leases(coord: Any, limit: int, snap: Snapshot) -> None:
    every = [record(x) for x in coord.leases.list()]
    every.sort(key=lambda x: x["path"])
    snap.raw["leases"] = every
    snap.records["leases"], snap.totals["leases"] = every[:limit], len(every)


def _renewed(store: Any, previous: Snapshot) -> list[Record]:
    """The previous read's leases with the times they have now (the same leases, renewed:
    one narrow query instead of every lease through the core)."""
    with store.read() as conn:
        times = {
            path: (expires, renewed)
            for path, expires, renewed in conn.execute(
                "SELECT path, expires_at, renewed_at FROM leases"
            )
        }
    patched = []
    for lease in previous.raw.get("leases", []):
        now = times.get(lease["path"])
        if now is not None and (lease.get("expires_at"), lease.get("renewed_at")) != now:
            lease = {**lease, "expires_at": now[0], "renewed_at": now[1]}
        patched.append(lease)
    return patched


def _held(every: list[Record], insts: list[Record], now: float, limit: int) -> list[Record]:
    """The leases still shown: their holder neither ended nor stale (as `Leases.list` says)."""
    gone = {i["id"] for i in insts if i.get("state") in ("ended", "stale")}
    return [
        x for x in every if x.get("holder") not in gone and (ts(x.get("expires_at")) or 0) > now
    ][:limit]


def _threads(coord: Any, limit: int, snap: Snapshot) -> None:
    threads = [record(t) for t in _call(getattr(coord, "threads", None), "list")]
    _with_merges(coord, threads)
    snap.raw["threads"] = threads
    snap.records["threads"], snap.totals["threads"] = _bounded(
        threads,
        limit,
        lambda t: (ORDER.get(t.get("status"), 5), -(ts(t.get("created_at")) or 0)),
    )


def _tasks(coord: Any, limit: int, snap: Snapshot) -> None:
    tasks = [record(t) for t in _call(getattr(coord, "tasks", None), "list")]
    snap.records["tasks"], snap.totals["tasks"] = _bounded(
        tasks,
        limit,
        lambda t: (ORDER.get(t.get("status"), 5), t.get("priority") or 5, str(t.get("id"))),
    )


def _decisions(coord: Any, limit: int, snap: Snapshot) -> None:
    snap.records["decisions"] = [record(d) for d in coord.decisions.list(limit=limit)]
    snap.totals["decisions"] = (
        int(coord.decisions.count()) if hasattr(coord.decisions, "count") else 0
    )


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

    lines: dict[str, str] = {} if snap.lines is None else snap.lines
    tools: dict[str, tuple[str, str | None]] = {} if snap.tools is None else snap.tools
    running = [t["name"] for t in threads if t.get("status") == "running"][:LAST_LINES]
    logs = getattr(getattr(coord, "threads", None), "logs", None)
    if snap.lines is None and logs is not None and getattr(coord, "store", None) is not None:
        for name in running:
            with contextlib.suppress(Exception):
                tail = logs(name, TAIL)
                last = _readable(tail)
                if last:
                    lines[name] = last
                tool = tool_now(tail.splitlines())
                if tool is not None:
                    tools[name] = tool
    snap.lines, snap.tools = lines, tools
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
