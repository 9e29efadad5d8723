"""Helpers to drive the hook exactly as Claude Code does: the command `ctui hooks install` wrote,
through `sh -c`, one JSON payload on stdin, stdout and the exit code read back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import CTUI

FIXTURES = Path(__file__).parent / "fixtures"
SESSION_A = "4f2c9a1e-0b7d-4c3e-9a55-2d1e8f7b6a01"
SESSION_B = "9b8e7d6c-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def fixture(name: str, **values: str) -> dict[str, Any]:
    """A payload from tests/hooks/fixtures with `$NAME` placeholders filled in."""
    text = (FIXTURES / f"{name}.json").read_text()
    values.setdefault("HOME", os.environ.get("HOME", "/home/u"))
    values.setdefault("AGENT", "a1b2c3d4e5f60718")
    for key in sorted(values, key=len, reverse=True):
        text = text.replace(f"${key}", json.dumps(values[key])[1:-1])
    return json.loads(text)


class Hook:
    """The installed hook command, run like Claude Code runs it."""

    def __init__(self, repo: Path, command: str) -> None:
        self.repo = repo
        self.command = command

    def raw(
        self,
        data: bytes | str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 30,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        body = data.encode() if isinstance(data, str) else data
        return subprocess.run(
            ["sh", "-c", self.command],
            input=body,
            capture_output=True,
            timeout=timeout,
            cwd=cwd or self.repo,
            env={**os.environ, **(env or {})},
        )

    def __call__(
        self,
        name: str,
        *,
        session: str = SESSION_A,
        cwd: Path | None = None,
        file: str | Path = "",
        extra: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> Answer:
        payload = fixture(name, SESSION=session, CWD=str(cwd or self.repo), FILE=str(file))
        payload.update(extra or {})
        return Answer(self.raw(json.dumps(payload), env=env, cwd=cwd))

    def start(
        self, session: str = SESSION_A, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> Answer:
        return self("SessionStart", session=session, cwd=cwd, env=env)

    def race(self, payloads: list[dict[str, Any]], *, settle: float = 0.0) -> list[Answer]:
        """One real hook process per payload, racing: all started, then every stdin written
        and closed in one quick pass (after `settle` seconds, so they wait at their read),
        so they decide together rather than in turn; the answers in the payloads' order."""
        procs = [
            subprocess.Popen(
                ["sh", "-c", self.command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.repo,
            )
            for _ in payloads
        ]
        try:
            if settle:
                time.sleep(settle)
            for proc, payload in zip(procs, payloads, strict=True):
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(payload).encode())
                proc.stdin.close()
            answers = []
            for proc in procs:
                code = proc.wait(timeout=60)
                assert proc.stdout is not None and proc.stderr is not None
                out, err = proc.stdout.read(), proc.stderr.read()
                answers.append(Answer(subprocess.CompletedProcess(proc.args, code, out, err)))
            return answers
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()


class Answer:
    """What the hook said: exit code, stdout as JSON (or None), stderr text."""

    def __init__(self, proc: subprocess.CompletedProcess[bytes]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout.decode()
        self.err = proc.stderr.decode()
        self.json: dict[str, Any] | None = json.loads(self.out) if self.out.strip() else None

    @property
    def allowed(self) -> bool:
        return self.code == 0 and self.json is None

    @property
    def denied(self) -> bool:
        out = (self.json or {}).get("hookSpecificOutput", {})
        return self.code == 0 and out.get("permissionDecision") == "deny"

    @property
    def reason(self) -> str:
        return str(
            (self.json or {}).get("hookSpecificOutput", {}).get("permissionDecisionReason", "")
        )

    @property
    def context(self) -> str:
        return str((self.json or {}).get("hookSpecificOutput", {}).get("additionalContext", ""))

    def __repr__(self) -> str:
        return f"Answer(code={self.code}, out={self.out[:300]!r}, err={self.err[:300]!r})"


def install(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CTUI, "hooks", "install", *args], cwd=repo, capture_output=True, text=True, timeout=60
    )


def installed_command(settings: Path, event: str = "PreToolUse") -> str:
    doc = json.loads(settings.read_text())
    return str(doc["hooks"][event][0]["hooks"][0]["command"])


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a hook may touch, for 'the store is unchanged' checks."""
    conn = sqlite3.connect(db)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("instances", "leases", "events", "tasks", "counters")
        }
    finally:
        conn.close()


def rows(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def run_without_eof(command: str, cwd: Path, *pieces: bytes, pause: float = 0.3) -> Answer:
    """Run the hook with stdin left open: write each piece (pausing between), never close it."""
    proc = subprocess.Popen(
        ["sh", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        for number, piece in enumerate(pieces):
            if number:
                time.sleep(pause)
            proc.stdin.write(piece)
            proc.stdin.flush()
        code = proc.wait(timeout=20)
        out, err = proc.stdout.read(), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdin.close()
    return Answer(subprocess.CompletedProcess(proc.args, code, out, err))
