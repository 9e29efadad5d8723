"""The agents list: threads and sessions folded into one row each, states, reasons, sentences."""

from __future__ import annotations

from typing import Any

from ctui.core.flows import roster

NOW = 1_000_000.0


def inst(id: str, state: str, **kw: Any) -> dict[str, Any]:
    return {"id": id, "state": state, "started_at": NOW - 60, "heartbeat_at": NOW - 5, **kw}


def thread(name: str, status: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "started_at": NOW - 30, "cost_usd": 0.5, **kw}


def test_threads_and_sessions_become_one_row_each_without_the_operator() -> None:
    found = roster.agents(
        [
            inst("operator", "idle"),
            inst("t-one", "working", thread_id="one"),
            inst("t-one.sub", "working", parent_id="t-one"),
            inst("claude-1", "needs_input", state_at=NOW - 10),
            inst("claude-2", "stale", heartbeat_at=NOW - 300),
        ],
        [thread("one", "running", instance_id="t-one", branch="ctui/one")],
        leases=[
            {"path": "b.py", "holder": "t-one.sub"},
            {"path": "a.py", "holder": "t-one"},
            {"path": "c.py", "holder": "claude-1"},
        ],
        events=[
            {
                "id": 1,
                "kind": roster.ASKED,
                "actor": "claude-1",
                "at": NOW - 9,
                "data": {"message": "May I run rm -rf build?"},
            },
            {
                "id": 2,
                "kind": "lease.acquired",
                "actor": "t-one.sub",
                "subject": "b.py",
                "data": {"intent": "fix rounding"},
            },
        ],
        now=NOW,
    )
    by = {a["name"]: a for a in found}
    assert set(by) == {"one", "claude-1", "claude-2"}
    assert [a["name"] for a in found] == ["claude-1", "claude-2", "one"]  # needs me first
    one = by["one"]
    assert one["state"] == "working" and one["files"] == ["a.py", "b.py"]
    assert one["doing"] == "took b.py to fix rounding"
    assert one["branch"] == "ctui/one" and one["runtime"] == 30 and one["cost"] == 0.5
    assert by["claude-1"]["state"] == "waiting"
    assert by["claude-1"]["question"] == "May I run rm -rf build?" == by["claude-1"]["doing"]
    assert by["claude-2"]["state"] == "failed"
    assert by["claude-2"]["reason"] == "stopped answering (last heard 300s ago)"
    assert roster.counts(found) == {"working": 1, "waiting": 1, "idle": 0, "failed": 1, "done": 0}


def test_ended_agents_are_hidden_unless_asked_and_failed_ones_say_why() -> None:
    insts = [inst("claude-9", "ended", ended_at=NOW - 1)]
    threads = [
        thread("ok", "completed", ended_at=NOW - 10),
        thread("bad", "failed", error="supervisor died"),
        thread("code", "failed", exit_code=3),
        thread("new", "ready", started_at=None),
    ]
    shown = roster.agents(insts, threads, now=NOW)
    assert {a["name"]: a["reason"] for a in shown} == {
        "bad": "supervisor died",
        "code": "exited with code 3",
        "new": None,
    }
    assert {a["name"]: a["doing"] for a in shown}["new"] == "ready to start"
    every = roster.agents(insts, threads, now=NOW, ended=True)
    assert {a["name"] for a in every} == {"ok", "bad", "code", "new", "claude-9"}
    assert {a["name"]: a["runtime"] for a in every}["ok"] == 20


def test_an_old_question_is_not_shown_once_the_agent_waits_again_for_something_else() -> None:
    asked = {
        "id": 1,
        "kind": roster.ASKED,
        "actor": "c",
        "at": NOW - 100,
        "data": {"message": "old"},
    }
    found = roster.agents([inst("c", "needs_input", state_at=NOW - 5)], [], events=[asked], now=NOW)
    assert found[0]["state"] == "waiting" and found[0]["question"] is None


def test_a_question_answered_within_the_second_is_not_shown_when_it_waits_again() -> None:
    """Asked, answered (working) and waiting again inside one second: the old question is gone."""
    events = [
        {"id": 1, "kind": roster.ASKED, "actor": "c", "at": NOW - 0.6, "data": {"message": "old"}},
        {
            "id": 2,
            "kind": "instance.state",
            "actor": "c",
            "at": NOW - 0.4,
            "data": {"to": "working"},
        },
        {
            "id": 3,
            "kind": "instance.state",
            "actor": "c",
            "at": NOW - 0.2,
            "data": {"to": "needs_input"},
        },
    ]
    found = roster.agents(
        [inst("c", "needs_input", state_at=NOW - 0.2)], [], events=events, now=NOW
    )
    assert found[0]["state"] == "waiting" and found[0]["question"] is None
    fresh = roster.agents(
        [inst("c", "needs_input", state_at=NOW - 0.2)], [], events=events[:1], now=NOW
    )
    assert fresh[0]["question"] == "old"  # not answered yet: still the question


def test_sentences() -> None:
    took = {
        "kind": "lease.acquired",
        "actor": "backend-0001",
        "subject": "src/auth.py",
        "data": {"intent": "refactor login", "token": 4},
    }
    assert roster.sentence(took) == "backend-0001 took src/auth.py to refactor login"
    assert roster.sentence(took, subjectless=True) == "took src/auth.py to refactor login"
    state = {"kind": "instance.state", "actor": "a", "data": {"from": "idle", "to": "needs_input"}}
    assert roster.sentence(state) == "a waits for input"
    failed = {"kind": "thread.failed", "subject": "fix", "data": {"error": "boom"}}
    assert roster.sentence(failed) == "Thread fix failed: boom"
    odd = {"kind": "custom.thing", "actor": "x", "subject": "s", "data": {"k": 1}}
    assert roster.sentence(odd) == "x custom.thing s k=1"
