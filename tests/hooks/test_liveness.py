"""Liveness: the session's pid is found above the shell; kill -9 of it frees its leases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.hooks.support import SESSION_A, SESSION_B, Hook, fixture, rows

# A stand-in for Claude Code: a long-lived process that runs each hook call as
# `sh -c COMMAND` in a child, payload on stdin, and reports the answer.
SESSION_PROCESS = r"""
import json, subprocess, sys
command = sys.argv[1]
for line in sys.stdin:
    proc = subprocess.run(["sh", "-c", command], input=line.encode(), capture_output=True,
                          timeout=30)
    answer = {"code": proc.returncode, "out": proc.stdout.decode(), "err": proc.stderr.decode()}
    print(json.dumps(answer), flush=True)
"""


class FakeClaude:
    def __init__(self, command: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SESSION_PROCESS, command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )

    def send(self, payload: dict[str, object]) -> dict[str, object]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(payload) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, object] = json.loads(self.proc.stdout.readline())
        return answer

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_kill_9_of_the_session_frees_its_leases(hook: Hook, repo: Path) -> None:
    claude = FakeClaude(hook.command, repo)
    try:
        target = str(repo / "src" / "app.py")
        assert claude.send(fixture("SessionStart", SESSION=SESSION_A, CWD=str(repo)))["code"] == 0
        answer = claude.send(
            fixture("PreToolUse-Edit", SESSION=SESSION_A, CWD=str(repo), FILE=target)
        )
        assert answer == {"code": 0, "out": "", "err": ""}
        db = repo / ".ctui" / "ctui.db"
        assert rows(db, "SELECT pid FROM instances WHERE id = 'claude-4f2c9a1e'") == [
            (claude.proc.pid,)
        ]
        assert hook("PreToolUse-Edit", session=SESSION_B, file=target).denied
        claude.kill()
        assert hook("PreToolUse-Edit", session=SESSION_B, file=target).allowed
        assert rows(db, "SELECT state FROM instances WHERE id = 'claude-4f2c9a1e'") == [("stale",)]
        assert rows(db, "SELECT holder FROM leases") == [("claude-9b8e7d6c",)]
    finally:
        claude.close()


def test_pid_skips_nested_shells(hook: Hook, repo: Path) -> None:
    """`sh -c "sh -c HOOK"`: the pid recorded is the first non-shell ancestor (this test)."""
    from shlex import quote

    payload = json.dumps(fixture("SessionStart", SESSION=SESSION_A, CWD=str(repo)))
    proc = subprocess.run(
        ["sh", "-c", f"sh -c {quote(hook.command)}"],
        input=payload.encode(),
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert rows(
        repo / ".ctui" / "ctui.db", "SELECT pid FROM instances WHERE id = 'claude-4f2c9a1e'"
    ) == [(os.getpid(),)]


def test_session_pid_walk() -> None:
    from ctui.hooks.session import session_pid

    assert session_pid(os.getpid()) == os.getpid()
    assert session_pid(1) is None
    shell = subprocess.Popen(["sh", "-c", "sleep 30"])
    try:
        assert session_pid(shell.pid) in (shell.pid, os.getpid())  # `sh` may exec `sleep` itself
    finally:
        shell.kill()
        shell.wait(timeout=10)
