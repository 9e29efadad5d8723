"""The orchestrator loop inside `ctui serve`: its concurrency limit, several workers, races."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, Server, clean_env, make_repo

pytestmark = pytest.mark.slow


def test_loop_respects_max_concurrent_with_two_workers(tmp_path: Path) -> None:
    env = clean_env(CT_API_TOKEN=TOKEN)
    repo = make_repo(tmp_path / "repo")
    server = Server(repo, "--workers", "2", "--max-concurrent", "1", token=None, env=env)
    server.token = TOKEN
    try:
        with server.client() as http:
            for n in range(3):
                body = {
                    "name": f"queued-{n}",
                    "agent": "command",
                    "command": f"sh -c 'env > env-{n}.txt; sleep 0.6'",
                    "worktree": False,
                }
                assert http.post("/api/threads", json=body).status_code == 201
            most, statuses = 0, {}
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                statuses = {t["name"]: t["status"] for t in http.get("/api/threads").json()}
                most = max(most, sum(1 for s in statuses.values() if s == "running"))
                if all(s == "completed" for s in statuses.values()):
                    break
                time.sleep(0.1)
            assert statuses == {f"queued-{n}": "completed" for n in range(3)}
            assert most == 1
            assert http.get("/api/orchestrator").json()["process"] == "supervisor"
        with server.client(token=None) as anonymous:
            assert {anonymous.get("/api/status").status_code for _ in range(6)} == {401}
        for n in range(3):
            seen = (repo / f"env-{n}.txt").read_text()
            assert "CTUI_THREAD_ID=queued-" in seen and TOKEN not in seen, (
                "agents never see the token"
            )
    finally:
        assert server.stop() == 0
    assert not (server.repo / ".ctui" / "api.json").exists()


@pytest.mark.parametrize("attempt", range(3))
def test_racing_claims_and_leases_through_the_api(served: Server, attempt: int) -> None:
    """Eight clients race for one task and one file: exactly one wins each."""
    with served.client() as http:
        racers = [
            http.post("/api/instances", json={"role": f"racer{attempt}"}).json()["id"]
            for _ in range(8)
        ]
        task = http.post(
            "/api/tasks", json={"description": f"contested {attempt}", "priority": 1}
        ).json()["id"]
    claims: list[int] = []
    leases: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(racers))

    def race(who: str) -> None:
        with served.client() as http:
            barrier.wait(10)
            claim = http.post(f"/api/tasks/{task}/claim", json={"instance": who}).status_code
            lease = http.post(
                "/api/locks", json={"path": f"race/{attempt}.py", "instance": who}
            ).status_code
        with lock:
            claims.append(claim)
            leases.append(lease)

    threads = [threading.Thread(target=race, args=(who,)) for who in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(claims) == [200] + [409] * 7, claims
    assert sorted(leases) == [201] + [409] * 7, leases
