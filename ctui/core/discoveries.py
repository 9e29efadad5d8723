"""Discoveries: short findings one instance shares with the others (being built)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


class Discoveries:
    def __init__(self, coord: Coordinator) -> None:
        self._c = coord
