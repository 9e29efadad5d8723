"""`/metrics` in the Prometheus text format: store gauges read at scrape time, request latency.

The latency histogram is kept in memory by the guard middleware; the gauges
come from the core's list calls, so a second store backend needs no change here.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

NAME = "ctui_http_request_duration_seconds"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Latency:
    """A request-latency histogram per (method, route) with Prometheus' cumulative buckets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, seconds: float) -> None:
        with self._lock:
            series = self._series.setdefault((method, route), [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    series[i] += 1
            series[-2] += 1
            series[-1] += seconds

    def lines(self) -> list[str]:
        out = [
            "# HELP ctui_http_request_duration_seconds Time to answer an API request.",
            "# TYPE ctui_http_request_duration_seconds histogram",
        ]
        with self._lock:
            items = sorted(self._series.items())
        for (method, route), series in items:
            labels = f'method="{method}",route="{_escape(route)}"'
            for bound, count in zip(BUCKETS, series, strict=False):
                out.append(f'{NAME}_bucket{{{labels},le="{bound}"}} {int(count)}')
            out.append(
                f'ctui_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {int(series[-2])}'
            )
            out.append(f"ctui_http_request_duration_seconds_count{{{labels}}} {int(series[-2])}")
            out.append(f"ctui_http_request_duration_seconds_sum{{{labels}}} {series[-1]:.6f}")
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
    with coord.store.read():
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
    lines += latency.lines()
    return "\n".join(lines) + "\n"
