"""Auth and guard rails: bearer tokens, no leaks, no CORS, a body limit, safe start-up."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, Server, clean_env, free_port, make_repo
from tests.conftest import CTUI
from tests.support import dump

pytestmark = pytest.mark.slow


def test_health_needs_no_token(served: Server) -> None:
    with served.client(token=None) as http:
        answer = http.get("/api/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


@pytest.mark.parametrize(
    "header",
    [
        None,  # missing
        TOKEN,  # no "Bearer"
        f"Basic {TOKEN}",  # another scheme
        f"Bearer {TOKEN}x",  # wrong
        f"Bearer {TOKEN[:-1]}",  # a prefix of the right one
        "Bearer",  # no token at all
        f"Bearer  {TOKEN}",  # padded
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/status", "/api/locks", "/metrics", "/api/openapi.json", "/mcp", "/api/nope"]
)
def test_every_other_route_refuses_a_bad_token(
    served: Server, header: str | None, path: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    with served.client(token=None) as http:
        answer = http.get(path, headers=headers)
    assert answer.status_code == 401
    body = answer.json()
    assert body == {"error": "missing or invalid bearer token", "exit_code": 1}
    assert TOKEN not in answer.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/locks", {"path": "src/app.py"}),
        ("/api/tasks", {"description": "sneaked in"}),
        ("/api/decisions", {"category": "api", "title": "sneaked in"}),
        ("/api/instances", {"role": "intruder"}),
        ("/api/events", {"kind": "intruder.was.here"}),
    ],
)
def test_a_bad_token_writes_nothing(served: Server, path: str, body: dict[str, object]) -> None:
    """A refused write is refused before any handler runs: 401, one-line error, store unchanged."""
    db = served.repo / ".ctui" / "ctui.db"
    before = dump(db)
    with served.client(token="wrong-token-value") as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 401
    body_out = answer.json()
    assert body_out == {"error": "missing or invalid bearer token", "exit_code": 1}
    assert dump(db) == before


def test_right_token_is_accepted_everywhere(api) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/status", "/api/locks", "/metrics", "/api/openapi.json"):
        assert api.get(path).status_code == 200, path


def test_token_is_never_logged_nor_written(served: Server, api) -> None:  # type: ignore[no-untyped-def]
    api.get("/api/status")
    api.post("/api/locks", json={"path": "nowhere/../../../etc/passwd"})
    with served.client(token="wrong-token-value") as http:
        http.get("/api/status")
    output = served.output()
    assert '"GET /api/status HTTP/1.1" 200' in output, "the access log is on"
    assert TOKEN not in output
    assert "wrong-token-value" not in output
    api_json = (served.repo / ".ctui" / "api.json").read_text()
    assert TOKEN not in api_json
    assert json.loads(api_json)["url"].startswith("http://127.0.0.1:")


def test_no_cors_headers_for_any_origin(api) -> None:  # type: ignore[no-untyped-def]
    preflight = api.options(
        "/api/status",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = api.get("/api/status", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_body_over_one_mebibyte_is_refused(served: Server, api) -> None:  # type: ignore[no-untyped-def]
    before = api.get("/api/tasks").json()
    answer = api.post(
        "/api/tasks",
        content=b'{"description": "' + b"x" * (1024 * 1024 + 10) + b'"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["exit_code"] == 2

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"description": "'
        for _ in range(300):
            yield b"y" * 4096
        yield b'"}'

    streamed = api.post(
        "/api/tasks", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert api.get("/api/tasks").json() == before


def run_serve(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CTUI, "serve", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env=env or clean_env(),
    )


def test_no_token_means_no_start(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    done = run_serve(repo, "--port", str(free_port()))
    assert done.returncode == 2
    assert "no API token" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (repo / ".ctui" / "api.json").exists()
    for tcp in (["--bind", "0.0.0.0"], ["--bind", "127.0.0.1"], ["--port", str(free_port())]):
        wide = run_serve(repo, "--no-auth", *tcp)
        assert wide.returncode == 2 and "Unix socket" in wide.stderr, wide.stderr
        assert len(wide.stderr.strip().splitlines()) == 1
    assert not (repo / ".ctui").exists(), "a refused start creates nothing"


def test_busy_port_is_a_clear_error_before_anything_else(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        done = run_serve(repo, "--port", str(port), env=clean_env(CT_API_TOKEN="x"))
    assert done.returncode == 2
    assert f"port {port}" in done.stderr and "already in use" in done.stderr
    assert not (repo / ".ctui").exists(), "nothing was created before the port check"


def test_token_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctui.api.settings import resolve_token
    from ctui.core.config import Config

    config = Config.from_dict({"api": {"token": "from-config"}})
    assert resolve_token(None, config) == "from-config"
    monkeypatch.setenv("N8N_API_TOKEN", "from-n8n")
    assert resolve_token(None, config) == "from-n8n"
    monkeypatch.setenv("CT_API_TOKEN", "from-ct")
    assert resolve_token(None, config) == "from-ct"
    assert resolve_token("from-flag", config) == "from-flag"


def test_token_from_config_and_graceful_stop(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    (repo / ".ctui").mkdir()
    (repo / ".ctui" / "config.toml").write_text('[api]\ntoken = "from-config"\n')
    server = Server(repo, token=None, env=clean_env(N8N_API_TOKEN=""))
    server.token = "from-config"
    try:
        with server.client() as http:
            assert http.get("/api/status").status_code == 200
        with server.client(token="other") as http:
            assert http.get("/api/status").status_code == 401
    finally:
        assert server.stop() == 0
    assert not (repo / ".ctui" / "api.json").exists(), "a graceful stop removes api.json"


def test_no_auth_serves_on_an_owner_only_socket(tmp_path: Path) -> None:
    server = Server(make_repo(tmp_path / "r"), "--no-auth", token=None)
    sock = server.repo / ".ctui" / "api.sock"
    assert server.url == f"unix:{sock}"
    assert stat.S_ISSOCK(sock.lstat().st_mode) and stat.S_IMODE(sock.lstat().st_mode) == 0o600
    try:
        with server.client(token=None) as http:
            assert http.get("/api/status").status_code == 200
            nothing = http.post("/api/tasks/claim", json={"instance": "operator"})
        assert nothing.status_code == 404 and nothing.json()["exit_code"] == 4, "an empty queue"
        assert json.loads((server.repo / ".ctui" / "api.json").read_text())["auth"] is False
    finally:
        server.stop()
