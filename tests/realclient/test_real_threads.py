"""Threads run with the real Claude Code client: what they record is what the client said."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.tui.rows import thread_row
from ctui.tui.snapshot import load
from tests.api.conftest import Server
from tests.conftest import Cli
from tests.realclient.conftest import RUN_TIMEOUT, client_env, wait_for
from tests.realclient.fake_api import Error, FakeAnthropic, Text, ToolUse, Usage

pytestmark = [pytest.mark.realclient, pytest.mark.slow]


def thread_env(api: FakeAnthropic, claude: Path, **extra: str) -> dict[str, str]:
    """What `ctui spawn` runs with: the real client as `claude`, pointed at the fake API."""
    return {**client_env(api, **extra), "CTUI_CLAUDE_BIN": str(claude)}


def status(cli: Cli, name: str) -> dict[str, Any]:
    got = cli.json("thread", "status", name)
    assert isinstance(got, dict)
    return got


def finished(cli: Cli, name: str) -> dict[str, Any]:
    return wait_for(
        lambda: (t := status(cli, name))["status"] not in ("running", "waiting") and t,
        what=f"thread {name} to end",
    )


def test_a_spawned_thread_records_what_the_server_and_the_result_line_said(
    repo: Path, cli: Cli, claude_bin: Path, fake_api: Callable[[], FakeAnthropic]
) -> None:
    api = fake_api().script(
        ToolUse(
            "Write",
            {"file_path": str(repo / ".ctui/worktrees/counted/notes.txt"), "content": "n\n"},
            text="writing the notes",
            usage=Usage(120, 30, 400, 0),
        ),
        Text("the notes are written", usage=Usage(15, 9, 0, 400)),
    )
    proc = cli("spawn", "counted", "--prompt", "write notes.txt", env=thread_env(api, claude_bin))
    assert proc.returncode == 0, proc.stderr
    t = finished(cli, "counted")
    assert t["status"] == "completed", t
    raw = cli("thread", "logs", "counted", "--raw", "--tail", "0").stdout
    result = next(
        json.loads(x)
        for x in raw.splitlines()
        if x.startswith("{") and json.loads(x).get("type") == "result"
    )
    usage = result["usage"]
    served = api.totals()
    assert served == {
        "input_tokens": 135,
        "output_tokens": 39,
        "cache_creation_input_tokens": 400,
        "cache_read_input_tokens": 400,
    }
    assert {k: usage[k] for k in served} == served
    assert (t["tokens_in"], t["tokens_out"]) == (135, 39)
    assert (t["tokens_cache_creation"], t["tokens_cache_read"]) == (400, 400)
    assert t["tokens"] == 135 + 39 + 400 + 400
    assert t["turns"] == result["num_turns"] == len(api.answered) == 2
    assert t["cost_usd"] == pytest.approx(result["total_cost_usd"], abs=1e-6)
    assert result["total_cost_usd"] > 0
    metadata = json.loads(api.main_requests()[0].body["metadata"]["user_id"])
    assert t["session_id"] == result["session_id"] == metadata["session_id"]
    assert (repo / ".ctui/worktrees/counted/notes.txt").read_text() == "n\n"
    shown = cli("thread", "status", "counted").stdout
    assert "tokens_cache_read" in shown and "400" in shown
    log = cli("thread", "logs", "counted", "--tail", "0").stdout
    if os.geteuid() == 0 and os.environ.get("IS_SANDBOX") != "1":
        # the default (automatic) mode as root: a mode the client accepts, and why
        assert "running as root" in log and "acceptEdits" in log


def test_a_529_from_the_api_is_the_threads_error(
    repo: Path, cli: Cli, claude_bin: Path, fake_api: Callable[[], FakeAnthropic]
) -> None:
    api = fake_api().script(Error(529, times=50))
    env = thread_env(api, claude_bin, CLAUDE_CODE_MAX_RETRIES="1")
    proc = cli("spawn", "overloaded", "--mode", "semi-auto", "--prompt", "hi", env=env)
    assert proc.returncode == 0, proc.stderr
    t = finished(cli, "overloaded")
    assert t["status"] == "failed" and t["api_error_status"] == 529, t
    assert t["error"].startswith("API error 529: ") and "529" in t["error"][15:]
    assert "exited with" not in t["error"]
    listed = cli("thread", "list").stdout
    assert "API error 529" in listed
    log = cli("thread", "logs", "overloaded", "--tail", "0").stdout
    server = Server(repo)
    try:
        with server.client() as http:
            got = http.get("/api/threads/overloaded").json()
    finally:
        server.stop()
    got = got.get("data", got)
    assert got["api_error_status"] == 529 and got["error"] == t["error"], got
    c = Coordinator.open(repo)
    try:
        row = next(r for r in load(c).records["threads"] if r["name"] == "overloaded")
    finally:
        c.close()
    assert thread_row(row, 0.0)[1].text == "failed 529"  # the control room's threads pane
    assert "success" not in log
    assert "── API error 529 (overloaded): retry 1 of 1" in log
    assert "── error: API error 529" in log


def test_a_thread_spawned_right_after_hooks_install_takes_a_lease(
    repo: Path, cli: Cli, claude_bin: Path, fake_api: Callable[[], FakeAnthropic]
) -> None:
    """Nothing committed: the worktree has no .claude/settings.json, the thread still has hooks."""
    assert cli("hooks", "install").returncode == 0
    assert "settings.json" in cli_git_status(repo)
    release = threading.Event()
    target = repo / ".ctui/worktrees/leaser/src/app.py"
    api = fake_api().script(
        ToolUse(
            "Write",
            {"file_path": str(target), "content": "print('leased')\n"},
            text="editing src/app.py",  # two content blocks: two stream-json lines, one message
            usage=Usage(50, 7, 200, 300),
        ),
        Text("done", hold=release),
    )
    proc = cli(
        "spawn",
        "leaser",
        "--mode",
        "semi-auto",
        "--prompt",
        "edit src/app.py",
        env=thread_env(api, claude_bin),
    )
    assert proc.returncode == 0, proc.stderr
    assert not (repo / ".ctui/worktrees/leaser/.claude/settings.json").exists()
    api.wait_requests(2, timeout=RUN_TIMEOUT)
    leases = cli.json("lock", "list")
    assert isinstance(leases, list)
    held = {lease["path"]: lease["holder"] for lease in leases}
    assert held.get("src/app.py") == status(cli, "leaser")["instance_id"], leases
    assert target.read_text() == "print('leased')\n"
    live = wait_for(
        lambda: (t := status(cli, "leaser"))["tokens_cache_read"] and t, what="live figures"
    )
    assert live["turns"] == 1 and live["status"] == "running"
    assert (live["tokens_in"], live["tokens_cache_creation"], live["tokens_cache_read"]) == (
        50,
        200,
        300,
    )
    release.set()
    assert finished(cli, "leaser")["status"] == "completed"


def cli_git_status(repo: Path) -> str:
    from tests.conftest import git

    return git(repo, "status", "--porcelain", "--untracked-files=all")


def test_a_denied_edit_reads_as_a_sentence_in_thread_logs(
    repo: Path, cli: Cli, claude_bin: Path, fake_api: Callable[[], FakeAnthropic]
) -> None:
    assert cli("hooks", "install").returncode == 0
    assert cli("lock", "acquire", "src/app.py").returncode == 0
    api = fake_api().script(
        ToolUse(
            "Write", {"file_path": str(repo / ".ctui/worktrees/denied/src/app.py"), "content": "x"}
        ),
        Text("I will wait for the lease"),
    )
    proc = cli(
        "spawn",
        "denied",
        "--mode",
        "semi-auto",
        "--prompt",
        "edit",
        env=thread_env(api, claude_bin),
    )
    assert proc.returncode == 0, proc.stderr
    assert finished(cli, "denied")["status"] == "completed"
    log = cli("thread", "logs", "denied", "--tail", "0").stdout
    refused = [line for line in log.splitlines() if line.startswith("  ↳ refused: ")]
    assert len(refused) == 1 and "src/app.py" in refused[0] and "operator" in refused[0], log
    assert "── hook SessionStart:startup added" in log
    assert not any(line.startswith("{") for line in log.splitlines()), log
    assert (repo / ".ctui/worktrees/denied/src/app.py").read_text() == "print('hello')\n"


def test_a_429_pauses_the_thread_and_resume_continues_its_session(
    repo: Path, cli: Cli, claude_bin: Path, fake_api: Callable[[], FakeAnthropic]
) -> None:
    """The client's own rate-limit result pauses the thread; `thread resume` goes on in-session."""
    api = fake_api().script(
        Text("first turn done"),
        Error(429, "Number of request tokens has exceeded your rate limit", times=5),
    )
    env = thread_env(api, claude_bin)
    assert cli("spawn", "limited", "--mode", "semi-auto", "-p", "hi", env=env).returncode == 0
    first = finished(cli, "limited")
    assert first["status"] == "completed", first
    session = first["session_id"]
    proc = cli("thread", "resume", "limited", "-p", "go on", env=env)
    assert proc.returncode == 0, proc.stderr
    t = finished(cli, "limited")
    assert t["status"] == "paused" and t["resume_at"], t  # not failed: it waits for the reset
    assert "limit" in (t["error"] or "").lower() or t.get("api_error_status") == 429, t
    with api._lock:
        api.steps.clear()  # the limit has reset
    api.script(Text("continued after the reset"))
    proc = cli("thread", "resume", "limited", env=env)
    assert proc.returncode == 0, proc.stderr
    done = finished(cli, "limited")
    assert done["status"] == "completed" and done["session_id"] == session, done
    runs = [r["kind"] for r in done["runs"]]
    assert runs == ["start", "resume", "resume"], done["runs"]
    last = api.main_requests()[-1].text()
    assert "continue" in last and "first turn done" in last  # the same conversation, resumed
