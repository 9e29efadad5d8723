"""The gate a candidate must pass: `[gate] commands`, the same ones `ctui loop` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_gate(commands: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """`{"passed", "results": [{command, exit_code, output}]}`; no commands pass trivially."""
    from ctui.core.loop import run_gate as loop_gate

    return loop_gate(commands, cwd, timeout)
