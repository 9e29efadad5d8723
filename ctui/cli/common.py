"""What every `ctui` subcommand shares: global options, the context, output and tables.

Subcommand modules import only this and `argparse` at module level; anything
heavy (Textual, FastAPI, the MCP SDK, GitPython) is imported inside the
handler that needs it, so `ctui lock acquire` starts about as fast as Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import Any

from ctui.core.errors import UsageError

Handler = Callable[["Ctx"], int | None]


def add_globals(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--dir`, `--as` and `--json`, accepted before or after the subcommand."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument("--dir", metavar="PATH", default=default,
                        help="the store folder (default: .ctui/ of this repository; env CTUI_DIR)")
    parser.add_argument("--as", dest="actor", metavar="ID", default=default,
                        help="act as this instance (default: env CTUI_INSTANCE_ID, else 'operator')")
    parser.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print one JSON document on stdout")


class Group:
    """Builds one command group (`ctui lock ...`) with global options on every leaf."""

    def __init__(self, sub: argparse._SubParsersAction, name: str, help: str, **kw: Any) -> None:
        self.parser = sub.add_parser(name, help=help, description=help, **kw)
        add_globals(self.parser)
        self.sub = self.parser.add_subparsers(dest="action", metavar="ACTION")
        self.sub.required = True

    def command(self, name: str, handler: Handler, help: str, **kw: Any) -> argparse.ArgumentParser:
        return leaf(self.sub, name, handler, help, **kw)


def leaf(sub: argparse._SubParsersAction, name: str, handler: Handler, help: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand that runs `handler(ctx)`."""
    parser = sub.add_parser(name, help=help, description=help, **kw)
    add_globals(parser)
    parser.set_defaults(handler=handler)
    return parser


class Ctx:
    """The parsed arguments plus lazy access to the store and the output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.dir: str | None = getattr(args, "dir", None)

    @property
    def actor(self) -> str:
        return getattr(self.args, "actor", None) or os.environ.get("CTUI_INSTANCE_ID") or "operator"

    @cached_property
    def coord(self) -> Any:
        from ctui.core import Coordinator

        return Coordinator.open(store_dir=self.dir)

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print `data` as JSON with `--json`, else the human text (or the data itself)."""
        if self.json:
            json.dump(data, sys.stdout, indent=2, default=str)
            sys.stdout.write("\n")
            return
        out = text() if callable(text) else text
        if out is None:
            out = data if isinstance(data, str) else json.dumps(data, indent=2, default=str)
        if out:
            print(out)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "(none)") -> str:
    """Plain aligned columns; the last column is left unpadded."""
    body = [["" if v is None else str(v) for v in row] for row in rows]
    if not body:
        return empty
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *body]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def positive(kind: type = float) -> Callable[[str], Any]:
    """An argparse type for a positive number (seconds, counts)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value <= 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
        return value

    return parse


def json_arg(text: str) -> Any:
    """An argparse type for a JSON document given inline."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
