"""`kill -9` of `ctui serve` takes its worker processes with it; status and restart tell the
truth afterwards (issue 11)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.api.conftest import Server, make_repo
from tests.conftest import Cli

pytestmark = pytest.mark.slow


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: set[int], limit: float) -> set[int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return {p for p in pids if alive(p)}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(240)
def test_kill_9_of_the_supervisor_ends_its_workers_and_a_restart_works(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    server = Server(repo, "--workers", "2")
    workers: set[int] = set()
    try:
        with server.client() as http:
            assert http.get("/api/health").status_code == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = {p for p in children(server.proc.pid) if "spawn_main" in _cmd(p)}
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, [(p, _cmd(p)) for p in children(server.proc.pid)]
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(30)
        started = time.monotonic()
        left = wait_gone(workers, 30)
        took = time.monotonic() - started
        assert not left, f"workers {left} outlived their supervisor"
        print(f"workers gone {took:.2f}s after kill -9 of the supervisor")

        status = Cli(repo)("api", "status")
        assert status.returncode == 4, status.stdout + status.stderr
        assert "no ctui server running" in status.stdout and "orphaned" not in status.stdout

        again = Server(repo, "--workers", "2", "--port", str(server.port))
        try:
            with again.client() as http:
                assert http.get("/api/health").status_code == 200
            assert again.port == server.port
        finally:
            again.stop()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)  # our process group, if anything is left
        server.stop()


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_status_names_a_port_still_answering_for_a_dead_supervisor(cli: Cli, repo: Path) -> None:
    """What orphaned workers of an older ctui look like: api.json's pid is dead, its url answers."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Health)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        assert cli("init").returncode == 0
        info = {"url": f"http://127.0.0.1:{port}", "pid": dead.pid, "port": port}
        (repo / ".ctui" / "api.json").write_text(json.dumps(info))
        status = cli("api", "status")
        assert status.returncode == 1, status.stdout + status.stderr
        assert "orphaned" in status.stdout and f"127.0.0.1:{port}" in status.stdout
        assert cli("api", "status", "--json").stdout.count('"orphaned": true') == 1
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_server_still_starting_refuses_clients_at_once(cli: Cli, repo: Path) -> None:
    """The port is bound before the server starts, but it listens only once a worker serves:
    a client in between (a restart) is refused at once, not parked in the backlog."""
    from ctui.api.settings import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=30).close()
        assert cli("init").returncode == 0
        (repo / ".ctui" / "remote.json").write_text(
            json.dumps({"url": f"http://127.0.0.1:{port}", "token": "x"})
        )
        done = cli("task", "list", "--remote", timeout=30)
        assert done.returncode == 1 and "does not answer (ConnectError)" in done.stderr, done
        assert done.stderr.count("\n") == 1
    finally:
        sock.close()
