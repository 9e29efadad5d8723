"""The event log, settings, time helpers and the error-to-exit-code contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ctui.core import Coordinator, errors
from ctui.core.clock import ago, iso
from ctui.core.config import Config
from tests.support import FakeClock


def test_events_since_recent_and_kinds(clocked: Coordinator, clock: FakeClock) -> None:
    me = clocked.instances.register(instance_id="w1")
    clock.advance(1)
    clocked.leases.acquire("README.md", instance=me.id)
    clocked.events.publish("custom.note", actor="w1", subject="x", data={"n": 1})
    all_events = clocked.events.since(0)
    assert [e.kind for e in all_events] == ["instance.registered", "lease.acquired", "custom.note"]
    assert [e.id for e in all_events] == [1, 2, 3] and clocked.events.latest_id() == 3
    assert [e.kind for e in clocked.events.since(1)] == ["lease.acquired", "custom.note"]
    assert [e.kind for e in clocked.events.since(0, kinds=["lease.*"])] == ["lease.acquired"]
    assert [e.kind for e in clocked.events.recent(2)] == ["lease.acquired", "custom.note"]
    note = all_events[-1].to_dict()
    assert note == {
        "id": 3,
        "at": iso(clock.now),
        "kind": "custom.note",
        "actor": "w1",
        "subject": "x",
        "data": {"n": 1},
    }


def test_follow_yields_new_events_until_the_deadline(coord: Coordinator) -> None:
    import time

    coord.events.publish("a")
    seen = [e.kind for e in coord.events.follow(0, poll=0.01, until=time.monotonic() + 0.2)]
    assert seen == ["a"]


def test_heartbeats_and_renewals_are_not_logged(coord: Coordinator) -> None:
    me = coord.instances.register(instance_id="w1")
    coord.leases.acquire("README.md", instance=me.id)
    before = coord.events.latest_id()
    coord.instances.heartbeat(me.id)
    coord.leases.renew("README.md", instance=me.id)
    coord.leases.acquire("README.md", instance=me.id)
    assert coord.events.latest_id() == before


def test_config_defaults_and_overrides(tmp_path: Path) -> None:
    assert Config.load(tmp_path).lease_ttl == 300.0
    (tmp_path / "config.toml").write_text(
        "[leases]\nttl = 60\nrelease = 'release-after-edit'\n"
        "[events]\nkeep = 500\n[gate]\ntimeout = 60\n"
    )
    config = Config.load(tmp_path)
    assert (config.lease_ttl, config.release_policy, config.events_keep) == (
        60.0,
        "release-after-edit",
        500,
    )
    assert config.raw["gate"] == {"timeout": 60} and config.gate_timeout == 60.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[leases\n", "not valid TOML"),
        ("[leases]\nttl = 'long'\n", "must be a number"),
        ("[leases]\nttl = 0\n", "must be a finite number above 0"),
        ("[events]\nkeep = true\n", "must be a whole number"),
        ("[leases]\nrelease = 'never'\n", "release must be"),
        ("leases = 3\n", "must be a table"),
        ("[threads]\nmax_concurrent = 0\n", r"\[threads\] max_concurrent must be .*above 0"),
        ("[gate]\ntimeout = inf\n", r"\[gate\] timeout must be a finite number"),
        ("[gate]\ntimeout = nan\n", r"\[gate\] timeout must be a finite number"),
        ("[gate]\ncommands = ['pytest', 3]\n", r"\[gate\] commands must be a list of non-empty"),
        ("[gate]\ncompletion_token = ' '\n", r"\[gate\] completion_token must not be empty"),
        ("[api]\ntoken = 42\n", r"\[api\] token must be a string"),
        ("[tasks]\nmax_attempts = 2.5\n", r"\[tasks\] max_attempts must be a whole number"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(errors.UsageError, match=match):
        Config.load(tmp_path)


def test_unknown_names_are_warned_about_once_with_the_closest_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text("[lease]\nttl = 60\n[leases]\nrelase = 'hold'\n")
    config = Config.load(tmp_path)
    Config.load(tmp_path)
    assert config.lease_ttl == 300.0  # the misspelt section is not read as [leases]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    section, key = lines
    assert str(tmp_path / "config.toml") in section and str(tmp_path / "config.toml") in key
    assert "unknown section [lease] (did you mean 'leases'?)" in section
    assert "unknown setting [leases] relase (did you mean 'release'?)" in key


def test_a_configured_lease_ttl_is_the_default(repo: Path, clock: FakeClock) -> None:
    (repo / ".ctui").mkdir()
    (repo / ".ctui" / "config.toml").write_text("[leases]\nttl = 42\n")
    c = Coordinator.open(repo, clock=clock)
    assert c.leases.acquire("README.md", instance="operator").expires_at == clock.now + 42
    c.close()


def test_time_helpers() -> None:
    ts = datetime(2026, 11, 21, 5, 36, 10, 900000, tzinfo=UTC).timestamp()
    assert iso(ts) == "2026-11-21T05:36:10Z"
    assert iso(0) == "1970-01-01T00:00:00Z" and iso(None) is None
    assert [ago(s) for s in (-3, 4, 192, 7500, 3 * 86400)] == ["0s", "4s", "3m12s", "2h05m", "3d"]


def test_every_error_carries_its_exit_code() -> None:
    codes = {
        errors.CtuiError: 1,
        errors.StoreError: 1,
        errors.UsageError: 2,
        errors.NotFound: 4,
        errors.LeaseHeld: 10,
        errors.LeaseExpired: 11,
        errors.Conflict: 12,
        errors.StaleInstance: 13,
    }
    for cls, code in codes.items():
        err = cls("msg", path="x")
        assert (err.exit_code, str(err), err.details) == (code, "msg", {"path": "x"})
