"""`ctui remote`: a CLI in another folder drives the server's repository through the API."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from ctui.cli.server import _alive
from tests.api.conftest import TOKEN, Server, clean_env, free_port, make_repo
from tests.conftest import Cli

pytestmark = pytest.mark.slow


@pytest.fixture
def client_dir(tmp_path: Path) -> Cli:
    """A plain folder (no git, no store) where the remote CLI runs."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return Cli(folder)


def test_connect_checks_health_and_token_then_saves_0600(served: Server, client_dir: Cli) -> None:
    target = served.url.removeprefix("http://")
    wrong = client_dir("remote", "connect", target, env={"CT_API_TOKEN": "nope"})
    assert wrong.returncode == 1 and "refused" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "nope" not in wrong.stderr
    assert not (client_dir.cwd / ".ctui" / "remote.json").exists()
    dead = client_dir("remote", "connect", f"127.0.0.1:{free_port()}", env={"CT_API_TOKEN": TOKEN})
    assert dead.returncode == 1 and "no ctui server answers" in dead.stderr
    assert len(dead.stderr.strip().splitlines()) == 1
    ok = client_dir("remote", "connect", target, env={"CT_API_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr
    state = client_dir.cwd / ".ctui" / "remote.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert saved["url"] == served.url and saved["token"] == TOKEN
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists(), "connecting creates no local store"
    status = client_dir.json("remote", "status")
    assert status["reachable"] is True and status["url"] == served.url
    assert client_dir("remote", "disconnect").returncode == 0
    assert not state.exists()
    assert client_dir("remote", "status").returncode == 4


def test_commands_go_through_the_api_while_connected(served: Server, client_dir: Cli) -> None:
    assert client_dir("remote", "connect", served.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
    lease = client_dir.json("lock", "acquire", "src/app.py", "--intent", "remote edit")
    assert lease["holder"] == "operator" and lease["path"] == "src/app.py"
    with served.client() as http:
        held = http.get("/api/locks/check", params={"path": "src/app.py"}).json()
    assert held["held"] is True and held["intent"] == "remote edit"
    assert client_dir("lock", "check", "src/app.py").returncode == 0
    listed = client_dir.json("lock", "list")
    assert [x["path"] for x in listed] == ["src/app.py"]
    assert client_dir("lock", "release", "src/app.py").returncode == 0

    dec_id = client_dir(
        "decisions", "add", "--category", "api", "--title", "Remote decision"
    ).stdout.strip()
    assert dec_id.startswith("DEC-")
    assert client_dir.json("decisions", "query", dec_id)["title"] == "Remote decision"
    task_id = client_dir("task", "add", "remote task", "-p", "1").stdout.strip()
    assert task_id.startswith("task-")
    with served.client() as http:
        assert http.get(f"/api/tasks/{task_id}").json()["description"] == "remote task"
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists(), "nothing went to a local store"
    client_dir("lock", "acquire", "src/app.py").check_returncode()

    agent = client_dir("lock", "list", "--json", env={"CTUI_THREAD_ID": "some-thread"})
    assert agent.returncode == 0 and json.loads(agent.stdout) == [], (
        "agents stay on their own store"
    )
    local = client_dir("lock", "list", "--local", "--json")
    assert local.returncode == 0 and json.loads(local.stdout) == []
    assert (client_dir.cwd / ".ctui" / "ctui.db").exists(), "--local used this folder's store"


def test_remote_spawn_runs_a_thread_in_the_server_repository(
    served: Server, client_dir: Cli
) -> None:
    assert client_dir("remote", "connect", served.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
    agent = "sh -c 'echo remote-ran > spawned.txt; echo {prompt}'"
    made = client_dir(
        "spawn",
        "remote-one",
        "--agent",
        "command",
        "--command",
        agent,
        "--no-worktree",
        "--prompt",
        "hello",
        "--wait",
        "--json",
        timeout=90,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["status"] == "completed"
    assert (served.repo / "spawned.txt").read_text().strip() == "remote-ran"
    assert not (client_dir.cwd / "spawned.txt").exists()
    listed = client_dir.json("thread", "list")
    assert "remote-one" in [t["name"] for t in listed]
    table = client_dir("thread", "list")
    assert table.returncode == 0 and "remote-one" in table.stdout
    logs = client_dir.json("thread", "logs", "remote-one")
    assert "hello" in logs["log"]


def test_a_lost_server_is_an_error_never_a_local_fallback(tmp_path: Path, client_dir: Cli) -> None:
    server = Server(make_repo(tmp_path / "repo"))
    try:
        assert (
            client_dir("remote", "connect", server.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
        )
    finally:
        server.stop()
    done = client_dir("lock", "acquire", "src/app.py")
    assert done.returncode == 1
    assert "does not answer" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists()


@pytest.mark.parametrize("target", ["nonsense::", "host:abc", "host:99999", ":80"])
def test_a_bad_address_is_a_usage_error_not_a_traceback(client_dir: Cli, target: str) -> None:
    done = client_dir("remote", "connect", target, env={"CT_API_TOKEN": TOKEN})
    assert done.returncode == 2 and "bad server address" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (client_dir.cwd / ".ctui" / "remote.json").exists()


def test_remote_flag_without_a_connection_says_what_to_do(client_dir: Cli) -> None:
    done = client_dir("lock", "list", "--remote")
    assert done.returncode == 2 and "ctui remote connect" in done.stderr


def test_discover_finds_the_server_from_ct_api_url(served: Server, client_dir: Cli) -> None:
    found = client_dir.json(
        "remote", "discover", env={"CT_API_URL": served.url, "CT_API_TOKEN": TOKEN}
    )
    assert found["url"] == served.url and found["source"] == "CT_API_URL"
    assert json.loads((client_dir.cwd / ".ctui" / "remote.json").read_text())["url"] == served.url


def test_discover_reads_the_running_servers_api_json(served: Server) -> None:
    here = Cli(served.repo)
    found = here.json("remote", "discover", env={"CT_API_TOKEN": TOKEN})
    assert found["source"] == "api.json" and found["url"] == served.url
    assert here("remote", "disconnect").returncode == 0


def test_api_start_status_stop(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    cli = Cli(repo)
    env = {**clean_env(), "CT_API_TOKEN": "daemon-token"}
    port = free_port()
    started = cli("api", "start", "--port", str(port), "--json", env=env)
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["port"] == port and "daemon-token" not in started.stdout
    try:
        status = cli.json("orchestrator", "status", env=env)
        assert status["running"] is True and status["healthy"] is True
        assert status["orchestrator"]["running"] is True
        again = cli("api", "start", "--port", str(free_port()), env=env)
        assert again.returncode == 2 and "already serves" in again.stderr
    finally:
        stopped = cli("api", "stop", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not (repo / ".ctui" / "api.json").exists()
    assert not _alive(info["pid"]), "the daemon is gone (or a zombie waiting for init)"
    assert cli("api", "status", env=env).returncode == 4


def test_orchestrator_loop_starts_ready_threads_and_expires_leases(served: Server) -> None:
    with served.client() as http:
        made = http.post(
            "/api/threads",
            json={"name": "loop-started", "agent": "command", "command": "true", "worktree": False},
        )
        assert made.status_code == 201 and made.json()["status"] == "ready"
        http.post("/api/locks", json={"path": "src/short.py", "ttl": 0.2}).raise_for_status()
        deadline = time.monotonic() + 20
        status = "ready"
        while time.monotonic() < deadline and status == "ready":
            time.sleep(0.2)
            status = http.get("/api/threads/loop-started").json()["status"]
        assert status in ("running", "completed"), status
        loop = http.get("/api/orchestrator").json()
        assert loop["ticks"] > 0 and loop["last_error"] is None
        kinds = [
            e["kind"] for e in http.get("/api/events", params={"kind": "lease.expired"}).json()
        ]
        assert "lease.expired" in kinds
