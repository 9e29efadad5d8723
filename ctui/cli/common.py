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

from ctui.core.errors import UsageError

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any, NoReturn

Handler = Callable[["Ctx"], int | None]


def add_globals(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--dir`, `--as` and `--json`, accepted before or after the subcommand."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--dir",
        metavar="PATH",
        default=default,
        help="the store folder (default: .ctui/ of this repository; env CTUI_DIR)",
    )
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="ID",
        default=default,
        help="act as this instance (default: env CTUI_INSTANCE_ID, else 'operator')",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="print one JSON document on stdout",
    )
    side: dict[str, Any] = {"dest": "side", "action": "store_const", "default": default}
    parser.add_argument(
        "--local",
        const="local",
        **side,
        help="use this repository's store even when connected to a server",
    )
    parser.add_argument(
        "--remote",
        const="remote",
        **side,
        help="go through the connected server's API (`ctui remote connect`)",
    )


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (exit 2), like every other ctui error.

    Subparsers inherit the class, so every `ctui ...` command reports this way.
    """

    def error(self, message: str) -> NoReturn:
        message = _did_you_mean(message)
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _did_you_mean(message: str) -> str:
    """argparse answers a typo with every choice; name the likely one instead."""
    head, sep, rest = message.partition(" (choose from ")
    if not sep or "invalid choice: " not in head:
        return message
    import difflib

    typed = head.rsplit("invalid choice: ", 1)[1].strip("'\"")
    choices = [c.strip().strip("'\"") for c in rest.rstrip(")").split(",")]
    close = difflib.get_close_matches(typed, choices, n=1)
    return f"{head} (did you mean {close[0]!r}?)" if close else message


class Formatter(argparse.HelpFormatter):
    """argparse's formatter with the width found cheaply.

    argparse builds a formatter for every `add_argument` and, without a width,
    imports `shutil` (and with it bz2, lzma and zlib) to ask the terminal:
    a few milliseconds on every `ctui` start for nothing.
    """

    def __init__(self, prog: str, **kw: Any) -> None:
        kw.setdefault("width", _width())
        super().__init__(prog, **kw)


def _width() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
        columns = columns or os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        columns = 80
    return max(40, min(columns, 120)) - 2


class Group:
    """Builds one command group (`ctui lock ...`) with global options on every leaf."""

    def __init__(self, sub: argparse._SubParsersAction, name: str, help: str, **kw: Any) -> None:
        kw.setdefault("formatter_class", Formatter)
        self.parser = sub.add_parser(name, help=help, description=help, **kw)
        self.parser.set_defaults(ctui_group=name)
        add_globals(self.parser)
        self.sub = self.parser.add_subparsers(dest="action", metavar="ACTION")
        self.sub.required = True

    def command(self, name: str, handler: Handler, help: str, **kw: Any) -> argparse.ArgumentParser:
        return leaf(self.sub, name, handler, help, **kw)


def leaf(
    sub: argparse._SubParsersAction, name: str, handler: Handler, help: str, **kw: Any
) -> argparse.ArgumentParser:
    """A subcommand that runs `handler(ctx)`."""
    kw.setdefault("formatter_class", Formatter)
    parser = sub.add_parser(name, help=help, description=help, **kw)
    add_globals(parser)
    parser.set_defaults(handler=handler)
    return parser


REMOTE_COMMANDS = frozenset(
    {
        "spawn",
        "thread",
        "lock",
        "task",
        "decisions",
        "discover",
        "instance",
        "status",
        "events",
        "cleanup",
        "conflicts",
        "plan",
        "leader",
        "worker",
    }
)


class Ctx:
    """The parsed arguments plus lazy access to the store and the output helpers."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self.dir: str | None = getattr(args, "dir", None)

    @property
    def actor(self) -> str:
        explicit = getattr(self.args, "actor", None) or os.environ.get("CTUI_INSTANCE_ID")
        return explicit or self._session_actor or "operator"

    @cached_property
    def _session_actor(self) -> str | None:
        """Run from a Claude Code session's shell: that session's instance, as its hooks see it."""
        session = os.environ.get("CLAUDE_CODE_SESSION_ID")
        if not session:
            return None
        try:
            inst = self.coord.instances.find_session(session)
        except Exception:  # a remote store, or none yet: act as the operator
            return None
        return inst.id if inst is not None and inst.state != "ended" else None

    @cached_property
    def coord(self) -> Any:
        remote = self.remote()
        if remote is not None:
            return remote
        from ctui.core import Coordinator

        timeout = os.environ.get("CTUI_BUSY_TIMEOUT")
        try:
            seconds = float(timeout) if timeout else None
        except ValueError:
            raise UsageError(f"CTUI_BUSY_TIMEOUT={timeout!r} is not a number of seconds") from None
        coord = Coordinator.open(store_dir=self.dir, timeout=seconds)
        _ = coord.config  # read and checked now: a bad setting is named before anything runs
        handler = getattr(self.args, "handler", None)
        if coord.store.created and getattr(handler, "__name__", "") != "init" and _tty():
            print(f"ctui: created a new store at {coord.store.path}", file=sys.stderr)
        return coord

    def remote(self) -> Any:
        """The connected server's client when this command goes through the API, else None.

        Commands of `REMOTE_COMMANDS` go remote while `.ctui/remote.json` exists;
        `--local` and `--remote` force a side. A lost server is an error, never a
        silent fall-back to the local store.
        """
        side = getattr(self.args, "side", None)
        handler = getattr(self.args, "handler", None)
        command = getattr(self.args, "ctui_group", None) or getattr(handler, "__name__", None)
        if side == "local" or (side is None and command not in REMOTE_COMMANDS):
            return None
        if side is None and os.environ.get("CTUI_THREAD_ID"):
            return None  # an agent ctui started works on the store it was started with
        from ctui.core.paths import resolve_store_dir

        state = resolve_store_dir(self.dir) / "remote.json"
        try:
            present = state.exists()
        except PermissionError:
            from ctui.core.errors import StoreDenied

            raise StoreDenied(
                f"permission denied on {state.parent}: this user cannot read the store; "
                f"check its owner and mode (`ls -la {state.parent}`)"
            ) from None
        if side is None and not present:
            return None
        from ctui.api.client import RemoteCoordinator

        return RemoteCoordinator.from_file(state)

    def emit(self, data: Any, text: str | Callable[[], str] | None = None) -> None:
        """Print `data` as JSON with `--json`, else the human text (or the data itself)."""
        if self.json:
            sys.stdout.write(to_json(data) + "\n")
            return
        out = text() if callable(text) else text
        if out is None:
            out = data if isinstance(data, str) else json.dumps(data, indent=2, default=str)
        if out:
            print(out)


def _tty() -> bool:
    """Whether a person reads stderr (notes for people only; scripts keep a quiet stderr)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def to_json(data: Any) -> str:
    """Indented JSON for small documents; compact for big ones.

    `indent=` makes the json module fall back to its pure-Python encoder: for
    a `status` of a thousand leases that costs more than everything else the
    command does, so large documents stay on one line.
    """
    text = json.dumps(data, default=str)
    return text if len(text) > 20_000 else json.dumps(data, indent=2, default=str)


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
            word = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {word}") from None
        if value <= 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
        return value

    return parse


def json_arg(text: str) -> Any:
    """An argparse type for a JSON document given inline."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} at column {exc.colno}"
        raise argparse.ArgumentTypeError(message) from None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise UsageError(message)
