"""`ctui status` and `ctui thread logs [--follow]` from a CLI connected to a real `ctui serve`.

The client runs as a real process in another folder; what it shows must be the
server's store, read through the API (the log file lives on the server's machine).
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from ctui.api import logread
from tests.api.conftest import Server, connected, free_port
from tests.conftest import CTUI, Cli

pytestmark = pytest.mark.slow


@pytest.fixture
def client_dir(tmp_path: Path, served: Server) -> Cli:
    """A plain folder connected to the module's server."""
    (tmp_path / "elsewhere").mkdir()
    return connected(tmp_path / "elsewhere", served)


def test_status_shows_the_servers_store_and_local_forces_this_one(
    served: Server, client_dir: Cli
) -> None:
    with served.client() as http:
        made = http.post("/api/tasks", json={"description": "only on the server"}).json()
        doc = http.get("/api/status", params={"fresh": "true"}).json()
    remote = client_dir.json("status")
    assert remote["store"] == doc["store"] == str(served.repo / ".ctui")
    assert made["id"] in [t["id"] for t in remote["tasks"]]
    assert set(remote) == set(doc) and remote["counts"] == doc["counts"]

    text = client_dir("status")
    assert text.returncode == 0, text.stderr
    head = text.stdout.splitlines()[0]
    assert head.startswith(f"server {served.url}") and str(served.repo / ".ctui") in head
    assert "only on the server" in text.stdout
    verbose = client_dir("status", "--verbose")
    assert verbose.returncode == 0 and "RECENT EVENTS" in verbose.stdout
    assert "task.added" in verbose.stdout
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists(), "nothing read a local store"

    local = client_dir.json("status", "--local")
    assert local["store"] == str(client_dir.cwd / ".ctui")
    assert made["id"] not in [t["id"] for t in local["tasks"]]
    local_text = client_dir("status", "--local").stdout
    assert local_text.splitlines()[0].startswith(f"store  {client_dir.cwd / '.ctui'}")
    assert "--local" in local_text.splitlines()[0]


def test_a_lost_server_is_one_line_and_no_local_store(client_dir: Cli) -> None:
    state = client_dir.cwd / ".ctui" / "remote.json"
    saved = json.loads(state.read_text())
    state.write_text(json.dumps({**saved, "url": f"http://127.0.0.1:{free_port()}"}))
    client = client_dir
    (client.cwd / "tasks.json").write_text('{"tasks": [{"id": "a", "description": "a"}]}')
    for args in (
        ["status"],
        ["status", "--json"],
        ["status", "--verbose"],
        ["thread", "logs", "any", "--follow"],
        ["task", "import", "tasks.json"],
        ["plan", "init", "a goal"],
    ):
        done = client(*args)
        assert done.returncode == 1, args
        assert "does not answer" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        if "--json" in args:  # the error as a document too
            assert json.loads(done.stdout)["exit_code"] == 1
        else:
            assert done.stdout == ""
    assert not (client.cwd / ".ctui" / "ctui.db").exists(), "never a silent local fall-back"


def test_logs_follow_goes_through_the_api_until_the_thread_ends(
    served: Server, client_dir: Cli
) -> None:
    agent = (
        "sh -c 'for i in 1 2 3 4 5 6; do echo line-$i; sleep 0.3; done; "
        "printf last-without-newline; sleep 0.3; : {prompt}'"
    )
    made = client_dir(
        "spawn", "followed", "--agent", "command", "--command", agent, "--no-worktree", "-p", "go"
    )
    assert made.returncode == 0, made.stderr
    followed = client_dir("thread", "logs", "followed", "--follow", "--raw", timeout=60)
    assert followed.returncode == 0, followed.stderr
    lines = followed.stdout.splitlines()
    expected = [*(f"line-{i}" for i in range(1, 7)), "last-without-newline"]
    got = [line for line in lines if line.startswith(("line-", "last-"))]
    assert len(got) == len(expected), lines
    assert [line[: len(want)] for line, want in zip(got, expected, strict=True)] == expected, lines
    assert "ended: exit 0" in lines[-1], "followed to the end of the run"
    if "GET /api/" in served.output():  # uvicorn's access log names the polls
        assert "/api/threads/followed/logs?offset=" in served.output()

    once = client_dir.json("thread", "logs", "followed", "--tail", "2")
    assert once["log"].splitlines() == ["line-6", lines[-1]]
    as_json = client_dir("thread", "logs", "followed", "--follow", "--json", "--tail", "3")
    assert as_json.returncode == 0
    shown = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [d["line"] for d in shown] == ["line-5", "line-6", lines[-1]]
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists()


def test_logs_route_continues_from_an_offset(served: Server) -> None:
    """A ready (not running) thread with a log written by hand: every byte once, in order."""
    with served.client() as http:
        made = http.post(
            "/api/threads",
            json={"name": "by-hand", "agent": "command", "command": "true", "worktree": False},
        )
        assert made.status_code == 201
        log = served.repo / ".ctui" / "logs" / "by-hand.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text("one\ntwo\nthree")
        url = "/api/threads/by-hand/logs"
        tail = http.get(url, params={"tail": 2}).json()
        assert tail["lines"] == ["two", "three"] and tail["partial"] is True
        assert tail["next_offset"] == len("one\ntwo\n") and tail["size"] == log.stat().st_size
        rest = http.get(url, params={"offset": tail["next_offset"]}).json()
        assert rest["lines"] == ["three"], "a finished thread's last bytes are a line"
        assert rest["active"] is False and rest["more"] is False
        with log.open("a") as fh:
            fh.write("\nfour\n")
        more = http.get(url, params={"offset": rest["next_offset"]}).json()
        assert more["lines"] == ["", "four"]
        past = http.get(url, params={"offset": 10**9}).json()
        assert past["reset"] is True and past["lines"][0] == "one"
        for bad in ({"offset": -1}, {"offset": "x"}, {"tail": -1}, {"since": 3}):
            answer = http.get(url, params=bad)
            assert answer.status_code == 422 and set(answer.json()) == {"error", "exit_code"}
        assert http.get("/api/threads/none-such/logs", params={"offset": 0}).status_code == 404
        spec = http.get("/api/openapi.json").json()
        params = spec["paths"]["/api/threads/{name}/logs"]["get"]["parameters"]
        assert {"tail", "offset"} <= {p["name"] for p in params}


def test_a_line_being_written_is_held_back_until_it_ends(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    log.write_bytes(b"whole\nhal")
    got = logread.after(log, 0, finished=False)
    assert got["lines"] == ["whole"] and got["next_offset"] == 6
    with log.open("ab") as fh:
        fh.write(b"f done\n")
    assert logread.after(log, 6, finished=False)["lines"] == ["half done"]
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (logread.CHUNK + 10))
    first = logread.after(big, 0, finished=False)
    assert first["more"] is True and first["next_offset"] == logread.CHUNK, "a huge line moves on"
    assert logread.after(tmp_path / "missing.log", 0, finished=True)["lines"] == []
    assert logread.tail(tmp_path / "missing.log", 5)["next_offset"] == 0


def test_ctrl_c_ends_a_remote_follow_quietly(served: Server, client_dir: Cli) -> None:
    agent = "sh -c 'echo started-and-waiting; sleep 30; : {prompt}'"
    made = client_dir(
        "spawn", "long-one", "--agent", "command", "--command", agent, "--no-worktree", "-p", "x"
    )
    assert made.returncode == 0, made.stderr
    follow = subprocess.Popen(
        [CTUI, "thread", "logs", "long-one", "--follow", "--raw"],
        cwd=client_dir.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        for _ in range(20):  # bounded: the header line, then the agent's
            if "started-and-waiting" in follow.stdout.readline():
                break
        follow.send_signal(signal.SIGINT)
        _, err = follow.communicate(timeout=30)
        assert follow.returncode == 130 and "Traceback" not in err
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait(10)
        client_dir("thread", "stop", "long-one", timeout=60)
