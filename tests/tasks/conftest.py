"""Fixtures for the task queue tests: a coordinator on a hand-moved clock."""

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
def tc(repo: Path, clock: FakeClock) -> Iterator[Coordinator]:
    """A coordinator on the test repository's store, driven by the fake clock."""
    c = Coordinator.open(repo, clock=clock)
    yield c
    c.close()
