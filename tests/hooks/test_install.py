"""`ctui hooks install | uninstall | doctor` against real settings files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ctui.hooks.settings import GROUPS, HOOKS, installed, thread_settings
from tests.conftest import Cli
from tests.hooks.support import install

USER_HOOK = {"type": "command", "command": "/usr/local/bin/format-on-save.sh", "timeout": 30}
USER_SETTINGS = {
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit-bash"}]}
        ],
        "PostToolUse": [{"matcher": "Write|Edit", "hooks": [USER_HOOK]}],
    },
}
EVENTS = {
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "SessionEnd",
    "PermissionRequest",
}


def _settings(repo: Path, name: str = "settings.json") -> Path:
    return repo / ".claude" / name


def test_install_merges_and_keeps_other_hooks(repo: Path) -> None:
    path = _settings(repo)
    path.parent.mkdir()
    path.write_text(json.dumps(USER_SETTINGS, indent=2))
    assert install(repo).returncode == 0
    doc = json.loads(path.read_text())
    assert doc["permissions"] == USER_SETTINGS["permissions"]
    assert set(doc["hooks"]) == EVENTS
    assert doc["hooks"]["PreToolUse"][0] == USER_SETTINGS["hooks"]["PreToolUse"][0]
    assert doc["hooks"]["PostToolUse"][0] == USER_SETTINGS["hooks"]["PostToolUse"][0]
    ours = doc["hooks"]["PreToolUse"][1]
    assert ours["matcher"] == "Write|Edit|MultiEdit|NotebookEdit"
    assert ours["hooks"][0]["type"] == "command" and ours["hooks"][0]["timeout"] == 10
    assert doc["hooks"]["PostToolUse"][1]["matcher"] == "Write|Edit|MultiEdit|NotebookEdit|Bash"
    assert "matcher" not in doc["hooks"]["SessionStart"][0]
    assert (repo / ".ctui" / "ctui.db").exists(), "project install creates the store"


def test_long_tools_start_in_the_background_and_end_in_a_failure_too(repo: Path) -> None:
    """Bash and the other long tools get a second PreToolUse group the client runs without
    waiting (`async`, never `onFailure: block`); a failed call ends the tool as well."""
    assert install(repo).returncode == 0
    hooks = json.loads(_settings(repo).read_text())["hooks"]
    lease_check, running = hooks["PreToolUse"]
    assert lease_check["matcher"] == "Write|Edit|MultiEdit|NotebookEdit"
    assert (
        lease_check["hooks"][0]["onFailure"] == "block" and "async" not in lease_check["hooks"][0]
    )
    assert running["matcher"] == "^(Bash|Task|Agent|WebFetch|WebSearch|mcp__.*)$"
    assert running["hooks"][0]["async"] is True and "onFailure" not in running["hooks"][0]
    for event in ("PostToolUse", "PostToolUseFailure"):
        ends = hooks[event]
        assert [g["matcher"] for g in ends] == [
            "Write|Edit|MultiEdit|NotebookEdit|Bash",
            "^(Task|Agent|WebFetch|WebSearch|mcp__.*)$",
        ]
        assert "async" not in ends[0]["hooks"][0] and ends[1]["hooks"][0]["async"] is True
    found = installed({"hooks": hooks})
    assert set(found) == set(HOOKS) and "PreToolUse async" in found
    assert set(installed(thread_settings())) == set(HOOKS), "threads get every group too"
    proc = Cli(repo)("hooks", "uninstall", "--json")
    assert json.loads(proc.stdout)["removed"] == len(GROUPS)
    assert not _settings(repo).read_text().count("async")


def test_doctor_names_a_missing_background_group(repo: Path) -> None:
    """An install from before the background group: doctor says to install again."""
    assert install(repo).returncode == 0
    path = _settings(repo)
    doc = json.loads(path.read_text())
    doc["hooks"]["PreToolUse"] = doc["hooks"]["PreToolUse"][:1]
    path.write_text(json.dumps(doc))
    proc = Cli(repo)("hooks", "doctor", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and report["settings"][0]["missing"] == ["PreToolUse async"]
    assert any("PreToolUse async" in p and "hooks install" in p for p in report["problems"])
    assert install(repo).returncode == 0
    assert Cli(repo)("hooks", "doctor", "--json").returncode == 0


def test_install_twice_is_install_once(repo: Path) -> None:
    assert install(repo).returncode == 0
    once = _settings(repo).read_text()
    second = install(repo, "--json")
    assert second.returncode == 0 and json.loads(second.stdout)["changed"] is False
    assert _settings(repo).read_text() == once


def test_reinstall_with_another_command_replaces_ours(repo: Path) -> None:
    install(repo)
    assert install(repo, "--script").returncode == 0
    doc = json.loads(_settings(repo).read_text())
    commands = [
        h["command"] for groups in doc["hooks"].values() for g in groups for h in g["hooks"]
    ]
    assert len(commands) == len(GROUPS) and all(c.endswith("ctui hook") for c in commands)


def test_uninstall_removes_only_ours(repo: Path) -> None:
    path = _settings(repo)
    path.parent.mkdir()
    path.write_text(json.dumps(USER_SETTINGS))
    install(repo)
    cli = Cli(repo)
    proc = cli("hooks", "uninstall", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["removed"] == len(GROUPS)
    assert json.loads(path.read_text()) == USER_SETTINGS
    again = cli("hooks", "uninstall", "--json")
    assert json.loads(again.stdout)["removed"] == 0


def test_local_and_user_scopes(repo: Path) -> None:
    assert install(repo, "--scope", "local").returncode == 0
    assert set(json.loads(_settings(repo, "settings.local.json").read_text())["hooks"]) == EVENTS
    assert not _settings(repo).exists()
    assert install(repo, "--scope", "user").returncode == 0
    user = Path(os.environ["HOME"]) / ".claude" / "settings.json"
    assert set(json.loads(user.read_text())["hooks"]) == EVENTS


def test_malformed_settings_are_left_untouched(repo: Path) -> None:
    path = _settings(repo)
    path.parent.mkdir()
    path.write_text('{"hooks": [1, 2,')
    proc = install(repo)
    assert proc.returncode == 2
    assert "not valid JSON" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert path.read_text() == '{"hooks": [1, 2,'
    path.write_text('{"hooks": {"PreToolUse": {"not": "a list"}}}')
    proc = install(repo)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert path.read_text() == '{"hooks": {"PreToolUse": {"not": "a list"}}}'


def test_doctor_reports_ok_and_times_a_call(repo: Path) -> None:
    install(repo)
    proc = Cli(repo)("hooks", "doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["problems"] == []
    assert report["store"].endswith(".ctui")
    timed = report["commands"][0]
    assert timed["exit_code"] == 0 and timed["ms"] > 0 and timed["cold_ms"] > 0
    assert timed["warm_calls"] == 5  # `ms` is their median; the cold first call is apart
    text = Cli(repo)("hooks", "doctor").stdout
    assert "median of 5 warm calls" in text and "the first, cold call took" in text
    assert f": {len(GROUPS)} of {len(GROUPS)} hook groups installed" in text


def test_doctor_stops_at_the_first_failing_call(repo: Path) -> None:
    path = _settings(repo)
    path.parent.mkdir()
    counter = repo / "calls"
    hook = f"echo x >> {counter}; echo ctui hook: broken >&2; exit 3"  # reaches "ctui", fails
    doc = {"hooks": {"PreToolUse": [{"matcher": "Edit", "hooks": [{"type": "command"}]}]}}
    doc["hooks"]["PreToolUse"][0]["hooks"][0]["command"] = f"sh -c '{hook}' ctui hook"
    path.write_text(json.dumps(doc))
    report = json.loads(Cli(repo)("hooks", "doctor", "--json").stdout)
    timed = report["commands"][0]
    assert timed["exit_code"] == 3 and timed["ms"] is None and timed["cold_ms"] > 0
    assert counter.read_text().count("x") == 2  # the probe that found ctui, then one call
    assert any("exit 3" in p for p in report["problems"])


def test_doctor_finds_problems(repo: Path) -> None:
    cli = Cli(repo)
    proc = cli("hooks", "doctor")
    assert proc.returncode == 1 and "no ctui hook installed" in proc.stdout
    path = _settings(repo)
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                "hooks": {
                    "PreToolUse": [
                        {
                            "matcher": "Edit",
                            "hooks": [{"type": "command", "command": "/nowhere/bin/ctui hook"}],
                        }
                    ]
                }
            }
        )
    )
    report = json.loads(cli("hooks", "doctor", "--json").stdout)
    text = " ".join(report["problems"])
    assert "does not reach ctui" in text and "SessionStart" in text


def test_install_with_dir_points_the_hook_at_that_store(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "elsewhere-store"
    assert install(repo, "--dir", str(store)).returncode == 0
    from tests.hooks.support import SESSION_A, Hook, installed_command, rows

    hook = Hook(repo, installed_command(_settings(repo)))
    assert hook.start(SESSION_A).code == 0
    assert rows(
        store / "ctui.db", "SELECT COUNT(*) FROM instances WHERE session_id = ?", SESSION_A
    ) == [(1,)]
    assert not (repo / ".ctui").exists()
