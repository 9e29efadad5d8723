"""Claim attempts over the API and through a connected CLI: a stale attempt is a 409 with
exit code 11 and changes nothing (issue 11)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, Server, make_repo
from tests.conftest import Cli
from tests.support import dump as dump_all

pytestmark = pytest.mark.slow


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """The whole store but `hosts`: the server's loop beats for its host on its own."""
    rows = dump_all(db)
    rows.pop("hosts")
    return rows


@pytest.mark.timeout(180)
def test_a_stale_attempt_is_refused_over_the_api_and_remote_cli(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".ctui").mkdir()
    (repo / ".ctui" / "config.toml").write_text("[tasks]\nclaim_ttl = 3\n")
    server = Server(repo)
    try:
        with server.client() as api:
            me = api.post("/api/instances", json={"role": "worker"}).json()["id"]
            tid = api.post("/api/tasks", json={"description": "job"}).json()["id"]
            first = api.post("/api/tasks/claim", json={"instance": me, "task_id": tid}).json()
            assert first["attempt"] == 1
            time.sleep(3.5)  # the claim runs out
            second = api.post(f"/api/tasks/{tid}/claim", json={"instance": me}).json()
            assert (second["claimed_by"], second["attempt"]) == (me, 2), second
            db = repo / ".ctui" / "ctui.db"
            before = dump(db)
            for verb in ("complete", "fail"):
                stale = api.post(f"/api/tasks/{tid}/{verb}", json={"instance": me, "attempt": 1})
                assert stale.status_code == 409 and stale.json()["exit_code"] == 11, stale.text
                assert "attempt 2 now holds it" in stale.json()["error"]
            bad = api.post(f"/api/tasks/{tid}/complete", json={"instance": me, "attempt": 0})
            assert bad.status_code == 422
            assert dump(db) == before
            done = api.post(f"/api/tasks/{tid}/complete", json={"instance": me, "attempt": 2})
            assert done.status_code == 200 and done.json()["status"] == "done", done.text
            after = dump(db)

            client = tmp_path / "client"
            client.mkdir()
            cli = Cli(client)
            assert cli("remote", "connect", server.url, env={"CT_API_TOKEN": TOKEN}).returncode == 0
            stale = cli("task", "complete", tid, "--attempt", "1", "--as", me)
            assert stale.returncode == 11 and stale.stderr.count("\n") == 1, stale.stderr
            assert "attempt 1" in stale.stderr and "done after attempt 2" in stale.stderr
            assert dump(db) == after
    finally:
        server.stop()
