"""The `ctui` command. `main()` builds the parser from one module per command group.

`ctui hook ...` skips argparse entirely: it is the hot path Claude Code runs on
every edit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

GROUPS = (
    "core",
    "instances",
    "leases",
    "decisions",
    "tasks",
    "threads",
    "hooks",
    "server",
    "remote",
    "mcp",
    "tui",
)


def build_parser() -> argparse.ArgumentParser:
    from ctui import __version__
    from ctui.cli.common import add_globals

    parser = argparse.ArgumentParser(
        prog="ctui",
        description="A control room for several coding agents on one git repository. "
        "With no command, opens the control room.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 4 nothing to do, 10 lease held, "
        "11 lease expired, 12 conflict, 13 stale instance.",
    )
    parser.add_argument("--version", action="version", version=f"ctui {__version__}")
    add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(f"ctui.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"]:
        from ctui.hook import main as hook_main

        return hook_main(args_list[1:])
    from ctui.cli.common import Ctx
    from ctui.core.errors import CtuiError

    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "handler", None) is None:
        if args.command is None:
            from ctui.cli.tui import open_control_room

            args.handler = open_control_room
        else:
            parser.parse_args([args.command, "--help"])
    ctx = Ctx(args)
    try:
        return int(args.handler(ctx) or 0)
    except CtuiError as exc:
        return _fail(ctx, exc.message, exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _fail(ctx: object, message: str, code: int) -> int:
    import json

    if getattr(ctx, "json", False):
        print(json.dumps({"error": message, "exit_code": code}))
    print(f"ctui: {message}", file=sys.stderr)
    return code
