"""The hook process itself: what it imports, and sessions racing for one file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.hooks.support import SESSION_A, Hook, fixture, rows

FORBIDDEN = (
    "textual",
    "rich",
    "fastapi",
    "uvicorn",
    "httpx",
    "mcp",
    "git",
    "ctui.cli",
    "ctui.tui",
    "ctui.api",
    "ctui.mcp",
    "ctui.hooks.settings",
)
PAYLOADS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse-Edit",
    "PostToolUse-Edit",
    "PostToolUse-Bash",
    "Notification",
    "Stop",
    "SubagentStart",
    "SubagentStop",
    "SessionEnd",
)


def _modules_after(hook: Hook, payload: dict[str, object]) -> list[str]:
    """Run the installed command's interpreter and bootstrap, reporting `sys.modules` at the end."""
    ending = 'found() and sys.modules["ctui.hook"].run()'
    assert hook.command.rstrip("'").endswith(ending), hook.command
    command = hook.command.replace(
        ending,
        "found();import ctui.hook as h;h.defer_imports();code=h.main([]);"
        'sys.stderr.write("\\nMODULES "+" ".join(sorted(sys.modules)))',
    )
    proc = subprocess.run(
        ["sh", "-c", command],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=30,
        cwd=hook.repo,
    )
    marker = proc.stderr.decode().rsplit("MODULES ", 1)
    assert len(marker) == 2, proc.stderr
    # An editable install's own finder (`__editable___ctui_*_finder`, from ctui's `.pth`)
    # is how this Python finds ctui, not something the hook imports.
    return [m for m in marker[1].split() if not m.startswith("__editable__")]


def test_hook_imports_only_stdlib_and_the_core(hook: Hook, repo: Path) -> None:
    stdlib = set(sys.stdlib_module_names) | {"__main__", "__future__"}
    seen: set[str] = set()
    for name in PAYLOADS:
        payload = fixture(name, SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "src" / "app.py"))
        seen.update(_modules_after(hook, payload))
    ours = {m for m in seen if m == "ctui" or m.startswith("ctui.")}
    allowed_ours = ("ctui", "ctui.hook", "ctui.hooks", "ctui.core")
    assert all(m in allowed_ours or m.startswith(("ctui.hooks.", "ctui.core.")) for m in ours), ours
    foreign = {m for m in seen - ours if m.split(".")[0] not in stdlib}
    assert not foreign, f"the hook imported non-stdlib modules: {sorted(foreign)}"
    for name in FORBIDDEN:
        assert not any(m == name or m.startswith(name + ".") for m in seen), name


def test_edit_path_does_not_load_inspect(hook: Hook, repo: Path) -> None:
    """Guard for start-up: the edit path loads no `inspect`, `dataclasses`, `typing`, `hashlib`.

    If this fails, a new import pulls one in: the core's records are plain
    classes (`ctui.core.record`), modules on this path keep `typing` behind
    `TYPE_CHECKING`, and `file_sha1` uses CPython's own SHA-1.
    """
    hook.start()
    for name in ("PreToolUse-Edit", "PostToolUse-Edit"):
        payload = fixture(name, SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "src" / "app.py"))
        modules = _modules_after(hook, payload)
        assert "ast" not in modules and "tokenize" not in modules, name
        for heavy in ("dataclasses", "typing", "hashlib"):
            assert heavy not in modules, (name, heavy)


def test_edit_path_leaves_deferred_modules_unloaded(hook: Hook, repo: Path) -> None:
    """Guard for start-up: what `defer_imports` defers (`re` among them) stays a stand-in on
    the edit path; it loads no `json` or `enum` (`ctui.core.fastjson`), and the direct path
    no `threading`, `tomllib` or `socket` (those are for `ctui serve`)."""
    from ctui.hook import DEFERRED

    ending = 'found() and sys.modules["ctui.hook"].run()'
    command = hook.command.replace(
        ending,
        "found();import ctui.hook as h;h.defer_imports();code=h.main([]);"
        'sys.stderr.write("\\nSTANDINS "+" ".join(sorted(n for n,m in sys.modules.items() '
        'if type(m).__name__=="Deferred"))+"\\nLOADED "+" ".join(sys.modules))',
    )
    hook.start()
    for name in ("PreToolUse-Edit", "PostToolUse-Edit"):
        payload = fixture(name, SESSION=SESSION_A, CWD=str(repo), FILE=str(repo / "src" / "app.py"))
        proc = subprocess.run(
            ["sh", "-c", command],
            input=json.dumps(payload).encode(),
            capture_output=True,
            timeout=30,
            cwd=repo,
        )
        err = proc.stderr.decode()
        standins = err.rsplit("STANDINS ", 1)[1].split("\n")[0].split()
        loaded = err.rsplit("LOADED ", 1)[1].split()
        assert sorted(standins) == sorted(DEFERRED), (name, err)
        for module in ("threading", "tomllib", "socket", "_socket", "json", "enum"):
            assert module not in loaded, (name, module)


def test_sessions_racing_for_one_file_get_one_lease(hook: Hook, repo: Path) -> None:
    """Six sessions send PreToolUse for one file at once: exactly one is allowed, every round.

    All six hook processes start and wait on stdin first; then every payload is written and
    every stdin closed in one quick pass, so the six decide together rather than in turn.
    """
    for round_no in range(10):
        target = repo / f"race_{round_no}.py"
        payloads = [
            fixture(
                "PreToolUse-Write",
                SESSION=f"race{round_no}{n}-0000-4000-8000-000000000000",
                CWD=str(repo),
                FILE=str(target),
            )
            for n in range(6)
        ]
        # the settle lets them reach their read of stdin; not needed for correctness
        answers = hook.race(payloads, settle=0.3)
        assert [a.code for a in answers] == [0] * 6, answers
        assert sum(a.allowed for a in answers) == 1, answers
        assert sum(a.denied for a in answers) == 5, answers
        holders = rows(
            repo / ".ctui" / "ctui.db", "SELECT holder FROM leases WHERE path = ?", target.name
        )
        assert len(holders) == 1
