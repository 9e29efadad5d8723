"""Agent profiles, stream-json reading, plan parsing, and keeping GitPython out of core imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ctui.core.errors import UsageError
from ctui.core.tasks import plan_parse
from ctui.core.threads import agents


def test_profiles_build_the_documented_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTUI_CLAUDE_BIN", raising=False)
    monkeypatch.setenv("CTUI_CODEX_BIN", "codex")
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
