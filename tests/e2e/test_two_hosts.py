"""Two "hosts" on one machine sharing one PostgreSQL store, each with its own `ctui serve`.

A host here is a clone of one git repository (its own local `.ctui/` folder, its own
`[store] url` and `schema` naming the same PostgreSQL schema), its own `CTUI_HOST_ID`,
its own real `ctui serve` subprocess answering the hooks `ctui hooks install` wrote on
that clone's `.ctui/hooks.sock`, and its own supervisors (the fake agent). Nothing is
shared but the PostgreSQL schema, as on two machines:

- agents on both hosts race their hooks for one file: exactly one grant, every round;
- both race `ctui task claim` for one task: exactly one winner, every round;
- a thread started on host A is stopped from host B: A's supervisor stops it;
- host A killed (its server and supervisor, by pid): once its heartbeat lapses, host B
  frees its lease, its task claim and its thread. Waited for by polling the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctui.core.instances import pid_alive
from tests.api.conftest import Server
from tests.conftest import BIN, CTUI, GIT_ENV, git
from tests.hooks.support import Answer, fixture, installed_command
from tests.support import drop_pg_schema, pg_schema_name, pg_url_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FAKES = Path(__file__).resolve().parent.parent / "fakes"
LAPSE_S = 15  # the shortest `[hosts] lapse_s` `ctui doctor` accepts: 3 heartbeats of 5 s
ROUNDS = 5
DROPPED = ("CTUI_DIR", "CTUI_INSTANCE_ID", "CTUI_THREAD_ID", "CTUI_STORE_URL", "CTUI_STORE_SCHEMA")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 180.0) -> Any:
    """Poll `check` until it returns something truthy (the bound only catches a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Host:
    """One clone with its host id, its `ctui serve`, and its installed hook command."""

    def __init__(self, root: Path, origin: Path, name: str, url: str, schema: str) -> None:
        self.name = name
        self.id = f"host-{name}"
        self.supervisors: list[int] = []  # killed by pid at the end if still running
        self.repo = root / name
        git(root, "clone", "-q", str(origin), str(self.repo))
        env = {k: v for k, v in os.environ.items() if k not in DROPPED}
        self.env = {
            **env,
            **GIT_ENV,
            "CTUI_HOST_ID": self.id,
            "HOME": str(root / f"home-{name}"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "CTUI_CLAUDE_BIN": str(FAKES / "claude"),
            "FAKE_AGENT_PYTHON": sys.executable,
        }
        Path(self.env["HOME"]).mkdir()
        store = self.repo / ".ctui"
        store.mkdir(mode=0o700)
        (store / "config.toml").write_text(
            f'[store]\nurl = "{url}"\nschema = "{schema}"\n\n[hosts]\nlapse_s = {LAPSE_S}\n'
        )
        for step in (("init",), ("hooks", "install")):
            done = self.ctui(*step)
            assert done.returncode == 0, done.stderr
        self.hook = installed_command(self.repo / ".claude" / "settings.json")
        self.server: Server | None = Server(
            self.repo, "--no-auth", "--workers", "1", token=None, env=self.env
        )
        wait_for((store / "hooks.sock").exists, f"{self.id}'s hooks socket", 60)

    def ctui(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CTUI, *args],
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def json(self, *args: str) -> Any:
        done = self.ctui("--json", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def edit(self, session: str, file: str) -> subprocess.Popen[bytes]:
        """A PreToolUse hook for an Edit of `file` (repository-relative), as Claude Code runs
        it: the installed command under `sh -c`, started, its payload not yet written."""
        payload = fixture(
            "PreToolUse-Edit", SESSION=session, CWD=str(self.repo), FILE=str(self.repo / file)
        )
        proc = subprocess.Popen(
            ["sh", "-c", self.hook],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.repo,
            env=self.env,
        )
        proc.payload = json.dumps(payload).encode()  # type: ignore[attr-defined]
        return proc

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def answers(*procs: subprocess.Popen[bytes]) -> list[Answer]:
    """Write every payload before reading any answer, then collect them."""
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(proc.payload)  # type: ignore[attr-defined]
        proc.stdin.close()
    found = []
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None
        proc.wait(timeout=60)
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        found.append(Answer(subprocess.CompletedProcess(proc.args, proc.returncode, out, err)))
    return found


def session(host: Host, number: int) -> str:
    """A Claude Code session id of its own for each host and round."""
    return f"{host.name * 4}{number:04x}-0000-4000-8000-{os.getpid():012x}"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Host, Host]]:
    url = pg_url_or_skip()
    schema = pg_schema_name()
    root = tmp_path_factory.mktemp("two-hosts")
    origin = root / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    (origin / "src").mkdir()
    (origin / "src" / "app.py").write_text("print('hello')\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "initial")
    made: list[Host] = []
    try:
        made.append(Host(root, origin, "a", url, schema))
        made.append(Host(root, origin, "b", url, schema))
        yield made[0], made[1]
    finally:
        for host in made:
            host.stop()
        for host in made:  # a supervisor the test left running, by its recorded pid
            for pid in filter(pid_alive, host.supervisors):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
        drop_pg_schema(url, schema)


def test_both_hosts_see_one_store_and_each_other(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    listed = wait_for(lambda: len(x := b.json("hosts")) == 2 and x, "both hosts to beat")
    by_id = {h["id"]: h for h in listed}
    assert by_id["host-b"]["here"] and not by_id["host-a"]["here"]
    assert {h["state"] for h in listed} == {"live"}
    decision = a.ctui("decisions", "add", "--category", "store", "--title", "one store").stdout
    assert b.json("decisions", "query", decision.strip())["title"] == "one store"
    for host in hosts:
        doctor = host.ctui("doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert f"host id      {host.id}" in doctor.stdout and "store clock  server" in doctor.stdout
        assert not (host.repo / ".ctui" / "ctui.db").exists(), "a SQLite store beside PostgreSQL"


def test_agents_on_two_hosts_race_their_hooks_for_one_file(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    for number in range(ROUNDS):
        file = f"src/race_{number}.py"
        got = answers(a.edit(session(a, number), file), b.edit(session(b, number), file))
        assert [x.allowed for x in got].count(True) == 1, got
        assert [x.denied for x in got].count(True) == 1, got
        winner, loser = (a, b) if got[0].allowed else (b, a)
        [held] = [x for x in b.json("lock", "list") if x["path"] == file]
        assert held["holder"] == f"claude-{session(winner, number)[:8]}", held
        assert held["holder"] in next(x.reason for x in got if x.denied)
        who = {i["id"]: i for i in a.json("instance", "list")}
        assert who[held["holder"]]["host_id"] == winner.id
        assert who[f"claude-{session(loser, number)[:8]}"]["host_id"] == loser.id


GATED = 'while [ ! -e "$GO" ]; do sleep 0.01; done; exec "$CTUI" task claim --json --as "$ME"'


def test_two_hosts_race_to_claim_one_task(hosts: tuple[Host, Host], tmp_path: Path) -> None:
    a, b = hosts
    workers = {
        host.id: host.json("instance", "register", "--role", "worker", "--pid", str(os.getpid()))[
            "id"
        ]
        for host in hosts
    }
    for number in range(ROUNDS):
        task = a.ctui("task", "add", f"the one task of round {number}").stdout.strip()
        go = tmp_path / f"go{number}"
        racers = [
            subprocess.Popen(
                ["sh", "-c", GATED],
                cwd=host.repo,
                env={**host.env, "GO": str(go), "CTUI": CTUI, "ME": workers[host.id]},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for host in hosts
        ]
        go.touch()
        done = [(proc.communicate(timeout=120), proc.returncode) for proc in racers]
        codes = sorted(code for _, code in done)
        assert codes == [0, 4], done  # 4: nothing to claim
        [(out, _)] = [streams for streams, code in done if code == 0]
        won = json.loads(out)
        assert won["id"] == task and won["claimed_by"] in workers.values()
        assert b.json("task", "show", task)["claimed_by"] == won["claimed_by"]
        finish = a if won["claimed_by"] == workers["host-a"] else b
        assert finish.ctui("task", "complete", task, "--as", won["claimed_by"]).returncode == 0


def _start_thread(host: Host, name: str) -> dict[str, Any]:
    done = host.ctui("spawn", name, "--prompt", "FAKE_HANG")
    assert done.returncode == 0, done.stderr
    t = wait_for(
        lambda: (x := host.json("thread", "status", name)).get("agent_pid") and x,
        f"{name}'s agent to start on {host.id}",
    )
    host.supervisors.append(t["supervisor_pid"])
    assert t["host_id"] == host.id and t["status"] == "running"
    return dict(t)


def test_a_thread_on_host_a_is_stopped_from_host_b(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    t = _start_thread(a, "home")
    stopped = b.ctui("thread", "stop", "home")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("stop requested; thread home runs on host host-a")
    wait_for(lambda: not pid_alive(t["supervisor_pid"]), "host A's supervisor to stop the run")
    assert not pid_alive(t["agent_pid"])
    done = b.json("thread", "status", "home")
    assert done["status"] == "stopped" and done["exit_code"] == 143 and done["ended_at"], done
    assert "stopping the agent: stop asked by operator" in a.ctui("thread", "logs", "home").stdout


def test_killing_host_a_frees_its_work_once_its_heartbeat_lapses(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    assert a.server is not None
    file = "src/app.py"
    [held] = answers(a.edit(session(a, 99), file))
    assert held.allowed, held
    worker = a.json("instance", "register", "--role", "worker", "--pid", str(os.getpid()))["id"]
    task = a.ctui("task", "add", "work host A took").stdout.strip()
    assert a.json("task", "claim", task, "--as", worker)["claimed_by"] == worker
    t = _start_thread(a, "far")
    [refused] = answers(b.edit(session(b, 99), file))
    assert refused.denied, refused

    os.killpg(a.server.proc.pid, signal.SIGKILL)  # host A goes down: its server ...
    a.server.proc.wait(30)
    os.killpg(t["supervisor_pid"], signal.SIGKILL)  # ... and its supervisor with the agent
    wait_for(
        lambda: not pid_alive(t["supervisor_pid"]) and not pid_alive(t["agent_pid"]),
        "host A's thread to die",
    )
    # From here on nothing runs as host A: a command there would beat for it.
    wait_for(
        lambda: not [x for x in b.json("lock", "list") if x["path"] == file],
        "host B to free host A's lease",
    )
    lapsed = {h["id"]: h["state"] for h in b.json("hosts")}
    assert lapsed == {"host-a": "lapsed", "host-b": "live"}
    assert b.json("task", "show", task)["status"] == "available"
    far = wait_for(
        lambda: (x := b.json("thread", "status", "far"))["status"] == "failed" and x,
        "host B to fail host A's thread",
    )
    assert "host host-a" in far["error"] and "stopped answering" in far["error"]
    [mine] = answers(b.edit(session(b, 99), file))
    assert mine.allowed, mine
    me = b.json("instance", "register", "--role", "worker", "--pid", str(os.getpid()))["id"]
    assert b.json("task", "claim", task, "--as", me)["claimed_by"] == me
