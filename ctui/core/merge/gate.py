"""The gate a candidate must pass: `[gate] commands`, the same ones `ctui loop` runs.

`run_gate` lives here, below the flows, so the merge queue (a domain package)
and `ctui loop` (a flow, `ctui.core.flows.loop`) share the one implementation.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ctui.core import private

OUTPUT_TAIL = 3000


def run_gate(commands: list[str], cwd: Path, timeout: float) -> dict[str, Any]:
    """Run each gate command through the shell; all must exit 0."""
    results = []
    for command in commands:
        try:
            proc = subprocess.run(
                command,
                shell=True,
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                env=private.agent_env(),  # test commands see no ctui token either
            )
            code, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, output = 124, f"{exc.output or ''}\n(timed out after {timeout:g}s)"
        results.append(
            {"command": command, "exit_code": code, "output": str(output)[-OUTPUT_TAIL:]}
        )
    return {"passed": all(r["exit_code"] == 0 for r in results), "results": results}
