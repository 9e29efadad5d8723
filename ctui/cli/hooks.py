"""`ctui hooks install | uninstall | doctor`: ctui's hook in Claude Code's settings.

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
                help="write the `ctui` console script plus ` hook` (portable across machines "
                "with ctui on PATH, but slower on every edit)",
            )


def _paths(ctx: Ctx, scope: str) -> tuple[Path, Path]:
    from ctui.hooks.settings import project_root, settings_path

    project = project_root(Path.cwd())
    return project, settings_path(scope, project)


def install(ctx: Ctx) -> int:
    from ctui.hooks import settings

    a = ctx.args
    project, path = _paths(ctx, a.scope)
    command = a.hook_command or (settings.script_command() if a.script else settings.fast_command())
    if ctx.dir:
        import shlex

        command = f"CTUI_DIR={shlex.quote(str(Path(ctx.dir).resolve()))} {command}"
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
    ctx.emit(
        {
            "settings": str(path),
            "scope": a.scope,
            "command": command,
            "changed": changed,
            "events": list(settings.EVENTS),
            "store": store,
        },
        f"{'installed' if changed else 'already installed'}: ctui hook in {path}"
        + f"\n  command: {command}"
        + (
            f"\n  store: {store}"
            if store
            else "\n  run `ctui init` in each repository to take part"
        ),
    )
    return 0


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
    report: dict[str, Any] = {"settings": [], "store": None, "problems": []}
    commands: set[str] = set()
    for scope in scopes:
        path = settings.settings_path(scope, project)
        if not path.exists():
            continue
        found = settings.installed(settings.load(path))
        missing = [e for e in settings.EVENTS if e not in found]
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
    report["commands"] = [_check_command(c, project, report["problems"]) for c in sorted(commands)]
    ctx.emit(report, lambda: _doctor_text(report))
    return 1 if report["problems"] else 0


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


def _check_command(command: str, project: Path, problems: list[str]) -> dict[str, Any]:
    """Does the program exist, and do harmless calls (an edit outside the repo) exit 0?

    The first call is timed apart as `cold_ms` (files not yet in the page cache,
    bytecode maybe compiled): the figure an edit pays is the median of the warm
    calls after it, `ms`.
    """
    import json
    import shlex
    import shutil
    import statistics
    import subprocess
    import time

    argv = shlex.split(command)
    program = argv[0] if argv else ""
    resolved = (
        program if Path(program).is_absolute() and Path(program).exists() else shutil.which(program)
    )
    result: dict[str, Any] = {
        "command": command,
        "resolves": bool(resolved),
        "exit_code": None,
        "ms": None,
    }
    if not resolved:
        problems.append(
            f"hook command does not resolve: {program!r} not found: run `ctui hooks install` again"
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
    for _ in range(1 + WARM_CALLS):
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                ["sh", "-c", command],
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                timeout=30,
                cwd=project,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"hook command took over 30 s: {command}")
            return result
        times.append((time.perf_counter() - start) * 1000)
        result["exit_code"] = proc.returncode
        if proc.returncode != 0:
            problems.append(
                f"hook call failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}"
            )
            break
    result["cold_ms"] = round(times[0], 1)
    warm = times[1:]
    if warm:
        result["ms"] = round(statistics.median(warm), 1)
        result["warm_calls"] = len(warm)
    return result


def _doctor_text(report: dict[str, Any]) -> str:
    lines = []
    for s in report["settings"]:
        lines.append(f"{s['scope']:8} {s['path']}: {len(s['events'])} of 9 events hooked")
    lines.append(f"store    {report['store'] or 'does not open (see below)'}")
    for c in report["commands"]:
        if c["ms"] is not None:
            state = (
                f"exit {c['exit_code']}; {c['ms']} ms a call (median of {c['warm_calls']} warm "
                f"calls; the first, cold call took {c['cold_ms']} ms)"
            )
        elif c.get("cold_ms") is not None:
            state = f"exit {c['exit_code']} in {c['cold_ms']} ms"
        else:
            state = "does not run"
        lines.append(f"command  {c['command']}\n         {state}")
    lines.extend(f"problem: {p}" for p in report["problems"])
    if not report["problems"]:
        lines.append("ok")
    return "\n".join(lines)


def json_text(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, sort_keys=True)
