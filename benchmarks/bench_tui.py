"""The control room on a big store: first paint, one refresh, memory, change-to-screen latency.

    .venv/bin/python benchmarks/bench_tui.py [--scale 1.0] [--repeat 8]

Full size is 200 instances, 2,000 leases, 500 threads, 10,000 decisions and
50,000 events, inserted with direct SQL in one transaction; every figure is
also measured at one tenth of that, in the same run, and printed as a ratio
(how cost grows with the store). The app runs headless (`run_test`) in this
process with its real watcher and workers; "on screen" means the pane's
DataTable holds the row (the Leases view is shown first: a hidden view only
keeps its records). Latency is measured from the commit in another process
(which prints its commit time) to the row appearing. `refresh_ms` is the app's
own measure, from asking for a reload to the panes showing it (the read, then
the in-place diff); `read_ms` is the read alone.
Targets at full size: first paint <= 2 s, refresh <= 100 ms, change to screen <= 250 ms.

The agents screen adds: `key_to_screen_p95_ms`, from a key press moving the
agents list's cursor to the preview showing the newly selected agent (goal
<= 50 ms); `agent_change_p95_ms`, from another process committing an agent's
new state to its row showing it (goal <= 150 ms). Each takes `--samples`
(default 40) samples.

Issue #12's figures come from two more runs:
* `first_paint_10k_s`: first paint with 200 agents and 10,000 events (goal <= 1 s),
  the other tables at full size; small: one tenth of that.
* `*_demo_*`: the same key and change p95s with the demo running, the way
  `ctui demo` runs it: `Simulation` as a thread in the app's own process, its
  threads running the fake agent (`CTUI_CLAUDE_BIN=fake_agent_command()`).
  Small is the demo's seeded store (the issue's figure: its goal is checked
  there); full is the 200-agent store with the simulation acting on it
  (heartbeating all 200 agents every step), a stress figure. The
  simulation and every thread it started are stopped before the run ends.
  A change sample the simulation overwrote (it changed the same agent) is
  counted in `lost`, not in the p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ctui.core import Coordinator
from ctui.demo.scratch import make_repo
from ctui.tui.app import ControlRoom
from ctui.tui.rows import TICKING

FULL = {"instances": 200, "leases": 2000, "threads": 500, "decisions": 10_000, "events": 50_000}
STATER = """
import sys, time
from ctui.core import Coordinator
c = Coordinator.open(store_dir=sys.argv[1])
for line in sys.stdin:
    who, state = line.split()
    c.instances.heartbeat(who, state=state)
    print(time.time(), flush=True)
"""
WRITER = """
import sys, time
from ctui.core import Coordinator
c = Coordinator.open(store_dir=sys.argv[1])
for line in sys.stdin:
    path = line.strip()
    if not path:
        break
    c.leases.acquire(path, instance="operator", ttl=600)
    print(time.time(), flush=True)
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fill(root: Path, sizes: dict[str, int]) -> Coordinator:
    """A store with `sizes` rows, written in one transaction with plain SQL."""
    c = Coordinator.open(root)
    now = time.time()
    with c.store.write() as conn:

        def insert(table: str, rows: list[dict[str, Any]]) -> None:
            cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            keys = [k for k in rows[0] if k in cols]
            marks = ", ".join("?" for _ in keys)
            conn.executemany(
                f"INSERT INTO {table}({', '.join(keys)}) VALUES ({marks})",
                [tuple(r[k] for k in keys) for r in rows],
            )

        insert(
            "instances",
            [
                {
                    "id": f"agent-{i:04d}",
                    "role": f"role{i % 7}",
                    "task": f"task text {i}",
                    "branch": "main",
                    "host": "bench",
                    "started_at": now,
                    "heartbeat_at": now,
                    "ttl": 3600.0,
                    "state": ("working", "idle", "needs_input")[i % 3],
                    "state_at": now,
                    "last_seen_event": 0,
                }
                for i in range(sizes["instances"])
            ],
        )
        insert(
            "leases",
            [
                {
                    "path": f"src/mod{i // 50}/file{i}.py",
                    "is_glob": 0,
                    "prefix": f"src/mod{i // 50}/file{i}.py",
                    "holder": f"agent-{i % sizes['instances']:04d}",
                    "token": i + 1,
                    "intent": "bench",
                    "acquired_at": now,
                    "renewed_at": now,
                    "expires_at": now + 600 + i,
                    "ttl": 600.0,
                    "sha1": None,
                }
                for i in range(sizes["leases"])
            ],
        )
        insert(
            "threads",
            [
                {
                    "name": f"thread-{i:04d}",
                    "mode": "automatic",
                    "agent": "claude",
                    "context": "{}",
                    "status": ("completed", "running", "failed", "ready")[i % 4],
                    "run_id": 1,
                    "turns": i % 9,
                    "cost_usd": i / 100,
                    "tokens_in": i * 10,
                    "tokens_out": i * 3,
                    "created_at": now - i,
                    "updated_at": now,
                    "started_at": now - i,
                    "ended_at": None if i % 4 == 1 else now,
                    "host": "elsewhere",
                }
                for i in range(sizes["threads"])
            ],
        )
        insert(
            "decisions",
            [
                {
                    "id": f"DEC-20260101-{i + 1:05d}",
                    "day": "20260101",
                    "seq": i + 1,
                    "category": f"cat{i % 20}",
                    "title": f"Decision number {i}",
                    "description": "why " * 10,
                    "scope": "module",
                    "status": "accepted",
                    "author": "operator",
                    "created_at": now - i,
                    "supersedes": None,
                    "tags": "[]",
                }
                for i in range(sizes["decisions"])
            ],
        )
        insert(
            "events",
            [
                {
                    "at": now - i,
                    "kind": "lease.acquired",
                    "actor": "agent-0001",
                    "subject": f"src/x{i}.py",
                    "data": '{"token": 1}',
                }
                for i in range(sizes["events"])
            ],
        )
    return c


async def measure(
    root: Path, repeat: int, mode: str = "quiet", samples: int = 40
) -> dict[str, float]:
    """One size's figures: `quiet` (all), `paint` (first paint only) or `demo` (the agents
    screen's p95s with the demo's simulation running in this process)."""
    if mode == "demo":
        return await with_demo(root, repeat, samples)
    c = Coordinator.open(root)
    rss_before = rss_mb()
    app = ControlRoom(c)
    started = time.perf_counter()
    result: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        while app.loads == 0:
            await pilot.pause(0.005)
        await pilot.pause()
        result["first_paint_s"] = time.perf_counter() - started
        if mode == "paint":
            return result  # the process ends here
        refreshes = []
        for _ in range(repeat):
            loads = app.loads
            app.reload()
            while app.loads == loads:
                await pilot.pause(0.002)
            refreshes.append(app.last_refresh_s)
            await pilot.pause(0.05)
        result["refresh_ms"] = statistics.median(refreshes) * 1000
        result["read_ms"] = app.snapshot.took * 1000 if app.snapshot else 0.0
        t0 = time.perf_counter()
        app.render_panes()
        result["render_all_ms"] = (time.perf_counter() - t0) * 1000
        ticks = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            app.render_panes(TICKING)
            ticks.append(time.perf_counter() - t0)
        result["tick_ms"] = statistics.median(ticks) * 1000
        result["rss_mb"] = rss_mb()
        result["rss_app_mb"] = rss_mb() - rss_before
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(c.store.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdin and writer.stdout
        latencies = []
        app.action_focus_pane("leases")  # on screen: a hidden view only keeps its records
        await pilot.pause()
        leases = app.pane("leases")
        try:
            for i in range(repeat):
                path = f"bench/latency-{i}.txt"
                writer.stdin.write(path + "\n")
                writer.stdin.flush()
                committed = float(await asyncio.to_thread(writer.stdout.readline))
                deadline = time.monotonic() + 10
                while path not in leases._cells and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)  # not Pilot's pause (see agents_screen)
                latencies.append(time.time() - committed)
                await pilot.pause(0.2)
        finally:
            writer.stdin.write("\n")
            writer.stdin.close()
            writer.wait(timeout=10)
        result["change_to_screen_ms"] = statistics.median(latencies) * 1000
        result["change_to_screen_max_ms"] = max(latencies) * 1000
        result.update(await agents_screen(app, pilot, c, samples))
    c.close()
    return result


async def with_demo(root: Path, repeat: int, samples: int) -> dict[str, float]:
    """The agents screen's p95s while the demo's simulation acts on the store, as `ctui demo`
    runs it (a thread in this process, its threads running the fake agent)."""
    from ctui.demo.simulate import Simulation, fake_agent_command

    os.environ["CTUI_CLAUDE_BIN"] = fake_agent_command()
    c = Coordinator.open(root)
    before = {t.name: t.status for t in c.threads.list()}
    sim = Simulation(Coordinator.open(root))
    agents = sim.start()
    app = ControlRoom(c)
    result: dict[str, float] = {}
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            while app.loads == 0:
                await pilot.pause(0.005)
            await pilot.pause(1.0)  # the simulation under way
            found = await agents_screen(app, pilot, c, samples)
            result.update(
                {
                    k.replace("_p9", "_demo_p9").replace("_p5", "_demo_p5"): v
                    for k, v in found.items()
                }
            )
            result["demo_steps_errors"] = float(sim.errors)
    finally:
        sim.stop.set()
        agents.join(timeout=10)
        stop_started(c, before)
        sim.c.close()
        c.close()
    return result


def stop_started(c: Coordinator, before: dict[str, str]) -> None:
    """Stop the threads the simulation started (as `ctui demo` does on leaving), not the
    filled store's pretend ones."""
    for thread in c.threads.list():
        if thread.status in ("running", "waiting", "blocked") and before.get(thread.name) not in (
            "running",
            "waiting",
            "blocked",
        ):
            try:
                c.threads.stop(thread.name, grace=1.0)
            except Exception as exc:
                print(f"could not stop {thread.name}: {exc}", file=sys.stderr)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


async def agents_screen(app: Any, pilot: Any, c: Coordinator, samples: int) -> dict[str, float]:
    """Key press to preview, and another process's state change to the agents list."""
    from textual import events

    from ctui.tui.widgets.preview import Preview

    agents, preview = app.agents, app.query_one(Preview)
    agents.focus()
    keys = []
    lost_keys = 0
    for i in range(samples):
        await pilot.pause(0.05)
        shown, was = preview.shown, (agents.selected or {}).get("key")
        t0 = time.perf_counter()
        # the key event itself, as the terminal driver posts it (Pilot's press also waits
        # for the screen to settle, which is not the app's latency)
        app.post_message(events.Key("down" if i % 6 < 3 else "up", None))
        deadline = t0 + 5
        while not (preview.shown > shown and (preview.agent or {}).get("key") not in (None, was)):
            if time.perf_counter() > deadline:
                lost_keys += 1
                break
            await asyncio.sleep(0.001)
        else:
            keys.append(time.perf_counter() - t0)
    writer = subprocess.Popen(
        [sys.executable, "-c", STATER, str(c.store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin and writer.stdout
    changes = []
    lost = 0
    try:
        for i in range(samples):
            live = [
                r
                for r in agents.records.values()
                if r["kind"] == "session" and r["state"] in ("working", "waiting", "idle")
            ]
            if not live:
                await pilot.pause(0.1)
                continue
            rec = live[(i // 2) % len(live)]
            want = "working" if rec["state"] == "waiting" else "waiting"
            writer.stdin.write(
                f"{rec['instance']} {'needs_input' if want == 'waiting' else want}\n"
            )
            writer.stdin.flush()
            committed = float(await asyncio.to_thread(writer.stdout.readline))
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and (
                agents.records.get(rec["key"], {}).get("state") != want
            ):
                # a bare sleep: Pilot's pause first waits for every widget to drain its
                # queue, which under load adds its own latency to the app's
                await asyncio.sleep(0.002)
            if agents.records.get(rec["key"], {}).get("state") == want:
                changes.append(time.time() - committed)
            else:  # the simulation changed (or ended) the same agent meanwhile
                lost += 1
            await pilot.pause(0.1)
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
    return {
        "key_to_screen_p95_ms": p95(keys) if keys else float("inf"),
        "key_to_screen_p50_ms": statistics.median(keys) * 1000 if keys else float("inf"),
        "agent_change_p95_ms": p95(changes) if changes else float("inf"),
        "agent_change_p50_ms": statistics.median(changes) * 1000 if changes else float("inf"),
        "lost_samples": float(lost + lost_keys),
    }


PAINT = {**FULL, "events": 10_000}
"""Issue #12's first paint: 200 agents and 10,000 events."""


def one(
    label: str, factor: float, args: argparse.Namespace, base: Path, mode: str
) -> dict[str, float]:
    """Measure one size in a fresh process, so memory figures do not mix (`mode`: see
    `measure`; `demo` at factor 0 is the demo's own seeded store)."""
    code = (
        "import asyncio, json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from bench_tui import measure; "
        "print(json.dumps(asyncio.run(measure(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4],"
        " int(sys.argv[5])))))"
    )
    root = make_repo(base / f"{mode}-{label}")
    t0 = time.perf_counter()
    if mode == "demo" and factor == 0:
        from ctui.demo.simulate import seed

        c = Coordinator.open(root)
        seed(c, run_threads=False)
        c.close()
        print(f"{mode} {label}: the demo's seeded store", flush=True)
    else:
        sizes = {
            k: max(1, int(v * factor)) for k, v in (PAINT if mode == "paint" else FULL).items()
        }
        fill(root, sizes).close()
        print(f"{mode} {label}: {sizes} inserted in {time.perf_counter() - t0:.2f}s", flush=True)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            str(root),
            str(args.repeat),
            mode,
            str(args.samples),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


TARGETS = {
    "first_paint_10k_s": 1.0,
    "first_paint_50k_s": 2.0,
    "refresh_ms": 100.0,
    "change_to_screen_ms": 250.0,
    "key_to_screen_p95_ms": 50.0,
    "agent_change_p95_ms": 150.0,
    "key_to_screen_demo_p95_ms": 50.0,
    "agent_change_demo_p95_ms": 150.0,
}
DEMO_GOALS = {"key_to_screen_demo_p95_ms", "agent_change_demo_p95_ms"}
"""Demo figures: the goal is checked on the small column, the demo as `ctui demo` runs it
(issue #12's "with the demo running"). The full column is a stress figure past what the
issue asks: the simulation heartbeats all 200 agents every step from a thread of the app's
own process, hundreds of commits a second sharing the app's interpreter; it is printed
against the same goal, marked `over (stress)` rather than MISSED."""
PHASES = ("quiet", "paint", "demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the full size (default 1)"
    )
    parser.add_argument(
        "--repeat", type=int, default=8, help="refreshes and lease latency samples (default 8)"
    )
    parser.add_argument("--samples", type=int, default=40, help="samples per p95 (default 40)")
    parser.add_argument(
        "--only", choices=PHASES, action="append", help="run only this phase (repeatable)"
    )
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ctui-bench-tui-"))
    os.environ.setdefault("CTUI_CLAUDE_BIN", "true")
    rows: dict[str, tuple[float, float]] = {}
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for mode in args.only or PHASES:
            small = 0.0 if mode == "demo" else args.scale / 10
            found = {
                label: one(label, factor, args, base, mode)
                for label, factor in (("small", small), ("full", args.scale))
            }
            results[mode] = found
            for key in found["full"]:
                name = key
                if key == "first_paint_s":
                    name = "first_paint_10k_s" if mode == "paint" else "first_paint_50k_s"
                elif key == "lost_samples" and mode == "demo":
                    name = "lost_samples_demo"
                rows[name] = (found["small"].get(key, 0.0), found["full"][key])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{'figure':<28}{'small':>10}{'full':>10}{'full/small':>12}{'goal':>10}")
    for name, (small_v, full_v) in rows.items():
        ratio = full_v / small_v if small_v else float("inf")
        target = TARGETS.get(name)
        if target is None:
            mark = ""
        elif name in DEMO_GOALS:
            demo = "ok" if small_v <= target else "MISSED"
            stress = "ok" if full_v <= target else "over"
            mark = f"{target:>8g} demo {demo}, 200 agents (stress) {stress}"
        else:
            mark = f"{target:>8g} {'ok' if full_v <= target else 'MISSED'}"
        print(f"{name:<28}{small_v:>10.1f}{full_v:>10.1f}{ratio:>11.2f}x {mark}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
