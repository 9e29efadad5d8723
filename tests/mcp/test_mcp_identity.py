"""One Claude Code session, one ctui instance: its MCP server, its hooks and its shell agree.

A real stdio MCP client drives `ctui mcp` started as Claude Code starts it
(`CLAUDE_CODE_SESSION_ID` and `CLAUDE_PROJECT_DIR` in its environment), and the
real hook command judges the same session's edits.
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import BIN, CTUI
from tests.hooks.support import SESSION_A, SESSION_B, Hook, install, installed_command, rows

ME = "claude-4f2c9a1e"


@pytest.fixture
def hook(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Hook:
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert install(repo).returncode == 0
    return Hook(repo, installed_command(repo / ".claude" / "settings.json"))


async def _server(stack: AsyncExitStack, repo: Path, session: str) -> ClientSession:
    env = {**os.environ, "CLAUDE_CODE_SESSION_ID": session, "CLAUDE_PROJECT_DIR": str(repo)}
    params = StdioServerParameters(command=CTUI, args=["mcp"], cwd=repo, env=env)
    read, write = await stack.enter_async_context(stdio_client(params))
    client = await stack.enter_async_context(ClientSession(read, write))
    await client.initialize()
    return client


async def _call(client: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@pytest.mark.timeout(120)
@pytest.mark.parametrize("hooks_first", [True, False])
async def test_lease_from_mcp_lets_the_same_sessions_write_through(
    hook: Hook, repo: Path, hooks_first: bool
) -> None:
    if hooks_first:
        assert hook.start(SESSION_A).code == 0
    with anyio.fail_after(90):
        async with AsyncExitStack() as stack:
            client = await _server(stack, repo, SESSION_A)
            lease = await _call(client, "acquire_lock", path="src/app.py", intent="refactor")
            assert lease["holder"] == ME
            mine = hook("PreToolUse-Write", file=repo / "src" / "app.py")
            assert mine.allowed, mine
            other = hook("PreToolUse-Write", session=SESSION_B, file=repo / "src" / "app.py")
            assert other.denied and f"leased by {ME}" in other.reason, other
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT holder FROM leases WHERE path = 'src/app.py'") == [(ME,)]
    # The instance is the session's, not the server's: the server stopping does not end it.
    assert rows(db, "SELECT state FROM instances WHERE id = ?", ME)[0][0] != "ended"
    assert rows(db, "SELECT COUNT(*) FROM instances WHERE session_id = ?", SESSION_A) == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM instances WHERE agent = 'mcp'") == [(0,)]
    assert hook("SessionEnd").allowed
    assert rows(db, "SELECT COUNT(*) FROM leases") == [(0,)]


def test_cli_in_the_sessions_shell_acts_as_the_session(hook: Hook, repo: Path) -> None:
    assert hook.start(SESSION_A).code == 0
    env = {**os.environ, "CLAUDE_CODE_SESSION_ID": SESSION_A}
    proc = subprocess.run(
        [CTUI, "--json", "lock", "acquire", "README.md"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["holder"] == ME
    assert hook("PreToolUse-Edit", file=repo / "README.md").allowed
    # An explicit --as still wins.
    other = subprocess.run(
        [CTUI, "--as", "operator", "lock", "acquire", "README.md"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert other.returncode == 10, other.stderr


@pytest.mark.timeout(120)
async def test_acquire_lock_waits_for_the_holder_without_blocking_the_server(
    hook: Hook, repo: Path
) -> None:
    """The MCP way to queue that the deny reason offers: `acquire_lock` with `wait`."""
    assert hook.start(SESSION_A).code == 0
    assert hook("PreToolUse-Write", file=repo / "src" / "app.py").allowed
    with anyio.fail_after(90):
        async with AsyncExitStack() as stack:
            client = await _server(stack, repo, SESSION_B)
            got: dict[str, Any] = {}

            async def queue() -> None:
                got.update(await _call(client, "acquire_lock", path="src/app.py", wait=60))

            async with anyio.create_task_group() as tg:
                tg.start_soon(queue)
                await anyio.sleep(0.5)
                assert not got, "granted while another session held the file"
                status = await _call(client, "get_status")  # the server still answers
                assert status["you"] == "claude-9b8e7d6c"
                await anyio.to_thread.run_sync(lambda: hook("SessionEnd"))
            assert got["holder"] == "claude-9b8e7d6c"
            result = await client.call_tool("acquire_lock", {"path": "x", "wait": 10_000})
            assert result.is_error and "wait" in str(result.content)
    mine = hook("PreToolUse-Write", session=SESSION_B, file=repo / "src" / "app.py")
    assert mine.allowed, mine
