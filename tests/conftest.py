"""Shared fixtures: real git repositories in temp folders and the real `ctui` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.support import FakeClock, drop_pg_schema, pg_schema_name, pg_url_or_skip

BIN = Path(sys.executable).parent
CTUI = str(BIN / "ctui") if (BIN / "ctui").exists() else shutil.which("ctui") or "ctui"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "ctui tests",
    "GIT_AUTHOR_EMAIL": "tests@ctui.invalid",
    "GIT_COMMITTER_NAME": "ctui tests",
    "GIT_COMMITTER_EMAIL": "tests@ctui.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's store, instance, tokens or git identity.

    `CTUI_TEST_BACKEND=postgres` runs every test on PostgreSQL (a schema of its own
    each), to find what a backend-neutral test would meet there.
    """
    for name in (
        "CTUI_DIR",
        "CTUI_INSTANCE_ID",
        "CTUI_THREAD_ID",
        "CT_API_TOKEN",
        "N8N_API_TOKEN",
        "CT_API_URL",
        "CLAUDE_PROJECT_DIR",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDE_SESSION_ID",
        "CTUI_STORE_URL",
        "CTUI_STORE_SCHEMA",
    ):
        monkeypatch.delenv(name, raising=False)
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir(exist_ok=True)
    if os.environ.get("CTUI_TEST_BACKEND") != "postgres":
        yield
        return
    url, schema = pg_url_or_skip(), pg_schema_name()
    monkeypatch.setenv("CTUI_STORE_URL", url)
    monkeypatch.setenv("CTUI_STORE_SCHEMA", schema)
    try:
        yield
    finally:
        drop_pg_schema(url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test on each store backend: SQLite, and PostgreSQL in a schema of its own.

    The postgres case sets `CTUI_STORE_URL` (from `CTUI_TEST_PG_URL`) and a unique
    `CTUI_STORE_SCHEMA` in the environment, so every store the test opens, in this
    process, its forks and the `ctui` processes it starts, is that schema; it is
    dropped afterwards. Without `CTUI_TEST_PG_URL` the case is skipped, or fails
    when `CTUI_PG_REQUIRED=1`. Request it first (`usefixtures`), before any store opens.
    """
    if request.param == "sqlite":
        yield "sqlite"
        return
    yield from _on_postgres(monkeypatch, "postgres")


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """PostgreSQL only (the `backend` fixture's postgres case): yields the server's URL."""
    url = pg_url_or_skip()
    yield from _on_postgres(monkeypatch, url)


def _on_postgres(monkeypatch: pytest.MonkeyPatch, value: str) -> Iterator[str]:
    url = pg_url_or_skip()
    schema = pg_schema_name()
    monkeypatch.setenv("CTUI_STORE_URL", url)
    monkeypatch.setenv("CTUI_STORE_SCHEMA", schema)
    try:
        yield value
    finally:
        drop_pg_schema(url, schema)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit on branch `main` and a couple of files."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked(repo: Path, clock: FakeClock) -> Iterator[Coordinator]:
    """A coordinator on the `repo` fixture whose time is the fake `clock`."""
    c = Coordinator.open(repo, clock=clock)
    yield c
    c.close()


@pytest.fixture
def coord(repo: Path) -> Iterator[Coordinator]:
    c = Coordinator.open(repo)
    yield c
    c.close()


class Cli:
    """Runs the installed `ctui` command as a real process in a folder."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CTUI, *args],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            input=input,
            env={**os.environ, **(env or {})},
            timeout=timeout,
        )

    def json(self, *args: str, **kw: object) -> object:
        proc = self(*args, "--json", **kw)  # type: ignore[arg-type]
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture
def cli(repo: Path) -> Cli:
    return Cli(repo)
