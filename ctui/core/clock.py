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

    Status output formats thousands of these; the date part is cached per day,
    which makes it several times faster than `strftime` on every call.
    """
    if ts is None:
        return None
    day, second = divmod(int(ts // 1), 86400)
    hour, rest = divmod(second, 3600)
    return f"{_day(day)}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


@lru_cache(maxsize=256)
def _day(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


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
