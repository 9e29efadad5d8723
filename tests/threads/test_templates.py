"""Templates, names and bad input: one-line errors, right exit codes, store unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import UsageError
from ctui.core.threads.templates import render
from tests.conftest import Cli, git
from tests.support import dump


def _refused(repo: Path, cli: Cli, args: list[str], code: int) -> str:
    """Run a spawn that must fail: its exit code, one line on stderr, every table unchanged."""
    assert cli("init").returncode == 0
    before = dump(repo / ".ctui" / "ctui.db")
    proc = cli("spawn", *args)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("ctui"), proc.stderr
    assert dump(repo / ".ctui" / "ctui.db") == before
    _unchanged(repo, cli)
    return proc.stderr


def _unchanged(repo: Path, cli: Cli) -> None:
    assert cli.json("thread", "list") == []
    assert not (repo / ".ctui" / "worktrees").exists() or not any(
        (repo / ".ctui" / "worktrees").iterdir()
    )
    assert "ctui/" not in git(repo, "branch")


def test_missing_template_variable_is_an_error_naming_it(repo: Path, cli: Cli) -> None:
    err = _refused(repo, cli, ["fix-1", "--template", "fixer", "--context", '{"other": 1}'], 2)
    assert "problem" in err


def test_builtin_and_user_templates_fill_from_context(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    t = coord.threads.create("dev-1", template="developer", context={"task": "Add a /health route"})
    assert "Add a /health route" in (t.prompt or "") and str(
        repo / ".ctui" / "worktrees" / "dev-1"
    ) in (t.prompt or "")
    folder = repo / ".ctui" / "templates"
    folder.mkdir()
    (folder / "mine.md").write_text("Epic {{ epic_id }} on {{branch}}: {{steps}}\n")
    proc = cli(
        "thread",
        "create",
        "epic-7a",
        "--template",
        "mine",
        "--no-worktree",
        "--context",
        '{"epic_id": "7A", "steps": ["a", "b"]}',
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert cli.json("thread", "status", "epic-7a")["prompt"] == "Epic 7A on : - a\n- b"  # type: ignore[index]


def test_render_leaves_no_holes() -> None:
    assert render("{{a}} and {{ b }}", {"a": "x", "b": 2}) == "x and 2"
    with pytest.raises(UsageError, match="needs b, c"):
        render("{{a}} {{b}} {{c}}", {"a": ""})


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "a/b",
        "x;rm -rf ~",
        "UPPER",
        "",
        "-dash",
        "a b",
        ".hidden",
        "$(id)",
        "a" * 64,
        "name.lock",
    ],
)
def test_bad_names_are_refused(repo: Path, cli: Cli, name: str) -> None:
    _refused(repo, cli, [name, "--prompt", "hi"], 2)


@pytest.mark.parametrize(
    "args, code",
    [
        (["--context", "{not json"], 2),
        (["--context", "[1, 2]"], 2),
        (["--template", "no-such-template"], 4),
        (["--agent", "command"], 2),
        (["--command", "echo {prompt}"], 2),
        ([], 2),
    ],
)
def test_bad_options_leave_the_store_unchanged(
    repo: Path, cli: Cli, args: list[str], code: int
) -> None:
    _refused(repo, cli, ["ok-name", *args], code)


def test_block_holds_a_ready_thread_back(cli: Cli) -> None:
    assert cli("thread", "create", "held", "--no-worktree", "--prompt", "x").returncode == 0
    assert cli("thread", "block", "held", "--reason", "waits for the API").returncode == 0
    t = cli.json("thread", "status", "held")
    assert t["status"] == "blocked" and t["error"] == "waits for the API"  # type: ignore[index]
    assert cli("thread", "start", "held").returncode == 12
    assert cli("thread", "block", "held").returncode == 12
    assert cli("thread", "unblock", "held").returncode == 0
    assert cli.json("thread", "list", "ready")[0]["name"] == "held"  # type: ignore[index]
