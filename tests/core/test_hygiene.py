"""The core stays headless: no UI, web or MCP module is loaded by importing it."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ctui.core

FORBIDDEN = ("textual", "rich", "fastapi", "uvicorn", "httpx", "mcp", "starlette")
ROOT = Path(__file__).resolve().parents[2]
MODULES = ["ctui.core", "ctui.hook"] + [
    m.name for m in pkgutil.walk_packages(ctui.core.__path__, "ctui.core.")
]  # every module of every package of the core, not only the top level

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(","))))
"""


@pytest.mark.parametrize("module", MODULES)
def test_importing_loads_no_ui_web_or_mcp(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, module, ",".join(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"{module} loaded {proc.stdout.strip()}"


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    assert lint, "import-linter is not installed"
    proc = subprocess.run([lint], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
