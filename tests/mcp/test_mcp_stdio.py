"""Two `ctui mcp` server processes on one store, each driven by a real stdio MCP client."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ctui.core import Coordinator
from tests.conftest import CTUI, Cli


async def open_session(stack: AsyncExitStack, repo: Path, role: str) -> ClientSession:
    params = StdioServerParameters(
        command=CTUI, args=["mcp"], cwd=repo, env={**os.environ, "CTUI_ROLE": role}
    )
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def call(session: ClientSession, tool: str, **args: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, args)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_servers_share_one_queue_and_never_hand_out_a_task_twice(
    repo: Path, coord: Coordinator
) -> None:
    with anyio.fail_after(90):
        async with AsyncExitStack() as stack:
            left = await open_session(stack, repo, "left")
            right = await open_session(stack, repo, "right")
            created = [
                (await call(left, "create_task", description=f"job {i}", priority=1 + i % 10))["id"]
                for i in range(40)
            ]
            first = (await call(right, "claim_task", task_id=created[0]))["task"]
            assert first["id"] == created[0]
            await call(right, "complete_task", task_id=first["id"], result="right")

            got: dict[str, list[str]] = {"left": [], "right": [first["id"]]}
            owners: dict[str, set[str]] = {"left": set(), "right": {first["claimed_by"]}}

            async def drain(name: str, session: ClientSession) -> None:
                while True:
                    task = (await call(session, "claim_task"))["task"]
                    if task is None:
                        return
                    got[name].append(task["id"])
                    owners[name].add(task["claimed_by"])
                    await call(session, "complete_task", task_id=task["id"], result=name)

            async with anyio.create_task_group() as tg:
                tg.start_soon(drain, "left", left)
                tg.start_soon(drain, "right", right)

    handed = Counter(got["left"] + got["right"])
    assert sorted(handed) == sorted(created) and set(handed.values()) == {1}
    assert got["left"] and len(got["right"]) > 1, got
    assert len(owners["left"]) == len(owners["right"]) == 1 and owners["left"] != owners["right"]
    ended = {coord.instances.get(inst).state for inst in owners["left"] | owners["right"]}
    assert ended == {"ended"}, "each server ends its own instance when its client goes"
    assert coord.tasks.counts()["done"] == 40


def test_mcp_install_writes_and_merges_mcp_json(cli: Cli, repo: Path) -> None:
    target = repo / ".mcp.json"
    target.write_text(json.dumps({"mcpServers": {"other": {"command": "node", "args": ["x.js"]}}}))
    first = cli.json("mcp", "install")
    assert first["changed"] is True and first["server"]["command"] == "sh"
    assert first["server"]["args"][-1].endswith("-I -m ctui mcp")
    assert first["tools_allowed"] is False and first["permission_rule"] == "mcp__ctui"
    again = cli.json("mcp", "install")
    assert again["changed"] is False
    doc = json.loads(target.read_text())
    assert set(doc["mcpServers"]) == {"other", "ctui"}
    assert doc["mcpServers"]["other"] == {"command": "node", "args": ["x.js"]}
    assert str(repo) not in target.read_text() and sys.prefix not in target.read_text()
    explicit = cli.json("mcp", "install", "--command", CTUI)
    assert explicit["server"] == {"command": CTUI, "args": ["mcp"]}
    target.write_text("[1, 2]")
    bad = cli("mcp", "install")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "mcpServers" in bad.stderr
    assert target.read_text() == "[1, 2]"


def test_the_sdk_loads_only_when_serving() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ctui.cli.mcp, ctui.cli.tasks, ctui.core.tasks, ctui.core.tasks.plan, "
        "ctui.core.tasks.discoveries; "
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.timeout(120)
async def test_installed_server_command_runs_from_the_project_venv(cli: Cli, repo: Path) -> None:
    """What `mcp install` writes starts the server with ctui off PATH (found in `.venv`)."""
    (repo / ".venv").symlink_to(sys.prefix)
    entry = cli.json("mcp", "install")["server"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "CLAUDE_PROJECT_DIR": str(repo),
    }
    params = StdioServerParameters(command=entry["command"], args=entry["args"], cwd=repo, env=env)
    with anyio.fail_after(90):
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
    assert {"acquire_lock", "claim_task", "get_status"} <= names


def test_allow_tools_writes_the_permission_rule(cli: Cli, repo: Path) -> None:
    settings = repo / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"permissions": {"allow": ["Bash(npm test)"]}, "x": 1}))
    plain = cli("mcp", "install")
    assert "mcp__ctui" in plain.stdout and "--allow-tools" in plain.stdout
    result = cli.json("mcp", "install", "--allow-tools")
    assert result["tools_allowed"] is True
    assert cli.json("mcp", "install", "--allow-tools")["tools_allowed"] is True
    doc = json.loads(settings.read_text())
    assert doc == {"permissions": {"allow": ["Bash(npm test)", "mcp__ctui"]}, "x": 1}
    settings.write_text('{"permissions": {"allow": "everything"}}')
    bad = cli("mcp", "install", "--allow-tools")
    assert bad.returncode == 2 and "permissions.allow" in bad.stderr
