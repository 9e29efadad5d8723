"""`ctui mcp` (serve the MCP tools on stdio, or HTTP with `--http`) and `ctui mcp install`.

The MCP SDK is imported only inside `serve`, so every other command starts fast.

`mcp install` writes a server command that finds ctui the way the hook does
(`ctui.hooks.settings.FIND_PYTHON`: the project's `.venv`, the main worktree's,
a `ctui` on PATH, `python3`), so `.mcp.json` can be committed. Claude Code asks
before each MCP tool call unless a permission rule allows it, and in
`acceptEdits` or `-p` runs nobody is there to answer: the rule `mcp__ctui` in
`permissions.allow` of `.claude/settings.json` lets the agent call ctui's tools;
`--allow-tools` writes it.
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
        help="the ctui executable to run (default: a portable command that finds ctui in the "
        "project's .venv, the main worktree's .venv or on PATH)",
    )
    q.add_argument(
        "--allow-tools",
        action="store_true",
        help="also allow the agent to call ctui's tools without asking: adds mcp__NAME to "
        "permissions.allow in .claude/settings.json (needed in acceptEdits and -p runs)",
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


def server_entry(explicit: str | None = None) -> dict[str, Any]:
    """The `mcpServers` entry: the given executable, else the portable command."""
    if explicit:
        return {"command": explicit, "args": ["mcp"]}
    from ctui.hooks.settings import FIND_PYTHON

    return {"command": "sh", "args": ["-c", f'{FIND_PYTHON}exec "$p" -I -m ctui mcp']}


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
    servers[name] = {**old, **server_entry(ctx.args.server_command)}
    changed = servers[name] != old
    rule = f"mcp__{name}"
    settings_file = c.root / ".claude" / "settings.json"
    allowed = _allow(settings_file, rule) if ctx.args.allow_tools else _allowed(settings_file, rule)
    if changed:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
    state = "added to" if changed else "already in"
    note = (
        f"tools allowed: {rule} is in permissions.allow of {settings_file}"
        if allowed
        else f"to let the agent call ctui's tools without asking (needed in acceptEdits and "
        f'-p runs), add "{rule}" to permissions.allow in {settings_file}: '
        f"`ctui mcp install --allow-tools` does it"
    )
    ctx.emit(
        {
            "path": str(path),
            "name": name,
            "server": servers[name],
            "changed": changed,
            "permission_rule": rule,
            "tools_allowed": allowed,
        },
        f"ctui MCP server {state} {path} as {name!r}\n  {note}\n"
        f"  commit {path.name} (and .claude/settings.json) so every worktree gets it",
    )
    return 0


def _allowed(settings_file: Path, rule: str) -> bool:
    from ctui.core.errors import CtuiError
    from ctui.hooks import settings

    try:
        allow = settings.load(settings_file).get("permissions", {}).get("allow", [])
    except (CtuiError, AttributeError):
        return False
    return isinstance(allow, list) and rule in allow


def _allow(settings_file: Path, rule: str) -> bool:
    """Add `rule` to `permissions.allow` (other settings kept); a malformed file is refused."""
    from ctui.hooks import settings

    doc = settings.load(settings_file)
    permissions = doc.setdefault("permissions", {})
    allow = permissions.setdefault("allow", []) if isinstance(permissions, dict) else None
    if not isinstance(allow, list):
        raise UsageError(f'{settings_file}: "permissions.allow" is not a list: fix it, then retry')
    if rule not in allow:
        allow.append(rule)
        settings.save(settings_file, doc)
    return True
