"""Hosts over the API: the server beats for its host, `GET /api/hosts` lists hosts, and an
agent registering from another host names it, so its pid is never looked up on the server."""

from __future__ import annotations

import subprocess

import httpx

from tests.api.conftest import Server
from tests.support import dump
from tests.threads.conftest import wait_for


def test_the_server_beats_for_its_host(api: httpx.Client) -> None:
    def here() -> object:
        rows = api.get("/api/hosts").json()
        return [r for r in rows if r["here"] and r["state"] == "live"]

    [row] = wait_for(here, what="the server's host to beat")  # type: ignore[misc]
    assert set(row) >= {"id", "name", "heartbeat_age", "clock_offset", "state"}
    assert row["clock_offset"] == 0.0  # an embedded store has no clock of its own


def test_a_pid_registered_for_another_host_is_not_checked_on_the_server(
    served: Server, api: httpx.Client
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    refused = api.post("/api/instances", json={"role": "here", "pid": gone.pid})
    assert refused.status_code == 400 and "no running process" in refused.json()["error"]
    far = api.post(
        "/api/instances",
        json={"role": "far", "pid": gone.pid, "host": "laptop", "host_id": "laptop-1"},
    )
    assert far.status_code == 201, far.text
    assert far.json()["host_id"] == "laptop-1" and far.json()["pid_start"] is None
    api.post("/api/cleanup").raise_for_status()
    assert api.get(f"/api/instances/{far.json()['id']}").json()["state"] == "idle"


def test_a_bad_host_id_is_refused_and_changes_nothing(served: Server, api: httpx.Client) -> None:
    db = served.repo / ".ctui" / "ctui.db"
    before = dump(db)
    bad = api.post("/api/instances", json={"role": "x", "host_id": "two words"})
    assert bad.status_code == 400 and "bad host id" in bad.json()["error"]
    assert {k: v for k, v in dump(db).items() if k != "hosts"} == {
        k: v for k, v in before.items() if k != "hosts"
    }
