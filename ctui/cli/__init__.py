"""The `ctui` command. `main()` builds the parser from one module per command group.

`ctui hook ...` skips argparse entirely: it is the hot path Claude Code runs on
every edit.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    import argparse

GROUPS = (
    "core",
    "instances",
    "leases",
    "decisions",
    "tasks",
    "threads",
    "runs",
    "worktrees",
    "merge",
    "steer",
    "hooks",
    "hosts",
    "server",
    "remote",
    "mcp",
    "tui",
)


HOT = {
    "lock": ("leases",),
    "instance": ("instances",),
    "decisions": ("decisions",),
    "status": ("core",),
    "events": ("core",),
    "cleanup": ("core",),
    "init": ("core",),
}
"""The group module of the commands agents run most, so their start-up imports no other group."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `argv` only the part that can parse it.

    Building every group's subcommands costs more than parsing; when `argv`
    names a command, the other groups' parsers are skipped (see `_OnlyOne`).
    Help, typos and no command get the full parser.
    """
    from ctui import __version__
    from ctui.cli.common import Formatter, Parser, add_globals

    parser = Parser(
        formatter_class=Formatter,
        prog="ctui",
        description="A control room for several coding agents on one git repository. "
        "With no command, opens the control room.",
        epilog="Exit codes: 0 ok, 1 error, 2 usage, 4 nothing to do, 10 lease held, "
        "11 lease expired, 12 conflict, 13 stale instance.",
    )
    parser.add_argument("--version", action="version", version=f"ctui {__version__}")
    add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_name(argv) if argv is not None else None
    target = _OnlyOne(sub, wanted) if wanted else sub
    for name in HOT.get(wanted or "", GROUPS):
        importlib.import_module(f"ctui.cli.{name}").register(target)
    if isinstance(target, _OnlyOne) and not target.found:
        return build_parser()
    return parser


def _command_name(argv: Sequence[str]) -> str | None:
    """The first word of `argv` that is not a global option or its value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--dir", "--as"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


class _Null:
    """Swallows every call a group module makes on a parser it does not need."""

    def __getattr__(self, name: str) -> _Null:
        return self

    def __call__(self, *args: object, **kw: object) -> _Null:
        return self


class _OnlyOne:
    """A stand-in for the subparsers action that builds only the wanted command."""

    def __init__(self, sub: argparse._SubParsersAction, wanted: str) -> None:
        self._sub = sub
        self._wanted = wanted
        self.found = False

    def add_parser(self, name: str, **kw: object) -> object:
        if self._wanted != name and self._wanted not in kw.get("aliases", ()):  # type: ignore[operator]
            return _Null()
        self.found = True
        return self._sub.add_parser(name, **kw)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._sub, name)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"]:
        from ctui.hook import main as hook_main

        return hook_main(args_list[1:])
    from ctui.cli.common import Ctx
    from ctui.core.errors import CtuiError

    parser = build_parser(args_list)
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
        return _fail(ctx, exc.message, exc.exit_code, exc.details)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug or an unforeseen OS error: one line, the trace on request
        import os

        from ctui.core.store import failure

        if (stored := failure(exc)) is not None:  # the store's own error, e.g. a damaged file
            return _fail(ctx, stored.message, stored.exit_code)

        if os.environ.get("CTUI_DEBUG"):
            raise
        message = f"internal error: {type(exc).__name__}: {exc} (CTUI_DEBUG=1 shows the traceback)"
        return _fail(ctx, message, 1)


def _fail(ctx: object, message: str, code: int, details: dict[str, object] | None = None) -> int:
    """One line on stderr; with --json also `{"error", "exit_code", ...details}` on stdout.

    Details let a script see who holds a lease without parsing the message.
    """
    import json

    if getattr(ctx, "json", False):
        extra = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in (details or {}).items()}
        print(json.dumps({"error": message, "exit_code": code, **extra}, default=str))
    print(f"ctui: {message}", file=sys.stderr)
    return code
