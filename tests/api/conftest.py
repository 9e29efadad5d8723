"""A real `ctui serve` on 127.0.0.1 in a subprocess, and an httpx client for it.

Servers are started with `--port 0` (the kernel picks a free port, api.json names it)
and stopped by pid in the fixture's finalizer; their output is kept so tests can check
what was logged.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CTUI, GIT_ENV, Cli, git

TOKEN = "t0ken-for-tests-9f2c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CTUI_DIR", "CTUI_INSTANCE_ID", "CT_API_TOKEN", "N8N_API_TOKEN", "CT_API_URL")
    }
    return {**env, **GIT_ENV, **extra}


class Server:
    """One running `ctui serve` process."""

    def __init__(
        self, repo: Path, *args: str, token: str | None = TOKEN, env: dict[str, str] | None = None
    ) -> None:
        self.repo = repo
        self.token = token
        self.port = 0
        self.log = repo.parent / f"serve-{time.monotonic_ns()}.log"
        tcp = [] if "--no-auth" in args else ["--port", "0"]  # --no-auth: a Unix socket only
        argv = [CTUI, "serve", *tcp, "--interval", "0.3", *args]
        env = env or clean_env()
        if token is not None and "--no-auth" not in args:
            env = {**env, "CT_API_TOKEN": token}  # never on argv: `ps` shows that to everyone
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=repo,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.url = ""
        self._wait_up()

    def _wait_up(self) -> None:
        """Wait for the server's api.json; the kernel chose the port, api.json says which."""
        api_file = self.repo / ".ctui" / "api.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.output()}")
            try:
                info = json.loads(api_file.read_text())
                if info.get("pid") == self.proc.pid:
                    self.url = str(info["url"])
                    if self.url.startswith("unix:"):  # --no-auth: the owner-only socket
                        return
                    self.port = int(self.url.rsplit(":", 1)[1])
                    assert self.url == f"http://127.0.0.1:{self.port}", self.url
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"server did not come up: {self.output()}")

    def client(self, token: str | None = "default", **kw: Any) -> httpx.Client:
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        from ctui.api.wire import http_client

        return http_client(self.url, headers=headers, timeout=30, **kw)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode


def connected(folder: Path, server: Server) -> Cli:
    """A CLI working in `folder`, joined to `server` with `ctui remote connect`."""
    cli = Cli(folder)
    assert cli("remote", "connect", server.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
    return cli


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command wrote to stderr (asserting it wrote just one)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test module, on its own repository."""
    repo = make_repo(tmp_path_factory.mktemp("served") / "repo")
    server = Server(repo)
    yield server
    server.stop()


@pytest.fixture
def api(served: Server) -> Iterator[httpx.Client]:
    with served.client() as client:
        yield client
