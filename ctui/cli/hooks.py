"""`ctui hooks install | uninstall | doctor`: ctui's hook in Claude Code's settings.

At project scope the command written is portable (see `ctui.hooks.settings`):
commit `.claude/settings.json`, because a worktree made by hand (`git worktree
add`) runs Claude with the settings committed on its branch and nothing else;
threads ctui spawns get the hooks either way. `doctor` lists every worktree
of the repository and whether Claude Code would run ctui's hooks there, and
whether hooks on this store go through `ctui serve` (`ctui.hooks.route`) and
whether it answers.

With `--dir`, the command sets `CTUI_DIR` so the hook finds that store.
Installing at project or local scope also creates the store: putting the hook
into a repository is the moment its owner opts in (the hook itself never
creates a store). Installing for the user does not, since that file serves
every folder Claude Code opens; run `ctui init` in each repository to take part.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, Group


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(
        sub,
        "hooks",
        "Claude Code hooks: enforce leases at edit time, share context at start",
        epilog="The hook itself is `ctui hook` (reads one payload on stdin).",
    )
    for name, handler, text in (
        (
            "install",
            install,
            "merge ctui's hook into Claude Code's settings (other hooks are kept)",
        ),
        ("uninstall", uninstall, "remove ctui's entries from Claude Code's settings (only ctui's)"),
        (
            "doctor",
            doctor,
            "check the installed command resolves and the store opens; time a cold call "
            "and the median of warm ones",
        ),
    ):
        p = g.command(name, handler, text)
        p.add_argument(
            "--scope",
            choices=("project", "local", "user"),
            default=None if name == "doctor" else "project",
            help=".claude/settings.json (project, the default), .claude/settings.local.json "
            "(local, not committed) or ~/.claude/settings.json (user)"
            + ("; default: all three" if name == "doctor" else ""),
        )
        if name == "install":
            p.add_argument(
                "--command",
                dest="hook_command",
                metavar="CMD",
                help="write this command instead of the fastest one found here",
            )
            p.add_argument(
                "--script",
                action="store_true",
                help="write the `ctui` console script plus ` hook` (slower on every edit)",
            )
            p.add_argument(
                "--fast",
                action="store_true",
                help="write this machine's Python and ctui folder (absolute paths: never commit "
                "it; the default for --scope local and user)",
            )


def _paths(ctx: Ctx, scope: str) -> tuple[Path, Path]:
    from ctui.hooks.settings import project_root, settings_path

    project = project_root(Path.cwd())
    return project, settings_path(scope, project)


def install(ctx: Ctx) -> int:
    from ctui.hooks import settings

    a = ctx.args
    project, path = _paths(ctx, a.scope)
    if a.hook_command:
        command = a.hook_command
    elif a.script:
        command = settings.script_command()
    elif a.fast or a.scope != "project":
        command = settings.fast_command()
    else:
        command = settings.portable_command()
    if ctx.dir:
        import shlex

        command = f"export CTUI_DIR={shlex.quote(str(Path(ctx.dir).resolve()))}; {command}"
    doc = settings.load(path)
    store = None
    if a.scope != "user":  # first: outside a repository this refuses before any file changes
        from ctui.core import Coordinator

        store = str(Coordinator.open(project, store_dir=ctx.dir).store.path)
    before = json_text(doc)
    settings.merge(doc, command)
    changed = json_text(doc) != before
    if changed:
        settings.save(path, doc)
    committed = _committed(project, path) if a.scope == "project" else None
    advice = _advice(a.scope, project, path, committed, command)
    ctx.emit(
        {
            "settings": str(path),
            "scope": a.scope,
            "command": command,
            "portable": command == settings.portable_command(),
            "changed": changed,
            "committed": committed,
            "events": list(settings.EVENTS),
            "store": store,
            "next": advice,
        },
        f"{'installed' if changed else 'already installed'}: ctui hook in {path}"
        + f"\n  command: {_describe(command)}"
        + (
            f"\n  store: {store}"
            if store
            else "\n  run `ctui init` in each repository to take part"
        )
        + "".join(f"\n  {line}" for line in advice),
    )
    return 0


def _describe(command: str) -> str:
    from ctui.hooks import settings

    if command == settings.portable_command():
        return (
            "portable (runs ctui from the project's .venv, the main worktree's .venv, a ctui "
            "on PATH or python3; a silent no-op where ctui is not installed)"
        )
    return command


def _committed(project: Path, path: Path) -> bool:
    """Whether `path` is tracked and unchanged against HEAD in the worktree at `project`."""
    import subprocess

    rel = str(path.relative_to(project))
    try:
        tracked = subprocess.run(
            ["git", "-C", str(project), "ls-files", "--error-unmatch", "--", rel],
            capture_output=True,
            timeout=30,
        )
        same = subprocess.run(
            ["git", "-C", str(project), "diff", "--quiet", "HEAD", "--", rel],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return tracked.returncode == 0 and same.returncode == 0


def _advice(
    scope: str, project: Path, path: Path, committed: bool | None, command: str
) -> list[str]:
    """What the user should do next, so every worktree runs the hooks."""
    from ctui.hooks import settings

    if scope == "user":
        return ["every folder Claude Code opens on this machine now runs ctui's hook"]
    if scope == "local":
        return [
            f"{path.name} is not committed: it covers this worktree ({project}) only; "
            "other worktrees need their own `ctui hooks install --scope local`, or commit the "
            "shared settings (`ctui hooks install`)"
        ]
    lines = []
    if command != settings.portable_command():
        lines.append(
            "this command holds paths of this machine: do not commit it for others "
            "(run `ctui hooks install` without --command/--script/--fast for the portable one)"
        )
    if not committed:
        rel = path.relative_to(project)
        lines.append(
            f"next: commit it (`git add {rel} && git commit -m 'ctui hooks'`): a worktree made "
            "by hand (`git worktree add`) runs Claude only with the settings committed on its "
            "branch, so until then sessions there edit without leases. Threads ctui spawns "
            "get the hooks either way. `ctui hooks doctor` lists which worktrees are covered."
        )
    return lines


def uninstall(ctx: Ctx) -> int:
    from ctui.hooks import settings

    _, path = _paths(ctx, ctx.args.scope)
    if not path.exists():
        ctx.emit({"settings": str(path), "removed": 0}, f"nothing to remove: {path} does not exist")
        return 0
    doc = settings.load(path)
    removed = settings.strip(doc)
    if removed:
        settings.save(path, doc)
    ctx.emit(
        {"settings": str(path), "removed": removed},
        f"removed {removed} ctui hook entr{'y' if removed == 1 else 'ies'} from {path}",
    )
    return 0


WARM_CALLS = 5


def doctor(ctx: Ctx) -> int:
    from ctui.hooks import settings

    scopes = [ctx.args.scope] if ctx.args.scope else list(settings.SCOPES)
    project = settings.project_root(Path.cwd())
    report: dict[str, Any] = {
        "settings": [],
        "store": None,
        "backend": None,
        "problems": [],
        "warnings": [],
        "worktrees": [],
    }
    commands: set[str] = set()
    for scope in scopes:
        path = settings.settings_path(scope, project)
        if not path.exists():
            continue
        found = settings.installed(settings.load(path))
        missing = [e for e in settings.HOOKS if e not in found]
        report["settings"].append(
            {"scope": scope, "path": str(path), "events": sorted(found), "missing": missing}
        )
        if found and missing:
            report["problems"].append(
                f"{path}: no ctui hook for {', '.join(missing)}: run `ctui hooks install "
                f"--scope {scope}` again"
            )
        commands.update(c for cmds in found.values() for c in cmds)
    if not commands:
        report["problems"].append("no ctui hook installed here: run `ctui hooks install`")
    report["store"] = _check_store(ctx, report["problems"])
    report["served"] = _check_served(report["store"], report["problems"])
    report["backend"] = _backend(ctx, report["warnings"])
    report["commands"] = [_check_command(c, project, report["problems"]) for c in sorted(commands)]
    report["worktrees"] = _worktrees(ctx, project, report["problems"])
    ctx.emit(report, lambda: _doctor_text(report))
    return 1 if report["problems"] else 0


def _worktrees(ctx: Ctx, project: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Every worktree of the repository and what (if anything) gives it ctui's hooks.

    Covered: ctui's hooks in its `.claude/settings.json` (what its branch has
    checked out, so committed there) or its `.claude/settings.local.json`, or
    in the user's settings (every folder), or a worktree ctui made for a
    thread (its agent gets the hooks through `claude --settings`).
    """
    import subprocess

    from ctui.hooks import settings

    try:
        out = subprocess.run(
            ["git", "-C", str(project), "worktree", "list", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    user = _has_hooks(settings.settings_path("user", project))
    threads = _thread_worktrees(ctx)
    found = []
    for block in out.stdout.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            name, _, value = line.partition(" ")
            fields[name] = value
        if "worktree" not in fields or "bare" in fields:
            continue
        root = Path(fields["worktree"])
        branch = fields.get("branch", "").removeprefix("refs/heads/") or "(detached)"
        by = []
        if _has_hooks(root / ".claude" / "settings.json"):
            by.append("settings.json")
        if _has_hooks(root / ".claude" / "settings.local.json"):
            by.append("settings.local.json")
        if user:
            by.append("user settings")
        if str(root.resolve()) in threads:
            by.append(f"ctui thread {threads[str(root.resolve())]} (--settings)")
        found.append({"path": str(root), "branch": branch, "covered": bool(by), "by": by})
        if not by:
            problems.append(
                f"worktree {root} (branch {branch}) runs Claude without ctui's hooks: commit "
                ".claude/settings.json on that branch (or merge it in), or run `ctui hooks "
                "install --scope local` there"
            )
    return found


def _has_hooks(path: Path) -> bool:
    from ctui.core.errors import CtuiError
    from ctui.hooks import settings

    try:
        return bool(path.is_file() and settings.installed(settings.load(path)))
    except (CtuiError, OSError):
        return False


def _thread_worktrees(ctx: Ctx) -> dict[str, str]:
    """Worktree folder -> thread name, for threads ctui created (their agents get --settings)."""
    from ctui.core import Coordinator
    from ctui.core.errors import CtuiError

    try:
        c = Coordinator.open(Path.cwd(), store_dir=ctx.dir, create=False, timeout=3.0)
    except CtuiError:
        return {}
    try:
        with c.read_snapshot():  # a read: the doctor reaps nothing, it only looks
            rows = [(t.name, t.worktree) for t in c.threads.list() if t.worktree is not None]
    finally:
        c.close()
    found = {}
    for name, worktree in rows:
        try:
            found[str(Path(worktree).resolve())] = name
        except OSError:
            continue
    return found


def _check_store(ctx: Ctx, problems: list[str]) -> str | None:
    from ctui.core import Coordinator
    from ctui.core.errors import CtuiError

    try:
        c = Coordinator.open(Path.cwd(), store_dir=ctx.dir, create=False, timeout=3.0)
    except CtuiError as exc:
        problems.append(exc.message)
        return None
    path = str(c.store.path)
    c.close()
    return path


def _check_served(store: str | None, problems: list[str]) -> dict[str, Any] | None:
    """Do hooks on this store go through `ctui serve` (`ctui.hooks.route`), and does it answer?"""
    if store is None:
        return None
    from ctui.hooks.serve import check

    found = check(Path(store))
    if found["via_serve"] and not found["answers"]:
        problems.append(
            f"hooks on this store go through `ctui serve`, which does not answer on "
            f"{found['socket']} ({found.get('error', 'a wrong answer')}): every lease check is "
            "denied until you start `ctui serve` in the repository"
        )
    return found


def _backend(ctx: Ctx, warnings: list[str]) -> dict[str, Any]:
    """Which store backend this repository uses; a password in its URL is warned about."""
    from ctui.core.paths import resolve_store_dir
    from ctui.core.store.target import has_password, redact, target

    try:
        found = target(resolve_store_dir(ctx.dir, Path.cwd()))
    except Exception:
        found = None
    if found is None:
        return {"kind": "sqlite"}
    if has_password(found.url):
        warnings.append(
            f"the store URL ({found.source}) holds a password: put it in ~/.pgpass or "
            "PGPASSFILE instead (agents and logs must never see it)"
        )
    return {
        "kind": "postgresql",
        "url": redact(found.url),
        "schema": found.schema,
        "source": found.source,
    }


def _check_command(command: str, project: Path, problems: list[str]) -> dict[str, Any]:
    """Does the command reach ctui, and do harmless calls (an edit outside the repo) exit 0?

    Run as Claude Code runs it (`sh -c`, `CLAUDE_PROJECT_DIR` set). A payload
    ctui refuses proves ctui answered: the portable command is a silent no-op
    where it finds no ctui, so silence there means "does not resolve". That
    first call is timed apart as `cold_ms` (files not yet in the page cache,
    bytecode maybe compiled): the figure an edit pays is the median of the warm
    calls after it, `ms`.
    """
    import json
    import os
    import statistics
    import subprocess
    import time

    result: dict[str, Any] = {
        "command": command,
        "resolves": False,
        "exit_code": None,
        "ms": None,
    }
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project)}

    def call(payload: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["sh", "-c", command],
                input=payload,
                capture_output=True,
                text=True,
                timeout=30,
                cwd=project,
                env=env,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"hook command took over 30 s: {command}")
            return None

    start = time.perf_counter()
    probe = call('{"hook_event_name": "ctui-doctor"}')
    if probe is None:
        return result
    result["cold_ms"] = round((time.perf_counter() - start) * 1000, 1)
    result["resolves"] = "ctui hook:" in probe.stderr
    if not result["resolves"]:
        problems.append(
            "hook command does not reach ctui here (no Python with ctui found; "
            f"{(probe.stderr.strip() or 'no output')[:200]}): install ctui into the project's "
            ".venv or on PATH, or run `ctui hooks install` again"
        )
        return result
    payload = {
        "session_id": "ctui-doctor",
        "cwd": str(project),
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": "/ctui-doctor-outside-the-repository/x"},
    }
    times = []
    for _ in range(WARM_CALLS):
        start = time.perf_counter()
        proc = call(json.dumps(payload))
        if proc is None:
            return result
        times.append((time.perf_counter() - start) * 1000)
        result["exit_code"] = proc.returncode
        if proc.returncode != 0:
            problems.append(
                f"hook call failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}"
            )
            return result  # a failing call has no figure worth a median
    result["ms"] = round(statistics.median(times), 1)
    result["warm_calls"] = len(times)
    return result


def _doctor_text(report: dict[str, Any]) -> str:
    from ctui.hooks.settings import HOOKS

    lines = []
    for s in report["settings"]:
        lines.append(
            f"{s['scope']:8} {s['path']}: {len(s['events'])} of {len(HOOKS)} hook groups installed"
        )
    lines.append(f"store    {report['store'] or 'does not open (see below)'}")
    served = report.get("served")
    if served is not None:
        answers = {True: "answers", False: "does NOT answer", None: "is not running"}
        lines.append(
            f"hooks    {'through ctui serve' if served['via_serve'] else 'answered in the hook'}"
            f"; ctui serve on {served['socket']} {answers[served['answers']]}"
        )
    backend = report["backend"] or {"kind": "sqlite"}
    if backend["kind"] == "postgresql":
        lines.append(
            f"backend  PostgreSQL {backend['url']}, schema {backend['schema']} "
            f"(from {backend['source']})"
        )
    else:
        lines.append("backend  SQLite (.ctui/ctui.db)")
    for c in report["commands"]:
        if c["ms"] is not None:
            state = (
                f"exit {c['exit_code']}; {c['ms']} ms a call (median of {c['warm_calls']} warm "
                f"calls; the first, cold call took {c['cold_ms']} ms)"
            )
        else:
            state = "does not run"
        lines.append(f"command  {_describe(c['command'])}\n         {state}")
    for w in report["worktrees"]:
        state = "covered by " + ", ".join(w["by"]) if w["covered"] else "NOT COVERED"
        lines.append(f"worktree {w['path']} [{w['branch']}]: {state}")
    lines.extend(f"warning: {w}" for w in report["warnings"])
    lines.extend(f"problem: {p}" for p in report["problems"])
    if not report["problems"]:
        lines.append("ok")
    return "\n".join(lines)


def json_text(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, sort_keys=True)
