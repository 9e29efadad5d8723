"""Errors that do not mislead under faults (issue 11): a full disk, a read-only store, a
store this user may not touch and a stopped writer each get their own one-line message and
exit code, never "not a usable ctui store ... move it aside"; the store is unchanged."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import DENIED, DISK_FULL, READ_ONLY, STORE_BUSY, StoreBusy
from ctui.core.store import Store
from tests.conftest import CTUI, Cli, git
from tests.support import dump

MISLEADING = "move it aside"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def one_line(done: subprocess.CompletedProcess[str], code: int, words: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert MISLEADING not in done.stderr and "internal error" not in done.stderr
    return done.stderr


@contextlib.contextmanager
def small_disk(where: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted at `where` (root only), unmounted afterwards."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def repo_in(folder: Path) -> Cli:
    git(folder, "init", "-q", "-b", "main")
    cli = Cli(folder)
    assert cli("init").returncode == 0
    assert cli("task", "add", "first").returncode == 0
    return cli


@pytest.mark.skipif(not ROOT, reason="mounting a small tmpfs needs root")
def test_a_full_disk_says_so_and_the_store_survives(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        cli = repo_in(disk)
        db = disk / ".ctui" / "ctui.db"
        before = dump(db)
        filler = disk / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
        for args in (("task", "add", "more"), ("lock", "acquire", "README.md")):
            one_line(cli(*args), DISK_FULL, "is full")
        listed = cli("task", "list")  # a read may still work; if not, it says why
        assert listed.returncode == 0 or "is full" in one_line(listed, DISK_FULL, "is full")
        filler.unlink()
        assert dump(db) == before
        assert cli("task", "add", "after").returncode == 0, "freeing space is all it takes"


@pytest.mark.skipif(not ROOT, reason="remounting read-only needs root")
def test_a_read_only_filesystem_is_named_as_such(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk") as disk:
        cli = repo_in(disk)
        before = dump(disk / ".ctui" / "ctui.db")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        try:
            one_line(cli("task", "add", "more"), READ_ONLY, "read-only filesystem")
            one_line(cli("task", "list"), READ_ONLY, "read-only filesystem")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert dump(disk / ".ctui" / "ctui.db") == before


@pytest.mark.skipif(not ROOT or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_another_user_is_told_permission_denied() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ctui-denied-"))
    try:
        folder.chmod(0o755)
        repo_in(folder)
        store = folder / ".ctui"
        before = dump(store / "ctui.db")
        nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", CTUI]
        for mode in (0o700, 0o755):  # the folder closed, then only the files closed
            store.chmod(mode)
            for path in store.iterdir():
                path.chmod(0o600)
            for args in (("task", "list"), ("task", "add", "x")):
                done = subprocess.run(
                    [*nobody, *args], cwd=folder, capture_output=True, text=True, timeout=60
                )
                one_line(done, DENIED, "permission denied")
        assert dump(store / "ctui.db") == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)


HOLDER = """
import os, signal, sys
from pathlib import Path
from ctui.core.store import Store
store = Store.open(Path(sys.argv[1]))
with store.write() as conn:
    conn.execute("INSERT INTO meta (key, value) VALUES ('held', 'yes')")
    print("holding", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
"""


@contextlib.contextmanager
def stopped_writer(store: Path) -> Iterator[None]:
    """A real process inside a write transaction, stopped (SIGSTOP) until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        yield
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.timeout(120)
def test_a_stopped_writer_is_a_busy_store_with_its_own_exit_code(cli: Cli, repo: Path) -> None:
    assert cli("task", "add", "first").returncode == 0
    db = repo / ".ctui" / "ctui.db"
    before = dump(db)
    with stopped_writer(repo / ".ctui"):
        one_line(cli("task", "add", "blocked"), STORE_BUSY, "stayed locked")
        assert dump(db) == before
    assert cli("task", "add", "after").returncode == 0


@pytest.mark.timeout(120)
def test_threads_queued_behind_a_stopped_writer_wait_one_timeout_not_two(repo: Path) -> None:
    """Each write has one deadline across this process's thread lock, the writer queue and
    SQLite's busy wait; before, a second thread waited for the first and then again."""
    timeout = 2.0
    Coordinator.open(repo).close()
    store = Store.open(repo / ".ctui", timeout=timeout)
    waited: list[float] = []
    errors: list[BaseException] = []

    def write() -> None:
        started = time.monotonic()
        try:
            with store.write() as conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('late', 'no')")
        except StoreBusy as exc:
            errors.append(exc)
        waited.append(time.monotonic() - started)

    with stopped_writer(repo / ".ctui"):
        threads = [threading.Thread(target=write) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(errors) == 3 and all(e.exit_code == STORE_BUSY for e in errors)
    print(f"waits with a {timeout}s timeout: {sorted(round(w, 2) for w in waited)}")
    assert max(waited) < 2 * timeout - 0.5, waited  # one timeout each (±1 s), not two
    store.close()


def test_a_dead_holders_lease_is_free_everywhere_at_once(cli: Cli, repo: Path) -> None:
    agent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        who = cli("instance", "register", "--role", "agent", "--pid", str(agent.pid))
        me = who.stdout.strip()
        assert cli("lock", "acquire", "README.md", "--as", me).returncode == 0
        assert json.loads(cli("lock", "list", "--json").stdout)[0]["holder"] == me
    finally:
        agent.kill()
        agent.wait()
    db = repo / ".ctui" / "ctui.db"
    before = dump(db)
    assert json.loads(cli("lock", "list", "--json").stdout) == []
    assert json.loads(cli("status", "--json").stdout)["locks"] == []
    check = cli("lock", "check", "README.md")
    assert check.returncode == 0 and "free" in check.stdout.lower(), check
    c = Coordinator.open(repo)
    try:
        assert c.leases.list() == [] and c.snapshot()["locks"] == []
        assert [lease.holder for lease in c.leases.list(include_expired=True)] == [me]
    finally:
        c.close()
    assert dump(db) == before, "reading never reaps"


@pytest.mark.parametrize(
    "payload",
    [
        '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"hook_event_name": "PreToolUse", "session_id": "s\\ud800", "cwd": "/",'
        ' "tool_name": "Edit", "tool_input": {"file_path": "/x"}}',
    ],
    ids=["deeply-nested", "lone-surrogate"],
)
def test_hook_input_that_is_not_text_is_bad_input_not_an_internal_error(
    repo: Path, payload: str
) -> None:
    done = subprocess.run(
        [CTUI, "hook"], input=payload, cwd=repo, capture_output=True, text=True, timeout=60
    )
    one_line(done, 1, "bad input")
    assert not (repo / ".ctui").exists(), "nothing was written"
