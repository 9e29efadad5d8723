"""Coordinate with other agents from a script: register, lease a file, log a decision.

Run it anywhere inside a git repository (or pass the repository's path):

    python examples/coordinate.py [REPO]
"""

from __future__ import annotations

import os
import sys

from ctui.core import Coordinator
from ctui.core.errors import LeaseHeld


def main(repo: str = ".") -> int:
    c = Coordinator.open(repo)  # finds .ctui/ in the main worktree, creating it if needed
    me = c.instances.register(role="script", task="tidy the README", pid=os.getpid())
    try:
        try:
            lease = c.leases.acquire("README.md", instance=me.id, intent="tidy", ttl=120)
        except LeaseHeld as held:
            print(f"someone else is on it: {held}", file=sys.stderr)
            return 10
        print(f"{me.id} holds {lease.path} (token {lease.token})")

        decision = c.decisions.add(
            category="docs",
            title="README sections follow the CLI groups",
            author=me.id,
            scope="file",
        )
        print(f"logged {decision.id}")

        for held_lease in c.leases.list():
            print(f"  lease  {held_lease.path:<20} {held_lease.holder}")
        for d in c.decisions.list(limit=5):
            print(f"  {d.id}  {d.title}")

        c.leases.release("README.md", instance=me.id)
        return 0
    finally:
        c.instances.unregister(me.id)  # frees anything still held
        c.close()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
