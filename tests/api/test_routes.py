"""Every route family on a real server: shapes, status codes, refusals that change nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading

import httpx
import pytest

from tests.api.conftest import Server
from tests.conftest import CTUI
from tests.support import dump

pytestmark = pytest.mark.slow


def test_status_is_the_cli_status_document(served: Server, api: httpx.Client) -> None:
    api.post("/api/decisions", json={"category": "api", "title": "Use REST"}).raise_for_status()
    via_api = api.get("/api/status").json()
    cli = subprocess.run(
        [CTUI, "status", "--json"], cwd=served.repo, capture_output=True, text=True, timeout=30
    )
    via_cli = json.loads(cli.stdout)
    assert set(via_api) == set(via_cli) >= {"instances", "locks", "threads", "tasks", "decisions"}
    assert [d["id"] for d in via_api["decisions"]] == [d["id"] for d in via_cli["decisions"]]
    assert [i["id"] for i in via_api["instances"]] == [i["id"] for i in via_cli["instances"]]


def test_status_shows_every_change_at_once(api: httpx.Client) -> None:
    """The shared status copy is rebuilt by the next reader after any logged change."""
    who = api.post("/api/instances", json={"role": "watcher"}).json()["id"]
    for n in range(5):
        api.get("/api/status").raise_for_status()
        api.post("/api/locks", json={"path": f"docs/n{n}.md", "instance": who}).raise_for_status()
        held = {lease["path"] for lease in api.get("/api/status").json()["locks"]}
        assert f"docs/n{n}.md" in held
        api.post(
            "/api/locks/release", json={"path": f"docs/n{n}.md", "instance": who}
        ).raise_for_status()
        held = {lease["path"] for lease in api.get("/api/status").json()["locks"]}
        assert f"docs/n{n}.md" not in held
    fresh = api.get("/api/status", params={"fresh": True}).json()
    assert set(fresh) == set(api.get("/api/status").json())


def test_openapi_lists_every_route_family(api: httpx.Client) -> None:
    paths = api.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/health",
        "/api/status",
        "/api/threads",
        "/api/threads/{name}/start",
        "/api/events",
        "/api/events/stream",
        "/api/instances",
        "/api/locks",
        "/api/locks/force-release",
        "/api/decisions",
        "/api/decisions/search",
        "/api/tasks",
        "/api/tasks/claim",
        "/api/tasks/{task_id}/complete",
        "/api/tasks/{task_id}/fail",
        "/api/discoveries",
    ):
        assert path in paths, path


def test_instances_register_heartbeat_unregister(api: httpx.Client) -> None:
    made = api.post("/api/instances", json={"role": "backend", "task": "auth"})
    assert made.status_code == 201
    iid = made.json()["id"]
    assert (
        api.post(f"/api/instances/{iid}/heartbeat", json={"state": "working"}).json()["state"]
        == "working"
    )
    assert iid in [i["id"] for i in api.get("/api/instances").json()]
    assert api.delete(f"/api/instances/{iid}").json()["id"] == iid
    assert (
        api.post(f"/api/instances/{iid}/heartbeat").status_code == 409
    )  # ended: stale instance (exit 13)
    assert api.post(f"/api/instances/{iid}/heartbeat").json()["exit_code"] == 13
    assert api.get("/api/instances/nobody-here").status_code == 404


def test_locks_and_their_error_codes(served: Server, api: httpx.Client) -> None:
    a = api.post("/api/instances", json={"role": "a"}).json()["id"]
    b = api.post("/api/instances", json={"role": "b"}).json()["id"]
    got = api.post("/api/locks", json={"path": "src/app.py", "instance": a, "intent": "refactor"})
    assert got.status_code == 201
    assert got.json()["holder"] == a and got.json()["path"] == "src/app.py"
    again = api.post("/api/locks", json={"path": "src/app.py", "instance": a})
    assert again.status_code == 200 and again.json()["token"] == got.json()["token"]
    held = api.post("/api/locks", json={"path": "src/app.py", "instance": b})
    assert held.status_code == 409 and held.json()["exit_code"] == 10
    assert a in held.json()["error"]
    glob = api.post("/api/locks", json={"path": "src/**", "instance": b})
    assert glob.status_code == 409
    check = api.get("/api/locks/check", params={"path": "src/app.py"}).json()
    assert check["held"] is True and check["holder"] == a
    assert (
        api.post("/api/locks/release", json={"path": "src/app.py", "instance": b}).status_code
        == 409
    )
    assert (
        api.post("/api/locks/renew", json={"path": "src/app.py", "instance": a, "ttl": 60}).json()[
            "ttl"
        ]
        == 60
    )
    assert (
        api.post("/api/locks/verify", json={"path": "src/app.py", "instance": a}).json()[
            "unchanged"
        ]
        is True
    )
    (served.repo / "src" / "app.py").write_text("changed behind the lease\n")
    verify = api.post("/api/locks/verify", json={"path": "src/app.py", "instance": a})
    assert verify.status_code == 409 and verify.json()["exit_code"] == 12
    forced = api.post("/api/locks/force-release", json={"path": "src/app.py", "reason": "stuck"})
    assert forced.json()["forced"] is True and forced.json()["holder"] == a
    assert (
        api.post("/api/locks/release", json={"path": "src/app.py", "instance": a}).status_code
        == 404
    )
    assert api.get("/api/locks/check", params={"path": "src/app.py"}).json()["held"] is False


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "exit_code"),
    [
        ("POST", "/api/locks", {"path": "/etc/passwd"}, 400, 2),
        ("POST", "/api/locks", {"path": "src/x.py", "ttl": -1}, 422, 2),
        ("POST", "/api/locks", {"path": ""}, 422, 2),
        ("POST", "/api/locks", {"path": "src/x.py", "surprise": 1}, 422, 2),
        ("POST", "/api/locks", "not json", 422, 2),
        ("POST", "/api/locks/force-release", {"path": "src/x.py", "reason": "   "}, 400, 2),
        ("POST", "/api/decisions", {"category": "Bad Category!", "title": "t"}, 400, 2),
        ("POST", "/api/decisions", {"category": "api"}, 422, 2),
        (
            "POST",
            "/api/decisions",
            {"category": "api", "title": "t", "supersedes": "DEC-20200101-0001"},
            404,
            4,
        ),
        ("GET", "/api/decisions/DEC-20200101-0999", None, 404, 4),
        ("GET", "/api/decisions/search?q=%20%20", None, 400, 2),
        ("POST", "/api/tasks", {"description": "x", "priority": 11}, 422, 2),
        ("POST", "/api/tasks", {"description": "x", "depends_on": ["task-9999"]}, 404, 4),
        ("GET", "/api/tasks/task-9999", None, 404, 4),
        ("POST", "/api/tasks/task-9999/complete", {"instance": "operator"}, 404, 4),
        ("GET", "/api/tasks?status=bogus", None, 400, 2),
        ("POST", "/api/events", {"kind": "has spaces"}, 422, 2),
        ("GET", "/api/events?since=-1", None, 422, 2),
        ("POST", "/api/instances", {"id": "operator"}, 400, 2),
        ("POST", "/api/discoveries", {"text": "   "}, 400, 2),
        ("GET", "/api/threads/no-such-thread", None, 404, 4),
        ("POST", "/api/threads/no-such-thread/start", None, 404, 4),
        (
            "POST",
            "/api/threads",
            {"name": "Bad Name!", "agent": "command", "command": "true"},
            400,
            2,
        ),
        ("GET", "/api/no/such/route", None, 404, 4),
        ("GET", "/api/instances/nobody-here", None, 404, 4),
        ("POST", "/api/instances/nobody-here/heartbeat", None, 404, 4),
        ("POST", "/api/locks", {"path": "src/x.py", "instance": "ghost"}, 404, 4),
        ("POST", "/api/tasks/claim", {"instance": "ghost"}, 404, 4),
        ("POST", "/api/decisions", b'{"category": "api", "title": ', 422, 2),
    ],
)
def test_bad_input_gets_the_right_code_and_changes_nothing(
    served: Server,
    api: httpx.Client,
    method: str,
    path: str,
    body: object,
    status: int,
    exit_code: int,
) -> None:
    before = dump(served.repo / ".ctui" / "ctui.db")
    kw = (
        {"content": body, "headers": {"content-type": "application/json"}}
        if isinstance(body, str | bytes)
        else {"json": body}
        if body is not None
        else {}
    )
    answer = api.request(method, path, **kw)  # type: ignore[arg-type]
    assert answer.status_code == status, answer.text
    data = answer.json()
    assert set(data) == {"error", "exit_code"} and data["exit_code"] == exit_code
    assert data["error"] and "\n" not in data["error"]
    assert dump(served.repo / ".ctui" / "ctui.db") == before


def test_tasks_create_claim_complete_fail(api: httpx.Client) -> None:
    worker = api.post("/api/instances", json={"role": "worker"}).json()["id"]
    first = api.post("/api/tasks", json={"description": "build the parser", "priority": 2})
    assert first.status_code == 201
    tid = first.json()["id"]
    second = api.post(
        "/api/tasks", json={"description": "test it", "depends_on": [tid], "files": ["src/p.py"]}
    )
    assert second.json()["status"] == "pending"
    claimed = api.post("/api/tasks/claim", json={"instance": worker, "task_id": tid})
    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == worker
    other = api.post(f"/api/tasks/{tid}/complete", json={"instance": "operator"})
    assert other.status_code == 409
    done = api.post(f"/api/tasks/{tid}/complete", json={"instance": worker, "result": "ok"})
    assert done.json()["status"] == "done"
    nxt = api.post("/api/tasks/claim", json={"instance": worker})
    assert nxt.json()["id"] == second.json()["id"]
    failed = api.post(
        f"/api/tasks/{nxt.json()['id']}/fail", json={"instance": worker, "reason": "flaky"}
    )
    assert failed.status_code == 200
    assert (failed.json()["status"], failed.json()["attempts"]) == ("available", 1)  # 3 allowed
    assert api.get(f"/api/tasks/{tid}").json()["result"] == "ok"


def test_discoveries(api: httpx.Client) -> None:
    made = api.post(
        "/api/discoveries", json={"text": "the cache is per-process", "tags": ["cache"]}
    )
    assert made.status_code == 201
    found = api.get("/api/discoveries", params={"tag": "cache"}).json()
    assert found[0]["text"] == "the cache is per-process"


def test_events_publish_list_and_cursor(api: httpx.Client) -> None:
    cursor = api.get("/api/events/latest").json()["id"]
    made = api.post(
        "/api/events", json={"kind": "ci.finished", "subject": "pr-12", "data": {"ok": True}}
    )
    assert made.status_code == 201
    after = api.get("/api/events", params={"since": cursor}).json()
    assert [e["kind"] for e in after] == ["ci.finished"]
    assert after[0]["id"] == made.json()["id"]
    assert api.get("/api/events", params={"since": made.json()["id"]}).json() == []


def test_server_sent_events_deliver_a_published_event(served: Server, api: httpx.Client) -> None:
    seen: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with served.client() as http, http.stream("GET", "/api/events/stream") as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            for line in answer.iter_lines():
                if line.startswith(":"):
                    ready.set()
                if line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])
                    if event["kind"] == "sse.check":
                        seen.append(event)
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    api.post("/api/events", json={"kind": "sse.check", "data": {"n": 1}}).raise_for_status()
    listener.join(10)
    assert seen and seen[0]["data"] == {"n": 1}


def test_ten_concurrent_creates_all_succeed_with_distinct_ids(served: Server) -> None:
    results: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def create(n: int) -> None:
        with served.client() as http:
            barrier.wait(10)
            answer = http.post("/api/tasks", json={"description": f"parallel {n}"})
        with lock:
            results.append(answer)

    workers = [threading.Thread(target=create, args=(n,)) for n in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert [r.status_code for r in results] == [201] * 10
    assert len({r.json()["id"] for r in results}) == 10


def test_ten_concurrent_thread_creates_with_worktrees(served: Server) -> None:
    results: list[httpx.Response] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def create(n: int) -> None:
        body = {"name": f"par-{n}", "agent": "command", "command": "true", "worktree": True}
        with served.client() as http:
            barrier.wait(10)
            answer = http.post("/api/threads", json=body)
        with lock:
            results.append(answer)

    workers = [threading.Thread(target=create, args=(n,)) for n in range(10)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(r.status_code for r in results) == [201] * 10, [r.text for r in results]
    trees = {r.json()["worktree"] for r in results}
    assert len(trees) == 10 and all(trees)


def test_metrics_in_prometheus_text(api: httpx.Client) -> None:
    api.post("/api/tasks", json={"description": "counted"}).raise_for_status()
    api.post(
        "/api/events", json={"kind": "hook.denied", "subject": "src/app.py"}
    ).raise_for_status()
    text = api.get("/metrics")
    assert text.headers["content-type"].startswith("text/plain")
    body = text.text
    for name in (
        "ctui_instances{state=",
        "ctui_leases_held ",
        'ctui_tasks{status="available"}',
        "ctui_hook_denials_total ",
        "ctui_http_request_duration_seconds_bucket{",
    ):
        assert name in body, name
    denials = [line for line in body.splitlines() if line.startswith("ctui_hook_denials_total ")]
    assert int(denials[0].split()[1]) >= 1


def test_a_locked_store_is_a_503_that_writes_nothing(served: Server, api: httpx.Client) -> None:
    """Another process holds the write lock past the server's busy timeout (5 s)."""
    db = served.repo / ".ctui" / "ctui.db"
    blocker = sqlite3.connect(db, isolation_level=None, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        before = dump(db)
        answer = api.post("/api/tasks", json={"description": "blocked"})
        after = dump(db)  # read while the lock is still held, so nothing else wrote either
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert answer.status_code == 503, answer.text
    data = answer.json()
    assert set(data) == {"error", "exit_code"} and data["exit_code"] == 14  # store busy
    assert "locked" in data["error"] and "\n" not in data["error"], data
    assert after == before
