"""The API's weight stays out of commands that do not need it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import contextlib, io, json, sys
from ctui.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
heavy = sorted(m for m in ("httpx", "fastapi", "uvicorn", "starlette", "mcp") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def probe(cwd: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_local_commands_import_no_web_stack(repo: Path) -> None:
    assert probe(repo, "lock", "list", "--json") == {"code": 0, "heavy": []}
    assert probe(repo, "task", "list", "--json") == {"code": 0, "heavy": []}


def test_a_connected_store_loads_only_the_client(repo: Path) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "remote.json").write_text(
        json.dumps({"url": "http://127.0.0.1:9", "token": "x"})
    )
    result = probe(repo, "lock", "list")
    assert result["code"] == 1, "the server does not answer: an error, not the local store"
    assert result["heavy"] == ["httpx"]
    assert probe(repo, "lock", "list", "--local")["heavy"] == []
