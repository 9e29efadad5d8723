"""`ctui demo`: a seeded scratch repository, simulated agents, and a clean exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.errors import CtuiError
from ctui.demo.simulate import Simulation

from .helpers import Tmux

CTUI = str(Path(sys.executable).parent / "ctui")


def test_seed_only_makes_a_repository_with_a_live_looking_store(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    proc = subprocess.run(
        [CTUI, "demo", "--seed-only", str(target), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["root"] == str(target)
    assert (target / ".git").is_dir() and (target / "src" / "cart.py").is_file()
    c = Coordinator.open(target)
    assert {i.state for i in c.instances.list()} >= {"working", "needs_input", "idle"}
    assert len(c.leases.list()) == 4 and c.decisions.count() == 4
    assert {t.status for t in c.tasks.list()} >= {"done", "claimed", "available", "pending"}
    assert sorted(t.name for t in c.threads.list()) == ["docs-sweep", "fix-cart-total"]
    c.close()


def test_seed_only_refuses_a_folder_with_files(repo: Path) -> None:
    before = subprocess.run(
        ["git", "log", "--oneline"], cwd=repo, capture_output=True, text=True
    ).stdout
    proc = subprocess.run(
        [CTUI, "demo", "--seed-only", str(repo)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not empty" in proc.stderr
    assert not (repo / ".ctui").exists()
    assert (
        subprocess.run(["git", "log", "--oneline"], cwd=repo, capture_output=True, text=True).stdout
        == before
    )


def test_the_simulated_agents_keep_changing_the_store(seeded: Coordinator) -> None:
    sim = Simulation(seeded, seed_value=3, spawn=False)
    before = seeded.events.latest_id()
    refused = 0
    for _ in range(60):
        try:
            sim.step()
        except CtuiError:
            refused += 1
    kinds = {e.kind for e in seeded.events.since(before, limit=1000)}
    assert {"lease.acquired", "instance.state"} <= kinds
    assert seeded.events.latest_id() - before > 20
    assert refused < 60


def test_ctui_demo_runs_and_cleans_up(tmp_path: Path, tmux: Tmux) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: os.environ[k] for k in ("HOME", "PATH") if k in os.environ}
    exports = " ".join(f"{k}={v}" for k, v in {**env, "TMPDIR": str(scratch)}.items())
    command = f"exec env {exports} TERM=xterm-256color {CTUI} demo --for 6; sleep 30"
    tmux("new-session", "-d", "-s", "ctui", "-x", "150", "-y", "45", command)
    first = tmux.wait_for(lambda s: "Agents" in s and "backend-0001" in s)
    repo = next(scratch.glob("ctui-demo-*"))
    assert (repo / ".ctui" / "ctui.db").exists()
    tmux.wait_for(lambda s: s.split("Agents")[1] != first.split("Agents")[1], timeout=15)
    deadline = time.monotonic() + 20
    while repo.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not repo.exists(), "the scratch repository outlived the demo"
