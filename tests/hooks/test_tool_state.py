"""What an agent runs now: PreToolUse records the tool and its file (or, in the background,
Bash's command), PostToolUse, PostToolUseFailure and Stop clear it.

Real hook processes (the installed command through `sh -c`) on a real store; the
control room's agents list reads the same row (`roster.agents`). The race a background
start can lose is run in its losing order, direct and through `ctui serve`, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.flows.notify import read_agents
from ctui.tui.agent_rows import cells
from tests.api.conftest import Server
from tests.hooks.support import SESSION_A, SESSION_B, Hook, fixture, rows

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


def _now(repo: Path, who: str = ME) -> tuple[str | None, str | None, str]:
    """(tool, target, state) of the instance, read through the core (either backend)."""
    c = Coordinator.open(repo)
    try:
        inst = c.instances.get(who)
        return inst.tool, inst.tool_target, inst.state
    finally:
        c.close()


def _bash(n: int) -> dict[str, str]:
    return {"tool_use_id": f"toolu_01BASH{n:014d}"}


def test_a_bash_call_shows_its_command_until_it_ends(hook: Hook, repo: Path) -> None:
    """The background PreToolUse records Bash and the command's first line, and prints
    nothing (no decision); PostToolUse clears it, and so does PostToolUseFailure."""
    hook.start(SESSION_A)
    assert hook("UserPromptSubmit").code == 0
    pre = hook("PreToolUse-Bash")
    assert (pre.code, pre.out, pre.err) == (0, "", "")
    assert _now(repo) == ("Bash", "npm test", "working")
    c = Coordinator.open(repo)
    try:
        (agent,) = [a for a in read_agents(c) if a["instance"] == ME]
        assert (agent["tool"], agent["doing"]) == ("Bash", "npm test")
        row = cells(agent, c.now())  # the control room's agents list
        assert (row["state"].text, row["doing"].text) == ("⚙ running Bash", "npm test")
    finally:
        c.close()
    assert hook("PostToolUse-Bash").code == 0
    assert _now(repo) == (None, None, "working")

    assert hook("PreToolUse-Bash", extra=_bash(2)).allowed
    assert _now(repo)[0] == "Bash"
    failed = hook("PostToolUseFailure-Bash", extra=_bash(2))
    assert failed.code == 0, failed
    assert _now(repo) == (None, None, "working"), "a failed command has ended too"


@pytest.fixture(params=["direct", "serve"])
def via(request: pytest.FixtureRequest, backend: str, hook: Hook, repo: Path) -> Iterator[str]:
    """The hook answered in its own process, or by a real `ctui serve` (on both backends)."""
    (repo / ".ctui" / "config.toml").write_text(f'[hooks]\nvia = "{request.param}"\n')
    if request.param == "direct":
        yield "direct"
        return
    server = Server(repo, "--no-auth", "--workers", "1", token=None)
    try:
        sock = repo / ".ctui" / "hooks.sock"
        deadline = time.monotonic() + 60
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sock.exists(), server.output()
        yield "serve"
    finally:
        server.stop()


@pytest.mark.parametrize("end", ["PostToolUse-Bash", "PostToolUseFailure-Bash"])
def test_a_start_that_lands_after_its_end_writes_nothing(
    via: str, hook: Hook, repo: Path, end: str
) -> None:
    """The race a background hook can lose: a fast command's end is recorded first, then its
    start arrives. Real hook processes in that order: nothing is shown, the state stays."""
    hook.start(SESSION_A)
    assert hook("UserPromptSubmit").code == 0
    for n in range(3):
        assert hook(end, extra=_bash(n)).code == 0
        late = hook("PreToolUse-Bash", extra=_bash(n))
        assert (late.code, late.out) == (0, ""), late
        assert _now(repo) == (None, None, "working"), f"round {n} ({via})"

    assert hook(end, extra=_bash(9)).code == 0
    assert hook("Stop").code == 0  # the turn ended; a start that lands now must not revive it
    assert hook("PreToolUse-Bash", extra=_bash(9)).allowed
    assert _now(repo) == (None, None, "idle")


@pytest.mark.usefixtures("via")
def test_parallel_calls_end_in_any_order(hook: Hook, repo: Path) -> None:
    """Two calls at once (A then B started): A's end leaves B shown; B's end clears it; A's
    start landing last writes nothing."""
    hook.start(SESSION_A)
    assert hook("UserPromptSubmit").code == 0
    b = {**_bash(2), "tool_input": {"command": "sleep 5"}}
    assert hook("PreToolUse-Bash", extra=b).allowed
    assert hook("PostToolUse-Bash", extra=_bash(1)).code == 0
    assert _now(repo) == ("Bash", "sleep 5", "working")
    assert hook("PostToolUse-Bash", extra=_bash(2)).code == 0
    assert _now(repo)[0] is None
    assert hook("PreToolUse-Bash", extra=_bash(1)).allowed
    assert _now(repo)[0] is None


def test_a_web_fetch_and_an_mcp_tool_show_their_target(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_A)
    assert hook("UserPromptSubmit").code == 0
    fetch = {
        "tool_name": "WebFetch",
        "tool_use_id": "toolu_01WEB",
        "tool_input": {"url": "https://example.com/a", "prompt": "summarise"},
    }
    assert hook("PreToolUse-Bash", extra=fetch).allowed
    assert _now(repo) == ("WebFetch", "https://example.com/a", "working")
    assert hook("PostToolUse-Bash", extra=fetch).code == 0
    assert _now(repo)[0] is None
    mcp = {
        "tool_name": "mcp__ctui__acquire_lock",
        "tool_use_id": "toolu_01MCP",
        "tool_input": {"wait": 90, "path": "src/app.py"},
    }
    assert hook("PreToolUse-Bash", extra=mcp).allowed
    assert _now(repo) == ("mcp__ctui__acquire_lock", "src/app.py", "working")
    assert hook("PostToolUseFailure-Bash", extra=mcp).code == 0
    assert _now(repo)[0] is None


def test_a_background_start_never_denies_even_without_its_server(hook: Hook, repo: Path) -> None:
    """Served, with no `ctui serve` running: the lease check denies (never fails open), but the
    background start of a Bash call exits 1 with one line, never a decision."""
    hook.start(SESSION_A)
    (repo / ".ctui" / "config.toml").write_text('[hooks]\nvia = "serve"\n')
    answer = hook("PreToolUse-Bash")
    assert answer.code == 1 and answer.out == "", answer
    assert answer.err.startswith("ctui hook: ") and len(answer.err.strip().splitlines()) == 1
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").denied


@pytest.mark.usefixtures("via")
def test_a_start_and_its_end_racing_always_leave_nothing_running(hook: Hook, repo: Path) -> None:
    """Pre and Post of one call as two real processes at once, round after round: whichever
    lands first, the call has ended, so nothing may be left running (the start's check of the
    ended ids and its write are one transaction)."""
    hook.start(SESSION_A)
    assert hook("UserPromptSubmit").code == 0
    for n in range(10):
        payloads = []
        for name in ("PostToolUse-Bash", "PreToolUse-Bash")[:: 1 if n % 2 else -1]:
            payload = fixture(name, SESSION=SESSION_A, CWD=str(repo), FILE="")
            payload.update(_bash(100 + n))
            payloads.append(payload)
        for answer in hook.race(payloads):
            assert (answer.code, answer.out) == (0, ""), answer
        assert _now(repo) == (None, None, "working"), f"round {n}"
