"""Simulated agents for `ctui demo`: they use the core API like real agents do.

`seed()` fills a store with a believable moment (four agents in different
states, leases, decisions, a task queue with dependencies, a couple of
threads) and is deterministic for a given clock, so snapshot tests and the
screenshots use it. `Simulation.run()` keeps that store alive from a
background thread: agents heartbeat, change state, lease and release files,
claim and finish tasks, log decisions and now and then spawn a thread running
the fake agent. Refusals (a lease held by another agent) are part of the show.
"""

from __future__ import annotations

import itertools
import random
import sys
import threading
from typing import Any

from ctui.core.errors import CtuiError

AGENTS = (
    ("backend", "Add rate limiting to the login route", "working"),
    ("frontend", "Lay out the cart page", "needs_input"),
    ("tests", "Raise coverage of the cart module", "working"),
    ("reviewer", "Review the auth changes", "idle"),
)
LEASES = (
    ("backend", "src/auth.py", "rate limiter on login", 300),
    ("backend", "src/db/**", "new attempts table", 240),
    ("frontend", "docs/api.md", "document cart routes", 45),
    ("tests", "tests/test_cart.py", "edge cases for totals", 180),
)
DECISIONS = (
    (
        "auth",
        "Rate-limit logins per account, not per IP",
        "Shared NATs made per-IP limits lock out whole offices. "
        "Five attempts per account per minute.",
    ),
    (
        "database",
        "Keep SQLite for the demo shop",
        "One writer is plenty; revisit past 50 writes a second.",
    ),
    (
        "api-design",
        "Cursor pagination on every list route",
        "Offsets skip rows when items are inserted.",
    ),
    (
        "testing",
        "Property tests for money arithmetic",
        "Totals must never lose a cent to float rounding.",
    ),
)
TASKS = (
    ("Add the login_attempts table", 2, ()),
    ("Rate-limit POST /login", 1, (0,)),
    ("Document the cart routes", 5, ()),
    ("Property tests for cart totals", 3, ()),
    ("Release notes for rate limiting", 8, (1,)),
)
FILES = (
    "src/app.py",
    "src/auth.py",
    "src/cart.py",
    "src/db/models.py",
    "tests/test_cart.py",
    "docs/api.md",
    "README.md",
)
TOOLS: tuple[tuple[str | None, str | None], ...] = (
    ("Bash", "pytest -q tests/test_cart.py"),
    ("Edit", "src/cart.py"),
    ("Read", "src/app.py"),
    (None, None),
)
"""What a simulated working agent runs now (None: it is thinking)."""
WORDS = ("cache", "retry", "timeout", "schema", "logging", "config", "pagination", "errors")


def fake_agent_command() -> str:
    """What `CTUI_CLAUDE_BIN` is set to so threads run the fake agent."""
    return f"{sys.executable} -m ctui.demo.fake_agent"


QUESTIONS = (
    "Claude needs your permission to use Bash: npm run build",
    "Claude needs your permission to use Write: src/cart/total.ts",
    "Claude is waiting for your input",
)


def ask(c: Any, instance: str, message: str = QUESTIONS[0]) -> None:
    """Record what a simulated agent asks, as the Notification hook does for a real one."""
    from ctui.core.flows.roster import ASKED

    c.events.publish(
        ASKED,
        actor=instance,
        subject=instance,
        data={"message": message, "type": "permission_prompt"},
    )


def seed(c: Any, *, threads: bool = True, run_threads: bool = False) -> dict[str, str]:
    """Fill `c` with a believable moment; returns role -> instance id."""
    ids: dict[str, str] = {}
    for role, task, _ in AGENTS:
        ids[role] = c.instances.register(role=role, task=task, agent="claude", branch="main").id
    for role, path, intent, ttl in LEASES:
        c.leases.acquire(path, instance=ids[role], intent=intent, ttl=ttl)
    for category, title, text in DECISIONS:
        c.decisions.add(category=category, title=title, description=text, author=ids["reviewer"])
    task_ids: list[str] = []
    for description, priority, deps in TASKS:
        task = c.tasks.add(
            description,
            priority=priority,
            depends_on=[task_ids[d] for d in deps],
            created_by="operator",
        )
        task_ids.append(task.id)
    c.tasks.claim(ids["backend"], task_ids[0])
    c.tasks.claim(ids["tests"], task_ids[3])
    c.tasks.complete(task_ids[0], ids["backend"], result="table and migration added")
    c.tasks.claim(ids["backend"], task_ids[1])
    for role, _, state in AGENTS:
        if state != "idle":
            c.instances.heartbeat(ids[role], state=state)
        if state == "needs_input":
            ask(c, ids[role])
    c.instances.set_tool(ids["backend"], "Edit", "src/auth.py")  # as its PreToolUse hook says
    if threads:
        c.threads.create(
            "fix-cart-total",
            prompt="Fix the rounding in cart totals FAKE_SLEEP=3",
            worktree=False,
            mode="automatic",
        )
        c.threads.create(
            "docs-sweep", prompt="Tidy docs/api.md FAKE_SLEEP=2", worktree=False, mode="semi-auto"
        )
        if run_threads:
            c.threads.start("fix-cart-total")
            c.threads.wait("fix-cart-total", timeout=30)
    return ids


class Simulation:
    """A few simulated agents acting on one store until `stop` is set."""

    def __init__(
        self, c: Any, *, seed_value: int = 7, spawn: bool = True, interval: float = 0.6
    ) -> None:
        self.c = c
        self.rng = random.Random(seed_value)
        self.spawn = spawn
        self.interval = interval
        self.stop = threading.Event()
        self.names = (f"demo-{n}" for n in itertools.count(1))
        self.errors = 0

    def agents(self) -> list[Any]:
        return [i for i in self.c.instances.list() if i.id != "operator"]

    def step(self) -> None:
        """One random move by one agent (and heartbeats for all)."""
        agents = self.agents()
        for inst in agents:
            self.c.instances.heartbeat(inst.id)
        if len(agents) < 3:
            role, task, _ = self.rng.choice(AGENTS)
            self.c.instances.register(role=role, task=task, agent="claude", branch="main")
            return
        me = self.rng.choice(agents)
        move = self.rng.choices(
            ("state", "lease", "release", "decision", "task", "finish", "thread", "end"),
            weights=(4, 6, 4, 1, 2, 2, 2 if self.spawn else 0, 0.3),
        )[0]
        getattr(self, f"_{move}")(me)

    def _state(self, me: Any) -> None:
        state = self.rng.choice(("working", "working", "needs_input", "idle"))
        self.c.instances.set_state(me.id, state)
        if state == "working":
            self.c.instances.set_tool(me.id, *self.rng.choice(TOOLS))
        if state == "needs_input":
            ask(self.c, me.id, self.rng.choice(QUESTIONS))

    def _lease(self, me: Any) -> None:
        path = self.rng.choice(FILES)
        self.c.leases.acquire(
            path,
            instance=me.id,
            intent=f"{self.rng.choice(WORDS)} changes",
            ttl=self.rng.choice((30, 90, 300)),
        )

    def _release(self, me: Any) -> None:
        held = self.c.leases.list(holder=me.id)
        if held:
            self.c.leases.release(self.rng.choice(held).path, instance=me.id)

    def _decision(self, me: Any) -> None:
        word = self.rng.choice(WORDS)
        self.c.decisions.add(
            category=word,
            title=f"Standardise {word} handling",
            author=me.id,
            description=f"Every module handles {word} the same way.",
        )

    def _task(self, me: Any) -> None:
        if len(self.c.tasks.list(status="open")) < 4:
            self.c.tasks.add(
                f"Improve {self.rng.choice(WORDS)} in {self.rng.choice(FILES)}",
                priority=self.rng.randint(1, 9),
                created_by=me.id,
            )
        else:
            self.c.tasks.claim(me.id)

    def _finish(self, me: Any) -> None:
        for task in self.c.tasks.list(status="claimed"):
            if task.claimed_by == me.id:
                self.c.tasks.complete(task.id, me.id, result="done")
                return

    def _thread(self, me: Any) -> None:
        threads = self.c.threads.list()
        active = [t for t in threads if t.status in ("running", "waiting")]
        if len(active) >= 3:
            return
        ready = [t for t in threads if t.status == "ready"]
        if ready:
            self.c.threads.start(ready[0].name)
            return
        name = next(self.names)
        self.c.threads.create(
            name,
            prompt=f"Work on {self.rng.choice(WORDS)} FAKE_SLEEP={self.rng.randint(4, 15)}",
            worktree=self.rng.random() < 0.3,
            mode="automatic",
        )
        self.c.threads.start(name)

    def _end(self, me: Any) -> None:
        self.c.instances.unregister(me.id, reason="session ended")

    def run(self) -> None:
        """Step until stopped; refusals and races are expected and skipped."""
        while not self.stop.wait(self.rng.uniform(self.interval * 0.5, self.interval * 1.5)):
            try:
                self.step()
            except CtuiError:
                self.errors += 1
            except Exception:
                self.errors += 1
                if self.errors > 1000:
                    return

    def start(self) -> threading.Thread:
        worker = threading.Thread(target=self.run, name="ctui-demo-agents", daemon=True)
        worker.start()
        return worker
