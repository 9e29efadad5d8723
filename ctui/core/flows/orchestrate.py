"""`ctui run GOAL -w N`: a leader plans, workers run the tasks as threads.

A leader thread (no worktree) answers the planning template with a JSON task
list; the plan is validated and queued in one transaction. Then N worker
instances claim tasks through `c.tasks` and run each as a thread in its own
worktree. A dependent task's worktree starts from the branch of the task it
waited on, so it sees that work. Every run has a per-task timeout; a failed or
timed-out task goes back to the queue until its attempts run out. Progress is
reported through a callback, so the CLI decides how it looks.

Budgets and limits: the run's threads share a `run_group` (the run id), so a
`--budget-usd` cap counts all of them; past any cap (run, day) nothing new
starts and the run ends with the rest of its tasks left open. A thread paused
on a usage limit keeps its slot and is resumed at the reset, and no new
thread of that agent starts meanwhile. `unfinished(c, goal)` finds an earlier
run of the same goal with open tasks, so `ctui run` again continues it
instead of planning from scratch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctui.core.errors import Conflict, CtuiError, NotFound, UsageError
from ctui.core.fmt import money
from ctui.core.tasks import plan_parse
from ctui.core.threads import budget as budget_mod
from ctui.core.threads import limits
from ctui.core.threads.agents import RunStats, check_profile

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator
    from ctui.core.threads import Thread

Report = Callable[[str], None]
FINAL = ("done", "failed", "cancelled")


@dataclass
class Slot:
    worker: str
    task_id: str | None = None
    thread: str | None = None
    started: float = 0.0


@dataclass
class Outcome:
    """What `run` returns: one row per task plus totals."""

    run: str
    tasks: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float = 0.0
    merged: dict[str, Any] | None = None
    """With `--merge`: the merge queue's verdict on each worker's thread."""
    over_budget: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.tasks) and all(t["status"] == "done" for t in self.tasks)


def answer_text(log: str) -> str:
    """The agent's answer: the stream-json `result`, else its plain output."""
    stats = RunStats()
    for line in log.splitlines():
        stats.feed(line)
    if stats.result is not None:
        return stats.result
    return "\n".join(ln for ln in log.splitlines() if not ln.startswith("[ctui] "))


class Orchestrator:
    def __init__(
        self,
        c: Coordinator,
        *,
        workers: int = 3,
        agent: str = "claude",
        command: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        poll: float = 0.2,
        report: Report | None = None,
        merge: bool = False,
        budget: dict[str, float] | None = None,
    ) -> None:
        if workers < 1 or workers > 32:
            raise UsageError("-w takes 1 to 32 workers")
        check_profile(agent, "automatic", command)
        self.c = c
        self.workers = workers
        self.agent = agent
        self.command = command
        self.timeout = timeout
        self.max_attempts = None if retries is None else retries + 1
        self.poll = poll
        self.report = report or (lambda _line: None)
        self.run_id = self._fresh_run_id()
        self.branches: dict[str, str] = {}
        self.threads: dict[str, list[str]] = {}
        self.merge = merge
        self.onto = c.worktrees.current_branch() if merge else None
        self.queued: list[str] = []
        self.budget = budget
        self.over: budget_mod.Crossing | None = None
        self.held_until: float | None = None

    def _record(self, goal: str, task_ids: list[str] | None = None) -> None:
        """This run's row: its goal, tasks and caps (read by the supervisors of its threads)."""
        import json

        with self.c.store.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO orchestrator_runs(id, goal, budget, created_at) "
                "VALUES (?, ?, ?, ?)",
                (self.run_id, goal, json.dumps(self.budget) if self.budget else None, self.c.now()),
            )
            if task_ids is not None:
                conn.execute(
                    "UPDATE orchestrator_runs SET tasks = ? WHERE id = ?",
                    (json.dumps(task_ids), self.run_id),
                )

    def _blocked(self) -> bool:
        """Whether a cap (this run's, the day's) is reached; said once."""
        if self.over is None:
            self.over = budget_mod.blocked(self.c, group=self.run_id)
            if self.over is not None:
                self.report(f"{self.over} reached: starting nothing new")
        return self.over is not None

    def _held(self) -> bool:
        """Whether this agent kind waits for a usage limit's reset; said once per hold."""
        until = limits.held(self.c).get(self.agent)
        if until is not None and until != self.held_until:
            from ctui.core.clock import iso

            self.report(f"{self.agent} is at its usage limit: new starts wait until {iso(until)}")
        self.held_until = until
        return until is not None

    def _fresh_run_id(self) -> str:
        """`runN`, skipping numbers whose threads or `ctui/runN-*` branches already exist."""
        try:
            branches = [h.name for h in self.c.worktrees.repo().heads]
        except CtuiError:
            branches = []
        names = [t.name for t in self.c.threads.list()]
        while True:
            with self.c.store.write() as conn:
                run_id = f"run{self.c.store.next_counter(conn, 'orchestrator-run')}"
            prefix = f"{run_id}-"
            if not any(n.startswith(prefix) for n in names) and not any(
                b.startswith(f"ctui/{prefix}") for b in branches
            ):
                return run_id

    def plan(self, goal: str, *, timeout: float | None = None) -> list[plan_parse.Planned]:
        """Ask a leader thread for the plan and validate it (nothing is queued yet)."""
        name = f"{self.run_id}-leader"
        self._record(goal)
        if self._blocked():
            raise CtuiError(f"{self.over} reached: no planning (raise the cap to go on)")
        self.c.threads.create(
            name,
            agent=self.agent,
            command=self.command,
            template="planner",
            context={"goal": goal, "workers": str(self.workers)},
            worktree=False,
            start=True,
            run_group=self.run_id,
        )
        self.report(f"leader {name} planning")
        t = self.c.threads.wait(name, timeout=timeout or self.timeout)
        while t.status == "paused" and t.resume_at is not None:
            from ctui.core.clock import iso

            self.report(f"the leader is at its usage limit: resuming at {iso(t.resume_at)}")
            while self.c.now() < t.resume_at:
                time.sleep(self.poll)
            self.c.threads.resume(name)
            t = self.c.threads.wait(name, timeout=timeout or self.timeout)
        if t.is_active:
            self.c.threads.stop(name, grace=2.0)
            raise CtuiError(f"the leader did not answer within {timeout or self.timeout}s")
        if t.status != "completed":
            raise CtuiError(
                f"the leader {t.status}: {t.error or 'no answer'} (see `ctui thread logs {name}`)"
            )
        tasks = plan_parse.parse(plan_parse.extract(answer_text(self.c.threads.logs(name, tail=0))))
        self.report(f"plan: {len(tasks)} task(s)")
        return tasks

    def run(
        self, goal: str, tasks: list[plan_parse.Planned], *, resume: list[str] | None = None
    ) -> Outcome:
        """Queue `tasks` (or continue the open tasks `resume` of an earlier run) and run them."""
        self.goal = goal
        if resume is not None:
            self.c.cleanup()  # an earlier orchestrator that died leaves claims to requeue
            for task in self.c.tasks.list():
                if task.id in resume and task.status == "failed":
                    self.c.tasks.retry(task.id, by="orchestrator")
            self.mine = list(resume)
            self.report(f"resuming {', '.join(self.mine)}")
        else:
            ids = plan_parse.queue(
                self.c, tasks, created_by="operator", max_attempts=self.max_attempts
            )
            self.mine = list(ids.values())
            self.report(f"queued {', '.join(self.mine)}")
        self._record(goal, self.mine)
        slots = [
            Slot(
                self.c.instances.register(
                    role=f"{self.run_id}-worker-{i + 1}", pid=os.getpid(), task=goal[:200]
                ).id
            )
            for i in range(self.workers)
        ]
        try:
            self._loop(slots)
        finally:
            for slot in slots:
                if slot.thread is not None:
                    self._stop(slot, "the orchestrator stopped")
                self.c.instances.unregister(slot.worker, reason="run finished")
        outcome = self._outcome()
        if self.merge:
            outcome.merged = self.land()
        return outcome

    def _loop(self, slots: list[Slot]) -> None:
        beat = 0.0
        while True:
            if time.monotonic() - beat > 5:
                for slot in slots:
                    self.c.instances.heartbeat(slot.worker)
                    self.c.tasks.renew(slot.worker)
                beat = time.monotonic()
            for slot in slots:
                if slot.thread is not None:
                    self._check(slot)
            for slot in slots:
                if slot.thread is None and not self._assign(slot):
                    break
            if all(s.thread is None for s in slots) and self.over is not None:
                return  # past a cap: the open tasks stay for a later `ctui run` of this goal
            if all(s.thread is None for s in slots) and not self._open(("available", "claimed")):
                self._cancel_stuck()
                return
            time.sleep(self.poll)

    def _open(self, statuses: tuple[str, ...]) -> list[Any]:
        return [t for t in self.c.tasks.list() if t.id in self.mine and t.status in statuses]

    def _assign(self, slot: Slot) -> bool:
        if self._held() or self._blocked():
            return False
        for task in sorted(self._open(("available",)), key=lambda t: (t.priority, t.id)):
            try:
                task = self.c.tasks.claim(slot.worker, task.id)
            except (Conflict, NotFound):
                continue
            name = f"{self.run_id}-{task.id}-{task.attempts}"
            base = next(
                (self.branches[d] for d in reversed(task.depends_on) if d in self.branches), None
            )
            if base and self.merge:
                try:
                    self.c.worktrees.check_base(base)
                except UsageError:  # the dependency already landed, and its branch is gone
                    base = self.onto
            try:
                self.c.threads.create(
                    name,
                    agent=self.agent,
                    command=self.command,
                    template="worker",
                    base=base,
                    task_id=task.id,
                    context={
                        "goal": self.goal,
                        "task": task.description,
                        "task_id": task.id,
                        "files": task.files or ["(none given)"],
                        "hints": task.hints or ["(none)"],
                    },
                    start=True,
                    run_group=self.run_id,
                )
            except CtuiError as exc:
                self.c.tasks.fail(
                    task.id, slot.worker, reason=f"could not start a thread: {exc.message}"
                )
                self.report(f"{task.id} could not start: {exc.message}")
                continue
            slot.task_id, slot.thread, slot.started = task.id, name, time.monotonic()
            self.threads.setdefault(task.id, []).append(name)
            self.report(f"{task.id} → {name} (attempt {task.attempts}/{task.max_attempts})")
            return True
        return False

    def _check(self, slot: Slot) -> None:
        assert slot.thread is not None and slot.task_id is not None
        t = self.c.threads.get(slot.thread)
        if t.status == "paused":
            if t.resume_at is not None and self.c.now() >= t.resume_at:
                try:
                    self.c.threads.resume(t.name)
                    slot.started = time.monotonic()
                    self.report(f"{slot.task_id}: resumed {t.name} after its usage limit")
                except CtuiError as exc:
                    self._fail(slot, f"could not resume after the usage limit: {exc.message}")
                    slot.task_id = slot.thread = None
            return
        if t.is_active:
            if self.timeout is not None and time.monotonic() - slot.started > self.timeout:
                self._stop(slot, f"timed out after {self.timeout:g}s")
            return
        if t.status == "completed":
            self.branches[slot.task_id] = t.branch or ""
            self.c.tasks.complete(
                slot.task_id,
                slot.worker,
                result=_short(answer_text(self.c.threads.logs(t.name, tail=0))),
            )
            self.report(f"{slot.task_id} done ({t.name}, {money(t.cost_usd)})")
            if self.merge:
                self._enqueue(t.name)
        else:
            self._fail(slot, t.error or f"the thread {t.status}")
        slot.task_id = slot.thread = None

    def _enqueue(self, name: str) -> None:
        """`--merge`: the finished thread enters the merge queue, landing on the run's base."""
        try:
            entry = self.c.merge.add([name], by=self.run_id, onto=self.onto)[0]
        except CtuiError as exc:
            self.report(f"{name} not queued for merging: {exc.message}")
            return
        self.queued.append(name)
        self.report(f"{name} queued for merging (#{entry.id} onto {entry.base})")

    def land(self) -> dict[str, Any]:
        """`--merge`: run the queue until this run's entries are decided; say what landed."""
        if self.queued:
            self.c.merge.run(wait=3600.0, report=self.report)
        verdicts = {n: self.c.merge.get(n) for n in self.queued}
        landed = [n for n, e in verdicts.items() if e.status == "landed"]
        sent_back = [
            {"thread": n, "status": e.status, "reason": e.reason}
            for n, e in verdicts.items()
            if e.status != "landed"
        ]
        self.report(
            f"merge: {len(landed)}/{len(self.queued)} landed on {self.onto}"
            + "".join(f"; {s['thread']} {s['status']}" for s in sent_back)
        )
        return {"onto": self.onto, "landed": landed, "sent_back": sent_back}

    def _stop(self, slot: Slot, reason: str) -> None:
        assert slot.thread is not None
        try:
            self.c.threads.stop(
                slot.thread, grace=min(self.c.config.stop_grace, 5.0), by="orchestrator"
            )
        except NotFound:
            pass
        self._fail(slot, reason)
        slot.task_id = slot.thread = None

    def _fail(self, slot: Slot, reason: str) -> None:
        assert slot.task_id is not None
        try:
            task = self.c.tasks.fail(slot.task_id, slot.worker, reason=reason)
        except CtuiError as exc:
            self.report(f"{slot.task_id}: {exc.message}")
            return
        again = "will retry" if task.status == "available" else "no attempts left"
        self.report(f"{slot.task_id} failed ({slot.thread}): {reason}; {again}")

    def _cancel_stuck(self) -> None:
        for task in self._open(("pending",)):
            try:
                self.c.tasks.cancel(task.id, by="orchestrator")
                self.report(f"{task.id} cancelled: a task it depends on did not finish")
            except CtuiError:
                pass

    def _outcome(self) -> Outcome:
        out = Outcome(self.run_id, over_budget=str(self.over) if self.over else None)
        now = self.c.now()
        for task in self.c.tasks.list():
            if task.id not in self.mine:
                continue
            names = self.threads.get(task.id, [])
            runs: list[Thread] = [self.c.threads.get(n) for n in names]
            cost = sum(t.cost_usd for t in runs)
            out.cost_usd += cost
            out.tasks.append(
                {
                    "id": task.id,
                    "description": task.description,
                    "status": task.status,
                    "attempts": task.attempts,
                    "threads": names,
                    "cost_usd": round(cost, 6),
                    "runtime": round(sum(t.runtime(now) or 0 for t in runs), 1),
                    "error": task.error,
                    "branch": runs[-1].branch if runs else None,
                }
            )
        leader = f"{self.run_id}-leader"
        try:
            out.cost_usd += self.c.threads.get(leader).cost_usd
        except NotFound:
            pass
        return out


def unfinished(c: Coordinator, goal: str) -> list[str] | None:
    """The open tasks of the latest earlier `ctui run` of `goal` (None: nothing to continue)."""
    import json

    row = c.store.conn.execute(
        "SELECT tasks FROM orchestrator_runs WHERE goal = ? AND tasks != '[]' "
        "ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (goal,),
    ).fetchone()
    if row is None:
        return None
    ids = json.loads(row["tasks"])
    open_ids = [
        t.id for t in c.tasks.list() if t.id in ids and t.status not in ("done", "cancelled")
    ]
    return open_ids or None


def load_tasks_file(path: str) -> list[plan_parse.Planned]:
    import json

    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return plan_parse.parse(doc)


def _short(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"
