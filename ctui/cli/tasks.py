"""`ctui task ...`, `ctui plan ...`, `ctui discover ...` and the `leader` / `worker` shorthands.

Every command acts as `ctx.actor` (`--as ID`, `CTUI_INSTANCE_ID`, else the
operator). `task claim` exits 4 when nothing is available, so a worker loop
reads `while t=$(ctui task claim --json); do ...; done`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, Group, positive, table
from ctui.cli.core import _short
from ctui.core.clock import ago, iso
from ctui.core.errors import UsageError
from ctui.core.tasks import STATUSES, Task

PLAN_INIT_HELP = (
    "set the goal (and the master plan text) in the store, not in a file; while connected "
    "(`ctui remote connect`) that is the server's store, whose agents work toward it "
    "(--plan-file is read here); --local sets this repository's own"
)
CLAIM_EPILOG = (
    "Exit codes: 0 claimed, 4 nothing available, 12 not claimable, 13 you are stale. "
    "The claim's attempt number (`attempt` in --json) goes to complete/fail --attempt."
)
ATTEMPT_EPILOG = (
    "Exit codes: 0 ok, 11 the claim of --attempt N ran out (your work was not recorded), "
    "12 not your claim or not claimed, 13 you are stale."
)


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(sub, "task", "the shared task queue: add, claim, complete, fail, cancel, retry")
    p = g.command("add", add, "queue a task and print its id")
    p.add_argument("description", help="what should be done, in a sentence")
    p.add_argument(
        "-p", "--priority", type=int, default=5, help="1 (first) to 10 (last); default 5"
    )
    p.add_argument(
        "-d",
        "--depends-on",
        action="append",
        default=[],
        metavar="ID",
        help="a task that must be done first (repeatable)",
    )
    p.add_argument(
        "--file", action="append", default=[], metavar="PATH", help="a relevant file (repeatable)"
    )
    p.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="TEXT",
        help="advice for the worker (repeatable)",
    )
    p.add_argument(
        "--max-attempts", type=positive(int), metavar="N", help="claims before it fails (default 3)"
    )
    p = g.command("list", list_cmd, "tasks in queue order")
    p.add_argument("--status", choices=("open", *STATUSES), help="only these (open: not finished)")
    p = g.command("show", show, "one task in full")
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    _claim_parser(
        g.command(
            "claim", claim, "claim the best available task (or the named one)", epilog=CLAIM_EPILOG
        )
    )
    _complete_parser(
        g.command("complete", complete, "mark your claimed task done", epilog=ATTEMPT_EPILOG)
    )
    _fail_parser(
        g.command(
            "fail",
            fail,
            "give up your claim: requeued until attempts run out",
            epilog=ATTEMPT_EPILOG,
        )
    )
    p = g.command("cancel", cancel, "cancel a task and every task that waits on it")
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    p = g.command("retry", retry, "give a failed task a fresh set of attempts")
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    p = g.command("depend", depend, "make a task wait for others (refuses cycles)")
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    p.add_argument("on", nargs="+", metavar="DEP", help="the tasks it waits for")
    p = g.command(
        "import",
        import_cmd,
        "import a .coordination/tasks.json task list (the multi-agent coordination system's), "
        "checked whole first (a bad file changes nothing), then written in short batches; "
        "importing again finishes an interrupted one (connected: read here, applied by the server)",
    )
    p.add_argument("file", type=Path, help="the tasks.json file; twice is harmless")

    g = Group(sub, "plan", "the goal and master plan every agent works toward")
    p = g.command("init", plan_init, PLAN_INIT_HELP)
    p.add_argument("goal", help="what every agent works toward, in a sentence")
    p.add_argument(
        "--plan-file", type=Path, metavar="F", help="a file holding the master plan (- for stdin)"
    )
    g.command("show", plan_show, "the goal, the master plan and progress")

    g = Group(sub, "discover", "findings shared between agents")
    p = g.command("add", discover_add, "share a finding")
    p.add_argument("text", help="the finding, in a sentence others can act on")
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p = g.command("list", discover_list, "findings, newest first")
    p.add_argument("--tag", help="only findings with this tag")
    p.add_argument("--instance", metavar="ID", help="only this instance's")
    p.add_argument("--since", type=positive(), metavar="HOURS", help="only the last HOURS hours")
    p.add_argument("--limit", type=positive(int), default=20, help="at most N (default 20)")
    p = g.command("search", discover_search, "findings holding every word")
    p.add_argument("text", nargs="+", help="words to find (all of them)")
    p.add_argument("--limit", type=positive(int), default=20, help="at most N (default 20)")

    g = Group(sub, "leader", "shorthands for a leading agent: set the plan, see progress")
    p = g.command("init", plan_init, "same as `ctui plan init`")
    p.add_argument("goal", help="what every agent works toward, in a sentence")
    p.add_argument(
        "--plan-file", type=Path, metavar="F", help="a file holding the master plan (- for stdin)"
    )
    g.command("status", leader_status, "the plan and a summary of the queue")
    g = Group(
        sub, "worker", "shorthands for a worker: claim, complete, fail, as --as / CTUI_INSTANCE_ID"
    )
    _claim_parser(
        g.command("claim", worker_claim, "same as `ctui task claim`", epilog=CLAIM_EPILOG)
    )
    _complete_parser(g.command("complete", complete, "same as `ctui task complete`"))
    _fail_parser(g.command("fail", fail, "same as `ctui task fail`"))


def _claim_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", nargs="?", help="a task to claim (default: the best available)")


def _complete_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--result", metavar="TEXT", help="what was done")
    how.add_argument(
        "--result-file", type=Path, metavar="F", help="read the result from a file (- for stdin)"
    )
    _attempt_option(p)


def _attempt_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--attempt",
        type=positive(int),
        metavar="N",
        help="the attempt number your claim returned: refused (exit 11) once that claim ran out, "
        "even if the task was claimed again under your id",
    )


def _fail_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a task id, e.g. task-0001 (`ctui task list`)")
    p.add_argument("--reason", metavar="TEXT", help="what went wrong, for the next attempt")
    _attempt_option(p)


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _rows(found: list[Task]) -> str:
    return table(
        ["ID", "STATUS", "PRI", "TRIES", "CLAIMED BY", "DEPENDS ON", "DESCRIPTION"],
        [
            [
                t.id,
                t.status,
                t.priority,
                f"{t.attempts}/{t.max_attempts}",
                t.claimed_by or "-",
                ",".join(t.depends_on) or "-",
                _short(t.description, 60),
            ]
            for t in found
        ],
        empty="(no tasks)",
    )


def _detail(t: Task, now: float) -> str:
    lines = [f"{t.id}  {t.status}  priority {t.priority}  attempts {t.attempts}/{t.max_attempts}"]
    if t.claimed_by:
        when = f" (claim expires in {ago(t.claim_expires_at - now)})" if t.claim_expires_at else ""
        lines.append(f"  claimed by {t.claimed_by}, attempt {t.attempt}{when}")
    if t.depends_on:
        lines.append(f"  depends on {', '.join(t.depends_on)}")
    lines += [f"  file       {f}" for f in t.files] + [f"  hint       {h}" for h in t.hints]
    lines.append(f"  created    {iso(t.created_at)} by {t.created_by}")
    if t.error:
        lines.append(f"  last error {t.error}")
    lines += ["", *("  " + line for line in t.description.splitlines())]
    if t.result:
        lines += ["", "  result:", *("    " + line for line in t.result.splitlines())]
    return "\n".join(lines)


def _one(ctx: Ctx, t: Task, text: str | None = None) -> int:
    ctx.emit(t.to_dict(), text if text is not None else _detail(t, ctx.coord.now()))
    return 0


def add(ctx: Ctx) -> int:
    a = ctx.args
    t = ctx.coord.tasks.add(
        a.description,
        priority=a.priority,
        depends_on=a.depends_on,
        files=a.file,
        hints=a.hint,
        created_by=ctx.actor,
        max_attempts=a.max_attempts,
    )
    return _one(ctx, t, t.id)


def list_cmd(ctx: Ctx) -> int:
    found = ctx.coord.tasks.list(ctx.args.status)
    ctx.emit([t.to_dict() for t in found], lambda: _rows(found))
    return 0


def show(ctx: Ctx) -> int:
    return _one(ctx, ctx.coord.tasks.get(ctx.args.id))


def claim(ctx: Ctx) -> int:
    return _one(ctx, ctx.coord.tasks.claim(ctx.actor, ctx.args.id))


def worker_claim(ctx: Ctx) -> int:
    """`task claim`, with a hint for the habit of naming the worker here (`worker claim NAME`)."""
    from ctui.core.errors import NotFound

    try:
        return claim(ctx)
    except NotFound as exc:
        name = ctx.args.id
        if name is None or name.startswith("task-") or not exc.message.startswith("no task"):
            raise
        raise NotFound(
            f"no task {name!r}: `ctui worker claim` takes a task id (or none for the best one); "
            f"to work as {name!r}, run `ctui instance register --id {name} --role worker` once, "
            f"then `ctui worker claim --as {name}`"
        ) from None


def complete(ctx: Ctx) -> int:
    a = ctx.args
    result = a.result if a.result is not None else _read(a.result_file)
    t = ctx.coord.tasks.complete(a.id, ctx.actor, result, attempt=a.attempt)
    return _one(ctx, t, f"{t.id} done")


def fail(ctx: Ctx) -> int:
    t = ctx.coord.tasks.fail(ctx.args.id, ctx.actor, ctx.args.reason, attempt=ctx.args.attempt)
    again = (
        "requeued" if t.status == "available" else "failed for good (ctui task retry to try again)"
    )
    return _one(ctx, t, f"{t.id} {again} after attempt {t.attempts}/{t.max_attempts}")


def cancel(ctx: Ctx) -> int:
    c = ctx.coord
    cursor = c.events.latest_id()
    t = c.tasks.cancel(ctx.args.id, by=ctx.actor)
    also = [
        e.subject for e in c.events.since(cursor, kinds=["task.cancelled"]) if e.subject != t.id
    ]
    return _one(
        ctx, t, f"{t.id} cancelled" + (f", and waiting on it: {', '.join(also)}" if also else "")
    )


def retry(ctx: Ctx) -> int:
    t = ctx.coord.tasks.retry(ctx.args.id, by=ctx.actor)
    return _one(ctx, t, f"{t.id} {t.status} again")


def depend(ctx: Ctx) -> int:
    t = ctx.coord.tasks.depend(ctx.args.id, ctx.args.on, by=ctx.actor)
    return _one(ctx, t, f"{t.id} depends on {', '.join(t.depends_on)} ({t.status})")


def import_cmd(ctx: Ctx) -> int:
    result = ctx.coord.tasks.import_file(ctx.args.file, by=ctx.actor)
    counts = len(result["imported"]), len(result["skipped"])
    text = "imported {} task(s), skipped {} already present".format(*counts)
    text += "".join(f"\n  {old} -> {new}" for old, new in result["imported"].items())
    if result["plan"]:
        text += "\nset the plan from master-plan.md"
    ctx.emit(result, text)
    return 0


def plan_init(ctx: Ctx) -> int:
    text = _read(ctx.args.plan_file) or ""
    plan = ctx.coord.tasks.set_plan(ctx.args.goal, text, by=ctx.actor)
    ctx.emit(plan.to_dict(), f"plan set: {plan.goal}")
    return 0


def _progress(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    done = counts.get("done", 0)
    bits = "  ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"{done}/{total} done" + (f"  ({bits})" if bits else "")


def _plan_data(ctx: Ctx) -> tuple[dict[str, Any], str]:
    c = ctx.coord
    plan = c.tasks.plan()
    counts = c.tasks.counts()
    data = {"plan": plan.to_dict() if plan else None, "counts": counts}
    if plan is None:
        return (
            data,
            f"no plan yet: set one with `ctui plan init GOAL`\nprogress  {_progress(counts)}",
        )
    lines = [
        f"goal      {plan.goal}",
        f"set       {iso(plan.set_at)} by {plan.set_by}",
        f"progress  {_progress(counts)}",
    ]
    if plan.text:
        lines += ["", *("  " + line for line in plan.text.splitlines())]
    return data, "\n".join(lines)


def plan_show(ctx: Ctx) -> int:
    data, text = _plan_data(ctx)
    ctx.emit(data, text)
    return 0


def leader_status(ctx: Ctx) -> int:
    data, text = _plan_data(ctx)
    open_tasks = ctx.coord.tasks.list("open")
    data["tasks"] = [t.to_dict() for t in open_tasks]
    ctx.emit(data, f"{text}\n\nOPEN TASKS ({len(open_tasks)})\n{_rows(open_tasks)}")
    return 0


def discover_add(ctx: Ctx) -> int:
    d = ctx.coord.discoveries.add(ctx.args.text, instance=ctx.actor, tags=ctx.args.tag)
    from ctui.core.tasks.discoveries import label

    ctx.emit(d.to_dict(), label(d.id))
    return 0


def _discoveries(ctx: Ctx, found: list[Any]) -> int:
    from ctui.core.tasks.discoveries import label

    ctx.emit(
        [d.to_dict() for d in found],
        lambda: table(
            ["ID", "AT", "BY", "TAGS", "TEXT"],
            [
                [
                    label(d.id),
                    iso(d.created_at),
                    d.instance or "-",
                    ",".join(d.tags) or "-",
                    _short(d.text, 70),
                ]
                for d in found
            ],
            empty="(no discoveries)",
        ),
    )
    return 0 if found else 4


def discover_list(ctx: Ctx) -> int:
    a = ctx.args
    c = ctx.coord
    since = c.now() - a.since * 3600 if a.since else None
    found = c.discoveries.list(tag=a.tag, instance=a.instance, since=since, limit=a.limit)
    _discoveries(ctx, found)
    return 0


def discover_search(ctx: Ctx) -> int:
    return _discoveries(
        ctx, ctx.coord.discoveries.search(" ".join(ctx.args.text), limit=ctx.args.limit)
    )
