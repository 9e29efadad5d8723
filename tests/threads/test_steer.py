"""Steering a thread: `ctui send` (a follow-up run, or typed into a terminal), restart,
attach to a headless thread (its live log), and the API's send route."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.conftest import Cli
from tests.threads.conftest import wait_for


def test_send_to_a_finished_headless_thread_is_a_new_run_with_the_message(
    cli: Cli, coord: Coordinator
) -> None:
    coord.threads.create("w", prompt="first FAKE_SLEEP=0", worktree=False)
    coord.threads.start("w")
    assert coord.threads.wait("w", timeout=30).status == "completed"
    done = cli("send", "w", "now FAKE_WRITE=answer.txt:hello", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"thread": "w", "how": "run", "run": 2}
    t = coord.threads.wait("w", timeout=30)
    assert t.status == "completed" and t.run_id == 2
    assert (coord.root / "answer.txt").read_text().strip() == "hello"
    sent = [e for e in coord.events.recent(50) if e.kind == "thread.sent"]
    assert [(e.subject, e.data["how"], e.data["run"]) for e in sent] == [("w", "run", 2)]


def test_send_to_a_working_headless_thread_is_refused_and_changes_nothing(
    cli: Cli, coord: Coordinator
) -> None:
    coord.threads.create("busy", prompt="FAKE_HANG", worktree=False)
    coord.threads.start("busy")
    refused = cli("send", "busy", "stop that")
    assert refused.returncode == 12
    assert refused.stderr.strip().count("\n") == 0 and "cannot be typed into" in refused.stderr
    assert coord.threads.get("busy").run_id == 1
    kinds = [e.kind for e in coord.events.recent(100)]
    assert "thread.sent" not in kinds and kinds.count("thread.started") == 1
    empty = cli("send", "busy", "   ")
    assert empty.returncode == 2 and "empty" in empty.stderr
    assert cli("send", "nobody", "hi").returncode == 4


def test_restart_runs_a_running_thread_again(cli: Cli, coord: Coordinator) -> None:
    coord.threads.create("r", prompt="FAKE_HANG", worktree=False)
    coord.threads.start("r")
    done = cli("restart", "r", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run_id"] == 2
    assert coord.threads.get("r").status == "running"
    coord.threads.stop("r", grace=1.0)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_send_types_into_an_interactive_threads_terminal(cli: Cli, coord: Coordinator) -> None:
    command = "sh -c 'read line; echo got:$line; sleep 0.2' {prompt}"
    coord.threads.create(
        "tty", mode="interactive", agent="command", command=command, prompt="x", worktree=False
    )
    coord.threads.start("tty")
    from ctui.core.threads import tmux

    wait_for(lambda: tmux.alive("tty"), what="the tmux session")
    done = cli("send", "tty", "hello there", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["how"] == "terminal"
    assert coord.threads.wait("tty", timeout=30).status == "completed"
    assert "got:hello there" in coord.threads.logs("tty")


def test_attach_to_a_headless_thread_follows_its_log(cli: Cli, coord: Coordinator) -> None:
    coord.threads.create("h", prompt="FAKE_SLEEP=0.5", worktree=False)
    coord.threads.start("h")
    shown = cli("attach", "h", timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "session" in shown.stdout  # the readable log, followed to the run's end
    assert coord.threads.get("h").status == "completed"


def test_the_api_send_route_is_the_same_core_call(repo: Path, coord: Coordinator) -> None:
    from tests.api.conftest import Server

    coord.threads.create("a", prompt="FAKE_SLEEP=0", worktree=False)
    coord.threads.start("a")
    coord.threads.wait("a", timeout=30)
    server = Server(repo)
    try:
        with server.client() as api:
            r = api.post("/api/threads/a/send", json={"text": "again FAKE_SLEEP=0"})
            assert r.status_code == 200, r.text
            assert r.json()["how"] == "run" and r.json()["run"] == 2
            bad = api.post("/api/threads/a/send", json={"text": ""})
            assert bad.status_code == 422
    finally:
        server.stop()
    assert coord.threads.wait("a", timeout=30).run_id == 2
