"""`ctui hosts` (the machines sharing this store) and `ctui doctor` (clock and host checks)."""

from __future__ import annotations

import argparse
from typing import Any

from ctui.cli.common import Ctx, leaf, table


def register(sub: argparse._SubParsersAction) -> None:
    leaf(
        sub,
        "hosts",
        hosts,
        "the machines sharing this store: id, name, last heartbeat, clock offset, live or lapsed",
    )
    leaf(
        sub,
        "doctor",
        doctor,
        "check this host against the store: its id, its clock (warns past 1 s), other hosts' "
        "clocks and the lapse setting; exit 1 on a warning (`ctui hooks doctor` checks the hooks)",
    )


def hosts(ctx: Ctx) -> int:
    c = ctx.coord
    now = c.now()
    lapse = c.config.host_lapse
    rows = [h.to_dict(now, lapse) for h in c.hosts.list()]
    ctx.emit(rows, lambda: _table(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    from ctui.core.clock import ago

    return table(
        ["ID", "NAME", "BEAT", "OFFSET", "STATE"],
        [
            [
                r["id"] + (" (here)" if r["here"] else ""),
                r["name"],
                ago(r["heartbeat_age"]) + " ago",
                f"{r['clock_offset']:+.3f}s",
                r["state"],
            ]
            for r in rows
        ],
        empty="(no host has beaten yet: hosts appear once an agent, supervisor or server runs)",
    )


def doctor(ctx: Ctx) -> int:
    report = ctx.coord.hosts.check()
    ctx.emit(report, lambda: _doctor_text(report))
    return 1 if report["warnings"] else 0


def _doctor_text(report: dict[str, Any]) -> str:
    lines = [
        f"host id      {report['host_id']}  ({report['host_id_source']})",
        f"store clock  {report['store_clock']}",
        f"clock offset {report['clock_offset']:+.3f} s (this host minus the store)",
        f"lapse        {report['lapse_s']:g} s without a heartbeat frees a host's work",
    ]
    lines += [f"warning: {w}" for w in report["warnings"]] or ["ok"]
    return "\n".join(lines)
