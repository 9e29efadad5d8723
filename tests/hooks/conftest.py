"""Fixtures for the hook tests: a repository with ctui's hook installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.hooks.support import Hook, install, installed_command


@pytest.fixture(autouse=True)
def _ctui_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """ctui installed as a user would (on PATH), so the portable command finds it.

    Its other ways in (the project's `.venv`, the main worktree's) and the
    silent no-op without ctui are tested in test_portable.py.
    """
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def hook(repo: Path) -> Hook:
    """The hook command `ctui hooks install` wrote into the repository's settings."""
    proc = install(repo)
    assert proc.returncode == 0, proc.stderr
    return Hook(repo, installed_command(repo / ".claude" / "settings.json"))
