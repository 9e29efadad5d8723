"""The fake Messages API itself (no client binary needed): streams, holds, errors, records."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from tests.realclient.fake_api import Error, FakeAnthropic, Text, ToolUse, Usage

TOOLS = [{"name": "Write", "input_schema": {"type": "object"}}]


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for chunk in body.strip().split("\n\n"):
        head, data = chunk.split("\n", 1)
        out.append((head.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def ask(api: FakeAnthropic, **extra: Any) -> httpx.Response:
    body = {"model": "m", "max_tokens": 100, "stream": True, "tools": TOOLS, "messages": []}
    return httpx.post(f"{api.url}/v1/messages", json={**body, **extra}, timeout=30)


def test_a_tool_use_step_streams_like_the_api_and_is_recorded() -> None:
    with FakeAnthropic() as api:
        api.script(ToolUse("Write", {"file_path": "/a"}, text="hi", usage=Usage(3, 4, 5, 6)))
        got = ask(api, messages=[{"role": "user", "content": "go"}])
        assert got.status_code == 200 and got.headers["content-type"] == "text/event-stream"
        seen = events(got.text)
        assert [kind for kind, _ in seen] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        start = seen[0][1]["message"]
        assert start["usage"] == {
            "input_tokens": 3,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 6,
            "output_tokens": 1,
        }
        assert json.loads(seen[5][1]["delta"]["partial_json"]) == {"file_path": "/a"}
        assert seen[7][1]["delta"]["stop_reason"] == "tool_use"
        assert seen[7][1]["usage"] == {"output_tokens": 4}
        assert api.totals()["cache_read_input_tokens"] == 6
        assert api.main_requests()[0].text() == "m\nWrite\nobject\nuser\ngo"
        side = httpx.post(f"{api.url}/v1/messages", json={"model": "m", "max_tokens": 1})
        assert side.json()["content"][0]["text"] == "ok" and len(api.main_requests()) == 1
        assert ask(api).text.count("(script finished)") == 1


def test_errors_carry_anthropics_error_json_and_repeat() -> None:
    with FakeAnthropic() as api:
        api.script(Error(529, times=2), Error(500), Text("back"))
        answers = [ask(api) for _ in range(4)]
        assert [a.status_code for a in answers] == [529, 529, 500, 200]
        assert answers[0].json() == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        assert answers[2].json()["error"]["type"] == "api_error"
        tokens = httpx.post(f"{api.url}/v1/messages/count_tokens", json={"messages": []})
        assert tokens.json() == {"input_tokens": 100}
        assert httpx.get(f"{api.url}/v1/models").json()["data"][0]["id"] == api.model


def test_a_held_turn_waits_for_the_test() -> None:
    with FakeAnthropic() as api:
        release = threading.Event()
        api.script(Text("later", hold=release))
        got: list[httpx.Response] = []
        asker = threading.Thread(target=lambda: got.append(ask(api)))
        asker.start()
        api.wait_requests(1, timeout=30)
        asker.join(timeout=0.5)
        assert asker.is_alive() and not got
        release.set()
        asker.join(timeout=30)
        assert got and "later" in got[0].text
