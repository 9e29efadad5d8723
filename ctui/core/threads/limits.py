"""Usage and rate limits: reading them in an agent's output, and holding starts until the reset.

Claude Code says the account hit its limit in several ways, all read here:

* a result (or assistant) line whose text says so, e.g. `Claude AI usage limit
  reached|1767225600` (the reset as epoch seconds), `5-hour limit reached ∙
  resets 3pm`, `You've hit your limit · resets 2:30am (Europe/Berlin)`;
* a result with `api_error_status: 429` (a rate limit, no reset time);
* a `rate_limit_event` line whose `rate_limit_info.status` is `rejected`,
  with `resetsAt` in epoch seconds.

A run that ends on a limit leaves its thread `paused` with `resume_at` (the
reset, or `[threads] limit_wait` seconds when none was given) instead
of `failed`. While a thread of an agent kind is paused, the orchestrators
start no new thread of that kind (`held`); at `resume_at` they resume it.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ctui.core.context import Context

LIMIT_TEXT = re.compile(
    r"usage limit|rate limit|limit reached|hit your limit|out of (extra )?usage|rate_limit_error",
    re.IGNORECASE,
)
EPOCH = re.compile(r"\|(\d{10})\b")
RESETS_AT = re.compile(
    r"resets?(?: at)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
    r"(?:\s*\(([A-Za-z_]+/[A-Za-z_/+-]+|UTC)\))?",
    re.IGNORECASE,
)
HINTS = ("limit", "429", "rate")


class Watch:
    """Fed every output line of a run; remembers the last limit the agent reported."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.hit: str | None = None
        self.reset_at: float | None = None

    def feed(self, line: str) -> None:
        if not any(h in line for h in HINTS):
            return
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if isinstance(msg, dict):
            self.read(msg)

    def read(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "rate_limit_event":
            info = msg.get("rate_limit_info") or {}
            if info.get("status") == "rejected":
                self.hit = f"usage limit ({info.get('rateLimitType') or 'unknown window'})"
                self.reset_at = _number(info.get("resetsAt")) or self.reset_at
            return
        text = ""
        if kind == "result":
            result = msg.get("result")
            text = result if isinstance(result, str) else ""
            if not msg.get("is_error"):
                return
            if msg.get("api_error_status") == 429 and not LIMIT_TEXT.search(text or ""):
                self.hit = f"rate limited (HTTP 429){': ' + text[:200] if text else ''}"
                return
        elif kind == "assistant":
            if msg.get("error") not in ("rate_limit", "usage_limit"):
                return
            content = (msg.get("message") or {}).get("content") or []
            text = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
            text = text or str(msg.get("error"))
        if text and LIMIT_TEXT.search(text):
            self.hit = text.strip().split("|")[0][:300]
            self.reset_at = reset_time(text, self.clock()) or self.reset_at


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def reset_time(text: str, now: float) -> float | None:
    """The reset time a limit message names, as epoch seconds (None when it names none)."""
    m = EPOCH.search(text)
    if m:
        return float(m.group(1))
    m = RESETS_AT.search(text)
    if not m:
        return None
    hour, minute, half, zone = int(m.group(1)), int(m.group(2) or 0), m.group(3), m.group(4)
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    from datetime import UTC, datetime, timedelta, tzinfo

    tz: tzinfo | None = UTC if zone == "UTC" else None
    if zone and zone != "UTC":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            tz = None
    here = datetime.fromtimestamp(now, tz).astimezone(tz) if tz else datetime.fromtimestamp(now)
    at = here.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= here:
        at += timedelta(days=1)
    return at.timestamp()


def held(c: Context) -> dict[str, float]:
    """Agent kinds whose new starts wait: {agent: the latest `resume_at` of its paused threads}."""
    now = c.now()
    rows = c.store.conn.execute(
        "SELECT agent, MAX(resume_at) AS until FROM threads "
        "WHERE status = 'paused' AND resume_at > ? GROUP BY agent",
        (now,),
    ).fetchall()
    return {str(r["agent"]): float(r["until"]) for r in rows}


def give_up(c: Context, name: str, why: str) -> None:
    """Fail a paused thread that cannot be resumed (no session, worktree gone), once."""
    with c.store.write() as conn:
        cur = conn.execute(
            "UPDATE threads SET status = 'failed', error = ?, resume_at = NULL, updated_at = ? "
            "WHERE name = ? AND status = 'paused'",
            (why, c.now(), name),
        )
        if cur.rowcount:
            c.log(conn, "thread.failed", subject=name, data={"error": why})


def due(c: Context) -> list[str]:
    """Paused threads whose reset time has come, oldest reset first."""
    rows = c.store.conn.execute(
        "SELECT name FROM threads WHERE status = 'paused' AND resume_at IS NOT NULL "
        "AND resume_at <= ? ORDER BY resume_at, name",
        (c.now(),),
    ).fetchall()
    return [str(r["name"]) for r in rows]
