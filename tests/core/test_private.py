"""The store is private whatever the umask, and symlinks never lead ctui out of it.

Real processes throughout: the `ctui` command under a given umask, the fake agent as a
thread, a real server; every refusal is one line on stderr and leaves the store unchanged.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CTUI
from tests.support import dump

FAKES = Path(__file__).resolve().parent.parent / "fakes"
TOKEN = "private-test-token"


def run(repo: Path, umask: int, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`ctui ARGS` in `repo` as a real process whose umask is `umask`."""
    return subprocess.run(
        [CTUI, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "CTUI_CLAUDE_BIN": str(FAKES / "claude"),
            "FAKE_AGENT_PYTHON": sys.executable,
            **env,
        },
        preexec_fn=lambda: os.umask(umask),
    )


def modes(store: Path) -> dict[str, str]:
    """Every entry ctui keeps in the store (worktree checkouts aside) and its mode."""
    found = {}
    for here, dirs, files in os.walk(store):
        base = Path(here)
        for name in (*dirs, *files):
            info = (base / name).lstat()
            found[str((base / name).relative_to(store))] = f"{stat.S_IMODE(info.st_mode):04o}"
        if base == store:
            dirs[:] = [d for d in dirs if d != "worktrees"]
    found["."] = f"{stat.S_IMODE(store.stat().st_mode):04o}"
    return found


def wrong_modes(store: Path) -> dict[str, str]:
    return {
        name: mode
        for name, mode in modes(store).items()
        if mode != ("0700" if (store / name).is_dir() else "0600")
    }


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_whole_session_leaves_only_private_files(repo: Path, tmp_path: Path, umask: int) -> None:
    store = repo / ".ctui"
    assert run(repo, umask, "init").returncode == 0
    assert run(repo, umask, "lock", "acquire", "src/app.py", "--intent", "x").returncode == 0
    assert run(repo, umask, "task", "add", "a task").returncode == 0
    spawned = run(repo, umask, "spawn", "t1", "--prompt", "hello", "--wait")
    assert spawned.returncode == 0, spawned.stderr
    (store / "config.toml").write_text("[api]\ntoken = 'in-config'\n")
    (store / "config.toml").chmod(0o644)  # written by hand, as README suggests
    started = run(repo, umask, "api", "start", "--port", "0", "--workers", "1")
    assert started.returncode == 0, started.stderr
    info = json.loads((store / "api.json").read_text())
    during = modes(store)
    client = tmp_path / "client"
    client.mkdir()
    linked = run(client, umask, "remote", "connect", info["url"], CT_API_TOKEN="in-config")
    assert linked.returncode == 0, linked.stderr
    assert run(repo, umask, "api", "stop").returncode == 0
    assert run(repo, umask, "api", "start", "--no-auth", "--workers", "1").returncode == 0
    with_socket = modes(store)
    assert run(repo, umask, "api", "stop").returncode == 0
    deadline = time.monotonic() + 30
    while run(repo, umask, "--json", "thread", "status", "t1").stdout.count('"running"'):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for name in ("ctui.db", "ctui.db-wal", "ctui.db-shm", "logs/t1.log", "logs/api.log"):
        assert name in during, name
    assert with_socket["api.sock"] == "0600" and during["api.json"] == "0600"
    assert during["config.toml"] == "0600", "reading config.toml tightened it"
    assert {k: v for k, v in during.items() if v not in ("0600", "0700")} == {}
    assert {k: v for k, v in with_socket.items() if v not in ("0600", "0700")} == {}
    assert wrong_modes(store) == {}
    assert wrong_modes(client / ".ctui") == {}
    assert (store / "worktrees").is_dir() and modes(store)["worktrees"] == "0700"


def test_an_old_loose_store_is_tightened_once_with_a_notice(repo: Path) -> None:
    store = repo / ".ctui"
    assert run(repo, 0o022, "init").returncode == 0
    assert run(repo, 0o022, "task", "add", "x").returncode == 0
    (store / "logs").mkdir(exist_ok=True)
    (store / "logs" / "old.log").write_text("old\n")
    for path in (store, store / "logs", *store.iterdir(), *(store / "logs").glob("*")):
        if path.is_dir():
            path.chmod(0o755)
        elif not path.is_symlink():
            path.chmod(0o644)
    (store / "templates").mkdir(mode=0o755)
    (store / "templates" / "mine.md").write_text("hi\n")
    (store / "templates" / "mine.md").chmod(0o644)
    outside = repo.parent / "outside.txt"
    outside.write_text("not ctui's\n")
    outside.chmod(0o644)
    (store / "logs" / "link.log").symlink_to(outside)
    before = dump(store / "ctui.db")
    first = run(repo, 0o022, "task", "list")
    assert first.returncode == 0, first.stderr
    notices = [line for line in first.stderr.splitlines() if "private" in line]
    assert len(notices) == 1 and str(store) in notices[0], first.stderr
    assert dump(store / "ctui.db") == before
    assert wrong_modes(store) == {"logs/link.log": "0777"}, "every entry but the symlink"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "never chmod through a symlink"
    second = run(repo, 0o022, "task", "list")
    assert second.returncode == 0 and "private" not in second.stderr


def test_a_symlinked_thread_log_is_refused_and_nothing_changes(repo: Path) -> None:
    store = repo / ".ctui"
    assert run(repo, 0o022, "init").returncode == 0
    target = repo.parent / "victim.txt"
    target.write_text("keep me\n")
    (store / "logs").mkdir(exist_ok=True)
    (store / "logs" / "evil.log").symlink_to(target)
    before = dump(store / "ctui.db")
    refused = run(repo, 0o022, "spawn", "evil", "--prompt", "hi", "--no-worktree")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "symlink" in refused.stderr
    assert dump(store / "ctui.db") == before
    assert target.read_text() == "keep me\n"
    # The supervisor's own open refuses it too, if the link appears after the check.
    (store / "logs" / "evil.log").unlink()
    made = run(repo, 0o022, "thread", "create", "evil", "--prompt", "hi", "--no-worktree")
    assert made.returncode == 0, made.stderr
    (store / "logs" / "evil.log").symlink_to(target)
    started = run(repo, 0o022, "thread", "start", "evil")
    assert started.returncode == 2 and "symlink" in started.stderr
    assert target.read_text() == "keep me\n"


def test_a_symlinked_logs_folder_is_refused(repo: Path, tmp_path: Path) -> None:
    store = repo / ".ctui"
    assert run(repo, 0o022, "init").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if (store / "logs").exists():
        (store / "logs").rmdir()
    (store / "logs").symlink_to(elsewhere)
    before = dump(store / "ctui.db")
    refused = run(repo, 0o022, "spawn", "t2", "--prompt", "hi", "--no-worktree")
    assert refused.returncode == 2 and "symlink" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert dump(store / "ctui.db") == before
    assert list(elsewhere.iterdir()) == []


def test_templates_never_follow_a_symlink_out(repo: Path, tmp_path: Path) -> None:
    store = repo / ".ctui"
    assert run(repo, 0o022, "init").returncode == 0
    secret = tmp_path / "secret.md"
    secret.write_text("TOP SECRET {{x}}\n")
    (repo / "innocent.md").symlink_to(secret)
    (store / "templates").mkdir()
    (store / "templates" / "named.md").symlink_to(secret)
    (repo / "prompts").mkdir()
    (repo / "prompts" / "ok.md").write_text("fine {{x}}\n")
    (store / "templates" / "inside.md").symlink_to(repo / "prompts" / "ok.md")
    before = dump(store / "ctui.db")
    for name in ("innocent.md", "named", str(secret)):
        refused = run(repo, 0o022, "spawn", "t3", "--template", name, "--no-worktree")
        assert refused.returncode == 2, (name, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "outside the repository" in refused.stderr
        assert "TOP SECRET" not in refused.stderr
    assert dump(store / "ctui.db") == before
    ctx = ["--context", '{"x": "1"}', "--no-worktree", "--agent", "command", "--command", "true"]
    for name in ("inside", "prompts/ok.md"):
        made = run(repo, 0o022, "thread", "create", f"ok-{name[:3]}", "--template", name, *ctx)
        assert made.returncode == 0, (name, made.stderr)


def test_templates_over_the_api_stay_inside(repo: Path, tmp_path: Path) -> None:
    """The API's name check (no /, ~ or ..) passes a symlink; the resolve check stops it."""
    from tests.api.conftest import Server

    secret = tmp_path / "secret.md"
    secret.write_text("TOP SECRET\n")
    (repo / "link.md").symlink_to(secret)
    server = Server(repo, "--workers", "1", token=TOKEN)
    try:
        before = dump(repo / ".ctui" / "ctui.db")
        with server.client() as http:
            answer = http.post(
                "/api/threads",
                json={"name": "x", "template": "link.md", "worktree": False},
            )
        assert answer.status_code == 400, answer.text
        assert "outside the repository" in answer.json()["error"]
        assert "TOP SECRET" not in answer.text
        assert dump(repo / ".ctui" / "ctui.db") == before
    finally:
        server.stop()


def test_store_mode_is_set_not_left_to_the_umask(tmp_path: Path) -> None:
    """In-process too: a Coordinator opened under umask 000 makes 0700/0600."""
    old = os.umask(0)
    try:
        from ctui.core import Coordinator

        c = Coordinator.open(store_dir=tmp_path / "s" / ".ctui")
        c.tasks.add("x")
        open_now = modes(tmp_path / "s" / ".ctui")  # while the WAL and SHM files exist
        c.close()
    finally:
        os.umask(old)
    assert {"ctui.db", "ctui.db-wal", "ctui.db-shm"} <= set(open_now)
    assert {k: v for k, v in open_now.items() if v not in ("0600", "0700")} == {}
    assert wrong_modes(tmp_path / "s" / ".ctui") == {}


def test_a_log_replaced_by_a_symlink_is_not_read(repo: Path, tmp_path: Path) -> None:
    store = repo / ".ctui"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    command = ["--agent", "command", "--command", "echo hello", "--no-worktree", "--wait"]
    done = run(repo, 0o022, "spawn", "t4", *command)
    assert done.returncode == 0, done.stderr
    assert "hello" in run(repo, 0o022, "thread", "logs", "t4").stdout
    (store / "logs" / "t4.log").unlink()
    (store / "logs" / "t4.log").symlink_to(secret)
    before = dump(store / "ctui.db")
    shown = run(repo, 0o022, "thread", "logs", "t4")
    assert shown.returncode == 2 and "symlink" in shown.stderr, shown.stderr
    assert "TOP SECRET" not in shown.stdout + shown.stderr
    assert dump(store / "ctui.db") == before


def test_a_store_folder_that_is_itself_a_symlink_still_works(repo: Path, tmp_path: Path) -> None:
    """Only links inside the store are refused: `.ctui` may live on another disk."""
    elsewhere = tmp_path / "store-elsewhere"
    elsewhere.mkdir(mode=0o755)
    (repo / ".ctui").symlink_to(elsewhere)
    assert run(repo, 0o022, "init").returncode == 0
    done = run(
        repo,
        0o022,
        "spawn",
        "t5",
        "--agent",
        "command",
        "--command",
        "echo hi",
        "--no-worktree",
        "--wait",
    )
    assert done.returncode == 0, done.stderr
    assert "hi" in run(repo, 0o022, "thread", "logs", "t5").stdout
    assert wrong_modes(elsewhere) == {}
