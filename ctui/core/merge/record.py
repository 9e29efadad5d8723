"""One merge-queue entry's row and the statuses it moves through.

`queued` → `testing` (a runner took it) → `landed` | `conflict` | `failed`;
`removed` when the operator takes it out. A `testing` entry whose runner died
goes back to `queued` (or to `landed`, when its candidate already reached the base).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ctui.core.clock import iso
from ctui.core.record import Record

STATUSES = ("queued", "testing", "landed", "conflict", "failed", "removed")
OPEN = ("queued", "testing")


class Entry(Record):
    FIELDS = (
        "id",
        "thread",
        "branch",
        "base",
        "status",
        "reason",
        "detail",
        "head",
        "candidate",
        "tested_tip",
        "landed",
        "gate",
        "attempts",
        "queued_by",
        "queued_at",
        "updated_at",
    )
    __slots__ = FIELDS
    id: int
    thread: str
    branch: str
    base: str
    status: str
    reason: str | None
    detail: str
    head: str | None
    candidate: str | None
    tested_tip: str | None
    landed: str | None
    gate: str | None
    attempts: int
    queued_by: str | None
    queued_at: float
    updated_at: float

    def __init__(self, **values: Any) -> None:
        for name in self.FIELDS:
            setattr(self, name, values[name])

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Entry:
        return cls(**{name: row[name] for name in cls.FIELDS})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread": self.thread,
            "branch": self.branch,
            "base": self.base,
            "status": self.status,
            "reason": self.reason,
            "detail": json.loads(self.detail or "{}"),
            "head": self.head,
            "landed": self.landed,
            "gate": json.loads(self.gate) if self.gate else None,
            "attempts": self.attempts,
            "queued_by": self.queued_by,
            "queued_at": iso(self.queued_at),
            "updated_at": iso(self.updated_at),
        }
