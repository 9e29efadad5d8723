"""Several server processes on one port: one histogram, one loop, one answer about both.

`ctui serve` starts one worker process per CPU (at most four) by default. Any
worker may answer a scrape, so the latency histogram must count every worker's
requests, and `/api/orchestrator` must show the supervisor's real loop.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from ctui.api.serving import LoopBoard, default_workers
from tests.api.conftest import TOKEN, Server, make_repo

pytestmark = pytest.mark.slow

REQUESTS = 40
SCRAPES = 8


def fresh_get(server: Server, path: str) -> httpx.Response:
    """One request on its own connection, so the kernel may hand it to either worker."""
    with server.client() as http:
        return http.get(path)


def status_count(metrics: str) -> int:
    found = re.search(
        r'^ctui_http_request_duration_seconds_count\{method="GET",route="/api/status"\} (\d+)$',
        metrics,
        re.M,
    )
    return int(found.group(1)) if found else 0


def test_default_is_one_worker_per_cpu(tmp_path: Path) -> None:
    server = Server(make_repo(tmp_path / "repo"))
    try:
        assert fresh_get(server, "/api/health").status_code == 200
        api = json.loads((server.repo / ".ctui" / "api.json").read_text())
        assert api["workers"] == default_workers()
        assert 1 <= api["workers"] <= 4
    finally:
        assert server.stop() == 0


def test_every_scrape_counts_every_workers_requests(tmp_path: Path) -> None:
    server = Server(make_repo(tmp_path / "repo"), "--workers", "2")
    try:
        for _ in range(REQUESTS):
            assert fresh_get(server, "/api/status").status_code == 200
        counts = [status_count(fresh_get(server, "/metrics").text) for _ in range(SCRAPES)]
        assert counts == [REQUESTS] * SCRAPES
        buckets = re.findall(
            r'^ctui_http_request_duration_seconds_bucket\{method="GET",route="/metrics",'
            r'le="\+Inf"\} (\d+)$',
            fresh_get(server, "/metrics").text,
            re.M,
        )
        assert buckets == [str(SCRAPES)], "the scrape itself is counted once it has answered"
    finally:
        assert server.stop() == 0


def test_workers_show_the_supervisors_loop(tmp_path: Path) -> None:
    server = Server(make_repo(tmp_path / "repo"), "--workers", "2", "--max-concurrent", "3")
    try:
        deadline = time.monotonic() + 30
        loop: dict = {}
        while time.monotonic() < deadline:
            loop = fresh_get(server, "/api/orchestrator").json()
            if loop.get("ticks", 0) >= 2:
                break
            time.sleep(0.2)
        assert loop["process"] == "supervisor" and loop["pid"] == server.proc.pid
        assert loop["ticks"] >= 2 and loop["max_concurrent"] == 3
        assert loop["last_error"] is None and "threads_started" in loop["last"]
        seen = [fresh_get(server, "/api/orchestrator").json()["ticks"] for _ in range(6)]
        assert seen == sorted(seen), "ticks never go backwards, whichever worker answers"
    finally:
        assert server.stop() == 0
    assert TOKEN not in server.output()


def test_an_open_event_stream_ends_cleanly_when_workers_stop(tmp_path: Path) -> None:
    """Each worker's stream sees the stop signal, so shutdown neither waits it out nor
    cancels it with a traceback."""
    server = Server(make_repo(tmp_path / "repo"), "--workers", "2")
    ended = threading.Event()
    opened = threading.Event()

    def listen() -> None:
        with server.client() as http, http.stream("GET", "/api/events/stream") as stream:
            for line in stream.iter_lines():
                if line.startswith(": connected"):
                    opened.set()
        ended.set()

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    try:
        assert opened.wait(30), "the stream never opened"
    finally:
        assert server.stop() == 0
    reader.join(30)
    assert ended.is_set(), "the stream did not end when the server stopped"
    log = server.output()
    assert "Exception in ASGI application" not in log and "CancelledError" not in log, log


def test_the_loop_board_keeps_a_whole_document_when_an_error_is_huge() -> None:
    board = LoopBoard.shared()
    board.write({"ticks": 7, "last_error": "x" * 50_000, "last": {"started": ["a"] * 5000}})
    seen = board.read()
    assert seen["ticks"] == 7 and seen["last"] == "(too long to show)"
    assert seen["last_error"].startswith("xxx") and len(seen["last_error"]) < 5000


def test_odd_methods_cannot_grow_or_crowd_the_metrics(tmp_path: Path) -> None:
    """Any method word reaches `/api/health` without a token; they all count as OTHER."""
    server = Server(make_repo(tmp_path / "repo"), "--workers", "2")
    try:
        with server.client(token=None) as anonymous:
            for n in range(300):
                anonymous.request(f"M{n}X", "/api/health")
        assert fresh_get(server, "/api/status").status_code == 200
        metrics = fresh_get(server, "/metrics").text
        assert status_count(metrics) == 1, "a real route still gets its own series"
        methods = set(re.findall(r'_count\{method="([^"]*)"', metrics))
        assert methods <= {"GET", "OTHER"} and "OTHER" in methods
        assert "overflow" not in metrics
        other = re.search(r'_count\{method="OTHER",route="/api/health"\} (\d+)$', metrics, re.M)
        assert other is not None and int(other.group(1)) == 300
    finally:
        assert server.stop() == 0
