"""The tool a headless run is running now, read from the tail of its stream-json log."""

from __future__ import annotations

import json

from ctui.core.threads.agents import tool_now


def _use(tid: str, name: str, **args: str) -> str:
    part = {"type": "tool_use", "id": tid, "name": name, "input": args}
    return json.dumps({"type": "assistant", "message": {"content": [part]}})


def _result(tid: str) -> str:
    part = {"type": "tool_result", "tool_use_id": tid, "content": "ok"}
    return json.dumps({"type": "user", "message": {"content": [part]}})


def test_the_last_tool_without_a_result_is_running() -> None:
    lines = [
        '{"type":"system","subtype":"init","session_id":"s"}',
        _use("t1", "Read", file_path="src/a.py"),
        _result("t1"),
        _use("t2", "Bash", command="pytest -q"),
        "[ctui] a line that is not stream-json",
    ]
    assert tool_now(lines) == ("Bash", "pytest -q")
    assert tool_now([*lines, _result("t2")]) is None


def test_a_result_line_ends_every_tool_and_garbage_is_skipped() -> None:
    lines = [_use("t1", "Edit", file_path="x.py"), "{not json", "[1, 2]"]
    assert tool_now(lines) == ("Edit", "x.py")
    assert tool_now([*lines, '{"type":"result","subtype":"success"}']) is None
    assert tool_now([_use("t3", "TodoWrite")]) == ("TodoWrite", None)
