"""Fixtures for the task queue tests: a coordinator on a hand-moved clock."""

from __future__ import annotations

import pytest

from ctui.core import Coordinator


@pytest.fixture
def tc(clocked: Coordinator) -> Coordinator:
    """The test repository's coordinator, driven by the shared fake `clock`."""
    return clocked
