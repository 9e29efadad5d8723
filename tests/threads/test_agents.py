"""Agent profiles, stream-json reading, plan parsing, and keeping GitPython out of core imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ctui.core.errors import UsageError
from ctui.core.tasks import plan_parse
from ctui.core.threads import agents


def test_profiles_build_the_documented_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTUI_CLAUDE_BIN", raising=False)
    monkeypatch.setenv("CTUI_CODEX_BIN", "codex")
    monkeypatch.setenv("IS_SANDBOX", "1")  # root may bypass permissions only in a sandbox
    assert agents.argv("claude", "automatic", "hi") == [
        "claude",
        "-p",
        "hi",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
    ]
    assert agents.argv("claude", "semi-auto", "hi")[-1] == "acceptEdits"
    assert agents.argv("claude", "interactive", "hi") == [
        "claude",
        "--permission-mode",
        "default",
        "hi",
    ]
    assert agents.argv("codex", "automatic", "hi") == ["codex", "exec", "--full-auto", "hi"]
    assert agents.argv("command", "automatic", "a b", "run --task {prompt}") == [
        "run",
        "--task",
        "a b",
    ]
    monkeypatch.setenv("CTUI_CLAUDE_BIN", f"{sys.executable} -m ctui.demo.fake_agent")
    assert agents.argv("claude", "automatic", "x")[:3] == [
        sys.executable,
        "-m",
        "ctui.demo.fake_agent",
    ]
    with pytest.raises(UsageError):
        agents.check_profile("gpt", "automatic", None)
    with pytest.raises(UsageError):
        agents.check_profile("command", "automatic", "unclosed 'quote")


def test_settings_file_goes_to_claude_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTUI_CLAUDE_BIN", raising=False)
    got = agents.argv("claude", "semi-auto", "hi", settings="/s.json")
    assert got[got.index("--settings") + 1] == "/s.json"
    assert got[-2:] == ["--permission-mode", "acceptEdits"]
    inter = agents.argv("claude", "interactive", "hi", settings="/s.json")
    assert inter[-1] == "hi" and inter[1:3] == ["--settings", "/s.json"]
    assert "--settings" not in agents.argv("codex", "automatic", "hi", settings="/s.json")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_root_without_a_sandbox_gets_a_mode_claude_accepts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As root, Claude Code exits 1 on bypassPermissions unless IS_SANDBOX=1."""
    monkeypatch.delenv("CTUI_CLAUDE_BIN", raising=False)
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    assert agents.argv("claude", "automatic", "hi")[-1] == "acceptEdits"
    mode, why = agents.permission_mode("automatic")
    assert mode == "acceptEdits" and why is not None and "IS_SANDBOX=1" in why
    monkeypatch.setenv("IS_SANDBOX", "1")
    assert agents.permission_mode("automatic") == ("bypassPermissions", None)


def test_live_counts_take_each_message_once() -> None:
    """Each stream-json assistant line is one content block repeating its message's usage."""
    stats = agents.RunStats()
    usage = {
        "input_tokens": 100,
        "output_tokens": 1,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 40,
    }
    for block in ("thinking", "text", "tool_use"):
        line = {"type": "assistant", "message": {"id": "msg_1", "content": [{"type": block}]}}
        line["message"]["usage"] = usage  # type: ignore[index]
        assert stats.feed(json.dumps(line)) is (block == "thinking")
    assert (stats.turns, stats.tokens_in, stats.tokens_out) == (1, 100, 1)
    assert (stats.tokens_cache_creation, stats.tokens_cache_read) == (30, 40)
    second = {"id": "msg_2", "usage": {**usage, "input_tokens": 7, "cache_read_input_tokens": 50}}
    stats.feed(json.dumps({"type": "assistant", "message": second}))
    assert (stats.turns, stats.tokens_in, stats.tokens_cache_read, stats.tokens) == (
        2,
        107,
        90,
        107 + 2 + 60 + 90,
    )


def test_an_api_error_result_is_the_runs_error() -> None:
    """An API failure still says `subtype: success`: is_error and api_error_status tell."""
    stats = agents.RunStats()
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "api_error_status": 529,
        "num_turns": 1,
        "total_cost_usd": 0,
        "result": "API Error: Repeated 529 Overloaded errors.",
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    stats.feed(json.dumps(result))
    assert stats.api_error_status == 529
    assert stats.error_text() == "API error 529: API Error: Repeated 529 Overloaded errors."
    shown = agents.pretty(json.dumps(result))
    assert shown is not None and "success" not in shown and "529" in shown
    ok = agents.RunStats()
    ok.feed(json.dumps({**result, "is_error": False, "api_error_status": None}))
    assert ok.error_text() is None and ok.api_error_status is None


def test_hook_retry_and_rate_limit_events_read_as_sentences() -> None:
    deny = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "a.py is leased by agent-2",
        }
    }
    lines = {
        "hook_response_deny": {
            "type": "system",
            "subtype": "hook_response",
            "hook_name": "PreToolUse:Write",
            "hook_event": "PreToolUse",
            "output": json.dumps(deny),
            "exit_code": 0,
            "outcome": "success",
        },
        "hook_response_context": {
            "type": "system",
            "subtype": "hook_response",
            "hook_name": "SessionStart:startup",
            "output": json.dumps({"hookSpecificOutput": {"additionalContext": "x" * 1200}}),
            "exit_code": 0,
            "outcome": "success",
        },
        "hook_failed": {
            "type": "system",
            "subtype": "hook_response",
            "hook_name": "PostToolUse:Write",
            "output": "",
            "stderr": "ctui: store locked\n",
            "exit_code": 1,
            "outcome": "error",
        },
        "retry": {
            "type": "system",
            "subtype": "api_retry",
            "attempt": 1,
            "max_retries": 2,
            "retry_delay_ms": 604,
            "error_status": 529,
            "error": "overloaded",
        },
        "rate": {
            "type": "rate_limit_event",
            "rate_limit_info": {
                "status": "allowed_warning",
                "rateLimitType": "five_hour",
                "resetsAt": 1764612000,
            },
        },
    }
    shown = {k: agents.pretty(json.dumps(v)) for k, v in lines.items()}
    assert shown["hook_response_deny"] == (
        "── hook PreToolUse:Write denied the tool call: a.py is leased by agent-2"
    )
    assert shown["hook_response_context"] == (
        "── hook SessionStart:startup added 1,200 characters of context"
    )
    assert shown["hook_failed"] == "── hook PostToolUse:Write failed (exit 1): ctui: store locked"
    assert shown["retry"] == "── API error 529 (overloaded): retry 1 of 2 in 0.6 s"
    assert shown["rate"] == (
        "── rate limit (five_hour): allowed_warning, resets at 2025-12-01 18:00 UTC"
    )
    denied = {
        "type": "user",
        "message": {
            "content": [
                {
                    "type": "tool_result",
                    "is_error": True,
                    "content": "PreToolUse:Write hook error: ctui: a.py is leased by agent-2",
                },
                {"type": "tool_result", "content": "File written"},
            ]
        },
    }
    assert agents.pretty(json.dumps(denied)) == (
        "  ↳ refused: PreToolUse:Write hook error: ctui: a.py is leased by agent-2"
    )
    fine = {"type": "user", "message": {"content": [{"type": "tool_result", "content": "ok"}]}}
    assert agents.pretty(json.dumps(fine)) is None
    started = {"type": "system", "subtype": "hook_started", "hook_name": "Stop"}
    assert agents.pretty(json.dumps(started)) is None
    assert all(not str(v).startswith("{") for v in shown.values())


def test_stream_json_gives_session_turns_cost_and_tokens() -> None:
    stats = agents.RunStats()
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s-1"},
        {"type": "assistant", "message": {"usage": {"input_tokens": 10, "output_tokens": 5}}},
        "not json at all",
        {
            "type": "result",
            "subtype": "success",
            "total_cost_usd": 0.5,
            "num_turns": 3,
            "is_error": False,
            "session_id": "s-1",
            "result": "ok",
            "usage": {"input_tokens": 100, "output_tokens": 50},
        },
    ]
    for line in lines:
        stats.feed(line if isinstance(line, str) else json.dumps(line))
    assert (stats.session_id, stats.turns, stats.cost_usd) == ("s-1", 3, 0.5)
    assert (stats.tokens_in, stats.tokens_out, stats.result, stats.is_error) == (
        100,
        50,
        "ok",
        False,
    )


def test_plans_are_validated_whole() -> None:
    doc = plan_parse.extract(
        'Sure!\n```json\n{"tasks": [{"id": "b", "description": "B", "depends_on": ["a"]},'
        ' {"id": "a", "description": "A"}]}\n```'
    )
    assert [t.key for t in plan_parse.parse(doc)] == ["a", "b"]
    for bad, why in [
        ({"tasks": []}, "at least one"),
        ([{"description": "x", "priority": 0}], "priority"),
        ([{"id": "a", "description": "x"}, {"id": "a", "description": "y"}], "duplicate"),
        ([{"id": "a", "description": "x", "depends_on": ["a"]}], "cycle"),
    ]:
        with pytest.raises(UsageError, match=why):
            plan_parse.parse(bad)
    with pytest.raises(UsageError, match="no JSON"):
        plan_parse.extract("I could not plan this.")


def test_core_threads_import_without_gitpython() -> None:
    code = (
        "import sys, ctui.core, ctui.core.threads, ctui.core.threads.worktrees, "
        "ctui.core.flows.orchestrate, ctui.core.flows.loop, ctui.run; "
        "print(sorted(m for m in ('git', 'rich', 'textual') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
