"""Messages the control room posts to itself.

`StoreChanged` replaces any pending copy of itself in the queue, so a burst of
file events (an agent writing twenty events in a row) becomes one reload.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ctui.tui.snapshot import Snapshot


@dataclass
class StoreChanged(Message):
    """Something under `.ctui/` changed: reload the panes."""

    removed: bool = False

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


@dataclass
class Loaded(Message):
    """A thread worker read a fresh snapshot."""

    snapshot: Snapshot


@dataclass
class StoreTrouble(Message):
    """Reading the store failed; `text` says why (an empty text means it recovered)."""

    text: str


@dataclass
class DiffsMeasured(Message):
    """A thread worker measured some agents' diffs: agent key -> (added, removed)."""

    sizes: dict[str, tuple[int, int]]
