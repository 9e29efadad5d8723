"""`ctui loop`: agent, then the test gate, with failures fed into the next prompt."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli


def _config(repo: Path, commands: list[str]) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(
        f'[gate]\ncommands = {json.dumps(commands)}\ncompletion_token = "ALL-DONE"\n'
    )


def test_loop_passes_its_gate_on_the_second_iteration(repo: Path, cli: Cli) -> None:
    _config(repo, ["test -f fixed.txt", "true"])
    prompt = "Make the gate pass. FAKE_FIX_ON_FEEDBACK=fixed.txt FAKE_DONE"
    assert cli("thread", "create", "ralph", "--prompt", prompt).returncode == 0
    proc = cli(
        "loop",
        "ralph",
        "--max-iterations",
        "4",
        "--json",
        env={"FAKE_AGENT_TOKEN": "ALL-DONE"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["done"] and result["iterations"] == 2
    first, second = result["gate"]
    assert not first["passed"] and first["token"] and first["results"][0]["exit_code"] == 1
    assert second["passed"] and second["token"]
    t = cli.json("thread", "status", "ralph")
    assert t["run_id"] == 2 and len(t["gate"]) == 2  # type: ignore[index]
    shown = cli("thread", "status", "ralph").stdout
    assert "gate #1" in shown and "FAILED" in shown and "gate #2" in shown


def test_loop_stops_at_the_limit_without_the_token(repo: Path, cli: Cli) -> None:
    _config(repo, ["true"])
    proc = cli(
        "loop",
        "never",
        "-p",
        "work",
        "--no-worktree",
        "--max-iterations",
        "2",
        "--json",
        timeout=120,
    )
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert not result["done"] and [g["token"] for g in result["gate"]] == [False, False]
    assert cli("loop", "missing").returncode == 4


def test_a_hung_iteration_is_stopped_and_reported(repo: Path, cli: Cli) -> None:
    _config(repo, ["true"])
    proc = cli(
        "loop",
        "stuck",
        "-p",
        "FAKE_HANG",
        "--no-worktree",
        "--max-iterations",
        "2",
        "--timeout",
        "1",
        "--json",
        timeout=120,
    )
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert [g["agent_exit"] for g in result["gate"]] == [143, 143]
    assert "past 1s" in proc.stderr
    assert cli.json("thread", "status", "stuck")["status"] == "stopped"  # type: ignore[index]
