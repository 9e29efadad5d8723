"""The MCP tools through the SDK's in-process client (memory streams), on a real store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ctui.core import Coordinator
from ctui.mcp.server import build_server
from tests.tasks.support import fingerprint

TOOLS = {
    "init_coordination",
    "create_task",
    "claim_task",
    "complete_task",
    "fail_task",
    "get_status",
    "add_discovery",
    "list_discoveries",
    "acquire_lock",
    "release_lock",
    "list_locks",
    "log_decision",
    "list_decisions",
    "heartbeat",
    "merge_thread",
    "merge_queue",
}


def connect(coord: Coordinator) -> Client:
    """An in-process client on a fresh server over the test store (used as `async with`)."""
    return Client(build_server(coord.store.path), mode="legacy")


async def call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def error(client: Client, tool: str, **args: Any) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert isinstance(text, str)
    assert text.strip() and "\n" not in text.strip() and "Traceback" not in text, text
    return text


async def test_every_tool_is_listed_with_a_description(coord: Coordinator) -> None:
    async with connect(coord) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == TOOLS
        assert all(t.description and len(t.description) > 20 for t in tools)
        create = next(t for t in tools if t.name == "create_task")
        assert create.input_schema["properties"]["priority"]["minimum"] == 1
        assert create.input_schema["properties"]["priority"]["maximum"] == 10
        assert create.input_schema["required"] == ["description"]


async def test_leader_and_worker_flow(coord: Coordinator) -> None:
    async with connect(coord) as client:
        plan = await call(
            client, "init_coordination", goal="Build a REST API", master_plan="models, then routes"
        )
        assert plan["goal"] == "Build a REST API"
        first = await call(
            client,
            "create_task",
            description="User model",
            priority=1,
            files=["src/user.py"],
            hints=["use pydantic"],
        )
        second = await call(
            client, "create_task", description="Login route", dependencies=[first["id"]]
        )
        assert (first["id"], second["status"]) == ("task-0001", "pending")

        claimed = await call(client, "claim_task")
        me = claimed["task"]["claimed_by"]
        assert claimed["task"]["id"] == "task-0001" and me.startswith("agent-")
        assert (await call(client, "claim_task"))["task"] is None
        done = await call(client, "complete_task", task_id="task-0001", result="model written")
        assert done["status"] == "done" and done["result"] == "model written"
        assert (await call(client, "claim_task", task_id="task-0002"))["task"]["id"] == "task-0002"
        failed = await call(
            client, "fail_task", task_id="task-0002", reason="routes need auth first"
        )
        assert failed["status"] == "available" and failed["error"] == "routes need auth first"

        status = await call(client, "get_status")
        assert status["you"] == me and status["plan"]["goal"] == "Build a REST API"
        assert status["counts"]["done"] == 1 and [t["id"] for t in status["open_tasks"]] == [
            "task-0002"
        ]
        assert coord.tasks.get("task-0001").claimed_by == me


async def test_discoveries_locks_decisions_and_heartbeat(coord: Coordinator) -> None:
    async with connect(coord) as client:
        found = await call(client, "add_discovery", text="auth tests need Redis", tags=["testing"])
        assert found["tags"] == ["testing"]
        listed = await call(client, "list_discoveries", tag="testing")
        assert [d["text"] for d in listed["discoveries"]] == ["auth tests need Redis"]
        assert (await call(client, "list_discoveries", search="nothing here"))["discoveries"] == []

        lease = await call(client, "acquire_lock", path="src/app.py", intent="refactor")
        assert lease["path"] == "src/app.py" and lease["holder"] == found["instance"]
        assert [x["path"] for x in (await call(client, "list_locks"))["locks"]] == ["src/app.py"]
        other = coord.instances.register(instance_id="other", role="worker")
        held = await error(client, "acquire_lock", path="src/app.py", instance_id=other.id)
        assert "leased by" in held
        assert (await call(client, "release_lock", path="src/app.py"))["released"] is True

        decision = await call(
            client, "log_decision", category="api", title="Use REST", description="JSON over HTTP"
        )
        assert decision["id"].startswith("DEC-") and decision["author"] == found["instance"]
        assert (await call(client, "list_decisions", search="REST"))["decisions"][0][
            "id"
        ] == decision["id"]
        assert "bad category" in await error(
            client, "log_decision", category="Not A Category!", title="x"
        )

        coord.tasks.add("long job")
        await call(client, "claim_task")
        beat = await call(client, "heartbeat", state="working")
        assert beat["instance"]["state"] == "working" and beat["claims_renewed"] == ["task-0001"]


async def test_the_caller_is_one_instance_per_server_heartbeated_on_every_call(
    repo: Path, coord: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTUI_ROLE", "reviewer")
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(repo))
    async with connect(coord) as client:
        first = (await call(client, "get_status"))["you"]
        inst = coord.instances.get(first)
        assert (inst.role, inst.session_id, inst.cwd, inst.agent) == (
            "reviewer",
            None,
            str(repo),
            "mcp",
        )
        beat = inst.heartbeat_at
        time.sleep(0.05)
        assert (await call(client, "get_status"))["you"] == first
        assert coord.instances.get(first).heartbeat_at > beat
        coord.tasks.add("t")
        await call(client, "claim_task")
        named = await call(client, "get_status", instance_id="named-agent")
        assert named["you"] == "named-agent" and coord.instances.get("named-agent").is_live
    ended = coord.instances.get(first)
    assert ended.state == "ended"
    assert coord.tasks.get("task-0001").status == "available"


async def test_a_claude_sessions_server_acts_as_the_session(
    repo: Path, coord: Coordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `CLAUDE_CODE_SESSION_ID` the caller is the session's instance, as its hooks name it."""
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "4f2c9a1e-0b7d-4c3e-9a55-2d1e8f7b6a01")
    monkeypatch.setenv("CLAUDE_PROJECT_DIR", str(repo))
    async with connect(coord) as client:
        me = (await call(client, "get_status"))["you"]
        assert me == "claude-4f2c9a1e"
        assert (await call(client, "get_status"))["you"] == me
    assert coord.instances.get(me).state != "ended"


async def test_bad_inputs_are_tool_errors_and_change_nothing(coord: Coordinator) -> None:
    async with connect(coord) as client:
        await call(client, "create_task", description="existing")
        other = coord.instances.register(instance_id="other", role="worker")
        coord.tasks.claim(other.id)
        before = fingerprint(coord.store.db_path)
        cases = [
            ({"tool": "complete_task", "task_id": "task-0404"}, "no task 'task-0404'"),
            ({"tool": "fail_task", "task_id": "task-0404"}, "no task 'task-0404'"),
            ({"tool": "claim_task", "task_id": "task-0404"}, "no task 'task-0404'"),
            ({"tool": "create_task", "description": "x", "priority": 11}, "priority"),
            ({"tool": "create_task", "description": "x", "priority": 0}, "priority"),
            (
                {"tool": "create_task", "description": "x", "dependencies": ["task-0404"]},
                "unknown dependency",
            ),
            ({"tool": "create_task", "description": "   "}, "needs a description"),
            (
                {"tool": "complete_task", "task_id": "task-0001"},
                "only the claimant can complete it",
            ),
            ({"tool": "fail_task", "task_id": "task-0001"}, "only the claimant can fail it"),
            ({"tool": "add_discovery", "text": "x", "tags": ["not a tag"]}, "bad tag"),
            ({"tool": "heartbeat", "state": "asleep"}, "state"),
            ({"tool": "get_status", "instance_id": "bad id!"}, "bad instance id"),
        ]
        for args, text in cases:
            tool = args.pop("tool")
            message = await error(client, tool, **args)
            assert text in message, (tool, message)
        assert fingerprint(coord.store.db_path) == before


async def test_a_dependency_cycle_cannot_be_built_through_tools(coord: Coordinator) -> None:
    async with connect(coord) as client:
        a = await call(client, "create_task", description="a")
        b = await call(client, "create_task", description="b", dependencies=[a["id"]])
        before = fingerprint(coord.store.db_path)
        with pytest.raises(Exception, match="dependency cycle"):
            coord.tasks.depend(a["id"], [b["id"]])
        assert "unknown dependency" in await error(
            client, "create_task", description="c", dependencies=["task-0003"]
        )
        assert fingerprint(coord.store.db_path) == before
