"""What the merge queue needs from the rest of ctui, and nothing more."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctui.core.config import Config
from ctui.core.store import Store

Log = Callable[..., int]
"""`log(conn, kind, actor=..., subject=..., data=...)`: record an event in `conn`'s transaction."""


@dataclass
class MergeContext:
    """Store, clock, config and repository root, plus the two calls into other nouns.

    `resume(thread, prompt)` starts a finished thread again with `prompt` as its
    next prompt; `decide(conn, title, description, tags)` records a decision.
    """

    store: Store
    now: Callable[[], float]
    config: Config
    root: Path
    log: Log
    resume: Callable[[str, str], Any]
    decide: Callable[[sqlite3.Connection, str, str, list[str]], Any]

    @property
    def scratch(self) -> Path:
        """Where candidates are built (inside the private store folder)."""
        return self.store.path / "merge"
