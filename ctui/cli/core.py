"""`ctui init`, `status`, `events` and `cleanup` (all but init also over a connected API)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, deque
from pathlib import Path

from ctui.cli.common import Ctx, leaf, positive, table
from ctui.core.clock import ago, iso

MAX_EVENTS = 10_000
FEED_TRUST_S = 60.0
"""A local follower waits on the store's change feed, which misses nothing (data_version on
SQLite, LISTEN on PostgreSQL); it reads anyway after this long, belt and braces."""
TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(sub, "init", init, "create .ctui/ for this repository (idempotent)")
    p.add_argument(
        "--here",
        action="store_true",
        help="make the store in this folder (needed outside a git repository)",
    )
    p = leaf(
        sub,
        "status",
        status,
        "instances, leases, threads, tasks and decisions at a glance "
        "(the server's store while `ctui remote connect`ed; --local for this repository's)",
    )
    p.add_argument(
        "--verbose", "-v", action="store_true", help="also list every lease and recent events"
    )
    p = leaf(sub, "events", events, "the event log (every change to the store)")
    p.add_argument(
        "--since",
        type=_cursor,
        default=None,
        metavar="N",
        help="events after id N (default: the last 20)",
    )
    p.add_argument(
        "--limit", type=_limit, default=20, metavar="N", help="how many, 1 to 10000 (default 20)"
    )
    p.add_argument(
        "--kind",
        dest="kinds",
        action="extend",
        nargs="+",
        metavar="K",
        help="only events of these kinds (repeatable; `*` matches any text, nothing else is "
        "special, case counts: --kind 'lease.*')",
    )
    p.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing new events until Ctrl-C (with --json: one JSON object per line)",
    )
    p.add_argument("--for", dest="follow_for", type=positive(), metavar="S", help=argparse.SUPPRESS)
    leaf(
        sub,
        "cleanup",
        cleanup,
        "reap stale instances, expired leases and orphaned threads "
        "(the server's store while `ctui remote connect`ed; --local for this repository's)",
    )


def _cursor(text: str) -> int:
    """An event id to list after: 0 or more (the API takes no other)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def init(ctx: Ctx) -> int:
    if getattr(ctx.args, "here", False):
        from ctui.core.errors import UsageError
        from ctui.core.paths import find_git

        if ctx.dir:
            raise UsageError("--here and --dir both name the store's folder: give one")
        here = Path.cwd().resolve()
        layout = find_git(here)
        if layout is not None and layout.main_root != here:
            raise UsageError(
                f"{here} is inside the git repository {layout.main_root}, whose store is "
                f"{layout.main_root / '.ctui'}: run `ctui init` without --here"
            )
        ctx.dir = str(here / ".ctui")
    c = ctx.coord
    ctx.emit(
        {"store": str(c.store.path), "root": str(c.root)}, f"ctui store ready at {c.store.path}"
    )
    return 0


def snapshot(c: Any) -> dict[str, Any]:
    """Everything `status` shows, as plain data (kept here for callers; the core owns it)."""
    return dict(c.snapshot())


def status(ctx: Ctx) -> int:
    c = ctx.coord
    data = snapshot(c)
    if ctx.json:
        ctx.emit(data)
        return 0
    verbose = bool(getattr(ctx.args, "verbose", False))
    now = c.now()
    out = [_where(ctx, c, data)]
    if data.get("budget"):
        from ctui.core.threads.budget import headline

        out.append(f"spend  {headline(data['budget'])}")
    out.append("")
    out.append(f"INSTANCES ({len(data['instances'])} live)")
    leases = data.get("leases", data.get("locks", []))  # an older server says only "locks"
    held = Counter(lease["holder"] for lease in leases)
    out.append(
        table(
            ["ID", "STATE", "BEAT", "ROLE", "BRANCH", "TASK", "LEASES"],
            [
                [
                    i["id"],
                    i["state"],
                    "-" if i["id"] == "operator" else ago(i["heartbeat_age"]),
                    i["role"] or "-",
                    i.get("branch") or "-",
                    _short(i["task"]),
                    held.get(i["id"], 0),
                ]
                for i in data["instances"]
            ],
        )
    )
    out.append("")
    out.append(f"LEASES ({len(leases)} held)")
    shown = leases if verbose else leases[:15]
    out.append(
        table(
            ["PATH", "HOLDER", "EXPIRES", "TOKEN", "INTENT"],
            [
                [
                    lease["path"],
                    lease["holder"],
                    ago(lease["expires_in"]),
                    lease["token"],
                    _short(lease["intent"]),
                ]
                for lease in shown
            ],
        )
    )
    if len(shown) < len(leases):
        out.append(f"... and {len(data['locks']) - len(shown)} more (ctui lock list)")
    for part in ("threads", "tasks"):
        if data[part]:
            out += ["", f"{part.upper()} ({len(data[part])})"]
            keys = (
                ["name", "status", "mode", "agent"]
                if part == "threads"
                else ["id", "status", "priority", "description"]
            )
            out.append(
                table(
                    [k.upper() for k in keys],
                    [[_short(str(t.get(k))) for k in keys] for t in data[part]],
                )
            )
    out += ["", f"DECISIONS ({data['counts']['decisions']} logged, newest first)"]
    out.append(
        table(
            ["ID", "CATEGORY", "TITLE"],
            [
                [d["id"], d["category"], _short(d["title"], 60)]
                for d in data["decisions"][: 10 if verbose else 5]
            ],
        )
    )
    if verbose:
        out += ["", "RECENT EVENTS"]
        out.append(_events_table(c.events.recent(15), now))
    ctx.emit(data, "\n".join(out))
    return 0


def _where(ctx: Ctx, c: Any, data: dict[str, Any]) -> str:
    """Which store this is: a connected CLI may be looking at another machine's."""
    if getattr(c, "remote", False) is True:
        return f"server {c.url}  (its store {data['store']}; --local for this repository's)"
    forced = " (this repository's, --local)" if getattr(ctx.args, "side", None) == "local" else ""
    return f"store  {data['store']}{forced}"


def _short(text: str | None, width: int = 40) -> str:
    if not text:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _events_table(evs: list[Any], now: float) -> str:
    return table(
        ["ID", "AT", "KIND", "SUBJECT", "ACTOR", "DATA"],
        [
            [e.id, iso(e.at), e.kind, e.subject or "-", e.actor or "-", _short(_data(e.data), 50)]
            for e in evs
        ],
        empty="(no events)",
    )


def _data(data: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in data.items() if v not in (None, "", [], {}))


def events(ctx: Ctx) -> int:
    from ctui.core.events import follow

    c = ctx.coord
    args = ctx.args
    kinds = args.kinds or None
    floor = 0  # with no --since, a follow goes on from here when nothing matched yet
    if args.since is None:
        floor = c.events.latest_id() if args.follow else 0
        batch = _tail(c.events, args.limit, kinds)
    else:
        limit = args.limit if not args.follow else 10_000
        batch = c.events.since(args.since, limit=limit, kinds=kinds)
    if not args.follow:
        ctx.emit([e.to_dict() for e in batch], lambda: banner(c, _events_table(batch, c.now())))
        return 0
    cursor = batch[-1].id if batch else (floor if args.since is None else args.since)
    if not ctx.json and server_line(c):
        print(server_line(c))
    for e in batch:
        _print_event(ctx, e)
    until = time.monotonic() + args.follow_for if args.follow_for else None

    def since(after: int) -> list[Any]:
        return list(c.events.since(after, kinds=kinds))

    if server_line(c):  # the server's event stream: each event as it is logged
        for e in c.events.follow(cursor, until=until, kinds=kinds):
            _print_event(ctx, e)
        return 0
    feed = c.store.change_feed()  # woken by the store itself: file changes or LISTEN
    try:
        for e in follow(since, cursor, poll=FEED_TRUST_S, until=until, wait=feed.wait):
            _print_event(ctx, e)
    finally:
        feed.close()
    return 0


def _limit(text: str) -> int:
    """`--limit`: the API answers at most 10,000 events at once, so both sides stop there."""
    value = positive(int)(text)
    if value > MAX_EVENTS:
        raise argparse.ArgumentTypeError(f"{value} is over {MAX_EVENTS}: page with --since")
    return int(value)


def _tail(events: Any, limit: int, kinds: list[str] | None) -> list[Any]:
    """The newest `limit` events of `kinds`, oldest first, through `since` and `latest_id` only.

    Both sides answer those two (the API has no filtered tail), so the search looks back
    from the newest id over a window that grows eightfold until it holds enough.
    """
    if not kinds:
        return list(events.recent(limit))
    top = events.latest_id()
    window = max(limit * 4, 200)
    while True:
        low = max(top - window, 0)
        found: deque[Any] = deque(maxlen=limit)
        cursor = low
        while True:
            page = [e for e in events.since(cursor, limit=1000, kinds=kinds) if e.id <= top]
            found.extend(page)
            if len(page) < 1000:
                break
            cursor = page[-1].id
        if len(found) >= limit or low == 0:
            return list(found)
        window *= 8


def server_line(c: Any) -> str | None:
    """The first line of a connected command's human output: which server answered."""
    if getattr(c, "remote", False) is not True:
        return None
    return f"server {c.url}  (--local for this repository's store)"


def banner(c: Any, text: str) -> str:
    """`text` under the server's line when the command went through the API."""
    head = server_line(c)
    return f"{head}\n{text}" if head else text


def _print_event(ctx: Ctx, e: Any) -> None:
    import json

    if ctx.json:
        print(json.dumps(e.to_dict()))
    else:
        print(
            f"{e.id:>6}  {iso(e.at)}  {e.kind:<20} {e.subject or '-':<24} {e.actor or '-':<14} "
            f"{_data(e.data)}"
        )
    sys.stdout.flush()


def cleanup(ctx: Ctx) -> int:
    result = ctx.coord.cleanup()
    reaped = result.get("instances_reaped", [])
    text = (
        f"reaped {len(reaped)} stale instance(s){': ' + ', '.join(reaped) if reaped else ''}; "
        f"expired {result.get('leases_expired', 0)} lease(s)"
    )
    for key, value in result.items():
        if key not in ("instances_reaped", "leases_expired"):
            if isinstance(value, list | tuple):
                value = ", ".join(map(str, value)) or "none"
            text += f"; {key.replace('_', ' ')}: {value}"
    ctx.emit(result, banner(ctx.coord, text))
    return 0
