"""The DIFF column: each agent's lines added and removed against its base, cached.

`git diff --numstat` runs in a thread worker, never per frame: an agent with a
worktree is measured when first seen, then again at most every REFRESH_S
seconds while it is live (an ended agent's worktree no longer changes under
it, so once is enough), MAX_PER_ROUND worktrees per round. The figures stay in
`sizes` (agent key -> (plus, minus)) for the rows to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

REFRESH_S = 5.0
MAX_PER_ROUND = 16
LIVE = frozenset({"working", "waiting", "idle"})


class DiffSizes:
    """Which worktrees are due a measure, and the last figures."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[int, int]] = {}
        self._measured: dict[str, float] = {}

    def due(
        self, agents: Iterable[dict[str, Any]], now: float
    ) -> list[tuple[str, Path, str | None]]:
        """(key, worktree, base) of the agents to measure now, the longest-waiting first."""
        wanted = []
        for a in agents:
            worktree = a.get("worktree") if a.get("kind") == "thread" else None
            if not worktree:
                continue
            key, last = str(a["key"]), self._measured.get(str(a["key"]))
            if last is None or (a.get("state") in LIVE and now - last >= REFRESH_S):
                wanted.append((last or 0.0, key, Path(str(worktree)), a.get("base")))
        wanted.sort(key=lambda w: w[0])
        return [(key, path, base) for _last, key, path, base in wanted[:MAX_PER_ROUND]]

    def measure(
        self, due: list[tuple[str, Path, str | None]], now: float
    ) -> dict[str, tuple[int, int]]:
        """Run git for each due worktree (in a thread worker); a worktree git cannot read is
        left out and tried again later."""
        from ctui.core.threads.diff import numstat

        found: dict[str, tuple[int, int]] = {}
        for key, path, base in due:
            self._measured[key] = now
            if not path.is_dir():
                continue
            try:
                found[key] = numstat(path, base)
            except Exception:  # git missing, timed out, not a repository: try later
                continue
        return found

    def update(self, found: dict[str, tuple[int, int]]) -> bool:
        """Keep new figures; whether any changed (the list then redraws)."""
        changed = {k: v for k, v in found.items() if self.sizes.get(k) != v}
        self.sizes.update(changed)
        return bool(changed)
