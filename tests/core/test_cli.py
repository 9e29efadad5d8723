"""The `ctui` command as a user meets it: real processes in a real repository."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from ctui.core.store import schema
from tests.conftest import Cli
from tests.support import dump

FIXTURE = Path(__file__).parent.parent / "fixtures" / "decision-log.json"


def one_line_error(proc: object, code: int) -> str:
    """Assert a failure with `code`, one line on stderr and no traceback; return the line."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)  # type: ignore[attr-defined]
    err = proc.stderr.strip()  # type: ignore[attr-defined]
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_init_is_idempotent_and_ignored_by_git(cli: Cli, repo: Path) -> None:
    first = cli("init")
    assert first.returncode == 0 and str(repo / ".ctui") in first.stdout
    assert cli("init").returncode == 0
    assert (repo / ".ctui" / ".gitignore").read_text() == "*\n"
    assert cli.json("init")["store"] == str(repo / ".ctui")  # type: ignore[index]


def test_a_session_from_register_to_unregister(cli: Cli, repo: Path) -> None:
    me = cli("instance", "register", "--role", "backend", "--task", "auth API").stdout.strip()
    assert me == "backend-0001"
    inst = cli.json("instance", "register", "--role", "front", "--id", "front-a")
    assert inst["branch"] == "main" and inst["worktree"] == str(repo)  # type: ignore[index]

    got = cli.json("--as", me, "lock", "acquire", "src/app.py", "--intent", "add login")
    assert {"path", "holder", "token", "expires_at"} <= set(got)  # type: ignore[arg-type]
    assert (got["path"], got["holder"]) == ("src/app.py", me)  # type: ignore[index]

    held = cli("--as", "front-a", "lock", "acquire", "src/app.py")
    assert me in one_line_error(held, 10) and "add login" in held.stderr
    assert cli("--as", "front-a", "lock", "check", "src/app.py").returncode == 10
    assert cli("--as", me, "lock", "check", "src/app.py").returncode == 0
    assert cli("lock", "check", "README.md").stdout.strip() == "README.md  free"

    listing = cli("lock", "list").stdout.splitlines()
    assert listing[0].split() == ["PATH", "HOLDER", "EXPIRES", "TOKEN", "SINCE", "INTENT"]
    assert listing[1].split()[:2] == ["src/app.py", me]
    assert [lease["path"] for lease in cli.json("lock", "list")] == ["src/app.py"]  # type: ignore[union-attr, index]

    status = cli("status").stdout
    assert "INSTANCES (3 live)" in status and "LEASES (1 held)" in status and "auth API" in status
    snap = cli.json("status")
    assert {"instances", "locks", "threads", "tasks", "decisions"} <= set(snap)  # type: ignore[arg-type]

    dec = cli(
        "--as",
        me,
        "decisions",
        "add",
        "--category",
        "api-design",
        "--title",
        "JWT 15 min",
        "--scope",
        "service",
    ).stdout.strip()
    assert dec.startswith("DEC-") and len(dec) == len("DEC-20260101-0001")
    assert cli.json("decisions", "query", dec)["author"] == me  # type: ignore[index]
    assert dec in cli("decisions", "list", "--category", "api-design").stdout
    assert dec in cli("decisions", "search", "jwt").stdout
    assert cli("decisions", "search", "nothing").returncode == 4

    assert cli("--as", me, "lock", "release", "src/app.py").returncode == 0
    assert cli("--as", me, "lock", "release", "src/app.py").returncode == 4
    out = cli("instance", "unregister", me).stdout
    assert "released 0 lease(s)" in out
    assert one_line_error(cli("--as", me, "lock", "acquire", "README.md"), 13)
    kinds = [e["kind"] for e in cli.json("events", "--limit", "100")]  # type: ignore[union-attr, index]
    assert kinds[:3] == ["instance.registered", "instance.registered", "lease.acquired"]
    assert "decision.logged" in kinds and kinds[-1] == "instance.ended"


def test_global_options_go_before_or_after_the_command(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    cli("instance", "register", "--id", "w1")
    a = cli("--json", "--as", "w1", "lock", "acquire", "README.md")
    b = cli("lock", "acquire", "README.md", "--as", "w1", "--json")
    assert json.loads(a.stdout)["token"] == json.loads(b.stdout)["token"]
    other = tmp_path / "elsewhere"
    assert cli("--dir", str(other), "status").returncode == 0
    assert cli("status", "--dir", str(other), "--json").returncode == 0
    assert (other / "ctui.db").exists()
    env_store = cli("status", "--json", env={"CTUI_DIR": str(other)})
    assert json.loads(env_store.stdout)["store"] == str(other)
    as_env = cli("lock", "release", "README.md", env={"CTUI_INSTANCE_ID": "w1"})
    assert as_env.returncode == 0, as_env.stderr


def test_paths_from_a_subfolder_and_absolute_paths(cli: Cli, repo: Path) -> None:
    sub = Cli(repo / "src")
    assert sub.json("lock", "acquire", "app.py")["path"] == "src/app.py"  # type: ignore[index]
    assert cli("lock", "check", str(repo / "src" / "app.py")).returncode == 0
    assert cli.json("lock", "release", "src/app.py")["released"] is True  # type: ignore[index]


def test_expired_conflict_and_force_release_exit_codes(cli: Cli, repo: Path) -> None:
    cli("instance", "register", "--id", "w1")
    assert cli("--as", "w1", "lock", "acquire", "src/app.py", "--ttl", "0.3").returncode == 0
    time.sleep(0.4)
    assert "expired" in one_line_error(cli("--as", "w1", "lock", "renew", "src/app.py"), 11)
    assert cli("--as", "w1", "lock", "acquire", "src/app.py").returncode == 0
    (repo / "src" / "app.py").write_text("changed by someone\n")
    assert "changed under your lease" in one_line_error(
        cli("--as", "w1", "lock", "verify", "src/app.py"), 12
    )
    assert one_line_error(
        cli("--as", "w1", "lock", "force-release", "src/app.py", "--reason", "x"), 2
    )
    forced = cli("lock", "force-release", "src/app.py", "--reason", "stuck agent")
    assert forced.stdout.strip() == "force-released src/app.py from w1"
    assert cli("--as", "w1", "lock", "renew", "src/app.py").returncode == 4
    cleaned = cli.json("cleanup")
    assert cleaned["instances_reaped"] == []  # type: ignore[index]


def test_import_and_events_follow(cli: Cli, repo: Path) -> None:
    out = cli("decisions", "import", str(FIXTURE))
    assert out.stdout.strip() == "imported 5 decision(s), skipped 0 already present"
    assert "skipped 5" in cli("decisions", "import", str(FIXTURE)).stdout
    listed = cli("decisions", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "CATEGORY", "STATUS", "AUTHOR", "TITLE"] and len(listed) == 6
    since = cli.json("events", "--since", "3")
    assert [e["id"] for e in since] == [4, 5]  # type: ignore[union-attr, index]
    import subprocess

    from tests.conftest import CTUI

    # The follower gets a window far longer than the test needs and is stopped once it has
    # printed the event: a slow machine delays the answer but cannot close the window early.
    proc = subprocess.Popen(
        [CTUI, "events", "--follow", "--for", "60", "--json", "--since", "5"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)  # usually following by now; if not, --since 5 still catches the event
        cli("decisions", "add", "--category", "x", "--title", "live one")
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert (first["kind"], first["data"]["title"]) == ("decision.logged", "live one")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    rest, _ = proc.communicate(timeout=10)
    assert rest == ""


def test_events_are_pruned_to_the_configured_count(cli: Cli, repo: Path) -> None:
    cli("init")
    (repo / ".ctui" / "config.toml").write_text("[events]\nkeep = 30\n")
    from ctui.core import Coordinator

    c = Coordinator.open(repo)
    for n in range(450):
        c.events.publish("test.tick", data={"n": n})
    assert c.events.latest_id() == 450
    assert len(c.events.since(0, limit=10_000)) <= 30 + 200
    assert c.events.prune() > 0
    remaining = c.events.since(0, limit=10_000)
    assert [e.id for e in remaining] == list(range(421, 451))
    c.close()
    (repo / ".ctui" / "config.toml").write_text("[events]\nkeep = -1\n")
    err = one_line_error(cli("lock", "acquire", "README.md"), 2)
    assert "keep must be a finite number above 0" in err


def _bad_inputs(repo: Path) -> list[tuple[list[str], int, str]]:
    return [
        (["--as", "ghost", "lock", "acquire", "src/app.py"], 4, "no instance 'ghost'"),
        (["lock", "acquire", ""], 2, "empty path"),
        (["lock", "acquire", "/etc/hosts"], 2, "outside the repository"),
        (["lock", "acquire", "../x.py"], 2, "outside the repository"),
        (["lock", "acquire", "src/[oops"], 2, "bad glob"),
        (["lock", "acquire", "src/app.py", "--ttl", "0"], 2, "must be above 0"),
        (["lock", "acquire", "src/app.py", "--ttl", "soon"], 2, "is not a number"),
        (["lock", "acquire", "src/app.py", "--ttl", "99999999999"], 2, "bad TTL"),
        (["lock", "acquire", "src/app.py", "--wait", "-1"], 2, "--wait"),
        (["lock", "release", "README.md"], 4, "holds no lease"),
        (["instance", "register", "--id", "operator"], 2, "reserved"),
        (["instance", "heartbeat", "ghost"], 4, "no instance"),
        (["decisions", "add", "--category", "Bad Cat", "--title", "t"], 2, "bad category"),
        (
            ["decisions", "add", "--category", "x", "--title", "t", "--supersedes", "DEC-1"],
            4,
            "no decision",
        ),
        (["decisions", "query", "DEC-20990101-0001"], 4, "no decision"),
        (["decisions", "import", str(repo / "missing.json")], 2, "cannot read"),
        (["decisions", "import", str(repo / "README.md")], 2, "not a JSON decision log"),
        (["lock", "force-release", "README.md", "--reason", "why"], 4, "no lease"),
    ]


def test_bad_inputs_give_one_line_and_change_nothing(cli: Cli, repo: Path) -> None:
    cli("instance", "register", "--id", "w1")
    cli("--as", "w1", "lock", "acquire", "src/app.py")
    before = dump(repo / ".ctui" / "ctui.db")
    for args, code, text in _bad_inputs(repo):
        err = one_line_error(cli(*args), code)
        assert text in err, (args, err)
        as_json = cli(*args, "--json")
        if code != 2 or "argument" not in as_json.stderr:
            assert json.loads(as_json.stdout)["exit_code"] == code
    assert dump(repo / ".ctui" / "ctui.db") == before


@pytest.mark.parametrize(
    "command", [["status"], ["lock", "acquire", "src/app.py"], ["decisions", "list"]]
)
def test_a_corrupt_store_is_one_line(cli: Cli, repo: Path, command: list[str]) -> None:
    (repo / ".ctui").mkdir()
    db = repo / ".ctui" / "ctui.db"
    db.write_bytes(b"definitely not sqlite " * 100)
    assert "not a usable ctui store" in one_line_error(cli(*command), 1)
    assert db.read_bytes() == b"definitely not sqlite " * 100


def test_a_newer_store_is_refused_untouched(cli: Cli, repo: Path) -> None:
    cli("init")
    db = repo / ".ctui" / "ctui.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 3}")
    conn.close()
    before = db.read_bytes()
    assert "upgrade ctui" in one_line_error(cli("lock", "acquire", "src/app.py"), 1)
    assert db.read_bytes() == before


def test_a_locked_store_fails_after_the_timeout_and_changes_nothing(cli: Cli, repo: Path) -> None:
    cli("init")
    db = repo / ".ctui" / "ctui.db"
    before = dump(db)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        proc = cli("lock", "acquire", "src/app.py", env={"CTUI_BUSY_TIMEOUT": "0.3"})
        assert "locked by another process" in one_line_error(proc, 14)
        assert cli("lock", "list").returncode == 0  # readers still read
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert dump(db) == before


def test_listing_options(cli: Cli, repo: Path) -> None:
    cli("instance", "register", "--id", "w1", "--role", "api")
    cli("instance", "register", "--id", "w2")
    cli("--as", "w1", "lock", "acquire", "src/app.py", "--intent", "edit")
    cli("--as", "w2", "lock", "acquire", "README.md")
    cli("instance", "unregister", "w2")
    verbose = cli("status", "--verbose").stdout
    assert "RECENT EVENTS" in verbose and "instance.ended" in verbose
    assert "w2" not in cli("instance", "list").stdout
    assert "ended" in cli("instance", "list", "--all").stdout
    assert [x["path"] for x in cli.json("lock", "list", "--holder", "w1")] == ["src/app.py"]  # type: ignore[union-attr, index]
    assert cli.json("lock", "list", "--holder", "w2") == []
    cli("decisions", "add", "--category", "api", "--title", "a", "--status", "proposed")
    cli("decisions", "add", "--category", "api", "--title", "b")
    proposed = cli.json("decisions", "list", "--status", "proposed")
    assert [d["title"] for d in proposed] == ["a"]  # type: ignore[union-attr, index]
    heartbeat = cli("--as", "w1", "instance", "heartbeat", "--state", "needs_input")
    assert heartbeat.stdout.strip() == "w1 needs_input"


def test_json_errors_carry_the_holder(cli: Cli) -> None:
    cli("instance", "register", "--id", "w1", "--task", "auth")
    cli("--as", "w1", "lock", "acquire", "src/app.py")
    proc = cli("lock", "acquire", "src/app.py", "--json")
    assert proc.returncode == 10
    doc = json.loads(proc.stdout)
    assert (doc["exit_code"], doc["lease"]["holder"], doc["holder"]["task"]) == (10, "w1", "auth")


def test_an_unforeseen_exception_is_one_line_unless_ctui_debug(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ctui.cli.core
    from ctui.cli import main

    def boom(ctx: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.chdir(repo)
    monkeypatch.setattr(ctui.cli.core, "status", boom)
    monkeypatch.delenv("CTUI_DEBUG", raising=False)
    assert main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom" in err
    monkeypatch.setenv("CTUI_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["status"])


def test_a_typo_names_the_likely_command(cli: Cli) -> None:
    assert "did you mean 'status'?" in one_line_error(cli("statsu"), 2)
    assert "did you mean 'acquire'?" in one_line_error(cli("lock", "aquire", "x"), 2)
    assert "choose from" in one_line_error(cli("zzzzzz"), 2)
