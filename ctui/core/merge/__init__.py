"""The merge queue: finished threads' branches land on their base only after a green gate.

Modelled on the queues people trust (bors-ng, Zuul's gate pipeline): the base
branch only ever moves to a commit that was tested, by compare-and-swap of its
ref against the tip the candidate was built on.

    c.merge.add(["auth", "api"])      # queue finished threads' branches
    c.merge.list()                    # entries, oldest first
    c.merge.run()                     # land them (one runner at a time)

Parts: `record` (an entry's row and statuses), `queue` (adding, listing,
removing, transitions), `lease` (the one-runner lock with a fencing token),
`git` (plumbing in scratch worktrees), `runner` (build, gate, land, bisect),
`landing` (what happens to a thread after it lands) and `settings`.
The code here takes a `MergeContext` (store, clock, config, paths and two
callbacks), never the whole `Coordinator`.
"""

from __future__ import annotations

from ctui.core.merge.context import MergeContext
from ctui.core.merge.queue import MergeQueue
from ctui.core.merge.record import STATUSES, Entry

__all__ = ["STATUSES", "Entry", "MergeContext", "MergeQueue"]
