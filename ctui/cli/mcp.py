"""`ctui mcp` (serve the MCP tools on stdio, or HTTP with `--http`) and `ctui mcp install`.

The MCP SDK is imported only inside `serve`, so every other command starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, leaf
from ctui.core.errors import UsageError

SERVER_NAME = "ctui"


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "mcp",
        serve,
        "serve ctui's MCP tools on stdio (what .mcp.json runs)",
        epilog="`ctui mcp install` adds this server to the repository's .mcp.json.",
    )
    p.add_argument(
        "--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio"
    )
    p.add_argument("--bind", default="127.0.0.1", help="address for --http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=31338, help="port for --http (default 31338)")
    actions = p.add_subparsers(dest="mcp_action", metavar="ACTION")
    q = leaf(
        actions,
        "install",
        install,
        "add (or update) the ctui server in .mcp.json at the repository root",
    )
    q.add_argument(
        "--name", default=SERVER_NAME, help="the server's key in mcpServers (default ctui)"
    )
    q.add_argument(
        "--command",
        dest="server_command",
        metavar="PATH",
        help="the ctui executable to run (default: `ctui` if it is on PATH, else this one)",
    )


def serve(ctx: Ctx) -> int:
    from ctui.mcp.server import build_server

    server = build_server(ctx.coord)
    if ctx.args.http:
        print(f"ctui MCP on http://{ctx.args.bind}:{ctx.args.port}/mcp", file=sys.stderr)
        server.run("streamable-http", host=ctx.args.bind, port=ctx.args.port)
    else:
        server.run()
    return 0


def _command(explicit: str | None) -> str:
    """`ctui` when the one on PATH is this one, else this executable's absolute path."""
    import shutil

    if explicit:
        return explicit
    here = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if here is None or here.name != "ctui":
        return "ctui"
    on_path = shutil.which("ctui")
    return "ctui" if on_path and Path(on_path).resolve() == here else str(here)


def install(ctx: Ctx) -> int:
    c = ctx.coord
    path = c.root / ".mcp.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}): fix it, then retry"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    servers = doc.setdefault("mcpServers", {}) if isinstance(doc, dict) else None
    if not isinstance(servers, dict):
        raise UsageError(
            f'{path}: expected an object with "mcpServers" as an object: fix it, then retry'
        )
    name = ctx.args.name
    old: dict[str, Any] = servers[name] if isinstance(servers.get(name), dict) else {}
    servers[name] = {**old, "command": _command(ctx.args.server_command), "args": ["mcp"]}
    changed = servers[name] != old
    if changed:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
    state = "added to" if changed else "already in"
    ctx.emit(
        {"path": str(path), "name": name, "server": servers[name], "changed": changed},
        f"ctui MCP server {state} {path} as {name!r}",
    )
    return 0
