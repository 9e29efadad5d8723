"""Notifications: once per change, webhooks to a real HTTP receiver on 127.0.0.1 (Slack-
and ntfy-readable JSON), retried with backoff while the receiver is down, never blocking;
the `ctui notify` watcher as a real process."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.core.flows import notify
from tests.conftest import CTUI


class Receiver:
    """A real HTTP server on 127.0.0.1 that records every JSON body posted to it."""

    def __init__(self, port: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(size)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def agent(key: str, state: str, **kw: Any) -> dict[str, Any]:
    return {"key": key, "name": key, "state": state, **kw}


def test_changes_are_told_once_and_the_first_read_is_not_news() -> None:
    ch = notify.Changes()
    assert ch.seen([agent("a", "waiting"), agent("b", "working")]) == []
    assert ch.seen([agent("a", "waiting"), agent("b", "working")]) == []
    told = ch.seen([agent("a", "working"), agent("b", "failed", reason="exit 3")])
    assert [(c["agent"], c["state"], c["text"]) for c in told] == [
        ("b", "failed", "b failed: exit 3")
    ]
    assert ch.seen([agent("a", "working"), agent("b", "failed", reason="exit 3")]) == []
    told = ch.seen([agent("a", "waiting", question="May I?"), agent("b", "done")])
    assert [c["text"] for c in told] == ["a needs input: May I?", "b finished"]


def test_webhooks_reach_a_real_receiver_in_slack_and_ntfy_shape(receiver: Receiver) -> None:
    hooks = notify.Webhooks([receiver.url], topic="ctui-test")
    started = time.monotonic()
    hooks.send(
        {"agent": "w", "state": "waiting", "detail": "May I?", "text": "w needs input: May I?"}
    )
    assert time.monotonic() - started < 1.0  # queued, not sent inline
    until(lambda: receiver.bodies)
    hooks.close()
    (got,) = receiver.bodies
    assert got["text"] == got["message"] == "w needs input: May I?"  # Slack reads text
    assert got["topic"] == "ctui-test" and got["title"] == "ctui: w needs input"  # ntfy
    assert got["agent"] == "w" and got["state"] == "waiting"


def test_a_receiver_that_is_down_is_retried_with_backoff_until_it_is_up() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    later: list[Receiver] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # the receiver comes up after the third failure
            later.append(Receiver(port))
        time.sleep(0.01)

    hooks = notify.Webhooks([f"http://127.0.0.1:{port}/x"], retries=5, backoff=0.5, sleep=sleep)
    try:
        started = time.monotonic()
        hooks.send({"agent": "f", "state": "failed", "text": "f failed"})
        assert time.monotonic() - started < 1.0
        until(lambda: later and later[0].bodies)
        assert waits == [0.5, 1.0, 2.0]  # doubling
        assert hooks.sent == 1 and hooks.dropped == 0
    finally:
        hooks.close()
        for r in later:
            r.stop()


def test_a_receiver_down_for_good_is_dropped_after_the_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hooks = notify.Webhooks([f"http://127.0.0.1:{port}/x"], retries=2, backoff=0.01)
    hooks.send({"agent": "f", "state": "done", "text": "f finished"})
    until(lambda: hooks.dropped == 1)
    hooks.close()
    assert hooks.sent == 0


def test_the_notify_watcher_posts_each_change_once(repo: Path, receiver: Receiver) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(
        f'[notify]\nwebhooks = ["{receiver.url}"]\ntopic = "t"\n'
    )
    c = Coordinator.open(repo)
    inst = c.instances.register(role="r").id
    c.instances.heartbeat(inst, state="working")
    watcher = subprocess.Popen(
        [CTUI, "notify", "--poll", "0.1"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        assert "watching 1 agents" in watcher.stderr.readline()  # its starting point is read
        c.events.publish("instance.asked", actor=inst, subject=inst, data={"message": "Go on?"})
        c.instances.heartbeat(inst, state="needs_input")
        until(lambda: receiver.bodies)
        time.sleep(0.5)  # more reads of the same state: no repeat
        c.instances.heartbeat(inst, state="working")
        marker = c.instances.register(role="m").id  # seen waiting => inst seen working
        c.instances.heartbeat(marker, state="needs_input")
        until(lambda: any(b["agent"] == marker for b in receiver.bodies))
        c.instances.heartbeat(inst, state="needs_input")  # a new change: told again
        until(lambda: len(receiver.bodies) >= 3)
        time.sleep(0.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=30)
        c.close()
    mine = [b["text"] for b in receiver.bodies if b["agent"] == inst]
    assert mine == [f"{inst} needs input: Go on?", f"{inst} needs input"]
    assert len(receiver.bodies) == 3 and out.count("needs input") == 3


def test_ctui_serve_sends_changes_from_its_loop(repo: Path, receiver: Receiver) -> None:
    from tests.api.conftest import Server

    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(f'[notify]\nwebhooks = ["{receiver.url}"]\n')
    c = Coordinator.open(repo)
    inst = c.instances.register(role="r").id
    server = Server(repo)
    try:
        # its notifier's first read is the starting point, whenever that happens: flip the
        # state until one change lands after it
        for _ in range(30):
            c.instances.heartbeat(inst, state="working")
            time.sleep(0.5)
            c.instances.heartbeat(inst, state="needs_input")
            try:
                until(lambda: receiver.bodies, timeout=2.0)
                break
            except AssertionError:
                continue
        until(lambda: receiver.bodies)
    finally:
        server.stop()
        c.close()
    assert {(b["agent"], b["state"]) for b in receiver.bodies} == {(inst, "waiting")}
