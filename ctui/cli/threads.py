"""`ctui spawn` and `ctui thread create | start | resume | stop | block | unblock | list | status
| logs`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, Formatter, Group, json_arg, leaf, positive, table
from ctui.core import private
from ctui.core.clock import ago
from ctui.core.errors import CtuiError
from ctui.core.fmt import duration, money
from ctui.core.threads.model import STATUSES

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
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument(
        "--again", action="store_true", help="run a completed, failed or stopped thread again"
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the agent and exit with its exit status"
    )
    p = g.command(
        "resume",
        resume,
        "continue a paused, failed, stopped or ended thread's session as a new run",
        epilog="The agent gets `--resume SESSION` and the prompt (default: continue), in the same "
        "worktree. A thread paused on a usage limit is resumed by `ctui serve` at the reset.",
    )
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument("--prompt", "-p", metavar="TEXT", help="what to tell the session (continue)")
    p.add_argument(
        "--budget-usd", type=positive(), metavar="USD", help="a new cost cap for the thread"
    )
    p.add_argument(
        "--budget-tokens", type=positive(int), metavar="N", help="a new token cap for the thread"
    )
    p.add_argument(
        "--wait", action="store_true", help="wait for the agent and exit with its exit status"
    )
    p = g.command(
        "stop",
        stop,
        "stop a thread: SIGTERM to its process group, SIGKILL after [threads] stop_grace "
        "(from another host, the stop is written on its row and its supervisor obeys it)",
    )
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument(
        "--grace", type=positive(), metavar="S", help="seconds between SIGTERM and SIGKILL"
    )
    p = g.command("block", block, "hold a ready thread back (`ctui serve` starts only ready ones)")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument("--reason", help="why, shown in its status")
    p = g.command("unblock", unblock, "make a blocked thread ready again")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p = g.command("rm", remove, "delete a thread that is not running, with its worktree and branch")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument("--force", action="store_true", help="even if its worktree has unmerged work")
    p = g.command("list", list_cmd, "threads, oldest first")
    p.add_argument("status", nargs="?", choices=STATUSES, help="only threads with this status")
    p = g.command("status", status, "one thread in detail (run, cost, tokens, gate results)")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p = g.command("logs", logs, "a thread's agent output")
    p.add_argument("name", help="the thread's name (`ctui thread list`)")
    p.add_argument(
        "--tail", type=int, default=200, metavar="N", help="last N lines (0: all; default 200)"
    )
    p.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep printing until the run ends (with --json: one JSON object per line; "
        "while connected it polls the server's API, so it works from any machine)",
    )
    p.add_argument("--raw", action="store_true", help="the agent's stream-json lines as written")


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
    p.add_argument(
        "--budget-usd",
        type=positive(),
        metavar="USD",
        help="stop the agent once this thread has cost this much (default [budget] thread_usd)",
    )
    p.add_argument(
        "--budget-tokens",
        type=positive(int),
        metavar="N",
        help="stop it past N tokens, input + output (default [budget] thread_tokens)",
    )


def _create(ctx: Ctx, start: bool = False) -> Any:
    from ctui.core.threads.budget import parse_caps

    a = ctx.args
    caps = parse_caps(a.budget_usd, a.budget_tokens)
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
        **({"budget": caps} if caps else {}),
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


def resume(ctx: Ctx) -> int:
    from ctui.core.threads.budget import parse_caps

    a = ctx.args
    caps = parse_caps(a.budget_usd, a.budget_tokens)
    t = ctx.coord.threads.resume(a.name, prompt=a.prompt, **({"budget": caps} if caps else {}))
    return _after_start(ctx, t)


LAUNCH_WATCH_S = 20.0


def _after_start(ctx: Ctx, t: Any) -> int:
    t = _watch_launch(ctx, t)
    if not getattr(ctx.args, "wait", False):
        ctx.emit(t.to_dict(), t.name)
        return 0
    t = ctx.coord.threads.wait(t.name)
    ctx.emit(t.to_dict(), lambda: _summary(t))
    if t.status == "completed":
        return 0
    return t.exit_code if t.exit_code else 1


def _watch_launch(ctx: Ctx, t: Any) -> Any:
    """Wait until the agent process exists (or the run ended); a failed launch is an error.

    The supervisor starts detached, so `spawn` would otherwise print the name
    and exit 0 while the run fails a moment later (no such binary, no tmux).
    A run that ends before its agent started is a launch failure: one line on
    stderr, exit 1. An agent that started and then failed is the run's business
    (`--wait` reports it).
    """
    deadline = time.monotonic() + LAUNCH_WATCH_S
    while t.status in ("running", "waiting") and t.agent_pid is None:
        if time.monotonic() >= deadline:
            print(
                f"ctui: {t.name}: the agent has not started after {LAUNCH_WATCH_S:.0f}s; "
                f"`ctui thread status {t.name}` shows how it goes",
                file=sys.stderr,
            )
            return t
        time.sleep(0.05)
        t = ctx.coord.threads.get(t.name)
    if t.status == "failed" and t.agent_pid is None:
        message = f"{t.name}: the launch failed: {t.error or 'see its log'}"
        raise CtuiError(message, thread=t.to_dict())
    return t


def _summary(t: Any) -> str:
    line = f"{t.name}  {t.status}  exit {t.exit_code if t.exit_code is not None else '-'}"
    line += f"  {t.turns} turns  {money(t.cost_usd)}  {_tokens(t)}"
    return line + (f"\n{t.error}" if t.error and t.status != "completed" else "")


def _tokens(t: Any) -> str:
    """The four token figures as one phrase (input, output, cache creation, cache read)."""
    return (
        f"tokens {t.tokens_in} in / {t.tokens_out} out / "
        f"{getattr(t, 'tokens_cache_creation', 0) or 0} cache write / "
        f"{getattr(t, 'tokens_cache_read', 0) or 0} cache read"
    )


def _error(t: Any, width: int = 48) -> str:
    """A failed or stopped thread's error, cut to fit a table cell ("-" when none)."""
    if t.status == "completed" or not t.error:
        return "-"
    flat = " ".join(str(t.error).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def stop(ctx: Ctx) -> int:
    from ctui.core import hostid

    t = ctx.coord.threads.stop(ctx.args.name, grace=ctx.args.grace, by=ctx.actor)
    data = t.to_dict()
    home = data.get("host_id")
    if home and home != hostid.local() and data.get("stop_requested_at"):
        where = f"{home} ({data.get('host')})" if data.get("host") else home
        text = f"stop requested; thread {t.name} runs on host {where}, its supervisor stops it"
    else:
        text = f"{t.name}  stopped"
    ctx.emit(data, text)
    return 0


def remove(ctx: Ctx) -> int:
    result = ctx.coord.threads.remove(ctx.args.name, force=ctx.args.force)
    extra = f" and {result['worktree_removed']}" if result["worktree_removed"] else ""
    ctx.emit(result, f"removed {result['name']}{extra}")
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
            ["NAME", "STATUS", "MODE", "AGENT", "RUNTIME", "COST", "TURNS", "BRANCH", "ERROR"],
            [
                [
                    t.name,
                    t.status,
                    t.mode,
                    t.agent,
                    ago(t.runtime(now)) if t.started_at else "-",
                    _cost(t),
                    t.turns,
                    t.branch or "-",
                    _error(t),
                ]
                for t in found
            ],
            empty="(no threads)"
            if ctx.args.status
            else "(no threads: `ctui spawn NAME --prompt TEXT`)",
        ),
    )
    return 0


def _cost(t: Any) -> str:
    """The cost, with the thread's own cap when it has one (`$0.1234/$2.00`)."""
    caps = getattr(t, "budget", None)  # a remote thread has it as a dict, or not at all
    if isinstance(caps, str):
        import json

        caps = json.loads(caps)
    cap = (caps or {}).get("usd")
    return money(t.cost_usd) + (f"/{money(cap)}" if cap else "")


def status(ctx: Ctx) -> int:
    c = ctx.coord
    t = c.threads.get(ctx.args.name)
    data = t.to_dict(c.now())
    if getattr(c, "remote", False) is not True:
        from ctui.core.threads import runs

        data["runs"] = runs.listed(c, t.name)
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
    "tokens_cache_creation",
    "tokens_cache_read",
    "api_error_status",
    "runtime",
    "started_at",
    "ended_at",
    "host",
    "host_id",
    "supervisor_pid",
    "agent_pid",
    "instance_id",
    "task_id",
    "log_path",
    "resume_at",
    "port_base",
    "budget",
    "run_group",
]


def _details(d: dict[str, Any]) -> str:
    d = {**d, "prompt": _first_line(d.get("prompt")), "cost_usd": money(d.get("cost_usd"))}
    if isinstance(d.get("runtime"), int | float):
        d["runtime"] = duration(d["runtime"])
    keys = DETAIL_KEYS
    lines = [f"{k:<15} {d[k]}" for k in keys if d.get(k) not in (None, "")]
    for it in d.get("gate") or []:
        mark = "passed" if it["passed"] else "FAILED"
        token = ", token seen" if it.get("token") else ""
        lines.append(
            f"gate #{it['iteration']:<9} {mark}{token}  "
            + ", ".join(f"{r['command']} → {r['exit_code']}" for r in it["results"])
        )
    for r in d.get("runs") or []:
        how = f"resumes {r['resumes']}" if r["resumes"] else "new session"
        end = f", exit {r['exit_code']}" if r["exit_code"] is not None else ""
        lines.append(
            f"run #{r['run']:<10} {r['status']}{end}  {how}  {money(r['cost_usd'])}  "
            f"{r['tokens']} tokens  {r['started_at']}" + (f"  {r['error']}" if r["error"] else "")
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
    if getattr(c, "remote", False) is True:
        return _follow_api(c, a.name, a.tail, show)
    t = c.threads.get(a.name)
    path = Path(t.log_path or c.threads.log_path(a.name))
    for line in text.splitlines():
        show(line)
    offset = path.stat().st_size if path.exists() else 0
    pending = b""
    while True:
        if path.exists() and path.stat().st_size > offset:
            with private.open_read(path) as fh:
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


FOLLOW_POLL = 0.5


def _follow_api(c: Any, name: str, tail: int, show: Any) -> int:
    """Follow a log through the server's API: the last lines, then what comes after them.

    The log file is on the server's machine; each answer names the byte offset
    to ask from next, so nothing is shown twice or skipped. Ends (0) once the
    thread has stopped running and its log is read to the end.
    """
    first = c.threads.log_chunk(name, tail=tail)
    lines = first["lines"][:-1] if first.get("partial") else first["lines"]
    for line in lines:  # a line still being written comes whole in a later answer
        show(line)
    offset = first["next_offset"]
    while True:
        got = c.threads.log_chunk(name, offset=offset)
        for line in got["lines"]:
            show(line)
        offset = got["next_offset"]
        if got.get("more"):
            continue
        if not got["active"]:
            return 0
        time.sleep(FOLLOW_POLL)


def _shower(ctx: Ctx) -> Any:
    """Print one log line: raw with --raw, `{"name", "line"}` with --json (JSON lines
    while following), else stream-json made readable."""
    import json

    from ctui.core.threads.agents import pretty

    raw = ctx.args.raw

    def show(line: str) -> None:
        if ctx.json:
            print(json.dumps({"name": ctx.args.name, "line": line}), flush=True)
            return
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
