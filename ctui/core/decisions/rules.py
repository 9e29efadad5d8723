"""What a decision's fields may hold: shared by the facade and the log importer."""

from __future__ import annotations

import re

from ctui.core.errors import UsageError

SCOPES = ("file", "module", "service", "system")
STATUSES = ("proposed", "accepted", "superseded", "rejected")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,47}$")


def _check(category: str, title: str, scope: str, status: str) -> str:
    category = (category or "").strip().lower()
    if not CATEGORY_RE.match(category):
        raise UsageError(
            f"bad category {category!r}: a short lowercase word such as 'api-design' or 'database'"
        )
    if not title or not title.strip():
        raise UsageError("a decision needs a title (--title TEXT)")
    if scope not in SCOPES:
        raise UsageError(f"bad scope {scope!r}: one of {', '.join(SCOPES)}")
    if status not in STATUSES:
        raise UsageError(f"bad status {status!r}: one of {', '.join(STATUSES)}")
    return category
