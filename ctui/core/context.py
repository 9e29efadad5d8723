"""`Context`: all that domain code may touch, the store, the clock, config and paths.

Every domain function takes a `Context` (conventionally named `c`), never the
`Coordinator`: the coordinator is the facade built on top of the domain
packages, and a context is what it lends them. `Coordinator` is a `Context`
with the domain facades added, so scripts can pass either.

Freeing what an instance holds spans leases and task claims, two packages
above `instances` (which needs it to end or reap an instance), so a context
asks its owner for it: `Coordinator.release_holdings` supplies it. That keeps
imports going one way, from the facade down to the store.

Time (`now()`) is the store's clock unless a clock is given (tests give a fake
one): this machine's on SQLite, the server's on PostgreSQL (`PgStore.clock`),
so processes on several hosts agree on when a lease or a claim runs out.
"""

from __future__ import annotations

import sqlite3
from functools import cached_property
from pathlib import Path

from ctui.core import events as events_mod
from ctui.core.clock import Clock
from ctui.core.config import Config
from ctui.core.paths import RepoPaths
from ctui.core.store.connection import Store

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any


class Context:
    """The store of one repository with its clock, config and paths."""

    def __init__(
        self, store: Store, *, clock: Clock | None = None, config: Config | None = None
    ) -> None:
        self.store = store
        self.clock = clock or store.clock
        self._config = config

    def now(self) -> float:
        return self.clock()

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = Config.load(self.store.path)
        return self._config

    @property
    def root(self) -> Path:
        """The repository root the store belongs to (the folder holding `.ctui/`)."""
        return self.store.path.parent

    @cached_property
    def paths(self) -> RepoPaths:
        return RepoPaths(self.root)

    def log(
        self,
        conn: sqlite3.Connection,
        kind: str,
        *,
        actor: str | None = None,
        subject: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Record an event inside the current write transaction."""
        return events_mod.record(
            conn,
            kind,
            at=self.now(),
            actor=actor,
            subject=subject,
            data=data,
            keep=self.config.events_keep,
        )

    def release_holdings(
        self, conn: sqlite3.Connection, instance_id: str, *, reason: str
    ) -> dict[str, int]:
        """Free everything an instance holds: leases, queued waits and task claims.

        The owner of the context supplies it (see the module docstring).
        """
        raise NotImplementedError("a bare Context cannot free holdings; use a Coordinator")
