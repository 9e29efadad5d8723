"""`ctui spawn`, `ctui thread ...`, `ctui worktree ...`, `ctui conflicts` and `ctui attach`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, Formatter, Group, json_arg, leaf, positive, table
from ctui.core.clock import ago

STATUSES = ("created", "ready", "running", "waiting", "blocked", "completed", "failed", "stopped")


SPAWN_EXAMPLES = """examples:
  ctui spawn fix-login -t fixer --context '{"problem": "login returns 500"}' --wait
  ctui spawn epic-7a -t developer --context '{"task": "the billing page"}' --worktree-base dev
  ctui spawn docs --no-worktree --agent command --command "./agent.sh {prompt}" -p 'fix typos'"""


class _Examples(argparse.RawDescriptionHelpFormatter, Formatter):
    """Keeps the epilog's example lines as written."""


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "spawn",
        spawn,
        "create a thread and start its agent (in its own worktree by default)",
        epilog=SPAWN_EXAMPLES,
        formatter_class=_Examples,
    )
    _thread_options(p)
    p.add_argument(
        "--wait", action="store_true", help="wait for the agent and exit with its exit status"
    )
    g = Group(sub, "thread", "threads: named agent runs, each in its own git worktree")
    p = g.command("create", create, "create a ready thread without starting it")
    _thread_options(p)
    p = g.command("start", start, "start a ready thread (exactly once, even if several start it)")
    p.add_argument("name")
    p.add_argument(
        "--again", action="store_true", help="run a completed, failed or stopped thread again"
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the agent and exit with its exit status"
    )
    p = g.command(
        "stop",
        stop,
        "stop a thread: SIGTERM to its process group, SIGKILL after [threads] stop_grace",
    )
    p.add_argument("name")
    p.add_argument(
        "--grace", type=positive(), metavar="S", help="seconds between SIGTERM and SIGKILL"
    )
    p = g.command("block", block, "hold a ready thread back (`ctui serve` starts only ready ones)")
    p.add_argument("name")
    p.add_argument("--reason", help="why, shown in its status")
    p = g.command("unblock", unblock, "make a blocked thread ready again")
    p.add_argument("name")
    p = g.command("list", list_cmd, "threads, oldest first")
    p.add_argument("status", nargs="?", choices=STATUSES, help="only threads with this status")
    p = g.command("status", status, "one thread in detail (run, cost, tokens, gate results)")
    p.add_argument("name")
    p = g.command("logs", logs, "a thread's agent output")
    p.add_argument("name")
    p.add_argument(
        "--tail", type=int, default=200, metavar="N", help="last N lines (0: all; default 200)"
    )
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the run ends")
    p.add_argument("--raw", action="store_true", help="the agent's stream-json lines as written")
    w = Group(sub, "worktree", "the git worktrees ctui made for threads (.ctui/worktrees/)")
    w.command("list", wt_list, "worktrees with branch, thread, dirty flag, ahead/behind their base")
    p = w.command("cleanup", wt_cleanup, "remove worktrees of threads that are not running")
    p.add_argument(
        "--force", action="store_true", help="also remove ones with uncommitted or unmerged work"
    )
    p = w.command("diff", wt_diff, "what a worktree changed against its base (diff --stat)")
    p.add_argument("name")
    leaf(
        sub,
        "conflicts",
        conflicts,
        "files changed in two worktrees, or in a worktree under another's lease",
        epilog="Exit codes: 0 none found, 12 conflicts found.",
    )
    p = leaf(sub, "attach", attach, "attach to an interactive thread's tmux session")
    p.add_argument("name")


def _thread_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="a slug: lowercase letters, digits, '-', '_'")
    p.add_argument(
        "--template",
        "-t",
        metavar="F",
        help="prompt template: a file, .ctui/templates/F, or a built-in (developer, fixer)",
    )
    p.add_argument(
        "--prompt", "-p", metavar="TEXT", help="the prompt (added after the template, if both)"
    )
    p.add_argument(
        "--context", type=json_arg, metavar="JSON", help="values for the template's {{var}} slots"
    )
    p.add_argument(
        "--mode",
        "-m",
        default="automatic",
        choices=("automatic", "semi-auto", "interactive"),
        help="automatic runs unattended; semi-auto accepts edits only; interactive runs in tmux",
    )
    p.add_argument(
        "--agent", default="claude", choices=("claude", "codex", "command"), help="agent profile"
    )
    p.add_argument(
        "--command", metavar="ARGV", help="for --agent command: an argv, {prompt} is filled in"
    )
    wt = p.add_mutually_exclusive_group()
    wt.add_argument(
        "--worktree",
        "-w",
        dest="worktree",
        action="store_true",
        default=True,
        help="run in .ctui/worktrees/NAME on branch ctui/NAME (default)",
    )
    wt.add_argument(
        "--no-worktree", dest="worktree", action="store_false", help="run in the repository itself"
    )
    p.add_argument(
        "--worktree-base",
        metavar="B",
        help="branch or commit to start from (default: current branch)",
    )


def _create(ctx: Ctx, start: bool = False) -> Any:
    a = ctx.args
    return ctx.coord.threads.create(
        a.name,
        mode=a.mode,
        agent=a.agent,
        template=a.template,
        prompt=a.prompt,
        context=a.context,
        command=a.command,
        worktree=a.worktree,
        base=a.worktree_base,
        start=start,
    )


def create(ctx: Ctx) -> int:
    t = _create(ctx)
    ctx.emit(t.to_dict(), t.name)
    return 0


def spawn(ctx: Ctx) -> int:
    return _after_start(ctx, _create(ctx, start=True))


def start(ctx: Ctx) -> int:
    t = ctx.coord.threads.start(ctx.args.name, again=ctx.args.again)
    return _after_start(ctx, t)


def _after_start(ctx: Ctx, t: Any) -> int:
    if not getattr(ctx.args, "wait", False):
        ctx.emit(t.to_dict(), t.name)
        return 0
    t = ctx.coord.threads.wait(t.name)
    ctx.emit(t.to_dict(), lambda: _summary(t))
    if t.status == "completed":
        return 0
    return t.exit_code if t.exit_code else 1


def _summary(t: Any) -> str:
    line = f"{t.name}  {t.status}  exit {t.exit_code if t.exit_code is not None else '-'}"
    line += f"  {t.turns} turns  ${t.cost_usd:.4f}  {t.tokens_in + t.tokens_out} tokens"
    return line + (f"\n{t.error}" if t.error and t.status != "completed" else "")


def stop(ctx: Ctx) -> int:
    t = ctx.coord.threads.stop(ctx.args.name, grace=ctx.args.grace, by=ctx.actor)
    ctx.emit(t.to_dict(), f"{t.name}  stopped")
    return 0


def block(ctx: Ctx) -> int:
    t = ctx.coord.threads.set_blocked(ctx.args.name, True, reason=ctx.args.reason)
    ctx.emit(t.to_dict(), f"{t.name}  blocked")
    return 0


def unblock(ctx: Ctx) -> int:
    t = ctx.coord.threads.set_blocked(ctx.args.name, False)
    ctx.emit(t.to_dict(), f"{t.name}  ready")
    return 0


def list_cmd(ctx: Ctx) -> int:
    c = ctx.coord
    found = c.threads.list(ctx.args.status)
    now = c.now()
    ctx.emit(
        [t.to_dict(now) for t in found],
        lambda: table(
            ["NAME", "STATUS", "MODE", "AGENT", "RUNTIME", "COST", "TURNS", "BRANCH"],
            [
                [
                    t.name,
                    t.status,
                    t.mode,
                    t.agent,
                    ago(t.runtime(now)) if t.started_at else "-",
                    f"${t.cost_usd:.4f}",
                    t.turns,
                    t.branch or "-",
                ]
                for t in found
            ],
            empty="(no threads)"
            if ctx.args.status
            else "(no threads: `ctui spawn NAME --prompt TEXT`)",
        ),
    )
    return 0


def status(ctx: Ctx) -> int:
    c = ctx.coord
    t = c.threads.get(ctx.args.name)
    data = t.to_dict(c.now())
    ctx.emit(data, lambda: _details(data))
    return 0


DETAIL_KEYS = [
    "name",
    "status",
    "mode",
    "agent",
    "template",
    "prompt",
    "run_id",
    "worktree",
    "branch",
    "base",
    "exit_code",
    "error",
    "session_id",
    "turns",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "runtime",
    "started_at",
    "ended_at",
    "supervisor_pid",
    "agent_pid",
    "instance_id",
    "task_id",
    "log_path",
]


def _details(d: dict[str, Any]) -> str:
    d = {**d, "prompt": _first_line(d.get("prompt"))}
    keys = DETAIL_KEYS
    lines = [f"{k:<15} {d[k]}" for k in keys if d.get(k) not in (None, "")]
    for it in d.get("gate") or []:
        mark = "passed" if it["passed"] else "FAILED"
        token = ", token seen" if it.get("token") else ""
        lines.append(
            f"gate #{it['iteration']:<9} {mark}{token}  "
            + ", ".join(f"{r['command']} → {r['exit_code']}" for r in it["results"])
        )
    return "\n".join(lines)


def _first_line(text: str | None, width: int = 70) -> str | None:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else None
    return line if line is None or len(line) <= width else line[: width - 1] + "…"


def logs(ctx: Ctx) -> int:
    c = ctx.coord
    a = ctx.args
    text = c.threads.logs(a.name, tail=a.tail)
    show = _shower(ctx)
    if not a.follow:
        ctx.emit({"name": a.name, "log": text}, lambda: _shown(text, show) or "(no output yet)")
        return 0
    t = c.threads.get(a.name)
    path = Path(t.log_path or c.threads.log_path(a.name))
    for line in text.splitlines():
        show(line)
    offset = path.stat().st_size if path.exists() else 0
    pending = b""
    while True:
        if path.exists() and path.stat().st_size > offset:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                show(raw.decode("utf-8", "replace"))
        elif not c.threads.get(a.name).is_active:
            if pending:
                show(pending.decode("utf-8", "replace"))
            return 0
        else:
            time.sleep(0.2)


def _shower(ctx: Ctx) -> Any:
    """Print one log line: raw with --raw or --json, else stream-json made readable."""
    from ctui.core.agents import pretty

    raw = ctx.json or ctx.args.raw

    def show(line: str) -> None:
        out = line if raw else pretty(line)
        if out is not None:
            print(out, flush=True)

    return show


def _shown(text: str, show: Any) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        for line in text.splitlines():
            show(line)
    return buf.getvalue().rstrip("\n")


def wt_list(ctx: Ctx) -> int:
    from ctui.core.worktrees import Worktrees

    found = Worktrees(ctx.coord).list()
    ctx.emit(
        [w.to_dict() for w in found],
        lambda: table(
            ["NAME", "BRANCH", "BASE", "THREAD", "DIRTY", "AHEAD", "BEHIND"],
            [
                [
                    w.name,
                    w.branch or "-",
                    w.base,
                    f"{w.thread} ({w.thread_status})" if w.thread else "-",
                    "yes" if w.dirty else "no",
                    w.ahead,
                    w.behind,
                ]
                for w in found
            ],
            empty="(no worktrees)",
        ),
    )
    return 0


def wt_cleanup(ctx: Ctx) -> int:
    from ctui.core.worktrees import Worktrees

    result = Worktrees(ctx.coord).cleanup(force=ctx.args.force)
    lines = [f"removed {n}" for n in result["removed"]] + [
        f"kept {k['name']}: {k['reason']}" for k in result["kept"]
    ]
    ctx.emit(result, "\n".join(lines) or "nothing to clean up")
    return 0


def wt_diff(ctx: Ctx) -> int:
    from ctui.core.worktrees import Worktrees

    info = Worktrees(ctx.coord).get(ctx.args.name)
    text = Worktrees(ctx.coord).diff(ctx.args.name)
    ctx.emit(
        {"name": info.name, "base": info.base, "stat": text},
        text or f"no changes against {info.base}",
    )
    return 0


def conflicts(ctx: Ctx) -> int:
    from ctui.core import radar
    from ctui.core.errors import CONFLICT

    found = radar.scan(ctx.coord)
    lines = [f"{o['path']}  changed in {', '.join(o['worktrees'])}" for o in found["overlaps"]]
    lines += [
        f"{x['path']}  changed in {x['worktree']} while leased by {x['holder']}"
        for x in found["leased"]
    ]
    ctx.emit(found, "\n".join(lines) or "no conflicts")
    return CONFLICT if lines else 0


def attach(ctx: Ctx) -> int:
    import os

    from ctui.core import tmux
    from ctui.core.errors import NotFound, UsageError

    t = ctx.coord.threads.get(ctx.args.name)
    if t.mode != "interactive":
        raise UsageError(
            f"thread {t.name!r} is {t.mode}, not interactive: `ctui thread logs {t.name} -f`"
        )
    if not tmux.alive(t.name):
        raise NotFound(f"thread {t.name!r} has no tmux session (it is {t.status})")
    os.execvp("tmux", ["tmux", "attach-session", "-t", tmux.session(t.name)])
    return 0
