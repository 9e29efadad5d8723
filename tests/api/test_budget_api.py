"""Budgets and resume over the API: caps on create, the resume route, spend in status, /metrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server, clean_env, connected, make_repo

FAKES = Path(__file__).resolve().parent.parent / "fakes"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    repo = make_repo(tmp_path / "repo")
    (repo / ".ctui").mkdir()
    (repo / ".ctui" / "config.toml").write_text("[budget]\nday_usd = 40\n")
    env = clean_env(CTUI_CLAUDE_BIN=str(FAKES / "claude"), FAKE_AGENT_PYTHON=sys.executable)
    s = Server(repo, env=env)
    try:
        yield s
    finally:
        with s.client() as api:
            for t in api.get("/api/threads").json():
                if t["status"] in ("running", "waiting"):
                    api.post(f"/api/threads/{t['name']}/stop", json={"grace": 1})
        s.stop()


def _settled(api: httpx.Client, name: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        t = api.get(f"/api/threads/{name}").json()
        if t["status"] not in ("running", "waiting"):
            return dict(t)
        time.sleep(0.1)
    raise AssertionError(f"{name} did not end")


def _answering(api: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if api.get("/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server never answered /api/health")


def test_caps_resume_and_spend_over_http(server: Server) -> None:
    with server.client() as api:
        body = {
            "name": "capped",
            "prompt": "FAKE_SPEND=5:10000 FAKE_HANG",
            "worktree": False,
            "start": True,
            "budget_tokens": 25000,
        }
        assert api.post("/api/threads", json=body).status_code == 201
        t = _settled(api, "capped")
        assert t["status"] == "budget_exceeded" and t["budget"] == {"tokens": 25000}
        body = {"name": "limited", "prompt": "FAKE_LIMIT=1900000000", "worktree": False}
        assert api.post("/api/threads", json={**body, "start": True}).status_code == 201
        t = _settled(api, "limited")
        assert t["status"] == "paused" and t["resume_at"] == "2030-03-17T17:46:40Z"
        r = api.post("/api/threads/limited/resume", json={"prompt": "carry on"})
        assert r.status_code == 200, r.text
        t = _settled(api, "limited")
        assert t["status"] == "completed" and t["run_id"] == 2
        assert [r["kind"] for r in t["runs"]] == ["start", "resume"]  # type: ignore[attr-defined]
        r = api.post("/api/threads/limited/resume", json={"prompt": 5})
        assert r.status_code == 422
        r = api.post("/api/threads/nope/resume")
        assert r.status_code == 404
        bad = {"name": "bad", "prompt": "x", "budget_usd": -1}
        assert api.post("/api/threads", json=bad).status_code == 422
        assert api.get("/api/threads/bad").status_code == 404
        day = api.get("/api/status", params={"fresh": True}).json()["budget"]["day"]
        assert day["usd_cap"] == 40 and day["tokens"] >= 25000
        metrics = api.get("/metrics").text
        assert 'ctui_budget_cap{scope="day",unit="usd"} 40.0' in metrics
        assert f'ctui_spend_tokens{{scope="day"}} {day["tokens"]}' in metrics


def test_resume_through_a_connected_cli(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    with server.client() as api:
        _answering(api)  # api.json is written before the worker processes answer
        cli = connected(folder, server)
        body = {"name": "far", "prompt": "FAKE_LIMIT", "worktree": False, "start": True}
        assert api.post("/api/threads", json=body).status_code == 201
        assert _settled(api, "far")["status"] == "paused"
        proc = cli("thread", "resume", "far", "-p", "go on", "--budget-usd", "3", "--json")
        assert proc.returncode == 0, proc.stderr
        t = _settled(api, "far")
        assert t["status"] == "completed" and t["budget"] == {"usd": 3.0}
        shown = cli("thread", "status", "far")
        assert "run #2" in shown.stdout and "resumes" in shown.stdout
