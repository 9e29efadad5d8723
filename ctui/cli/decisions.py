"""`ctui decisions add | list | query | search | import`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ctui.cli.common import Ctx, Group, positive, table
from ctui.core.clock import iso
from ctui.core.decisions import SCOPES, STATUSES, Decision


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(sub, "decisions", "the shared decision log (DEC-YYYYMMDD-NNNN)")
    p = g.command("add", add, "log a decision and print its id")
    p.add_argument("--category", required=True, help="e.g. api-design, database, architecture")
    p.add_argument("--title", required=True, help="the decision in one line")
    p.add_argument("--description", default="", help="the detail: what, why, consequences")
    p.add_argument("--scope", choices=SCOPES, default="module")
    p.add_argument("--status", choices=STATUSES, default="accepted")
    p.add_argument("--supersedes", metavar="ID", help="the decision this one replaces")
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p = g.command("list", list_cmd, "decisions, newest first")
    p.add_argument("--category", help="only this category (e.g. database)")
    p.add_argument("--author", help="only decisions logged by this instance")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--since", metavar="HOURS", type=positive(), help="only the last HOURS hours")
    p.add_argument("--limit", type=positive(int), default=20, help="at most N (default 20)")
    p = g.command("query", query, "one decision in full")
    p.add_argument("id", help="a decision id, e.g. DEC-20260108-0001 (`ctui decisions list`)")
    p = g.command("search", search, "full-text search over titles, descriptions and categories")
    p.add_argument("text", nargs="+", help="words to find (all of them)")
    p.add_argument("--limit", type=positive(int), default=20, help="at most N (default 20)")
    p = g.command(
        "import",
        import_cmd,
        "import a SkillForge decision-log.json: checked whole first (a bad file changes nothing), "
        "then written in short batches (connected: read here, applied by the server)",
    )
    p.add_argument(
        "file", type=Path, help="e.g. .claude/coordination/decision-log.json; twice is harmless"
    )


def _rows(found: list[Decision]) -> str:
    return table(
        ["ID", "CATEGORY", "STATUS", "AUTHOR", "TITLE"],
        [[d.id, d.category, d.status, d.author, d.title] for d in found],
        empty="(no decisions)",
    )


def add(ctx: Ctx) -> int:
    a = ctx.args
    d = ctx.coord.decisions.add(
        category=a.category,
        title=a.title,
        description=a.description,
        scope=a.scope,
        status=a.status,
        author=ctx.actor,
        supersedes=a.supersedes,
        tags=a.tag,
    )
    ctx.emit(d.to_dict(), d.id)
    return 0


def list_cmd(ctx: Ctx) -> int:
    a = ctx.args
    c = ctx.coord
    since = c.now() - a.since * 3600 if a.since else None
    found = c.decisions.list(
        category=a.category, author=a.author, status=a.status, since=since, limit=a.limit
    )
    ctx.emit([d.to_dict() for d in found], lambda: _rows(found))
    return 0


def query(ctx: Ctx) -> int:
    d = ctx.coord.decisions.get(ctx.args.id)
    lines = [
        f"{d.id}  {d.title}",
        f"  category   {d.category}",
        f"  scope      {d.scope}",
        f"  status     {d.status}",
        f"  author     {d.author}",
        f"  made at    {iso(d.created_at)}",
    ]
    if d.supersedes:
        lines.append(f"  supersedes {d.supersedes}")
    if d.tags:
        lines.append(f"  tags       {', '.join(d.tags)}")
    if d.description:
        lines += ["", *(f"  {line}".rstrip() for line in d.description.splitlines())]
    ctx.emit(d.to_dict(), "\n".join(lines))
    return 0


def search(ctx: Ctx) -> int:
    found = ctx.coord.decisions.search(" ".join(ctx.args.text), limit=ctx.args.limit)
    ctx.emit([d.to_dict() for d in found], lambda: _rows(found))
    return 0 if found else 4


def import_cmd(ctx: Ctx) -> int:
    result = ctx.coord.decisions.import_file(ctx.args.file, author=ctx.actor)
    ctx.emit(
        result,
        f"imported {len(result['imported'])} decision(s), skipped {len(result['skipped'])} "
        "already present",
    )
    return 0
