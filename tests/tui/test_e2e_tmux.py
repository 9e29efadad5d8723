"""End to end: the installed `ctui` in a real terminal (tmux), driven by keys, read back."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.demo.simulate import seed

from .helpers import Tmux

CTUI = str(Path(sys.executable).parent / "ctui")
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_ctui_runs_in_a_terminal_and_obeys_keys(repo: Path, tmux: Tmux) -> None:
    c = Coordinator.open(repo)
    seed(c, threads=False)
    env = " ".join(
        f"{k}={shlex.quote(v)}" for k, v in os.environ.items() if k in ("HOME", "PATH", "TZ")
    )
    command = f"cd {shlex.quote(str(repo))} && exec env {env} TERM=xterm-256color {CTUI}; sleep 5"
    tmux("new-session", "-d", "-s", "ctui", "-x", "140", "-y", "42", command)
    tmux.wait_for(lambda s: "Agents [4]" in s and "needs input: frontend-0002" in s)

    subprocess.run(
        [CTUI, "lock", "acquire", "README.md", "--intent", "typo"], cwd=repo, check=True, timeout=30
    )
    tmux.keys("2")
    tmux.wait_for(lambda s: "README.md" in s and "Leases [5]" in s)
    tmux.keys("f")
    tmux.wait_for(lambda s: "Force-release a lease" in s)
    tmux.keys("-l", "e2e test")
    tmux.keys("Enter")
    tmux.wait_for(lambda s: "Leases [4]" in s)
    assert c.leases.check("README.md") is None
    assert c.events.recent(1)[0].kind == "lease.forced"

    tmux.keys("t")
    tmux.wait_for(lambda s: "Add a task" in s)
    tmux.keys("-l", "From the terminal")
    tmux.keys("C-s")
    tmux.wait_for(lambda s: "Add a task" not in s)
    tmux.keys("4")
    tmux.wait_for(lambda s: "Tasks [6]" in s)
    assert c.tasks.list()[-1].description == "From the terminal"

    tmux.keys("q")
    tmux.wait_for(lambda s: "Agents" not in s, timeout=10)
    c.close()
