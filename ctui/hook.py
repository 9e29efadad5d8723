"""The Claude Code hook entry point (being built): stdlib and `ctui.core` only."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    print("ctui: the hook is not built yet", file=sys.stderr)
    return 1
