"""Threads: agent runs in their own worktrees (being built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


class Threads:
    def __init__(self, coord: Coordinator) -> None:
        self._c = coord
