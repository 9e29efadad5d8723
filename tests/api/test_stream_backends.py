"""The API's event stream wakes on another process's event, on both store backends.

On PostgreSQL the stream reads only when the store's feed says so (LISTEN: it never
reads just in case), so an event that reaches the client came through a notification.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import CTUI

from .conftest import Server, clean_env, make_repo

pytestmark = pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL

WAIT_S = 30.0


def publish_elsewhere(repo: Path, text: str) -> None:
    out = subprocess.run(
        [CTUI, "discover", "add", text],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert out.returncode == 0, out.stderr


def test_the_stream_delivers_events_written_by_another_process(
    backend: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    server = Server(repo)
    found: queue.Queue[dict[str, object]] = queue.Queue()
    connected = threading.Event()
    done = threading.Event()

    def listen() -> None:
        with server.client() as http, http.stream("GET", "/api/events/stream") as answer:
            for line in answer.iter_lines():
                if done.is_set():
                    return
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])
                    if str(event["kind"]).startswith("discover"):
                        found.put(event)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert connected.wait(WAIT_S), server.output()
        publish_elsewhere(repo, "first")
        first = found.get(timeout=WAIT_S)  # the stream has read and waits on the feed now
        publish_elsewhere(repo, "second")
        second = found.get(timeout=WAIT_S)
        assert int(str(second["id"])) > int(str(first["id"]))
        assert second["data"] != first["data"]
    finally:
        done.set()
        server.stop()
        listener.join(10)
