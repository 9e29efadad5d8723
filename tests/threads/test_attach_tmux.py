"""Attach from inside tmux: the control room, itself in a tmux session with a client
attached, switches that client to the selected interactive thread's session."""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.threads import tmux
from tests.threads.conftest import wait_for

CTUI = str(Path(sys.executable).parent / "ctui")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], capture_output=True, text=True, timeout=10, check=False
    ).stdout.strip()


def test_attach_inside_tmux_switches_the_client(repo: Path, coord: Coordinator) -> None:
    command = "sh -c 'echo ready; sleep 120' {prompt}"
    coord.threads.create(
        "tty", mode="interactive", agent="command", command=command, prompt="x", worktree=False
    )
    coord.threads.start("tty")
    wait_for(lambda: tmux.alive("tty"), what="the thread's tmux session")
    env = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k in ("HOME", "PATH", "TZ")
    )
    ui = f"cd {shlex.quote(str(repo))} && exec env {env} TERM=xterm-256color {CTUI}"
    _tmux("new-session", "-d", "-s", "ui", "-x", "120", "-y", "40", ui)
    pid, fd = pty.fork()
    if pid == 0:  # a terminal with a client attached to the control room's session
        os.environ.pop("TMUX", None)
        os.execvp("tmux", ["tmux", "attach-session", "-t", "ui"])
    stop = threading.Event()

    def drain() -> None:  # keep the client's terminal flowing
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    os.read(fd, 65536)
                except OSError:
                    return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_for(lambda: _tmux("list-clients", "-F", "#{client_session}") == "ui", what="client")
        wait_for(lambda: "tty" in _tmux("capture-pane", "-p", "-t", "ui"), what="the agents list")
        _tmux("send-keys", "-t", "ui", "a")
        wait_for(
            lambda: _tmux("list-clients", "-F", "#{client_session}") == tmux.session("tty"),
            what="the client to switch to the thread's session",
        )
        assert "ready" in _tmux("capture-pane", "-p", "-t", tmux.session("tty"))
    finally:
        stop.set()
        _tmux("kill-session", "-t", "ui")
        try:
            os.kill(pid, 15)
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)
        time.sleep(0.1)
