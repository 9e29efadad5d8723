"""Fixtures for the hook tests: a repository with ctui's hook installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hooks.support import Hook, install, installed_command


@pytest.fixture
def hook(repo: Path) -> Hook:
    """The hook command `ctui hooks install` wrote into the repository's settings."""
    proc = install(repo)
    assert proc.returncode == 0, proc.stderr
    return Hook(repo, installed_command(repo / ".claude" / "settings.json"))
