"""Leases: grants, conflicts, globs, TTLs, tokens, SHA-1 verification, force-release."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import Conflict, LeaseExpired, LeaseHeld, NotFound, StaleInstance, UsageError
from ctui.core.leases import ABSENT, file_sha1
from tests.conftest import git
from tests.support import FakeClock, dump

pytestmark = pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL


@pytest.fixture
def two(clocked: Coordinator) -> tuple[str, str]:
    a = clocked.instances.register(role="alpha", task="auth", ttl=3600).id
    b = clocked.instances.register(role="beta", ttl=3600).id
    return a, b


def test_acquire_is_exclusive_and_names_the_holder(
    clocked: Coordinator, two: tuple[str, str]
) -> None:
    a, b = two
    lease = clocked.leases.acquire("src/app.py", instance=a, intent="refactor", ttl=60)
    assert (lease.path, lease.holder, lease.intent, lease.ttl) == ("src/app.py", a, "refactor", 60)
    assert lease.to_dict()["token"] == lease.token
    with pytest.raises(LeaseHeld) as info:
        clocked.leases.acquire("src/app.py", instance=b)
    assert info.value.exit_code == 10
    assert (
        a in info.value.message
        and "refactor" in info.value.message
        and "auth" in info.value.message
    )
    assert clocked.leases.held_by_other("src/app.py", b).holder == a
    assert clocked.leases.held_by_other("src/app.py", a) is None


def test_reacquire_by_the_holder_renews_with_the_same_token(
    clocked: Coordinator, clock: FakeClock, two: tuple[str, str]
) -> None:
    a, _ = two
    first = clocked.leases.acquire("src/app.py", instance=a, ttl=60)
    clock.advance(30)
    again = clocked.leases.acquire("src/app.py", instance=a, ttl=60)
    assert again.token == first.token
    assert again.expires_at == clock.now + 60
    assert [e.kind for e in clocked.events.since(0)].count("lease.acquired") == 1


def test_globs_conflict_with_paths_and_overlapping_globs(
    clocked: Coordinator, two: tuple[str, str]
) -> None:
    a, b = two
    clocked.leases.acquire("src/*.py", instance=a)
    for path in ("src/app.py", "src/**", "**/*.py", "src/*.py"):
        with pytest.raises(LeaseHeld):
            clocked.leases.acquire(path, instance=b)
    clocked.leases.acquire("src/sub/deep.py", instance=b)  # `*` stays inside one folder
    clocked.leases.acquire("docs/**", instance=b)
    clocked.leases.acquire("README.md", instance=b)
    with pytest.raises(LeaseHeld, match="overlaps"):
        clocked.leases.acquire("docs/*.md", instance=a)
    assert clocked.leases.check("src/new.py").path == "src/*.py"


def test_a_path_under_a_held_glob_or_a_glob_over_a_held_path(
    clocked: Coordinator, two: tuple[str, str]
) -> None:
    a, b = two
    clocked.leases.acquire("backend/api.py", instance=a)
    with pytest.raises(LeaseHeld):
        clocked.leases.acquire("backend/**", instance=b)
    clocked.leases.acquire("frontend/**", instance=b)


def test_absolute_and_worktree_paths_lease_one_key(
    clocked: Coordinator, repo: Path, tmp_path: Path, two: tuple[str, str]
) -> None:
    a, b = two
    tree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(tree))
    fresh = Coordinator.open(tree, clock=clocked.clock)  # from the linked worktree
    assert fresh.store.path == repo / ".ctui"
    fresh.leases.acquire(str(tree / "src" / "app.py"), instance=a)
    with pytest.raises(LeaseHeld):
        clocked.leases.acquire(str(repo / "src" / "app.py"), instance=b)
    with pytest.raises(LeaseHeld):
        clocked.leases.acquire("app.py", instance=b, cwd=tree / "src")
    fresh.close()


def test_expiry_frees_the_path_and_tokens_only_grow(
    clocked: Coordinator, clock: FakeClock, two: tuple[str, str]
) -> None:
    a, b = two
    first = clocked.leases.acquire("src/app.py", instance=a, ttl=10)
    clock.advance(10)
    assert clocked.leases.check("src/app.py") is None
    with pytest.raises(LeaseExpired) as info:
        clocked.leases.renew("src/app.py", instance=a)
    assert info.value.exit_code == 11
    second = clocked.leases.acquire("src/app.py", instance=b, ttl=10)
    assert second.token > first.token
    kinds = [e.kind for e in clocked.events.since(0)]
    assert kinds[-2:] == ["lease.expired", "lease.acquired"]
    with pytest.raises(LeaseHeld):
        clocked.leases.release("src/app.py", instance=a)
    clocked.leases.release("src/app.py", instance=b)
    third = clocked.leases.acquire("src/app.py", instance=a)
    assert third.token > second.token


def test_renew_and_release_need_your_own_lease(
    clocked: Coordinator, clock: FakeClock, two: tuple[str, str]
) -> None:
    a, b = two
    clocked.leases.acquire("src/app.py", instance=a, ttl=20)
    clock.advance(15)
    renewed = clocked.leases.renew("src/app.py", instance=a, ttl=100)
    assert renewed.expires_at == clock.now + 100 and renewed.ttl == 100
    with pytest.raises(LeaseHeld):
        clocked.leases.renew("src/app.py", instance=b)
    with pytest.raises(NotFound) as info:
        clocked.leases.release("README.md", instance=a)
    assert info.value.exit_code == 4
    assert clocked.leases.release("src/app.py", instance=a).holder == a
    assert clocked.leases.list() == []


def test_sha1_recorded_and_verify_catches_foreign_edits(
    clocked: Coordinator, repo: Path, two: tuple[str, str]
) -> None:
    a, _ = two
    app = repo / "src" / "app.py"
    lease = clocked.leases.acquire("src/app.py", instance=a)
    assert lease.sha1 == file_sha1(app) and len(lease.sha1 or "") == 40
    assert clocked.leases.verify("src/app.py", instance=a).path == "src/app.py"
    app.write_text("print('mine')\n")
    assert clocked.leases.record_edit("src/app.py", instance=a).sha1 == file_sha1(app)
    clocked.leases.verify("src/app.py", instance=a)
    app.write_text("print('someone else')\n")
    with pytest.raises(Conflict) as info:
        clocked.leases.verify("src/app.py", instance=a)
    assert info.value.exit_code == 12
    assert clocked.events.since(0)[-1].kind == "lease.conflict"
    new = clocked.leases.acquire("src/new.py", instance=a)
    assert new.sha1 == ABSENT
    (repo / "src" / "new.py").write_text("x")
    with pytest.raises(Conflict):
        clocked.leases.verify("src/new.py", instance=a)
    with pytest.raises(UsageError):
        clocked.leases.verify("src/*.py", instance=a)


def test_sha1_follows_the_holders_own_worktree_copy(
    clocked: Coordinator, repo: Path, tmp_path: Path, two: tuple[str, str]
) -> None:
    """A session in a linked worktree edits its own copy: that is the file hashed and verified."""
    a, _ = two
    tree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(tree))
    mine = tree / "src" / "app.py"
    mine.write_text("print('worktree copy')\n")
    lease = clocked.leases.acquire(str(mine), instance=a)
    assert lease.sha1 == file_sha1(mine) != file_sha1(repo / "src" / "app.py")
    clocked.leases.verify(str(mine), instance=a)
    mine.write_text("print('my edit')\n")
    assert clocked.leases.record_edit(str(mine), instance=a).sha1 == file_sha1(mine)
    clocked.leases.verify(str(mine), instance=a)
    mine.write_text("print('someone else')\n")
    with pytest.raises(Conflict):
        clocked.leases.verify(str(mine), instance=a)


def test_force_release_needs_the_operator_and_a_reason(
    clocked: Coordinator, two: tuple[str, str]
) -> None:
    a, b = two
    clocked.leases.acquire("src/app.py", instance=a)
    with pytest.raises(UsageError, match="operator"):
        clocked.leases.force_release("src/app.py", reason="mine now", by=b)
    with pytest.raises(UsageError, match="reason"):
        clocked.leases.force_release("src/app.py", reason="  ")
    forced = clocked.leases.force_release("src/app.py", reason="agent is stuck")
    assert forced.holder == a
    event = clocked.events.since(0)[-1]
    assert (event.kind, event.actor, event.data["holder"], event.data["reason"]) == (
        "lease.forced",
        "operator",
        a,
        "agent is stuck",
    )
    with pytest.raises(NotFound):
        clocked.leases.force_release("src/app.py", reason="again")
    clocked.leases.acquire("src/app.py", instance=b)


def test_bad_requests_change_nothing(clocked: Coordinator, two: tuple[str, str]) -> None:
    a, _ = two
    clocked.leases.acquire("README.md", instance=a)
    before = dump(clocked.store)
    bad = [
        ({"path": ""}, UsageError),
        ({"path": "/etc/hosts"}, UsageError),
        ({"path": "src/[x"}, UsageError),
        ({"path": "src/a.py", "ttl": 0}, UsageError),
        ({"path": "src/a.py", "ttl": -1}, UsageError),
        ({"path": "src/a.py", "ttl": float("nan")}, UsageError),
        ({"path": "src/a.py", "ttl": 10**9}, UsageError),
        ({"path": "src/a.py", "wait": -1}, UsageError),
        ({"path": "src/a.py", "instance": "ghost"}, NotFound),
    ]
    for kw, error in bad:
        args = {"instance": a, **kw}
        path = args.pop("path")
        with pytest.raises(error):
            clocked.leases.acquire(path, **args)
    assert dump(clocked.store) == before


def test_stale_acquirer_is_refused_and_dead_holder_is_reaped(
    clocked: Coordinator, clock: FakeClock
) -> None:
    a = clocked.instances.register(role="a", ttl=60).id
    b = clocked.instances.register(role="b", ttl=600).id
    clocked.leases.acquire("src/app.py", instance=a, ttl=500)
    clock.advance(61)
    with pytest.raises(StaleInstance):
        clocked.leases.acquire("README.md", instance=a)
    lease = clocked.leases.acquire("src/app.py", instance=b)
    assert lease.holder == b
    assert "instance.stale" in [e.kind for e in clocked.events.since(0)]


def test_cleanup_removes_expired_leases(
    clocked: Coordinator, clock: FakeClock, two: tuple[str, str]
) -> None:
    a, b = two
    clocked.leases.acquire("src/app.py", instance=a, ttl=5)
    clocked.leases.acquire("README.md", instance=b, ttl=500)
    clock.advance(6)
    assert [lease.path for lease in clocked.leases.list(include_expired=True)] == [
        "README.md",
        "src/app.py",
    ]
    assert clocked.cleanup()["leases_expired"] == 1
    assert [lease.path for lease in clocked.leases.list(include_expired=True)] == ["README.md"]


def test_a_folder_lease_covers_its_files(clocked: Coordinator, two: tuple[str, str]) -> None:
    a, b = two
    assert clocked.leases.acquire("src", instance=a).path == "src/**"
    assert clocked.leases.acquire("src/", instance=a).path == "src/**"  # the same lease, renewed
    with pytest.raises(LeaseHeld):
        clocked.leases.acquire("src/app.py", instance=b)


def test_a_trailing_slash_means_a_folder_even_before_it_exists(
    clocked: Coordinator, two: tuple[str, str]
) -> None:
    a, b = two
    assert clocked.leases.acquire("newpkg/", instance=a).path == "newpkg/**"
    with pytest.raises(LeaseHeld):
        clocked.leases.acquire("newpkg/mod.py", instance=b)
