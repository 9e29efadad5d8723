"""Hypothesis drives the queue through random add/claim/complete/fail/cancel/retry/expiry runs.

After every step the store must hold: priorities in 1..10, unique `task-NNNN`
ids, no task ahead of its dependencies, one status per task with the fields
that status implies, attempts within bounds, and nothing open that waits on
a cancelled task. Every claim must take the best available task.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ctui.core import Coordinator
from ctui.core.errors import Conflict, NotFound, UsageError
from ctui.core.tasks import Task
from tests.support import FakeClock, drop_pg_schema, pg_schema_name

WORKERS = ("w1", "w2", "w3")


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="ctui-prop-"))
        self.clock = FakeClock()
        self.c = self.open()
        for name in WORKERS:
            self.c.instances.register(instance_id=name, role="worker", ttl=1e9)

    def open(self) -> Coordinator:
        return Coordinator.open(store_dir=self.folder / ".ctui", clock=self.clock)

    def teardown(self) -> None:
        self.c.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def tasks(self, status: str | None = None) -> list[Task]:
        return self.c.tasks.list(status)

    @rule(
        priority=st.integers(1, 10),
        picks=st.lists(st.integers(0, 10_000), max_size=3),
        attempts=st.integers(1, 3),
    )
    def add(self, priority: int, picks: list[int], attempts: int) -> None:
        usable = [t.id for t in self.tasks() if t.status != "cancelled"]
        deps = sorted({usable[p % len(usable)] for p in picks}) if usable else []
        task = self.c.tasks.add("work", priority=priority, depends_on=deps, max_attempts=attempts)
        assert task.status == (
            "pending" if any(self.c.tasks.get(d).status != "done" for d in deps) else "available"
        )

    @rule(priority=st.one_of(st.integers(max_value=0), st.integers(min_value=11)))
    def add_bad_priority(self, priority: int) -> None:
        before = len(self.tasks())
        with pytest.raises(UsageError):
            self.c.tasks.add("bad", priority=priority)
        assert len(self.tasks()) == before

    @rule(worker=st.sampled_from(WORKERS))
    def claim(self, worker: str) -> None:
        self.c.tasks.expire()
        available = self.tasks("available")
        if not available:
            with pytest.raises(NotFound):
                self.c.tasks.claim(worker)
            return
        best = min(available, key=lambda t: (t.priority, int(t.id.split("-")[1])))
        got = self.c.tasks.claim(worker)
        assert got.id == best.id and got.claimed_by == worker and got.status == "claimed"

    @precondition(lambda self: bool(self.tasks("claimed")))
    @rule(pick=st.integers(0, 1000), ok=st.booleans())
    def finish(self, pick: int, ok: bool) -> None:
        claimed = self.tasks("claimed")
        task = claimed[pick % len(claimed)]
        other = next(w for w in WORKERS if w != task.claimed_by)
        with pytest.raises(Conflict):
            self.c.tasks.complete(task.id, other)
        assert task.claimed_by is not None
        if ok:
            assert self.c.tasks.complete(task.id, task.claimed_by, "ok").status == "done"
        else:
            after = self.c.tasks.fail(task.id, task.claimed_by, "no")
            assert after.status == ("failed" if task.attempts >= task.max_attempts else "available")

    @precondition(lambda self: bool(self.tasks()))
    @rule(pick=st.integers(0, 1000))
    def cancel(self, pick: int) -> None:
        every = self.tasks()
        task = every[pick % len(every)]
        if task.status in ("done", "cancelled"):
            with pytest.raises(Conflict):
                self.c.tasks.cancel(task.id)
        else:
            assert self.c.tasks.cancel(task.id).status == "cancelled"

    @precondition(lambda self: bool(self.tasks("failed")))
    @rule()
    def retry(self) -> None:
        task = self.tasks("failed")[0]
        assert self.c.tasks.retry(task.id).attempts == 0

    @rule(seconds=st.sampled_from([10.0, 1000.0, 2000.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def store_is_consistent(self) -> None:
        every = self.tasks()
        ids = [t.id for t in every]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"task-\d{4,}", i) for i in ids)
        by_id = {t.id: t for t in every}
        assert sum(self.c.tasks.counts().values()) == len(every)
        for t in every:
            assert 1 <= t.priority <= 10
            assert 0 <= t.attempts <= t.max_attempts
            deps = [by_id[d] for d in t.depends_on]
            if t.status in ("available", "claimed", "done"):
                assert all(d.status == "done" for d in deps), t
            if t.status == "pending":
                assert any(d.status != "done" for d in deps), t
            if any(d.status == "cancelled" for d in deps):
                assert t.status in ("cancelled", "failed"), t
            if t.status == "claimed":
                assert t.claimed_by is not None and t.claim_expires_at is not None
            else:
                assert t.claim_expires_at is None
            assert (t.done_at is not None) == (t.status == "done")


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class PgQueueMachine(QueueMachine):
    """The same machine on PostgreSQL: a schema of its own for each example."""

    url = ""

    def open(self) -> Coordinator:
        from ctui.core.store.postgres import PgStore

        self.schema = pg_schema_name()
        store = PgStore.connect(self.folder / ".ctui", self.url, self.schema)
        return Coordinator(store, clock=self.clock)

    def teardown(self) -> None:
        super().teardown()
        drop_pg_schema(self.url, self.schema)


@pytest.mark.postgres
def test_queue_machine_on_postgres(postgres: str) -> None:
    PgQueueMachine.url = postgres
    run_state_machine_as_test(
        PgQueueMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
