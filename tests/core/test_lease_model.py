"""A Hypothesis state machine: the lease table against a tiny model, with time passing.

Several instances acquire, renew, release, heartbeat and lose leases on paths
and globs while a fake clock moves; after every step the store must agree with
the model and no two instances may hold overlapping unexpired leases.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ctui.core import Coordinator
from ctui.core.errors import LeaseExpired, LeaseHeld, NotFound
from ctui.core.leases.globs import overlaps
from tests.support import FakeClock

KEYS = [
    "src/a.py",
    "src/b.py",
    "docs/x.md",
    "src/*.py",
    "src/**",
    "docs/**",
    "**/*.md",
    "src/sub/c.py",
]
INSTANCES = ["w1", "w2", "w3"]
TTLS = [5, 30, 300]


@dataclass
class Held:
    holder: str
    expires_at: float
    ttl: float
    token: int


class LeaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="ctui-model-"))
        self.clock = FakeClock()
        self.c = Coordinator.open(self.tmp, store_dir=self.tmp / ".ctui", clock=self.clock)
        for name in INSTANCES:
            self.c.instances.register(instance_id=name, ttl=10**8)
        self.model: dict[str, Held] = {}
        self.last_token = 0

    def teardown(self) -> None:
        self.c.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def live(self, held: Held) -> bool:
        return held.expires_at > self.clock.now

    def expect_own(self, key: str, who: str) -> type[Exception] | None:
        """The error `renew`/`release` must raise, or None when `who` may act on it."""
        held = self.model.get(key)
        if held is None or (held.holder != who and not self.live(held)):
            return NotFound
        if held.holder != who:
            return LeaseHeld
        return None

    @rule(who=st.sampled_from(INSTANCES), key=st.sampled_from(KEYS), ttl=st.sampled_from(TTLS))
    def acquire(self, who: str, key: str, ttl: float) -> None:
        now = self.clock.now
        held = self.model.get(key)
        blocked = any(
            h.holder != who and self.live(h) and overlaps(key, k) for k, h in self.model.items()
        )
        if held is not None and held.holder == who and self.live(held):
            lease = self.c.leases.acquire(key, instance=who, ttl=ttl)
            assert lease.token == held.token
            self.model[key] = Held(who, now + ttl, ttl, held.token)
        elif blocked:
            try:
                self.c.leases.acquire(key, instance=who, ttl=ttl)
            except LeaseHeld:
                return
            raise AssertionError(f"{who} was granted {key} over a live overlapping lease")
        else:
            lease = self.c.leases.acquire(key, instance=who, ttl=ttl)
            assert lease.token > self.last_token
            self.last_token = lease.token
            self.model[key] = Held(who, now + ttl, ttl, lease.token)

    @rule(who=st.sampled_from(INSTANCES), key=st.sampled_from(KEYS))
    def renew(self, who: str, key: str) -> None:
        error = self.expect_own(key, who)
        held = self.model.get(key)
        if error is None and held is not None and not self.live(held):
            error = LeaseExpired
        try:
            lease = self.c.leases.renew(key, instance=who)
        except (NotFound, LeaseHeld, LeaseExpired) as exc:
            assert type(exc) is error, (type(exc), error)
            return
        assert error is None and held is not None
        held.expires_at = self.clock.now + held.ttl
        assert lease.expires_at == held.expires_at

    @rule(who=st.sampled_from(INSTANCES), key=st.sampled_from(KEYS))
    def release(self, who: str, key: str) -> None:
        error = self.expect_own(key, who)
        try:
            self.c.leases.release(key, instance=who)
        except (NotFound, LeaseHeld) as exc:
            assert type(exc) is error, (type(exc), error)
            return
        assert error is None
        del self.model[key]

    @rule(key=st.sampled_from(KEYS))
    def force_release(self, key: str) -> None:
        try:
            self.c.leases.force_release(key, reason="model test")
        except NotFound:
            assert key not in self.model
            return
        del self.model[key]

    @rule(who=st.sampled_from(INSTANCES))
    def heartbeat(self, who: str) -> None:
        self.c.instances.heartbeat(who)
        for held in self.model.values():
            if held.holder == who and self.live(held):
                held.expires_at = self.clock.now + held.ttl

    @rule(seconds=st.sampled_from([1, 4, 5, 29, 31, 120, 301]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def cleanup(self) -> None:
        expired = [k for k, h in self.model.items() if not self.live(h)]
        assert self.c.cleanup()["leases_expired"] == len(expired)
        for key in expired:
            del self.model[key]

    @invariant()
    def store_matches_model(self) -> None:
        rows = {lease.path: lease for lease in self.c.leases.list(include_expired=True)}
        assert set(rows) == set(self.model)
        for key, held in self.model.items():
            assert (rows[key].holder, rows[key].expires_at, rows[key].token) == (
                held.holder,
                held.expires_at,
                held.token,
            )

    @invariant()
    def no_two_holders_overlap(self) -> None:
        live = self.c.leases.list()
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                assert a.holder == b.holder or not overlaps(a.path, b.path), (a, b)

    @invariant()
    def check_agrees(self) -> None:
        for key in ("src/a.py", "docs/x.md"):
            found = self.c.leases.check(key)
            covering = [k for k, h in self.model.items() if self.live(h) and overlaps(key, k)]
            assert (found is None) == (not covering)
            if found is not None:
                assert found.path in covering


TestLeaseModel = LeaseMachine.TestCase
TestLeaseModel.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
