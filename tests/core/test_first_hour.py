"""A new user's first hour: no store by accident, config read strictly, plain words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import UsageError
from tests.conftest import Cli, git
from tests.core.test_cli import one_line_error


@pytest.fixture
def plain(tmp_path: Path) -> Cli:
    """A folder in no git repository, with no store above it (a home folder, say)."""
    folder = tmp_path / "home" / "me"
    folder.mkdir(parents=True)
    return Cli(folder)


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["init"],
        ["lock", "acquire", "foo.txt"],
        ["task", "add", "x"],
        ["instance", "register"],
        ["api", "start", "--no-auth"],
        ["hooks", "install"],
        ["mcp", "install"],
    ],
)
def test_outside_a_repository_nothing_makes_a_store(plain: Cli, command: list[str]) -> None:
    err = one_line_error(plain(*command), 2)
    assert "not inside a git repository" in err and "ctui init --here" in err and "--dir" in err
    assert sorted(p.name for p in plain.cwd.iterdir()) == []  # no store, no settings, nothing
    assert not list(plain.cwd.parent.rglob(".ctui"))


def test_init_here_makes_a_store_that_commands_below_find(plain: Cli) -> None:
    made = plain("init", "--here")
    assert made.returncode == 0, made.stderr
    assert (plain.cwd / ".ctui" / "ctui.db").exists()
    (plain.cwd / "deep").mkdir()
    below = Cli(plain.cwd / "deep")
    got = below.json("lock", "acquire", "notes.txt")
    assert got["path"] == "deep/notes.txt"  # type: ignore[index]
    assert not (plain.cwd / "deep" / ".ctui").exists()
    assert below.json("status")["store"] == str(plain.cwd / ".ctui")  # type: ignore[index]


def test_an_explicit_dir_or_env_is_a_choice(plain: Cli, tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    assert plain("status", "--dir", str(chosen)).returncode == 0
    assert (chosen / "ctui.db").exists()
    other = tmp_path / "env-store"
    assert plain("status", env={"CTUI_DIR": str(other)}).returncode == 0
    assert (other / "ctui.db").exists()
    err = one_line_error(plain("init", "--here", "--dir", str(chosen)), 2)
    assert "--here" in err


def test_inside_a_repository_the_store_is_made_on_demand(cli: Cli, repo: Path) -> None:
    (repo / "src" / "deeper").mkdir()
    below = Cli(repo / "src" / "deeper")
    assert below("lock", "acquire", "x.py").returncode == 0
    assert (repo / ".ctui" / "ctui.db").exists()
    err = one_line_error(below("init", "--here"), 2)
    assert str(repo / ".ctui") in err and "without --here" in err
    assert not (repo / "src" / "deeper" / ".ctui").exists()
    assert cli("init", "--here").returncode == 0  # at the root, --here is the same store


def test_the_python_api_refuses_too(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    with pytest.raises(UsageError, match="init --here"):
        Coordinator.open(folder)
    assert not (folder / ".ctui").exists()
    git(folder, "init", "-q")
    c = Coordinator.open(folder)
    assert c.store.path == (folder / ".ctui").resolve()
    c.close()


@pytest.mark.parametrize("command", [["status"], ["init"], ["task", "list"], ["events"]])
def test_a_bad_setting_is_refused_by_any_command_that_opens_the_store(
    cli: Cli, repo: Path, command: list[str]
) -> None:
    cli("init")
    config = repo / ".ctui" / "config.toml"
    config.write_text("[threads]\nmax_concurrent = 0\n")
    err = one_line_error(cli(*command), 2)
    assert str(config) in err and "[threads] max_concurrent" in err


def test_an_unknown_setting_is_one_warning_and_the_command_still_runs(cli: Cli, repo: Path) -> None:
    cli("init")
    config = repo / ".ctui" / "config.toml"
    config.write_text("[threads]\nmax_concurent = 2\n")
    proc = cli("task", "add", "x")  # reads the config in several places
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and str(config) in lines[0]
    assert "[threads] max_concurent (did you mean 'max_concurrent'?)" in lines[0]


def test_status_json_names_leases_leases_and_keeps_locks_for_scripts(cli: Cli) -> None:
    cli("lock", "acquire", "README.md", "--intent", "tidy")
    snap = cli.json("status")
    assert [x["path"] for x in snap["leases"]] == ["README.md"]  # type: ignore[index]
    assert snap["locks"] == snap["leases"]  # type: ignore[index]
    assert "LEASES (1 held)" in cli("status").stdout


def test_one_money_and_one_duration_format() -> None:
    from ctui.core.fmt import duration, money

    assert [money(x) for x in (0, 0.025, 0.99994, 1, 12.5, 1234.567, None)] == [
        "$0.0000",
        "$0.0250",
        "$0.9999",
        "$1.00",
        "$12.50",
        "$1,234.57",
        "-",
    ]
    assert [duration(x) for x in (7.7, 192, 7500)] == ["7s", "3m12s", "2h05m"]


def test_thread_outputs_share_the_formats(cli: Cli, tmp_path: Path) -> None:
    """`thread status`, `thread list` and the TUI's row say one cost and one runtime."""
    import json
    import sys

    from ctui.core.fmt import money
    from ctui.tui.rows import thread_row

    script = tmp_path / "agent.py"
    result = {"type": "result", "subtype": "success", "total_cost_usd": 0.025, "num_turns": 1}
    script.write_text(f"import json; print(json.dumps({result!r}))\n")
    command = f"{sys.executable} {script} {{prompt}}"
    proc = cli(
        "spawn",
        "t",
        "--agent",
        "command",
        "--command",
        command,
        "-p",
        "x",
        "--no-worktree",
        "--wait",
    )
    assert proc.returncode == 0, proc.stderr
    row = cli.json("thread", "status", "t")
    shown = cli("thread", "status", "t").stdout
    listed = cli("thread", "list").stdout
    cells = [c.text for c in thread_row(row, 0)]  # type: ignore[arg-type]
    cost = money(row["cost_usd"])  # type: ignore[index]
    assert cost == "$0.0250" and cost in shown and cost in listed and cost in cells
    runtime_line = next(x for x in shown.splitlines() if x.startswith("runtime"))
    assert runtime_line.split()[1].endswith("s") and "." not in runtime_line
    assert json.dumps(row)  # the document keeps plain numbers
    assert isinstance(row["cost_usd"], float)  # type: ignore[index]


def test_acting_as_an_unknown_instance_says_how_to_register_it(cli: Cli) -> None:
    err = one_line_error(cli("--as", "ghost", "lock", "acquire", "README.md"), 4)
    assert "ctui instance register --id ghost" in err
    assert cli("instance", "register", "--id", "ghost").returncode == 0  # the command it names
    assert cli("--as", "ghost", "lock", "acquire", "README.md").returncode == 0


def test_thread_create_takes_its_prompt_from_a_template(cli: Cli, repo: Path) -> None:
    (repo / ".ctui" / "templates").mkdir(parents=True)
    (repo / ".ctui" / "templates" / "tidy.md").write_text("Tidy the README.\n")
    for name, extra in (
        ("own", ["--template", "tidy"]),
        ("builtin", ["-t", "fixer", "--context", '{"problem": "login 500s"}']),
    ):
        made = cli("thread", "create", name, *extra, "--no-worktree", "--json")
        assert made.returncode == 0, made.stderr
    assert "Tidy the README." in cli.json("thread", "status", "own")["prompt"]  # type: ignore[index]
    assert "login 500s" in cli.json("thread", "status", "builtin")["prompt"]  # type: ignore[index]
    err = one_line_error(cli("thread", "create", "bare", "--no-worktree"), 2)
    assert "--prompt TEXT or --template FILE" in err
