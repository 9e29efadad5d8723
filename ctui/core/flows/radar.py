"""The conflict radar: work in one worktree that collides with another's.

Two kinds: a file changed (against its base) in two or more worktrees, which
will conflict when both branches merge; and a file changed in a worktree
while another instance holds its lease, which means someone edited under a
lock they did not own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctui.core.merge.git import overlapping

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


def scan(c: Coordinator) -> dict[str, Any]:
    """`{"overlaps": [{path, worktrees}], "leased": [{path, worktree, holder, lease}]}`."""
    wts = c.worktrees
    threads = {t.name: t for t in c.threads.list()}
    changed: dict[str, set[str]] = {}
    for info in wts.list():
        if Path(info.path).is_dir():
            changed[info.name] = wts.changed_files(Path(info.path), info.base)
    overlaps = [{"path": p, "worktrees": sorted(n)} for p, n in overlapping(changed)]
    leased = []
    for name, files in sorted(changed.items()):
        thread = threads.get(name)
        mine = thread.instance_id if thread is not None else None
        for path in sorted(files):
            lease = c.leases.check(str(c.root / path))
            if lease is not None and lease.holder != mine:
                leased.append(
                    {"path": path, "worktree": name, "holder": lease.holder, "lease": lease.path}
                )
    return {"overlaps": overlaps, "leased": leased}
