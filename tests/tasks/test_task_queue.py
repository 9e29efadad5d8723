"""The task queue in the core: states, priorities, dependencies, claims and their leases."""

from __future__ import annotations

import pytest

from ctui.core import Coordinator
from ctui.core.errors import Conflict, NotFound, StaleInstance, UsageError
from tests.support import FakeClock
from tests.tasks.support import fingerprint

pytestmark = pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL


def worker(c: Coordinator, name: str = "w1", ttl: float | None = None) -> str:
    return c.instances.register(instance_id=name, role="worker", ttl=ttl).id


def kinds(c: Coordinator, prefix: str = "task.") -> list[str]:
    return [e.kind for e in c.events.since(0, limit=10_000) if e.kind.startswith(prefix)]


def test_add_gives_counter_ids_and_context(tc: Coordinator) -> None:
    a = tc.tasks.add("Create User model", priority=1, files=["src/user.py"], hints="use pydantic")
    b = tc.tasks.add("Login endpoint", priority=2, depends_on=[a.id])
    assert (a.id, b.id) == ("task-0001", "task-0002")
    assert (a.status, b.status) == ("available", "pending")
    assert a.files == ["src/user.py"] and a.hints == ["use pydantic"]
    assert b.depends_on == [a.id]
    d = a.to_dict()
    assert d["created_at"].endswith("Z") and d["context"] == {
        "files": ["src/user.py"],
        "hints": ["use pydantic"],
    }
    assert kinds(tc) == ["task.added", "task.added"]


def test_claim_takes_best_priority_then_oldest(tc: Coordinator) -> None:
    w = worker(tc)
    tc.tasks.add("late low", priority=5)
    first = tc.tasks.add("urgent", priority=1)
    tc.tasks.add("urgent too", priority=1)
    got = [tc.tasks.claim(w).id for _ in range(3)]
    assert got == [first.id, "task-0003", "task-0001"]
    with pytest.raises(NotFound, match="no task available"):
        tc.tasks.claim(w)


def test_claim_on_empty_queue_says_how_to_fill_it(tc: Coordinator) -> None:
    with pytest.raises(NotFound, match="queue is empty") as exc:
        tc.tasks.claim("operator")
    assert exc.value.exit_code == 4


def test_named_claim_and_its_refusals(tc: Coordinator) -> None:
    w, v = worker(tc), worker(tc, "w2")
    a = tc.tasks.add("a")
    b = tc.tasks.add("b", depends_on=[a.id])
    with pytest.raises(Conflict, match=f"waiting on {a.id}"):
        tc.tasks.claim(w, b.id)
    assert tc.tasks.claim(w, a.id).claimed_by == w
    assert tc.tasks.claim(w, a.id).attempts == 1  # claiming again renews, no second attempt
    with pytest.raises(Conflict, match="already claimed by w1"):
        tc.tasks.claim(v, a.id)
    with pytest.raises(NotFound):
        tc.tasks.claim(w, "task-9999")


def test_dependencies_release_in_order(tc: Coordinator) -> None:
    w = worker(tc)
    a = tc.tasks.add("a")
    b = tc.tasks.add("b")
    c = tc.tasks.add("c", depends_on=[a.id, b.id], priority=1)
    tc.tasks.complete(tc.tasks.claim(w, a.id).id, w, "ok")
    assert tc.tasks.get(c.id).status == "pending"
    tc.tasks.complete(tc.tasks.claim(w, b.id).id, w)
    assert tc.tasks.get(c.id).status == "available"
    assert "task.available" in kinds(tc)
    assert tc.tasks.get(a.id).result == "ok" and tc.tasks.get(a.id).done_at is not None


def test_only_the_claimant_completes_or_fails(tc: Coordinator) -> None:
    w, v = worker(tc), worker(tc, "w2")
    t = tc.tasks.add("t")
    with pytest.raises(Conflict, match="not claimed: claim it first"):
        tc.tasks.complete(t.id, w)
    tc.tasks.claim(w)
    before = fingerprint(tc.store)
    with pytest.raises(Conflict, match="claimed by w1, not w2: only the claimant can complete it"):
        tc.tasks.complete(t.id, v, "stolen")
    with pytest.raises(Conflict, match="only the claimant can fail it"):
        tc.tasks.fail(t.id, v)
    assert fingerprint(tc.store) == before
    tc.tasks.complete(t.id, w)
    with pytest.raises(Conflict, match="already done"):
        tc.tasks.complete(t.id, w)


def test_fail_requeues_until_attempts_run_out_then_retry(tc: Coordinator) -> None:
    w = worker(tc)
    t = tc.tasks.add("flaky", max_attempts=2)
    tc.tasks.claim(w)
    again = tc.tasks.fail(t.id, w, "tests red")
    assert (again.status, again.error, again.claimed_by) == ("available", "tests red", None)
    tc.tasks.claim(w)
    final = tc.tasks.fail(t.id, w, "still red")
    assert (final.status, final.attempts) == ("failed", 2)
    with pytest.raises(NotFound):
        tc.tasks.claim(w)
    with pytest.raises(Conflict, match="only a failed task"):
        tc.tasks.retry(tc.tasks.add("other").id)
    fresh = tc.tasks.retry(t.id)
    assert (fresh.status, fresh.attempts) == ("available", 0)
    assert kinds(tc).count("task.failed") == 2 and "task.retried" in kinds(tc)


def test_claim_lease_expires_and_requeues(tc: Coordinator, clock: FakeClock) -> None:
    w, v = worker(tc, ttl=1e6), worker(tc, "w2", ttl=1e6)
    t = tc.tasks.add("slow")
    claimed = tc.tasks.claim(w)
    assert claimed.claim_expires_at == pytest.approx(clock.now + tc.config.task_claim_ttl)
    clock.advance(tc.config.task_claim_ttl - 1)
    with pytest.raises(NotFound):
        tc.tasks.claim(v)
    clock.advance(2)
    assert tc.tasks.claim(v).id == t.id
    assert "task.requeued" in kinds(tc)
    with pytest.raises(Conflict, match="claimed by w2"):
        tc.tasks.complete(t.id, w)


def test_renew_pushes_the_claim_out(tc: Coordinator, clock: FakeClock) -> None:
    w = worker(tc)
    t = tc.tasks.add("long")
    tc.tasks.claim(w)
    clock.advance(1000)
    [renewed] = tc.tasks.renew(w)
    assert renewed.claim_expires_at == pytest.approx(clock.now + tc.config.task_claim_ttl)
    assert tc.tasks.renew(w, t.id)[0].id == t.id


def test_cleanup_requeues_expired_claims(tc: Coordinator, clock: FakeClock) -> None:
    w = worker(tc, ttl=1e6)
    t = tc.tasks.add("t")
    tc.tasks.claim(w)
    clock.advance(tc.config.task_claim_ttl + 1)
    result = tc.cleanup()
    assert result["task_claims_expired"] == 1
    assert tc.tasks.get(t.id).status == "available"


def test_unregister_and_reaping_requeue_claims(tc: Coordinator, clock: FakeClock) -> None:
    a = tc.tasks.add("a")
    b = tc.tasks.add("b")
    w, v = worker(tc), worker(tc, "w2")
    tc.tasks.claim(w, a.id)
    tc.tasks.claim(v, b.id)
    assert tc.instances.unregister(w)["tasks_requeued"] == 1
    assert tc.tasks.get(a.id).status == "available"
    clock.advance(tc.config.instance_ttl + 1)
    with pytest.raises(StaleInstance):
        tc.tasks.claim(v)
    fresh = worker(tc, "w3")  # registering reaps w2
    assert tc.tasks.get(b.id).status == "available"
    assert tc.tasks.claim(fresh).id == a.id


def test_claim_reaps_dead_claimants_when_nothing_is_free(tc: Coordinator) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        doomed = tc.instances.register(instance_id="doomed", role="worker", pid=proc.pid).id
        t = tc.tasks.add("t")
        tc.tasks.claim(doomed)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert tc.tasks.claim(worker(tc)).id == t.id


def test_cancel_cascades_to_tasks_that_can_never_run(tc: Coordinator) -> None:
    a = tc.tasks.add("a")
    b = tc.tasks.add("b", depends_on=[a.id])
    c = tc.tasks.add("c", depends_on=[b.id])
    d = tc.tasks.add("d")
    cancelled = tc.tasks.cancel(a.id)
    assert cancelled.status == "cancelled"
    assert [tc.tasks.get(x.id).status for x in (b, c, d)] == ["cancelled", "cancelled", "available"]
    assert kinds(tc).count("task.cancelled") == 3
    with pytest.raises(Conflict, match="already cancelled"):
        tc.tasks.cancel(a.id)
    with pytest.raises(Conflict, match="cancelled, so this task could never run"):
        tc.tasks.add("e", depends_on=[a.id])


def test_cancel_takes_a_claim_away(tc: Coordinator) -> None:
    w = worker(tc)
    t = tc.tasks.add("t")
    tc.tasks.claim(w)
    assert tc.tasks.cancel(t.id, by="operator").claimed_by is None
    with pytest.raises(Conflict, match="already cancelled"):
        tc.tasks.complete(t.id, w)


def test_depend_refuses_cycles_and_unknown_ids(tc: Coordinator) -> None:
    a = tc.tasks.add("a")
    b = tc.tasks.add("b", depends_on=[a.id])
    c = tc.tasks.add("c", depends_on=[b.id])
    before = fingerprint(tc.store)
    with pytest.raises(UsageError, match="dependency cycle"):
        tc.tasks.depend(a.id, [c.id])
    with pytest.raises(UsageError, match="dependency cycle"):
        tc.tasks.depend(a.id, [a.id])
    with pytest.raises(NotFound):
        tc.tasks.depend(a.id, ["task-0404"])
    assert fingerprint(tc.store) == before
    d = tc.tasks.add("d")
    assert tc.tasks.depend(d.id, [c.id]).status == "pending"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"priority": 0}, UsageError, "bad priority 0"),
        ({"priority": 11}, UsageError, "bad priority 11"),
        ({"priority": True}, UsageError, "bad priority"),
        ({"depends_on": ["task-0404"]}, NotFound, "unknown dependency 'task-0404'"),
        ({"max_attempts": 0}, UsageError, "bad max attempts"),
        ({"description": "   "}, UsageError, "needs a description"),
        ({"created_by": "ghost"}, NotFound, "no instance 'ghost'"),
    ],
)
def test_bad_input_leaves_the_store_unchanged(
    tc: Coordinator, kwargs: dict[str, object], error: type[Exception], text: str
) -> None:
    tc.tasks.add("existing")
    before = fingerprint(tc.store)
    args = {"description": "new task", **kwargs}
    with pytest.raises(error, match=text):
        tc.tasks.add(**args)  # type: ignore[arg-type]
    assert fingerprint(tc.store) == before


def test_unknown_ids_are_not_found(tc: Coordinator) -> None:
    for call in (
        lambda: tc.tasks.get("task-0404"),
        lambda: tc.tasks.complete("task-0404", "operator"),
        lambda: tc.tasks.fail("task-0404", "operator"),
        lambda: tc.tasks.cancel("task-0404"),
        lambda: tc.tasks.retry("task-0404"),
    ):
        with pytest.raises(NotFound, match="no task 'task-0404'"):
            call()


def test_counts_list_and_status_snapshot(tc: Coordinator) -> None:
    w = worker(tc)
    a = tc.tasks.add("a")
    tc.tasks.add("b", depends_on=[a.id])
    tc.tasks.claim(w)
    assert tc.tasks.counts() == {
        "pending": 1,
        "available": 0,
        "claimed": 1,
        "done": 0,
        "failed": 0,
        "cancelled": 0,
    }
    assert [t.id for t in tc.tasks.list("open")] == ["task-0001", "task-0002"]
    assert tc.tasks.list("done") == []
    with pytest.raises(UsageError, match="bad status"):
        tc.tasks.list("finished")
    snap = tc.snapshot()
    assert [t["id"] for t in snap["tasks"]] == ["task-0001", "task-0002"]
    assert snap["tasks"][0]["claimed_by"] == w


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's query plan
def test_claim_query_walks_the_queue_index(tc: Coordinator, backend: str) -> None:
    from ctui.core.tasks import BEST_QUERY

    plan = tc.store.conn.execute(f"EXPLAIN QUERY PLAN {BEST_QUERY}").fetchall()
    detail = " ".join(row["detail"] for row in plan)
    assert "INDEX tasks_queue (status=?)" in detail
    assert "TEMP B-TREE" not in detail


def test_plan_lives_in_meta(tc: Coordinator) -> None:
    assert tc.tasks.plan() is None
    plan = tc.tasks.set_plan("Build a REST API", "1. models\n2. routes")
    assert tc.tasks.plan() == plan
    assert plan.to_dict()["goal"] == "Build a REST API"
    with pytest.raises(UsageError, match="needs a goal"):
        tc.tasks.set_plan("  ")
    rows = dict(
        tc.store.conn.execute("SELECT key, value FROM meta WHERE key LIKE 'plan.%'").fetchall()
    )
    assert rows["plan.goal"] == "Build a REST API"
