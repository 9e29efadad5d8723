"""Hosts: the machines that share this store, each with a stable id and a heartbeat.

A host id (`ctui.core.hostid`) names a machine, not a hostname: containers
share hostnames. Pids are checked only on their own host; elsewhere a process
is judged by its host's heartbeat and its own. A host whose heartbeat is older
than `[hosts] lapse_s` has lapsed: the reapers end its instances (which frees
their leases and task claims) and fail its threads' running runs.

This module is the facade, `c.hosts`: the record and the lapse rule are in
`record`, heartbeats and the clock offset in `beat`.
"""

from __future__ import annotations

from ctui.core import hostid
from ctui.core.hosts import beat as host_beat
from ctui.core.hosts.record import NONE, Host, Lapsed, get, lapsed, select

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context

CLOCK_WARN_S = 1.0
"""`ctui doctor` warns about a host whose clock is further than this from the store's."""


class Hosts:
    """List hosts, beat for this one, and say which have lapsed."""

    def __init__(self, c: Context) -> None:
        self._c = c

    @property
    def here(self) -> str:
        """This machine's host id."""
        return hostid.local()

    def beat(self, *, force: bool = False) -> bool:
        """This host's heartbeat (at most every few seconds unless `force`)."""
        return host_beat.beat(self._c, force=force)

    def clock_offset(self) -> float:
        """This host's clock minus the store's, measured now (0 on an embedded store)."""
        return host_beat.clock_offset(self._c)

    def get(self, host_id: str) -> Host | None:
        return get(self._c.store.conn, host_id)

    def list(self) -> list[Host]:
        return select(self._c.store.conn)

    def lapsed(self) -> Lapsed:
        return lapsed(self._c.store.conn, self._c.now(), self._c.config.host_lapse)

    def check(self) -> dict[str, Any]:
        """What `ctui doctor` says about hosts: this host's id, clock, and every warning.

        Warned: this host's clock further than `CLOCK_WARN_S` from the store's
        (measured now), another live host's recorded offset past it, an id
        that could not be kept in a file, and a lapse too short for the
        heartbeat interval (live hosts would look dead between beats).
        """
        c = self._c
        now = c.now()
        lapse = c.config.host_lapse
        offset = self.clock_offset()
        server = c.store.server_time()
        warnings = []
        if abs(offset) > CLOCK_WARN_S:
            warnings.append(
                f"this host's clock is {_offset(offset)} the store's: sync it (NTP, "
                "`timedatectl set-ntp true`); leases, heartbeats and lapses are timed by it"
            )
        for host in self.list():
            if host.id == self.here or host.lapsed(now, lapse):
                continue
            if abs(host.clock_offset) > CLOCK_WARN_S:
                warnings.append(
                    f"host {host.id} ({host.name}) has a clock {_offset(host.clock_offset)} "
                    "the store's: sync it (NTP)"
                )
        source = hostid.source()
        if source.startswith("derived"):
            warnings.append(
                f"this host's id is {source}: set CTUI_HOST_ID, or make "
                f"{hostid.state_dir()} writable, so the id stays the same"
            )
        if lapse < 3 * host_beat.BEAT_EVERY_S:
            warnings.append(
                f"[hosts] lapse_s = {lapse:g} is under {3 * host_beat.BEAT_EVERY_S:g} s: "
                f"hosts beat every {host_beat.BEAT_EVERY_S:g} s, so a live one can look lapsed"
            )
        return {
            "host_id": self.here,
            "host_id_source": source,
            "store_clock": "server" if server is not None else "none (embedded store)",
            "clock_offset": round(offset, 3),
            "lapse_s": lapse,
            "warnings": warnings,
        }


def _offset(seconds: float) -> str:
    return f"{abs(seconds):.1f} s {'ahead of' if seconds > 0 else 'behind'}"


__all__ = ["CLOCK_WARN_S", "NONE", "Host", "Hosts", "Lapsed", "get", "lapsed", "select"]
