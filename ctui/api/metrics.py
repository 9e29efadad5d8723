"""`/metrics` in the Prometheus text format: store gauges read at scrape time, request latency.

The latency histogram is kept by the guard middleware in a fixed table of
series; with several server processes (`--workers`) the table lives in shared
memory made by the supervisor, so any worker's scrape reports every worker's
requests and counters never go backwards between scrapes. The gauges come from
the core's list calls, so a second store backend needs no change here.
"""

from __future__ import annotations

import array
import multiprocessing
import threading
from collections import Counter
from typing import Any

NAME = "ctui_http_request_duration_seconds"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WIDTH = len(BUCKETS) + 2  # the buckets, then the count and the sum
SLOTS = 256  # (method, route) series; routes are templates, so a few dozen are used
KEY_BYTES = 128
LOCK_WAIT_S = 0.1
OVERFLOW = ("OTHER", "overflow")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method word (a client may send anything, even without a token, to
`/api/health`) is counted as OTHER, so clients cannot grow the series."""


class LatencyTable:
    """The histogram's storage: series keys and values, and the lock that guards both.

    `LatencyTable()` is private to one process; `LatencyTable.shared()` is made
    by a supervising process and reaches its workers pickled in their config.
    """

    def __init__(self, lock: Any = None, keys: Any = None, values: Any = None, used: Any = None):
        self.lock = lock or threading.Lock()
        self.keys = keys if keys is not None else bytearray(SLOTS * KEY_BYTES)
        self.values = values if values is not None else array.array("d", bytes(8 * SLOTS * WIDTH))
        self.used = used if used is not None else array.array("i", [0])

    @classmethod
    def shared(cls) -> LatencyTable:
        ctx = multiprocessing.get_context("spawn")
        return cls(
            ctx.Lock(),
            ctx.RawArray("c", SLOTS * KEY_BYTES),
            ctx.RawArray("d", SLOTS * WIDTH),
            ctx.RawArray("i", 1),
        )

    def key(self, slot: int) -> tuple[str, str]:
        return _decoded(bytes(self.keys[slot * KEY_BYTES : (slot + 1) * KEY_BYTES]))

    def slot(self, key: tuple[str, str]) -> int:
        """The series of `key`, added if new; call with the lock held."""
        key = _decoded(_encoded(key))  # as stored: a very long key is cut to KEY_BYTES
        for slot in range(self.used[0]):
            if self.key(slot) == key:
                return slot
        if self.used[0] >= SLOTS - 1:
            key = OVERFLOW
            if self.key(SLOTS - 1) != key:
                self._name(SLOTS - 1, key)
            return SLOTS - 1
        slot = self.used[0]
        self._name(slot, key)
        self.used[0] = slot + 1
        return slot

    def _name(self, slot: int, key: tuple[str, str]) -> None:
        self.keys[slot * KEY_BYTES : (slot + 1) * KEY_BYTES] = _encoded(key)


def _encoded(key: tuple[str, str]) -> bytes:
    return f"{key[0]}\0{key[1]}".encode()[:KEY_BYTES].ljust(KEY_BYTES, b"\0")


def _decoded(raw: bytes) -> tuple[str, str]:
    method, _, route = raw.rstrip(b"\0").decode("utf-8", "replace").partition("\0")
    return method, route


class Latency:
    """A request-latency histogram per (method, route) with Prometheus' cumulative buckets."""

    def __init__(self, table: LatencyTable | None = None) -> None:
        self.table = table or LatencyTable()
        self._slots: dict[tuple[str, str], int] = {}  # this process's memo of table.slot()

    def observe(self, method: str, route: str, seconds: float) -> None:
        key = (method if method in METHODS else "OTHER", route)
        table = self.table
        if not table.lock.acquire(True, LOCK_WAIT_S):
            return  # a worker died holding the shared lock: drop the sample, never hang
        try:
            slot = self._slots.get(key)
            if slot is None:
                slot = table.slot(key)
                if slot != SLOTS - 1:
                    self._slots[key] = slot
            base = slot * WIDTH
            values = table.values
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    values[base + i] += 1
            values[base + WIDTH - 2] += 1
            values[base + WIDTH - 1] += seconds
        finally:
            table.lock.release()

    def series(self) -> list[tuple[tuple[str, str], list[float]]]:
        table = self.table
        locked = table.lock.acquire(True, 1.0)  # else read as is: a torn count beats a hang
        try:
            slots = [*range(table.used[0]), SLOTS - 1]
            found = [(table.key(s), list(table.values[s * WIDTH : (s + 1) * WIDTH])) for s in slots]
        finally:
            if locked:
                table.lock.release()
        return sorted((key, values) for key, values in found if values[WIDTH - 2])

    def lines(self) -> list[str]:
        out = [
            "# HELP ctui_http_request_duration_seconds Time to answer an API request.",
            "# TYPE ctui_http_request_duration_seconds histogram",
        ]
        for (method, route), series in self.series():
            labels = f'method="{_escape(method)}",route="{_escape(route)}"'
            for bound, count in zip(BUCKETS, series, strict=False):
                out.append(f'{NAME}_bucket{{{labels},le="{bound}"}} {int(count)}')
            out.append(f'{NAME}_bucket{{{labels},le="+Inf"}} {int(series[-2])}')
            out.append(f"{NAME}_count{{{labels}}} {int(series[-2])}")
            out.append(f"{NAME}_sum{{{labels}}} {series[-1]:.6f}")
        return out


class DenialCounter:
    """Counts `hook.denied` events incrementally, so a scrape reads only the new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cursor = 0
        self.total = 0

    def update(self, coord: Any) -> int:
        with self._lock:
            while True:
                batch = coord.events.since(self.cursor, limit=5000, kinds=["hook.denied"])
                self.total += len(batch)
                if batch:
                    self.cursor = batch[-1].id
                if len(batch) < 5000:
                    break
            return self.total


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _gauge(name: str, help: str, label: str, counts: Counter[str]) -> list[str]:
    out = [f"# HELP {name} {help}", f"# TYPE {name} gauge"]
    out += [f'{name}{{{label}="{_escape(key)}"}} {value}' for key, value in sorted(counts.items())]
    return out


def _statuses(coord: Any, part: str) -> Counter[str]:
    lister = getattr(getattr(coord, part), "list", None)
    if lister is None:
        return Counter()
    return Counter(str(getattr(item, "status", "unknown")) for item in lister())


def render(coord: Any, latency: Latency, denials: DenialCounter) -> str:
    """The whole exposition document."""
    now = coord.now()
    with coord.read_snapshot():
        states = Counter(i.state for i in coord.instances.list(include_ended=True))
        leases = coord.leases.list()
        tasks = _statuses(coord, "tasks")
        threads = _statuses(coord, "threads")
    held = sum(1 for lease in leases if not lease.expired(now))
    lines = _gauge("ctui_instances", "Instances by state.", "state", states)
    lines += [
        "# HELP ctui_leases_held Unexpired file leases.",
        "# TYPE ctui_leases_held gauge",
        f"ctui_leases_held {held}",
    ]
    lines += _gauge("ctui_tasks", "Tasks by status.", "status", tasks)
    lines += _gauge("ctui_threads", "Threads by status.", "status", threads)
    lines += [
        "# HELP ctui_hook_denials_total Edits the hook refused (hook.denied events seen).",
        "# TYPE ctui_hook_denials_total counter",
        f"ctui_hook_denials_total {denials.update(coord)}",
    ]
    lines += _budget_lines(coord)
    lines += latency.lines()
    return "\n".join(lines) + "\n"


def _budget_lines(coord: Any) -> list[str]:
    """Today's spend (UTC) and the configured caps, so an alert can fire before a cap stops work."""
    from ctui.core.threads import budget

    doc = budget.summary(coord)
    day = doc["day"]
    out = [
        "# HELP ctui_spend_usd Cost of the runs started today (UTC), live runs priced as they go.",
        "# TYPE ctui_spend_usd gauge",
        f'ctui_spend_usd{{scope="day"}} {day["usd"]}',
        "# HELP ctui_spend_tokens Tokens (input + output) of the runs started today (UTC).",
        "# TYPE ctui_spend_tokens gauge",
        f'ctui_spend_tokens{{scope="day"}} {day["tokens"]}',
        "# HELP ctui_budget_cap A budget cap from [budget] in config.toml (absent: no cap).",
        "# TYPE ctui_budget_cap gauge",
    ]
    for key, cap in sorted(doc["caps"].items()):
        scope, _, unit = key.partition("_")
        out.append(f'ctui_budget_cap{{scope="{scope}",unit="{unit}"}} {cap}')
    return out
