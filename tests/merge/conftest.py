"""Merge-queue fixtures: a repository with a gate script, and threads whose branches carry work."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.conftest import git

GATE = """#!/bin/sh
# The gate: every `check*` file must hold `ok`; `gate.log` records each run.
echo "start $$" >> "$GATE_LOG"
for f in check*; do
  [ -f "$f" ] || continue
  grep -qx ok "$f" || { echo "FAIL: $f says $(cat "$f")"; echo "end $$" >> "$GATE_LOG"; exit 1; }
done
if [ -f "$GATE_SLOW" ]; then sleep "$(cat "$GATE_SLOW")"; fi
echo "end $$" >> "$GATE_LOG"
echo "gate ok"
"""


def configure(
    repo: Path, *, batch: int = 1, strategy: str = "merge", extra: str = "", gate: bool = True
) -> Path:
    """Write `.ctui/config.toml` with the gate script; returns the gate log's path."""
    ctui = repo / ".ctui"
    ctui.mkdir(exist_ok=True)
    log = repo.parent / "gate.log"
    slow = repo.parent / "gate.slow"
    script = repo.parent / "gate.sh"
    script.write_text(GATE)
    script.chmod(0o755)
    command = f"GATE_LOG={log} GATE_SLOW={slow} sh {script}"
    (ctui / "config.toml").write_text(
        (f'[gate]\ncommands = ["{command}"]\n' if gate else "")
        + f'[merge]\nbatch = {batch}\nstrategy = "{strategy}"\nlease_ttl = 30\n{extra}'
    )
    return log


def thread_with(c: Coordinator, name: str, files: dict[str, str], base: str = "main") -> Path:
    """A real thread (worktree and branch) with one commit writing `files`."""
    t = c.threads.create(name, agent="command", command="true {prompt}", prompt="x", base=base)
    wt = Path(t.worktree or "")
    for rel, text in files.items():
        (wt / rel).parent.mkdir(parents=True, exist_ok=True)
        (wt / rel).write_text(text)
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "-m", f"{name}: work")
    return wt


def tracked(repo: Path, ref: str = "main") -> dict[str, str]:
    """File name to content at `ref` (top-level files only)."""
    names = git(repo, "ls-tree", "--name-only", ref).split()
    return {n: git(repo, "show", f"{ref}:{n}") for n in names if not n.startswith(("src", "READ"))}


@pytest.fixture
def gated(repo: Path) -> Path:
    configure(repo)
    return repo
