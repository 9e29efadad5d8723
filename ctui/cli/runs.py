"""`ctui run GOAL -w N` (leader plans, workers run tasks in worktrees) and `ctui loop NAME`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ctui.cli.common import Ctx, Formatter, json_arg, leaf, positive, table
from ctui.core.fmt import duration, money


class _Examples(argparse.RawDescriptionHelpFormatter, Formatter):
    """Keeps the epilog's example lines as written."""


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "run",
        run,
        "a leader agent plans tasks for GOAL; N workers run them as threads in worktrees",
        epilog="examples:\n  ctui run 'Build a login page' -w 3\n"
        "  ctui run 'Build API' --no-plan --tasks tasks.json --timeout 1800",
        formatter_class=_Examples,
    )
    p.add_argument("goal", help="what the team should build")
    p.add_argument(
        "-w", "--workers", type=positive(int), default=3, metavar="N", help="parallel workers (3)"
    )
    p.add_argument(
        "--no-plan", action="store_true", help="skip the leader; take the tasks from --tasks"
    )
    p.add_argument(
        "--tasks",
        metavar="FILE",
        help='a JSON plan: {"tasks": [{"id", "description", '
        '"priority", "depends_on", "files", "hints"}]}',
    )
    p.add_argument(
        "--agent", default="claude", choices=("claude", "codex", "command"), help="agent profile"
    )
    p.add_argument(
        "--command", metavar="ARGV", help="for --agent command: an argv, {prompt} is filled in"
    )
    p.add_argument(
        "--timeout", type=positive(), metavar="S", help="stop a task's run after S seconds"
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        help="runs per task after the first (default from config)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="queue each finished task's thread in the merge queue and land them at the end",
    )
    p.add_argument(
        "--budget-usd",
        type=positive(),
        metavar="USD",
        help="start nothing new once this run's threads cost this much; stop the one crossing it "
        "(default [budget] run_usd)",
    )
    p.add_argument(
        "--budget-tokens",
        type=positive(int),
        metavar="N",
        help="the same for tokens, input + output (default [budget] run_tokens)",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="plan anew even if an earlier run of this goal left tasks open (default: resume them)",
    )
    p = leaf(
        sub,
        "loop",
        loop,
        "run a thread's agent, then the test gate, until done",
        epilog="Set [gate] commands and completion_token in .ctui/config.toml. "
        "Exit 0 when the agent printed the token and the gate passed, 1 at the limit.",
    )
    p.add_argument("name", help="a thread; created from --prompt/--template when it does not exist")
    p.add_argument(
        "--timeout", type=positive(), metavar="S", help="stop an agent run after S seconds"
    )
    p.add_argument("--prompt", "-p", metavar="TEXT", help="the task, for a new thread")
    p.add_argument("--template", "-t", metavar="F", help="a prompt template, for a new thread")
    p.add_argument("--context", type=json_arg, metavar="JSON", help="the template's values")
    p.add_argument("--agent", default="claude", choices=("claude", "codex", "command"))
    p.add_argument("--command", metavar="ARGV", help="for --agent command: {prompt} is filled in")
    p.add_argument(
        "--no-worktree",
        dest="worktree",
        action="store_false",
        default=True,
        help="loop in the repository itself instead of a new worktree",
    )
    p.add_argument(
        "--max-iterations", type=positive(int), default=10, metavar="N", help="limit (10)"
    )
    p.add_argument(
        "--gate-timeout", type=positive(), metavar="S", help="seconds per gate command (900)"
    )


def _reporter(ctx: Ctx) -> Any:
    """Progress lines: on stderr with --json, styled by rich on a terminal, plain otherwise."""
    out = sys.stderr if ctx.json else sys.stdout
    if out.isatty():
        from rich.console import Console

        console = Console(file=out, highlight=False)
        return lambda line: console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {line}")

    def plain(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=out, flush=True)

    return plain


def run(ctx: Ctx) -> int:
    from ctui.core.errors import UsageError
    from ctui.core.flows.orchestrate import Orchestrator, load_tasks_file, unfinished
    from ctui.core.threads.budget import parse_caps

    a = ctx.args
    if a.no_plan and not a.tasks:
        raise UsageError("--no-plan needs --tasks FILE")
    if a.retries is not None and a.retries < 0:
        raise UsageError("--retries takes 0 or more")
    tasks = load_tasks_file(a.tasks) if a.tasks else None
    report = _reporter(ctx)
    orch = Orchestrator(
        ctx.coord,
        workers=a.workers,
        agent=a.agent,
        command=a.command,
        timeout=a.timeout,
        retries=a.retries,
        report=report,
        merge=a.merge,
        budget=parse_caps(a.budget_usd, a.budget_tokens),
    )
    left = None if a.fresh else unfinished(ctx.coord, a.goal)
    if left:
        outcome = orch.run(a.goal, [], resume=left)
    else:
        outcome = orch.run(a.goal, tasks if tasks is not None else orch.plan(a.goal))
    data = {
        "run": outcome.run,
        "ok": outcome.ok,
        "cost_usd": round(outcome.cost_usd, 6),
        "tasks": outcome.tasks,
        "resumed": bool(left),
        "over_budget": outcome.over_budget,
    }
    if outcome.merged is not None:
        data["merged"] = outcome.merged
    if not ctx.json and sys.stdout.isatty():
        _rich_summary(outcome)
    else:
        ctx.emit(data, lambda: _summary(data))
    return 0 if outcome.ok else 1


def _merged(merged: dict[str, Any] | None) -> str:
    if merged is None:
        return ""
    lines = [f"\nlanded: {', '.join(merged['landed']) or '-'}"]
    lines += [f"{s['thread']}: {s['status']}: {s['reason'] or ''}" for s in merged["sent_back"]]
    return "\n".join(lines)


def _rows(tasks: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            t["id"],
            t["status"],
            t["attempts"],
            (t["threads"] or ["-"])[-1],
            duration(t["runtime"]) if t["runtime"] is not None else "-",
            money(t["cost_usd"]),
            _short(t["description"]),
        ]
        for t in tasks
    ]


def _summary(data: dict[str, Any]) -> str:
    head = ["TASK", "STATUS", "ATTEMPTS", "THREAD", "RUNTIME", "COST", "DESCRIPTION"]
    done = sum(1 for t in data["tasks"] if t["status"] == "done")
    over = f" (stopped: {data['over_budget']})" if data.get("over_budget") else ""
    return (
        f"{data['run']}: {done}/{len(data['tasks'])} done, {money(data['cost_usd'])}{over}\n"
        + table(head, _rows(data["tasks"]))
        + _merged(data.get("merged"))
    )


def _rich_summary(outcome: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    done = sum(1 for t in outcome.tasks if t["status"] == "done")
    tab = Table(title=f"{outcome.run}: {done}/{len(outcome.tasks)} done, {money(outcome.cost_usd)}")
    for head in ("task", "status", "attempts", "thread", "runtime", "cost", "description"):
        tab.add_column(head)
    for row in _rows(outcome.tasks):
        style = "green" if row[1] == "done" else "red"
        tab.add_row(*[str(v) for v in row], style=style)
    Console().print(tab)
    if outcome.merged is not None:
        Console().print(_merged(outcome.merged).strip())


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def loop(ctx: Ctx) -> int:
    from ctui.core.flows.loop import loop as run_loop

    a = ctx.args
    c = ctx.coord
    if a.prompt or a.template:
        from ctui.core.errors import NotFound

        try:
            c.threads.get(a.name)
        except NotFound:
            c.threads.create(
                a.name,
                agent=a.agent,
                command=a.command,
                template=a.template,
                prompt=a.prompt,
                context=a.context,
                worktree=a.worktree,
            )
    result = run_loop(
        c,
        a.name,
        max_iterations=a.max_iterations,
        gate_timeout=a.gate_timeout,
        run_timeout=a.timeout,
        report=_reporter(ctx),
    )
    verdict = "done" if result["done"] else "not done"
    ctx.emit(result, f"{a.name}: {verdict} after {result['iterations']} iteration(s)")
    return 0 if result["done"] else 1
