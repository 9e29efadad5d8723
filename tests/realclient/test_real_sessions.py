"""Claude Code sessions with ctui's hooks, driven by the real client: leases across worktrees,
literal file names, a locked store, SessionStart context, and MCP identity."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, git
from tests.realclient.conftest import RUN_TIMEOUT, Session, client_env, wait_for
from tests.realclient.fake_api import FakeAnthropic, Text, ToolUse

pytestmark = [pytest.mark.realclient, pytest.mark.slow]

Claude = Callable[..., Session]
Api = Callable[[], FakeAnthropic]


def leases(cli: Cli) -> dict[str, str]:
    found = cli.json("lock", "list")
    assert isinstance(found, list)
    return {lease["path"]: lease["holder"] for lease in found}


def tool_result(api: FakeAnthropic, index: int) -> str:
    """The text of the tool result the client sent in main-loop request `index`."""
    body = api.main_requests()[index].body
    for message in reversed(body["messages"]):
        for part in message.get("content") or []:
            if isinstance(part, dict) and part.get("type") == "tool_result":
                content = part.get("content")
                if isinstance(content, list):
                    return "\n".join(str(c.get("text", "")) for c in content)
                return str(content)
    raise AssertionError(f"request {index} carries no tool result")


def installed(repo: Path, cli: Cli, *, commit: bool) -> None:
    proc = cli("hooks", "install")
    assert proc.returncode == 0, proc.stderr
    if commit:
        git(repo, "add", ".claude/settings.json")
        git(repo, "commit", "-q", "-m", "ctui hooks")


def test_session_start_context_reaches_the_api(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api
) -> None:
    installed(repo, cli, commit=False)
    added = cli("decisions", "add", "--category", "api", "--title", "Every route answers JSON")
    assert added.returncode == 0, added.stderr
    api = fake_api().script(Text("read it"))
    s = claude(repo, api).wait()
    assert s.result["is_error"] is False, s.err
    first = api.main_requests()[0].text()
    me = f"claude-{s.session_id[:8]}"
    assert "ctui coordinates the agents on this repository" in first
    assert f"you are instance {me}" in first
    assert "Every route answers JSON" in first


def test_a_session_in_a_hand_made_worktree_waits_for_a_spawned_threads_lease(
    repo: Path, cli: Cli, claude: Claude, claude_bin: Path, fake_api: Api, tmp_path: Path
) -> None:
    """Thread A (ctui spawn) holds src/app.py; session B (git worktree add) is denied with A's
    name, and is allowed once A has ended."""
    installed(repo, cli, commit=True)
    hold_a = threading.Event()
    api_a = fake_api().script(
        ToolUse(
            "Write",
            {"file_path": str(repo / ".ctui/worktrees/alpha/src/app.py"), "content": "A\n"},
        ),
        Text("A is done", hold=hold_a),
    )
    env_a = {**client_env(api_a), "CTUI_CLAUDE_BIN": str(claude_bin)}
    spawned = cli("spawn", "alpha", "--mode", "semi-auto", "--prompt", "edit app", env=env_a)
    assert spawned.returncode == 0, spawned.stderr
    api_a.wait_requests(2)
    holder = leases(cli).get("src/app.py")
    thread = cli.json("thread", "status", "alpha")
    assert isinstance(thread, dict) and holder == thread["instance_id"]

    beta = tmp_path / "beta"
    git(repo, "worktree", "add", "-q", "-b", "beta", str(beta))
    api_b = fake_api().script(
        ToolUse("Write", {"file_path": str(beta / "src/app.py"), "content": "B\n"}),
        Text("B gave up"),
    )
    first = claude(beta, api_b).wait()
    denied = tool_result(api_b, 1)
    assert holder in denied, denied
    assert (beta / "src/app.py").read_text() == "print('hello')\n"
    assert first.result["is_error"] is False
    assert leases(cli).get("src/app.py") == holder

    hold_a.set()
    wait_for(lambda: "src/app.py" not in leases(cli), what="A's lease to go")
    api_b2 = fake_api().script(
        ToolUse("Write", {"file_path": str(beta / "src/app.py"), "content": "B\n"}),
        Text("B wrote it"),
    )
    claude(beta, api_b2).wait()
    assert (beta / "src/app.py").read_text() == "B\n", tool_result(api_b2, 1)
    assert first.proc.returncode == 0


def test_a_slug_folder_is_a_file_name_not_a_glob(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api
) -> None:
    """`app/[slug]/page.tsx` is leased as that one file: it does not cover `app/s/page.tsx`."""
    installed(repo, cli, commit=False)
    hold = threading.Event()
    api_one = fake_api().script(
        ToolUse("Write", {"file_path": str(repo / "app/[slug]/page.tsx"), "content": "one\n"}),
        Text("held", hold=hold),
    )
    one = claude(repo, api_one)
    api_one.wait_requests(2)
    me = f"claude-{s_session(api_one)[:8]}"
    assert held_keys(cli, me) == [SLUG_KEY], leases(cli)
    assert (repo / "app/[slug]/page.tsx").read_text() == "one\n"

    api_two = fake_api().script(
        ToolUse("Write", {"file_path": str(repo / "app/s/page.tsx"), "content": "two\n"}),
        Text("wrote the other file"),
    )
    claude(repo, api_two).wait()
    other = repo / "app/s/page.tsx"
    assert other.exists() and other.read_text() == "two\n", tool_result(api_two, 1)
    assert held_keys(cli, me) == [SLUG_KEY]
    hold.set()
    one.wait()


SLUG_KEY = "app/[slug]/page.tsx as one file"


def held_keys(cli: Cli, instance: str) -> list[str]:
    """The leases `instance` holds; a key naming `app/[slug]/page.tsx` literally (the path as
    a non-glob key, or its escaped glob `app/[[]slug]/page.tsx`) reads as SLUG_KEY."""
    found = cli.json("lock", "list")
    assert isinstance(found, list)
    keys = []
    for lease in found:
        if lease["holder"] != instance:
            continue
        literal = (lease["path"] == "app/[slug]/page.tsx" and not lease.get("glob")) or lease[
            "path"
        ] == "app/[[]slug]/page.tsx"
        keys.append(SLUG_KEY if literal else f"{lease['path']} (glob: {lease.get('glob')})")
    return keys


def test_a_locked_store_during_pretooluse_denies_the_edit(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api
) -> None:
    """The lease check cannot get its answer: the edit is denied with a retry reason."""
    installed(repo, cli, commit=False)
    go, seen = threading.Event(), threading.Event()
    api = fake_api().script(
        ToolUse("Write", {"file_path": str(repo / "src/app.py"), "content": "x\n"}, hold=go),
        Text("ok, later", hold=seen),
    )
    s = claude(repo, api)
    api.wait_requests(1)  # SessionStart has run; the Write is not yet sent
    db = sqlite3.connect(repo / ".ctui" / "ctui.db", timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        go.set()
        api.wait_requests(2, timeout=RUN_TIMEOUT)
    finally:
        db.execute("ROLLBACK")
        db.close()
    seen.set()
    s.wait()
    said = tool_result(api, 1)
    assert (repo / "src/app.py").read_text() == "print('hello')\n", said
    assert "retry" in said.lower() or "try again" in said.lower(), said
    assert "src/app.py" not in leases(cli)


def test_an_mcp_lease_lets_the_same_sessions_write_through(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api
) -> None:
    installed(repo, cli, commit=False)
    proc = cli("mcp", "install")
    assert proc.returncode == 0, proc.stderr
    hold = threading.Event()
    api = fake_api().script(
        ToolUse("mcp__ctui__acquire_lock", {"path": "src/app.py", "intent": "refactor"}),
        ToolUse("Write", {"file_path": str(repo / "src/app.py"), "content": "mcp\n"}),
        Text("done", hold=hold),
    )
    s = claude(
        repo,
        api,
        "take the lock, then edit",
        "--mcp-config",
        str(repo / ".mcp.json"),
        "--allowedTools",
        "mcp__ctui",
    )
    api.wait_requests(3)
    acquired = tool_result(api, 1)
    assert "src/app.py" in acquired and "error" not in acquired.lower(), acquired
    wrote = tool_result(api, 2)
    me = f"claude-{s_session(api)[:8]}"
    assert leases(cli).get("src/app.py") == me, (acquired, wrote)
    assert (repo / "src/app.py").read_text() == "mcp\n", wrote
    hold.set()
    s.wait()


def s_session(api: FakeAnthropic) -> str:
    """The session id the client names in its request metadata."""
    meta: dict[str, Any] = json.loads(api.main_requests()[0].body["metadata"]["user_id"])
    return str(meta["session_id"])
