"""Time as the core sees it: UTC epoch seconds, replaceable in tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

Clock = Callable[[], float]

system_clock: Clock = time.time


def iso(ts: float | None) -> str | None:
    """Render epoch seconds as an ISO-8601 UTC string (seconds precision).

    `status` formats thousands of these; everything but the seconds is cached
    per minute, which makes it several times faster than `strftime` each time.
    """
    if ts is None:
        return None
    minute, second = divmod(int(ts // 1), 60)
    return f"{_minute(minute)}{second:02d}Z"


@lru_cache(maxsize=4096)
def _minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")


def ago(seconds: float) -> str:
    """A short human duration: `4s`, `3m12s`, `2h05m`, `3d`."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"
