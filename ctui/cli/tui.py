"""`ctui tui` and `ctui demo`: the control room (being built)."""

from __future__ import annotations

import argparse

from ctui.cli.common import Ctx


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's commands to the parser."""


def open_control_room(ctx: Ctx) -> int:
    from ctui.cli.core import status

    return status(ctx) or 0
