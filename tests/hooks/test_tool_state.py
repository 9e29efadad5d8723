"""What an agent runs now: PreToolUse records the tool and its file, PostToolUse and Stop clear it.

Real hook processes (the installed command through `sh -c`) on a real store; the
control room's agents list reads the same row (`roster.agents`).
"""

from __future__ import annotations

from pathlib import Path

from ctui.core import Coordinator
from ctui.core.flows.notify import read_agents
from tests.hooks.support import SESSION_A, SESSION_B, Hook, rows

ME = "claude-4f2c9a1e"


def _tool(repo: Path, who: str = ME) -> list[tuple[object, ...]]:
    return rows(
        repo / ".ctui" / "ctui.db", "SELECT tool, tool_target FROM instances WHERE id = ?", who
    )


def test_a_granted_edit_shows_its_tool_until_it_ends(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_A)
    assert _tool(repo) == [(None, None)]
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed
    assert _tool(repo) == [("Edit", "src/app.py")]

    c = Coordinator.open(repo)
    try:
        (agent,) = [a for a in read_agents(c) if a["instance"] == ME]
        assert (agent["state"], agent["tool"], agent["doing"]) == ("working", "Edit", "src/app.py")
    finally:
        c.close()

    assert hook("PostToolUse-Edit", file=repo / "src" / "app.py").code == 0
    assert _tool(repo) == [(None, None)]

    assert hook("PreToolUse-Write", file=repo / "README.md").allowed
    assert _tool(repo) == [("Write", "README.md")]
    assert hook("Stop").code == 0
    assert _tool(repo) == [(None, None)], "a stopped agent runs no tool"


def test_a_denied_edit_records_no_tool(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_A)
    hook.start(SESSION_B)
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed
    assert hook("PreToolUse-Edit", session=SESSION_B, file=repo / "src" / "app.py").denied
    assert _tool(repo, "claude-9b8e7d6c") == [(None, None)], "no PostToolUse follows a deny"
    assert _tool(repo) == [("Edit", "src/app.py")]


def test_a_new_prompt_clears_a_tool_whose_end_was_never_reported(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_A)
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed
    assert hook("UserPromptSubmit").code == 0
    assert _tool(repo) == [(None, None)]
