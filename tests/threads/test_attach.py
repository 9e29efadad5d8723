"""`ctui attach` outside tmux, inside tmux on ctui's server, and inside another tmux server.

Each test starts its own tmux servers on private sockets (`tmux -S`) and kills them. A
real terminal client is a `tmux attach` run under `script` (which gives it a pty).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, Cli
from tests.threads.conftest import wait_for

pytestmark = pytest.mark.skipif(
    not (shutil.which("tmux") and shutil.which("script")), reason="needs tmux and script"
)


class Server:
    """One private tmux server, killed at the end of the test."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=15,
            env={k: v for k, v in os.environ.items() if k != "TMUX"},
        )

    def client_sessions(self) -> list[str]:
        return self("list-clients", "-F", "#{client_session}").stdout.split()

    def kill(self) -> None:
        self("kill-server")


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    ours, theirs = Server(tmp_path / "ctui.sock"), Server(tmp_path / "user.sock")
    try:
        yield ours, theirs
    finally:
        ours.kill()
        theirs.kill()


def _env(ours: Server) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k != "TMUX"},
        "CTUI_TMUX_SOCKET": str(ours.socket),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "TERM": "xterm",
    }


def _interactive(cli: Cli, ours: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _env(ours).items():
        monkeypatch.setenv(key, value)
    proc = cli(
        "spawn",
        "tty",
        "--mode",
        "interactive",
        "--agent",
        "command",
        "--command",
        "sh -c 'echo ready; sleep 60'",
        "--no-worktree",
    )
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: ours("has-session", "-t", "ctui-tty").returncode == 0, what="thread session")


def _terminal(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """Run `argv` on a pseudo-terminal, as a person at a terminal would."""
    return subprocess.Popen(
        ["script", "-qfec", " ".join(argv), "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_attach_outside_tmux(
    repo: Path, cli: Cli, servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = servers
    _interactive(cli, ours, monkeypatch)
    term = _terminal(["ctui", "attach", "tty"], _env(ours), repo)
    try:
        wait_for(lambda: ours.client_sessions() == ["ctui-tty"], what="a client on ctui-tty")
        ours("detach-client", "-s", "ctui-tty")
        assert term.wait(timeout=20) == 0
    finally:
        _stop(term)
    cli("thread", "stop", "tty")


def test_attach_inside_tmux_switches_the_client(
    repo: Path, cli: Cli, servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's tmux is ctui's server: the client switches, no nested tmux."""
    ours, _ = servers
    _interactive(cli, ours, monkeypatch)
    desk = ("new-session", "-d", "-s", "desk", "-x", "120", "-y", "40", "-c", str(repo), "sh")
    assert ours(*desk).returncode == 0
    term = _terminal(["tmux", "-S", str(ours.socket), "attach", "-t", "desk"], _env(ours), repo)
    try:
        wait_for(lambda: ours.client_sessions() == ["desk"], what="the operator's client")
        ours("send-keys", "-t", "desk", "ctui attach tty; echo rc=$?", "Enter")
        wait_for(lambda: ours.client_sessions() == ["ctui-tty"], what="the client to switch")
        pane = wait_for(
            # a line of its own: the typed command line holds "rc=$?" too
            lambda: (
                re.search(r"^rc=\d+", text := ours("capture-pane", "-p", "-t", "desk").stdout, re.M)
                and text
            ),
            what="attach to return",
        )
        assert "rc=0" in str(pane) and "nested" not in str(pane)
    finally:
        _stop(term)
    cli("thread", "stop", "tty")


def test_attach_inside_another_tmux_opens_a_window_there(
    repo: Path, cli: Cli, servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's tmux is another server: a new window there shows the thread."""
    ours, theirs = servers
    _interactive(cli, ours, monkeypatch)
    started = theirs(
        "new-session", "-d", "-s", "desk", "-x", "120", "-y", "40", "-c", str(repo), "sh"
    )
    assert started.returncode == 0, started.stderr
    term = _terminal(["tmux", "-S", str(theirs.socket), "attach", "-t", "desk"], _env(ours), repo)
    try:
        wait_for(lambda: theirs.client_sessions() == ["desk"], what="the operator's client")
        theirs("send-keys", "-t", "desk", "ctui attach tty", "Enter")
        wait_for(
            lambda: "ctui-tty" in theirs("list-windows", "-t", "desk", "-F", "#W").stdout,
            what="a window for the thread",
        )
        wait_for(lambda: ours.client_sessions() == ["ctui-tty"], what="a client of ctui's tmux")
    finally:
        _stop(term)
    cli("thread", "stop", "tty")
