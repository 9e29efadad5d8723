"""`ctui events`, `ctui cleanup` and `ctui conflicts` from a CLI connected to a real `ctui serve`.

The client is a real process in another repository: what it shows (and what
cleanup reaps) must be the server's store, read through the API, in the same
format as the same command run on the server's machine; `--local` reads its
own store, and a lost server is one line and exit 1, never a local fall-back.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from tests.api.conftest import TOKEN, Server, connected, free_port, make_repo, one_line
from tests.conftest import CTUI, Cli

pytestmark = pytest.mark.slow

LINE_WAIT_S = 30


@pytest.fixture
def client_dir(tmp_path: Path, served: Server) -> Cli:
    """A repository of its own (so `--local` has a store and worktrees), connected."""
    return connected(make_repo(tmp_path / "elsewhere"), served)


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[Server]:
    """A server whose loop never ticks again after start-up, so only `cleanup` reaps."""
    server = Server(make_repo(tmp_path / "quiet"), "--interval", "3600")
    yield server
    server.stop()


def on_server(served: Server) -> Cli:
    """The same command run on the server's machine, on its store."""
    return Cli(served.repo)


def publish(served: Server, *kinds: str) -> list[int]:
    with served.client() as http:
        return [
            int(http.post("/api/events", json={"kind": k, "data": {"n": i}}).json()["id"])
            for i, k in enumerate(kinds)
        ]


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stdout lines, read by a thread so a test can wait with a bound;
    an empty string marks the end of the output."""
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                found.put(line)
        finally:
            found.put("")

    threading.Thread(target=read, daemon=True).start()
    return found


def stored_state(repo: Path, instance: str) -> str:
    """The state in the row itself (`instance list` shows a lapsed one as stale unreaped)."""
    with sqlite3.connect(repo / ".ctui" / "ctui.db") as db:
        row = db.execute("SELECT state FROM instances WHERE id = ?", (instance,)).fetchone()
    return str(row[0])


def no_local_store(cli: Cli) -> bool:
    return not (cli.cwd / ".ctui" / "ctui.db").exists()


def test_events_listed_remotely_equal_the_servers_store(served: Server, client_dir: Cli) -> None:
    publish(served, "probe.a", "probe.b", "other.c", "probe.a", "other.d")
    there = on_server(served)
    for args in (
        ["--limit", "100"],
        ["--limit", "3"],
        ["--since", "2", "--limit", "4"],
        ["--kind", "probe.*"],
        ["--kind", "probe.b", "other.*", "--limit", "2"],
        ["--kind", "probe.a", "--kind", "other.d", "--since", "1"],
    ):
        remote = client_dir.json("events", *args)
        assert remote == there.json("events", *args), args
        assert remote, args
    kinds = [e["kind"] for e in client_dir.json("events", "--kind", "probe.*")]  # type: ignore[union-attr]
    assert kinds and set(kinds) == {"probe.a", "probe.b"}

    text = client_dir("events", "--limit", "100")
    assert text.returncode == 0, text.stderr
    head, *rest = text.stdout.splitlines()
    assert head.startswith(f"server {served.url}") and "--local" in head
    assert rest == there("events", "--limit", "100").stdout.splitlines()
    assert no_local_store(client_dir), "nothing read a local store"


def test_a_bounded_follow_prints_the_same_lines_as_on_the_server(
    served: Server, client_dir: Cli
) -> None:
    first = publish(served, "bounded.one", "bounded.two")[0]
    args = ["events", "--follow", "--for", "1", "--since", str(first - 1), "--kind", "bounded.*"]
    remote = client_dir(*args)
    assert remote.returncode == 0, remote.stderr
    head, *rest = remote.stdout.splitlines()
    assert head.startswith(f"server {served.url}")
    assert rest == on_server(served)(*args).stdout.splitlines() and len(rest) == 2
    as_json = client_dir(*args, "--json")
    assert [json.loads(line)["kind"] for line in as_json.stdout.splitlines()] == [
        "bounded.one",
        "bounded.two",
    ], "--json lines only, no server line"


def requests_to(served: Server, route: str) -> int:
    """How many GET requests the server answered on `route` (its /metrics histogram)."""
    with served.client() as http:
        text = http.get("/metrics").text
    key = f'_count{{method="GET",route="{route}"}} '
    return sum(int(float(line.split()[-1])) for line in text.splitlines() if key in line)


@contextlib.contextmanager
def following(
    served: Server, client_dir: Cli, kind: str
) -> Iterator[tuple[int, subprocess.Popen[str], queue.Queue[str]]]:
    """A remote `ctui events --follow --json --kind KIND` from the server's newest event on:
    that event's id, the process, and its lines as they come; killed if still running."""
    with served.client() as http:
        start = int(http.get("/api/events/latest").json()["id"])
    proc = subprocess.Popen(
        [CTUI, "events", "--follow", "--json", "--since", str(start), "--kind", kind],
        cwd=client_dir.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield start, proc, lines_of(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_remote_follow_reads_the_servers_event_stream_instead_of_polling(
    served: Server, client_dir: Cli
) -> None:
    streams = requests_to(served, "/api/events/stream")  # the server is shared by the module
    with following(served, client_dir, "streamed.*") as (_, proc, got):
        first = publish(served, "streamed.one")
        assert json.loads(got.get(timeout=LINE_WAIT_S))["id"] == first[0]
        polls = requests_to(served, "/api/events")
        later = publish(served, "noise.skip", "streamed.two", "noise.skip", "streamed.three")
        seen = [json.loads(got.get(timeout=LINE_WAIT_S)) for _ in range(2)]
        assert [(e["id"], e["kind"]) for e in seen] == [
            (later[1], "streamed.two"),
            (later[3], "streamed.three"),
        ], "the server filters the stream by --kind"
        assert requests_to(served, "/api/events") == polls, "no polling while it streams"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.returncode == 130
        deadline = time.monotonic() + 30  # a stream is counted once the server sees it close
        while requests_to(served, "/api/events/stream") == streams and time.monotonic() < deadline:
            time.sleep(0.1)
        assert requests_to(served, "/api/events/stream") == streams + 1, "one stream, kept open"


def test_follow_sees_each_later_event_once_in_order_until_ctrl_c(
    served: Server, client_dir: Cli
) -> None:
    with following(served, client_dir, "live.*") as (start, proc, got):
        published = publish(served, "live.first")
        assert json.loads(got.get(timeout=LINE_WAIT_S))["id"] == published[0], "it is following"

        def burst() -> None:  # two writers at once: ids interleave, the follower must not care
            published.extend(publish(served, *["live.burst", "noise.skip"] * 15))

        writers = [threading.Thread(target=burst) for _ in range(2)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(60)
        want = sorted(
            e["id"]
            for e in on_server(served).json("events", "--since", str(start), "--limit", "1000")  # type: ignore[union-attr]
            if e["kind"].startswith("live.")
        )
        assert len(want) == 31
        seen = [published[0]]
        while len(seen) < len(want):
            seen.append(json.loads(got.get(timeout=LINE_WAIT_S))["id"])
        assert seen == want, "each event once, in id order"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.returncode == 130 and "Traceback" not in err, err
        rest = []
        while line := got.get(timeout=LINE_WAIT_S):
            rest.append(line)
        assert rest == [], "nothing printed twice after the last one"
    assert no_local_store(client_dir)


def test_cleanup_reaps_on_the_servers_store_not_this_one(quiet: Server, tmp_path: Path) -> None:
    client = Cli(make_repo(tmp_path / "client"))
    assert client("remote", "connect", quiet.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
    with quiet.client() as http:
        there = http.post("/api/instances", json={"role": "gone", "ttl": 0.2}).json()["id"]
        held = {"path": "src/app.py", "instance": there}
        assert http.post("/api/locks", json=held).status_code == 201
    local = Coordinator.open(client.cwd)
    try:
        here = local.instances.register(role="gone-here", ttl=0.2).id
    finally:
        local.close()
    time.sleep(0.5)  # both heartbeats are now older than their TTL

    done = client.json("cleanup")
    assert done["instances_reaped"] == [there]  # type: ignore[index]
    assert done["leases_expired"] == 0  # type: ignore[index]
    states = {i["id"]: i["state"] for i in on_server(quiet).json("instance", "list", "--all")}  # type: ignore[union-attr]
    assert states[there] == "stale"
    assert on_server(quiet).json("lock", "list") == [], "the stale holder's lease went with it"
    assert stored_state(client.cwd, here) == "idle", "the client's own store was not touched"

    again = client("cleanup")
    assert again.returncode == 0, again.stderr
    head, text = again.stdout.splitlines()
    assert head.startswith(f"server {quiet.url}")
    assert text == on_server(quiet)("cleanup").stdout.strip()
    assert text.startswith("reaped 0 stale instance(s)")

    forced = client.json("cleanup", "--local")
    assert forced["instances_reaped"] == [here]  # type: ignore[index]
    assert stored_state(client.cwd, here) == "stale"
    assert client("cleanup", "--local").stdout.startswith("reaped 0"), "no server line"


def test_conflicts_remote_match_the_servers_and_local_scans_this_repository(
    served: Server, client_dir: Cli
) -> None:
    quiet_scan = client_dir("conflicts")
    assert quiet_scan.returncode == 0, quiet_scan.stderr
    assert quiet_scan.stdout.splitlines()[1:] == ["no conflicts"]
    c = Coordinator.open(served.repo)
    try:
        for name in ("left", "right"):
            path, _, _ = c.worktrees.create(name)
            (path / "src" / "app.py").write_text(f"print({name!r})\n")
            (path / f"{name}.txt").write_text("x\n")
    finally:
        c.close()
    with served.client() as http:
        other = http.post("/api/instances", json={"role": "reviewer"}).json()["id"]
        lease = {"path": "left.txt", "instance": other}
        assert http.post("/api/locks", json=lease).status_code == 201
        spec = http.get("/api/openapi.json").json()
    ok = spec["paths"]["/api/conflicts"]["get"]["responses"]["200"]
    assert "ConflictsOut" in json.dumps(ok)

    remote = client_dir("conflicts", "--json")
    there = on_server(served)("conflicts", "--json")
    assert remote.returncode == there.returncode == 12, remote.stderr
    found: dict[str, Any] = json.loads(remote.stdout)
    assert found == json.loads(there.stdout)
    assert found["overlaps"] == [{"path": "src/app.py", "worktrees": ["left", "right"]}]
    assert found["leased"] == [
        {"path": "left.txt", "worktree": "left", "holder": other, "lease": "left.txt"}
    ]
    text = client_dir("conflicts")
    assert text.returncode == 12
    head, *rest = text.stdout.splitlines()
    assert head.startswith(f"server {served.url}")
    assert rest == on_server(served)("conflicts").stdout.splitlines() and len(rest) == 2

    local = client_dir("conflicts", "--local")
    assert (local.returncode, local.stdout) == (0, "no conflicts\n"), local.stderr


def test_local_reads_this_repositorys_events(served: Server, client_dir: Cli) -> None:
    publish(served, "server.only")
    made = client_dir("decisions", "add", "--category", "x", "--title", "mine", "--local")
    assert made.returncode == 0, made.stderr
    local = client_dir.json("events", "--local", "--limit", "100")
    kinds = {e["kind"] for e in local}  # type: ignore[union-attr]
    assert "decision.logged" in kinds and "server.only" not in kinds
    remote = client_dir.json("events", "--limit", "100")
    assert "server.only" in {e["kind"] for e in remote}  # type: ignore[union-attr]
    text = client_dir("events", "--local")
    assert text.returncode == 0 and text.stdout.startswith("ID "), "no server line"
    bad = client_dir("events", "--since", "-1")
    assert bad.returncode == 2 and "0 or more" in one_line(bad), "refused on either side alike"


def test_a_stopped_server_is_one_line_and_no_local_store(client_dir: Cli) -> None:
    state = client_dir.cwd / ".ctui" / "remote.json"
    saved = json.loads(state.read_text())
    state.write_text(json.dumps({**saved, "url": f"http://127.0.0.1:{free_port()}"}))
    for args in (
        ["events"],
        ["events", "--json"],
        ["events", "--follow", "--since", "0"],
        ["events", "--kind", "x.*"],
        ["cleanup"],
        ["cleanup", "--json"],
        ["conflicts"],
    ):
        done = client_dir(*args)
        assert done.returncode == 1, args
        assert "does not answer" in one_line(done), args
        if "--json" in args:
            assert json.loads(done.stdout)["exit_code"] == 1
        else:
            assert done.stdout == "", args
    assert no_local_store(client_dir), "never a silent local fall-back"


def test_a_server_lost_mid_follow_is_one_line_and_exit_1(quiet: Server, tmp_path: Path) -> None:
    client = Cli(tmp_path)
    assert client("remote", "connect", quiet.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
    proc = subprocess.Popen(
        [CTUI, "events", "--follow", "--since", "0", "--kind", "before.*"],
        cwd=client.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        got = lines_of(proc)
        publish(quiet, "before.loss")
        assert got.get(timeout=LINE_WAIT_S).startswith(f"server {quiet.url}")
        assert "before.loss" in got.get(timeout=LINE_WAIT_S)
        quiet.stop()
        proc.wait(timeout=60)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.returncode == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "does not answer" in lines[0], err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
