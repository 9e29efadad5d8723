"""`remote connect` waits a documented, configurable time for an answer (issue 11): a server
that never answers is a one-line refusal naming the timeout and how to raise it, and the
chosen timeout is remembered for the commands that follow."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import Cli


class Answering(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "version": "test"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_server_that_never_answers_is_refused_after_the_timeout(
    cli: Cli, repo: Path, how: str
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    url = f"127.0.0.1:{silent.getsockname()[1]}"
    try:
        assert cli("init").returncode == 0
        if how == "flag":
            done = cli("remote", "connect", url, "--timeout", "0.5")
        else:
            done = cli("remote", "connect", url, env={"CTUI_REMOTE_TIMEOUT": "0.5"})
    finally:
        silent.close()
    assert done.returncode == 1, done
    assert done.stderr.count("\n") == 1 and "did not answer within 0.5s" in done.stderr
    assert "CTUI_REMOTE_TIMEOUT" in done.stderr
    assert not (repo / ".ctui" / "remote.json").exists()


def test_the_timeout_is_remembered_and_bad_values_are_usage_errors(cli: Cli, repo: Path) -> None:
    httpd = http.server.HTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"127.0.0.1:{httpd.server_address[1]}"
    try:
        assert cli("init").returncode == 0
        bad = cli("remote", "connect", url, "--timeout", "0")
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1
        env_bad = cli("remote", "connect", url, env={"CTUI_REMOTE_TIMEOUT": "soon"})
        assert env_bad.returncode == 2 and "CTUI_REMOTE_TIMEOUT" in env_bad.stderr
        assert not (repo / ".ctui" / "remote.json").exists()
        done = cli("remote", "connect", url, "--timeout", "45", env={"CT_API_TOKEN": "x"})
        assert done.returncode == 0, done.stderr
        saved = json.loads((repo / ".ctui" / "remote.json").read_text())
        assert saved["timeout"] == 45
        assert cli("remote", "status").returncode == 0
    finally:
        httpd.shutdown()
        httpd.server_close()
