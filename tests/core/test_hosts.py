"""Hosts: a stable private host id, pids judged only on their own host, lapsed hosts freed,
and the clock-offset warning.

Two "hosts" are two `CTUI_HOST_ID` values on this machine sharing one store. Host A's
side runs in this process with a fake clock, so a lapse passes without waiting for it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctui.core import Coordinator, hostid
from ctui.core.instances import pid_alive
from ctui.core.store import Store
from tests.conftest import Cli
from tests.support import FakeClock

B = {"CTUI_HOST_ID": "host-b"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


PRINT_ID = "from ctui.core import hostid; print(hostid.local())"


def test_the_host_id_file_is_private_and_made_once_by_racing_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CTUI_HOST_ID"}
    for attempt in range(3):
        state = tmp_path / f"state{attempt}"
        env["XDG_STATE_HOME"] = str(state)
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", PRINT_ID], env=env, stdout=subprocess.PIPE, text=True
            )
            for _ in range(6)
        ]
        ids = {proc.communicate(timeout=60)[0].strip() for proc in racers}
        assert all(proc.returncode == 0 for proc in racers)
        assert len(ids) == 1, f"racing creators disagreed: {ids}"
        path = state / "ctui" / hostid.FILE_NAME
        assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
        assert os.listdir(path.parent) == [hostid.FILE_NAME], "a temporary file was left"
        again = subprocess.run(
            [sys.executable, "-c", PRINT_ID], env=env, capture_output=True, text=True, check=True
        )
        assert again.stdout.strip() in ids
        assert path.read_text().strip() in ids


def test_the_host_id_follows_xdg_and_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CTUI_HOST_ID", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    first = hostid.local()
    assert first == hostid.local() and hostid.source().endswith("/xdg/ctui/host-id")
    monkeypatch.setenv("CTUI_HOST_ID", "box-7")
    assert hostid.local() == "box-7" and hostid.source() == "CTUI_HOST_ID"
    monkeypatch.delenv("CTUI_HOST_ID")
    assert hostid.local() == first


def test_a_bad_host_id_is_a_usage_error_and_changes_nothing(repo: Path, cli: Cli) -> None:
    from tests.support import dump

    assert cli("init").returncode == 0
    before = dump(repo / ".ctui" / "ctui.db")
    proc = cli("instance", "register", env={"CTUI_HOST_ID": "no spaces/allowed"})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad host id" in proc.stderr
    assert dump(repo / ".ctui" / "ctui.db") == before


def test_a_pid_on_another_host_is_never_looked_up_here(repo: Path, cli: Cli) -> None:
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        far = cli.json("instance", "register", "--role", "far", "--pid", str(sleeper.pid), env=B)
        assert far["host_id"] == "host-b"  # type: ignore[index]
        far_id = far["id"]  # type: ignore[index]
        assert cli("lock", "acquire", "src/app.py", "--as", far_id, env=B).returncode == 0
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not pid_alive(sleeper.pid)  # a lookup here would call it dead
    here = {"CTUI_HOST_ID": "host-a"}
    assert cli.json("cleanup", env=here)["instances_reaped"] == []  # type: ignore[index]
    me = cli.json("instance", "register", "--role", "near", env=here)["id"]  # type: ignore[index]
    taken = cli("lock", "acquire", "src/app.py", "--as", me, env=here)
    assert taken.returncode == 10, taken.stderr  # still host B's: its holder was not reaped
    assert far_id in [i["id"] for i in cli.json("instance", "list", env=here)]  # type: ignore[union-attr]
    assert cli.json("cleanup", env=B)["instances_reaped"] == [far_id]  # type: ignore[index]
    assert cli("lock", "acquire", "src/app.py", "--as", me, env=here).returncode == 0


def test_a_lapsed_hosts_instances_leases_and_claims_are_freed(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = cli("task", "add", "fix the parser").stdout.strip()
    far = cli.json("instance", "register", "--role", "far", env=B)["id"]  # type: ignore[index]
    assert cli("lock", "acquire", "src/app.py", "--as", far, env=B).returncode == 0
    assert cli.json("task", "claim", "--as", far, env=B)["id"] == task  # type: ignore[index]
    monkeypatch.setenv("CTUI_HOST_ID", "host-a")
    clock = FakeClock(time.time())
    c = Coordinator.open(repo, clock=clock)
    try:
        assert c.cleanup()["instances_reaped"] == []
        assert c.leases.check("src/app.py") is not None
        clock.advance(c.config.host_lapse + 1)  # well under the instance TTL (300 s)
        assert c.leases.list() == [] and c.leases.check("src/app.py") is None  # readers see it
        assert [i.id for i in c.instances.list()] == ["operator"]
        result = c.cleanup()
        assert result["instances_reaped"] == [far]
        assert c.leases.check("src/app.py") is None
        assert c.tasks.get(task).status == "available"
        assert c.instances.get(far).state == "stale"
        # an agent of host B that still beats (through an API server, say) is not cut off
        beating = c.instances.register(role="relayed", host="b-box", host_id="host-b")
        assert c.cleanup()["instances_reaped"] == []
        assert c.instances.get(beating.id).state == "idle"
        [stale] = [e for e in c.events.since(0) if e.kind == "instance.stale"]
        assert "host host-b" in stale.data["why"] and "stopped answering" in stale.data["why"]
        listed = {h.id: h.to_dict(c.now(), c.config.host_lapse) for h in c.hosts.list()}
        assert listed["host-b"]["state"] == "lapsed" and listed["host-a"]["state"] == "live"
    finally:
        c.close()


class SkewedStore(Store):
    """The store seam a server backend fills: a store clock 2.5 s behind this host's."""

    def server_time(self) -> float | None:
        return time.time() - 2.5


def test_doctor_warns_when_a_clock_is_more_than_a_second_off(
    repo: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    fine = cli("doctor")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "clock offset +0.000 s" in fine.stdout and "ok" in fine.stdout.splitlines()
    monkeypatch.setenv("CTUI_HOST_ID", "host-b")
    c = Coordinator(SkewedStore.open(repo / ".ctui"))
    try:
        report = c.hosts.check()
        assert 2.0 < report["clock_offset"] < 3.0
        assert any("this host's clock is 2.5 s ahead" in w for w in report["warnings"])
        assert c.hosts.beat(force=True)
    finally:
        c.close()
        monkeypatch.delenv("CTUI_HOST_ID")
    warned = cli("doctor")  # host A: its own clock is fine, host B's recorded one is not
    assert warned.returncode == 1
    assert "host host-b" in warned.stdout and "2.5 s ahead of the store's" in warned.stdout
    [row] = [h for h in cli.json("hosts") if h["id"] == "host-b"]  # type: ignore[union-attr]
    assert 2.0 < row["clock_offset"] < 3.0


def test_doctor_warns_about_a_lapse_shorter_than_the_beat(repo: Path, cli: Cli) -> None:
    (repo / ".ctui").mkdir(mode=0o700, exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text("[hosts]\nlapse_s = 4\n")
    proc = cli("doctor", "--json")
    assert proc.returncode == 1
    [warning] = json.loads(proc.stdout)["warnings"]
    assert "[hosts] lapse_s = 4 is under 15 s" in warning
