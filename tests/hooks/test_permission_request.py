"""PermissionRequest: a real hook process holds a real payload open until the operator
answers with `ctui approve|deny` (its answer comes back in the client's schema), or gives
no answer after the configured wait, so the client asks in its own prompt."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ctui.core import Coordinator
from ctui.core.flows import permissions
from tests.conftest import Cli
from tests.hooks.support import Hook, fixture

SESSION = "4f2c9a1e-0000-4000-8000-000000000001"
INSTANCE = "claude-4f2c9a1e"


def _config(repo: Path, text: str) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(text)


def _ask_in_background(hook: Hook, repo: Path) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    payload = json.dumps(fixture("PermissionRequest", SESSION=SESSION, CWD=str(repo)))

    def run() -> None:
        started = time.monotonic()
        out["proc"] = hook.raw(payload, timeout=120)
        out["took"] = time.monotonic() - started

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _until_pending(repo: Path, target: str = INSTANCE) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        c = Coordinator.open(repo)
        try:
            req = permissions.pending(c, target)
        finally:
            c.close()
        if req is not None:
            return req
        time.sleep(0.05)
    raise AssertionError("the hook never recorded its request")


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_a_real_request_waits_for_the_operator_and_gets_the_answer(
    hook: Hook, repo: Path, cli: Cli, verb: str
) -> None:
    _config(repo, "[permissions]\nwait = 60\nsessions = true\n")
    assert hook.start(SESSION).code == 0
    t, out = _ask_in_background(hook, repo)
    req = _until_pending(repo)
    assert req["tool"] == "Bash" and "npm run build" in req["input"]
    c = Coordinator.open(repo)
    try:
        me = c.instances.get(INSTANCE)
        assert me.state == "needs_input"
        asked = [e for e in c.events.recent(20) if e.kind == "instance.asked"]
        assert asked[-1].data["message"] == "Permission to use Bash: npm run build"
    finally:
        c.close()
    assert t.is_alive()  # held open while nobody answered
    args = [verb, INSTANCE] + (["-m", "not on main"] if verb == "deny" else [])
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    t.join(60)
    proc = out["proc"]
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    decision = (
        {"behavior": "allow"}
        if verb == "approve"
        else {
            "behavior": "deny",
            "message": "not on main",
        }
    )
    assert answer == {
        "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}
    }
    again = cli(verb, INSTANCE)
    assert again.returncode == 4 and "no permission request waiting" in again.stderr
    c = Coordinator.open(repo)
    try:
        me = c.instances.get(INSTANCE)
        assert me.state == "working"
        shown = ("Bash", "npm run build") if verb == "approve" else (None, None)
        assert (me.tool, me.tool_target) == shown, "an approved command runs now: shown"
    finally:
        c.close()


def test_no_answer_in_time_falls_back_to_the_clients_own_prompt(
    hook: Hook, repo: Path, cli: Cli
) -> None:
    _config(repo, "[permissions]\nwait = 1\nsessions = true\n")
    assert hook.start(SESSION).code == 0
    t, out = _ask_in_background(hook, repo)
    req = _until_pending(repo)
    t.join(60)
    proc = out["proc"]
    assert proc.returncode == 0 and proc.stdout.strip() == b"", proc.stderr
    assert cli("approve", INSTANCE).returncode == 4  # too late: it expired
    c = Coordinator.open(repo)
    try:
        kinds = [(e.kind, e.subject) for e in c.events.recent(10)]
        assert ("permission.expired", str(req["id"])) in kinds
        assert not any(k == "permission.answered" for k, _ in kinds)
    finally:
        c.close()


def test_a_hand_started_session_is_not_held_by_default(hook: Hook, repo: Path) -> None:
    assert hook.start(SESSION).code == 0
    started = time.monotonic()
    proc = hook.raw(json.dumps(fixture("PermissionRequest", SESSION=SESSION, CWD=str(repo))))
    assert proc.returncode == 0 and proc.stdout.strip() == b""
    assert time.monotonic() - started < 30  # no hold: the client's own prompt at once
    c = Coordinator.open(repo)
    try:
        assert not [e for e in c.events.recent(20) if e.kind == "permission.asked"]
    finally:
        c.close()


def test_answer_and_expiry_race_and_exactly_one_wins(repo: Path) -> None:
    """Answers from several processes against a hook whose wait ends at the same moment."""
    for round_ in range(5):
        c = Coordinator.open(repo)
        try:
            inst = c.instances.register(role="r").id
            rid = permissions.ask(c, inst, "Bash", {"command": f"make {round_}"})
        finally:
            c.close()
        waiter = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys,json;from ctui.core import Coordinator;"
                "from ctui.core.flows import permissions;"
                f"c=Coordinator.open({str(repo)!r});"
                f"print(json.dumps(permissions.wait(c,{rid},0.3)))",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        answerers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import time;time.sleep(0.25);from ctui.core import Coordinator\n"
                    "from ctui.core.flows import permissions\n"
                    "from ctui.core.errors import NotFound\n"
                    f"c=Coordinator.open({str(repo)!r})\n"
                    f"try: permissions.answer(c,{inst!r},allow={i % 2 == 0})\n"
                    "except NotFound: print('late')\n",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        said = json.loads(waiter.communicate(timeout=60)[0])
        late = sum(p.communicate(timeout=60)[0].count("late") for p in answerers)
        c = Coordinator.open(repo)
        try:
            closed = [
                e
                for e in c.events.since(rid)
                if e.kind.startswith("permission.") and e.subject == str(rid)
            ]
        finally:
            c.close()
        assert len(closed) == 1, closed
        if closed[0].kind == "permission.answered":
            assert said is not None and said["behavior"] == closed[0].data["behavior"]
            assert late == 2
        else:
            assert said is None and late == 3
