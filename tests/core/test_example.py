"""`examples/coordinate.py` runs as a user would run it, in a fresh repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ctui.core import Coordinator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "coordinate.py"


def test_the_example_script_coordinates(repo: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=repo / "src", capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "holds README.md (token 1)" in proc.stdout
    assert "logged DEC-" in proc.stdout
    c = Coordinator.open(repo)
    assert c.leases.list() == []
    (decision,) = c.decisions.list()
    assert decision.category == "docs"
    kinds = [e.kind for e in c.events.since(0)]
    assert kinds == [
        "instance.registered",
        "lease.acquired",
        "decision.logged",
        "lease.released",
        "instance.ended",
    ]
    c.close()


def test_the_example_stops_when_the_file_is_leased(repo: Path) -> None:
    c = Coordinator.open(repo)
    other = c.instances.register(role="other").id
    c.leases.acquire("README.md", instance=other)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), str(repo)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 10
    assert "someone else is on it" in proc.stderr
    assert c.decisions.count() == 0
    c.close()
