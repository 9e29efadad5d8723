"""The queue through every face: the CLI, `ctui serve` (its API and its runner loop), MCP."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mcp import Client

from ctui.core import Coordinator
from ctui.mcp.server import build_server
from tests.api.conftest import Server
from tests.conftest import Cli, git
from tests.merge.conftest import configure, thread_with, tracked


def test_cli_queue_list_remove_and_run(repo: Path, cli: Cli) -> None:
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"same.txt": "a\n"})
    thread_with(c, "b", {"same.txt": "b\n"})
    thread_with(c, "c", {"c.txt": "c\n"})
    done = cli("merge", "a", "b", "c")
    assert done.returncode == 0, done.stderr
    assert "queued #1 a (ctui/a → main)" in done.stdout
    listed = cli("merge", "list")
    assert "predicted conflicts" in listed.stdout and "same.txt  changed by a, b" in listed.stdout
    doc = cli.json("merge", "list")
    assert [e["thread"] for e in doc["entries"]] == ["a", "b", "c"]  # type: ignore[index]
    assert cli("merge", "remove", "c").returncode == 0
    again = cli("merge", "remove", "c")
    assert again.returncode == 12 and again.stderr.count("\n") == 1
    ran = cli("merge", "run", "--json")
    assert ran.returncode == 1, "b was sent back"
    summary = json.loads(ran.stdout)
    assert summary["landed"] == ["a"] and summary["conflict"] == ["b"]
    every = cli.json("merge", "list", "--all")
    statuses = {e["thread"]: e["status"] for e in every["entries"]}  # type: ignore[index]
    assert statuses == {"a": "landed", "b": "conflict", "c": "removed"}
    assert cli("thread", "list").stdout.count("merged") == 1
    c.close()


def test_cli_bad_input_is_one_line_and_changes_nothing(repo: Path, cli: Cli) -> None:
    configure(repo)
    for args, code in (
        (("merge", "ghost"), 4),
        (("merge", "list", "extra"), 2),
        (("merge", "run", "--all"), 2),
        (("merge", "a", "--wait", "3"), 2),
        (("merge", "remove"), 2),
    ):
        done = cli(*args)
        assert done.returncode == code, (args, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
    (repo / ".ctui" / "config.toml").write_text('[merge]\nstrategy = "squash"\n')
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "a\n"})
    assert cli("merge", "a").returncode == 0
    bad = cli("merge", "run")
    assert bad.returncode == 2 and "strategy must be" in bad.stderr
    assert c.merge.get("a").status == "queued"
    c.close()


def test_serve_runs_the_queue_and_the_api_sees_it(repo: Path) -> None:
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"a.txt": "A\n"})
    c.threads.set_blocked("a", True, reason="finished by hand")  # serve starts ready threads
    server = Server(repo)
    try:
        with server.client() as http:
            assert http.post("/api/merge", json={"threads": []}).status_code == 422
            assert http.post("/api/merge", json={"threads": ["ghost"]}).status_code == 404
            made = http.post("/api/merge", json={"threads": ["a"], "by": "api-test"})
            assert made.status_code == 201, made.text
            assert http.post("/api/merge", json={"threads": ["a"]}).status_code == 409
            deadline = time.monotonic() + 60
            while http.get("/api/merge/a").json()["status"] != "landed":
                assert time.monotonic() < deadline, http.get("/api/merge/a").text
                time.sleep(0.2)
            assert http.get("/api/merge").json()["entries"] == []
            every = http.get("/api/merge", params={"all": "true"}).json()["entries"]
            assert every[0]["gate"]["passed"] is True and every[0]["queued_by"] == "api-test"
            assert http.post("/api/merge/1/remove").status_code == 409
            thread = http.get("/api/threads/a").json()
            assert thread["status"] == "merged"
    finally:
        assert server.stop() == 0
    assert tracked(repo) == {"a.txt": "A\n"}
    c.close()


async def test_mcp_tools_queue_and_list(repo: Path) -> None:
    configure(repo)
    c = Coordinator.open(repo)
    thread_with(c, "a", {"same.txt": "a\n"})
    thread_with(c, "b", {"same.txt": "b\n"})
    async with Client(build_server(c.store.path), mode="legacy") as client:
        result = await client.call_tool("merge_thread", {"threads": ["a", "b"]})
        assert not result.is_error, result.content
        listed = await client.call_tool("merge_queue", {})
        doc = listed.structured_content
        assert doc is not None and [e["thread"] for e in doc["entries"]] == ["a", "b"]
        assert doc["predicted"] == [{"path": "same.txt", "threads": ["a", "b"]}]
        bad = await client.call_tool("merge_thread", {"threads": ["ghost"]})
        assert bad.is_error
    assert git(repo, "rev-parse", "main") and len(c.merge.list()) == 2
    c.close()
