"""What a hand-started session runs now, driven by the real client: a Bash command is shown
(tool and command) while it runs and cleared when it ends.

The command blocks until the test creates a file, so the test looks at the store while the
command certainly runs, without a timed wait; deadlines only turn a hang into a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.flows import permissions
from ctui.core.flows.notify import read_agents
from tests.conftest import Cli
from tests.realclient.conftest import Session, wait_for
from tests.realclient.fake_api import FakeAnthropic, Text, ToolUse
from tests.realclient.test_real_sessions import installed, s_session, tool_result

pytestmark = [pytest.mark.realclient, pytest.mark.slow]

Claude = Callable[..., Session]
Api = Callable[[], FakeAnthropic]
BLOCKS = "while [ ! -f go ]; do sleep 0.05; done; echo released"


def _agent(repo: Path, me: str) -> dict[str, object] | None:
    c = Coordinator.open(repo)
    try:
        return next((a for a in read_agents(c) if a["instance"] == me), None)
    finally:
        c.close()


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_running_bash_command_is_shown_until_it_ends(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api, exit_code: int
) -> None:
    """Ended well (PostToolUse) or failed (the client fires PostToolUseFailure instead):
    either end clears it."""
    installed(repo, cli, commit=False)
    hold = threading.Event()
    command = BLOCKS + (f"; exit {exit_code}" if exit_code else "")
    api = fake_api().script(
        ToolUse("Bash", {"command": command, "description": "wait for the go file"}),
        Text("done", hold=hold),
    )
    s = claude(repo, api, "run the command", "--allowedTools", "Bash")
    api.wait_requests(1)
    me = f"claude-{s_session(api)[:8]}"

    def running() -> dict[str, object] | None:
        agent = _agent(repo, me)
        return agent if agent is not None and agent["tool"] == "Bash" else None

    agent = wait_for(running, what=f"{me} shown running Bash")
    assert (agent["state"], agent["tool_target"], agent["doing"]) == ("working", command, command)
    assert s.proc.poll() is None and len(api.main_requests()) == 1, "the command still runs"

    (repo / "go").touch()
    api.wait_requests(2)  # the tool's result is in: the call has ended (PostToolUse ran)
    result = tool_result(api, 1)
    assert "released" in result and (f"Exit code {exit_code}" in result) == bool(exit_code)
    agent = wait_for(lambda: _agent(repo, me), what=f"{me} in the agents list")
    assert agent["tool"] is None and agent["tool_target"] is None, agent
    hold.set()
    s.wait()
    assert s.result["is_error"] is False, s.err
    agent = _agent(repo, me)
    assert agent is None or agent["tool"] is None, agent


def _pending(repo: Path, me: str) -> dict[str, object] | None:
    c = Coordinator.open(repo)
    try:
        return permissions.pending(c, me)
    finally:
        c.close()


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_a_real_permission_request_waits_for_ctui_approve_or_deny(
    repo: Path, cli: Cli, claude: Claude, fake_api: Api, verb: str
) -> None:
    """`claude -p` in the default permission mode, Bash not pre-allowed: the client fires
    PermissionRequest, the hook holds it, and `ctui approve` runs the command (shown running
    while it does) or `ctui deny` keeps it from running, with the operator's reason."""
    installed(repo, cli, commit=False)
    (repo / ".ctui" / "config.toml").write_text("[permissions]\nwait = 300\nsessions = true\n")
    command = f"touch ran; {BLOCKS}"
    api = fake_api().script(
        ToolUse("Bash", {"command": command, "description": "make a file"}), Text("done")
    )
    s = claude(repo, api, "make the file", mode="default")
    api.wait_requests(1)
    me = f"claude-{s_session(api)[:8]}"
    asked = wait_for(lambda: _pending(repo, me), what=f"{me}'s permission request")
    assert asked["tool"] == "Bash" and "touch ran" in str(asked["input"])
    agent = _agent(repo, me)
    assert agent is not None and agent["state"] == "waiting" and agent["tool"] is None
    assert s.proc.poll() is None and not (repo / "ran").exists(), "held, not run"

    args = [verb, me] + (["-m", "not on main"] if verb == "deny" else [])
    answered = cli(*args)
    assert answered.returncode == 0, answered.stderr
    if verb == "approve":
        wait_for((repo / "ran").exists, what="the approved command to run")
        agent = wait_for(
            lambda: (a := _agent(repo, me)) is not None and a["tool"] == "Bash" and a,
            what=f"{me} shown running the approved command",
        )
        assert (agent["state"], agent["tool_target"]) == ("working", command)
        (repo / "go").touch()
    api.wait_requests(2)
    result = tool_result(api, 1)
    s.wait()
    assert s.result["is_error"] is False, s.err
    if verb == "approve":
        assert "released" in result, result
    else:
        assert "not on main" in result and not (repo / "ran").exists(), result
    agent = _agent(repo, me)
    assert agent is None or agent["tool"] is None, agent
