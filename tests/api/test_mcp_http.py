"""MCP over streamable HTTP at `/mcp`: the same tools as `ctui mcp`, behind the same token."""

from __future__ import annotations

import json

import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from ctui.mcp.server import build_server
from tests.api.conftest import Server

pytestmark = pytest.mark.slow


async def test_mcp_tools_over_http_act_on_the_servers_store(served: Server) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(served.url + "/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        names = sorted(t.name for t in listed.tools)
        made = await session.call_tool("create_task", {"description": "made over MCP HTTP"})
        assert not made.is_error, made.content
    local = sorted(t.name for t in await build_server(served.repo / ".ctui").list_tools())
    assert names == local
    assert {"claim_task", "acquire_lock", "get_status", "log_decision"} <= set(names)
    with served.client() as api:
        tasks = api.get("/api/tasks").json()
    assert "made over MCP HTTP" in [t["description"] for t in tasks]


async def test_mcp_without_the_token_is_refused(served: Server) -> None:
    async with httpx2.AsyncClient(timeout=30) as http:
        answer = await http.post(
            served.url + "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert answer.status_code == 401
    assert json.loads(answer.text)["exit_code"] == 1
