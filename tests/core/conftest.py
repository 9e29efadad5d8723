"""Fixtures for the core tests: a clock the test moves and a coordinator that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from tests.support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clocked(repo: Path, clock: FakeClock) -> Iterator[Coordinator]:
    """A coordinator on the `repo` fixture whose time is the fake `clock`."""
    c = Coordinator.open(repo, clock=clock)
    yield c
    c.close()
