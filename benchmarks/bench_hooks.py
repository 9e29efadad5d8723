"""What an edit costs the agent: one PreToolUse + PostToolUse pair, as whole processes.

Runs the exact command `ctui hooks install` writes (read back from the
settings file), through `sh -c` as Claude Code does, on a scratch repository
whose `.venv` is this venv (the portable command finds ctui there), and prints
the median pair time as a ratio to one bare `python -c pass` measured in the
same run, interleaved so machine load hits both alike.
Target: the pair at most 2.5x one bare start-up.

It then times lease checks (PreToolUse) made while a `ctui task import` of
10,000 tasks runs, and reports the longest wait against the hook's budget
(its busy timeout, `ctui.hooks.session.HOOK_BUSY_TIMEOUT_S`): past it the
check would deny with "retry in a moment". Target: the longest under budget.

    .venv/bin/python benchmarks/bench_hooks.py [--runs 40]

It also times the alternative commands (`ctui hook` through the console
script, `python -m ctui.hook`) so the choice in `ctui.hooks.settings` stays
measured, not assumed.

`--real-client PATH` (a Claude Code binary, as in tests/realclient/) also runs
whole sessions of the real client against a scripted fake Messages API on
127.0.0.1, without ctui's hooks, with them, and with them through `ctui serve`,
and reports what a hook call adds to a session, as a user feels it; then sessions of
Bash calls with and without the background PreToolUse group that shows the command
running (and with that group made blocking), for what it adds to a Bash call.

Served hooks: a second scratch repository whose hooks go through a real
`ctui serve` on this host (`.ctui/hooks.sock`, see `ctui.hooks.route`), timed
in the same interleaved rounds and reported as a ratio to the direct pair.
Without `--store-url` that store is SQLite with `[hooks] via = "serve"`; with
`--store-url postgresql://...` it is that PostgreSQL store (the server and
the hooks get `CTUI_STORE_URL`), the setting issue #18 measures.
Target: the served pair at most 1.5x the direct SQLite pair.

    .venv/bin/python benchmarks/bench_hooks.py --store-url postgresql://postgres@127.0.0.1:55432/ctui
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 2.5
SERVED_TARGET = 1.5
IMPORT_TASKS = 10_000


def _run(
    argv: list[str],
    payload: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        argv, input=payload, capture_output=True, text=True, timeout=60, env=env, cwd=cwd
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def _scratch_repo(root: Path, name: str = "repo") -> Path:
    repo = root / name
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("print('hello')\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    return repo


END_LEASES = 200


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _process_cpu(pid: int) -> float:
    """User + system seconds of a live process (the server), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(
    *calls: tuple[list[str], str | None], served: Served | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of `calls` run one after another (CPU: the processes, and the
    server's share when `served`), so a loaded machine shows in wall time but not in CPU."""
    server_before = _process_cpu(served.proc.pid) if served is not None else 0.0
    before = _children_cpu()
    wall = 0.0
    for argv, payload in calls:
        if served is not None:
            wall += _run(argv, payload, served.env, served.repo)
        else:
            wall += _run(argv, payload)
    cpu = _children_cpu() - before
    if served is not None:
        cpu += _process_cpu(served.proc.pid) - server_before
    return wall, cpu


class Served:
    """A scratch repository whose hooks `ctui serve` answers, with that server running."""

    def __init__(self, root: Path, store_url: str | None, name: str = "served") -> None:
        self.repo = _scratch_repo(root, name)
        (self.repo / ".venv").symlink_to(sys.prefix)
        self.env = {**os.environ, "CLAUDE_PROJECT_DIR": str(self.repo)}
        if store_url:
            self.env["CTUI_STORE_URL"] = store_url
        ctui = str(Path(sys.executable).parent / "ctui")
        subprocess.run(
            [ctui, "hooks", "install"],
            cwd=self.repo,
            check=True,
            capture_output=True,
            timeout=60,
            env=self.env,
        )
        if not store_url:
            (self.repo / ".ctui" / "config.toml").write_text('[hooks]\nvia = "serve"\n')
        self.log = root / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [ctui, "serve", "--no-auth", "--workers", "1"],
                cwd=self.repo,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        sock = self.repo / ".ctui" / "hooks.sock"
        deadline = time.monotonic() + 60
        while not sock.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"ctui serve did not come up: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def payloads(self, repo: Path, *texts: str) -> list[str]:
        """The same payloads for this repository (its folder in place of `repo`)."""
        return [text.replace(str(repo), str(self.repo)) for text in texts]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _session_end(repo: Path, argv: list[str], base: dict[str, str], runs: int) -> float:
    """Median ms of a SessionEnd that releases END_LEASES leases, each run on a fresh session."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from ctui.core import Coordinator

    spent = []
    for n in range(max(3, runs // 4)):
        session = f"end{n:04d}-0000-4000-8000-000000000000"
        c = Coordinator.open(repo)
        try:
            inst = c.instances.register(instance_id=f"claude-end{n:04d}", session_id=session)
            for k in range(END_LEASES):
                c.leases.acquire(f"gen/{n}/file_{k}.py", instance=inst.id)
        finally:
            c.close()
        payload = json.dumps(
            {
                **base,
                "session_id": session,
                "hook_event_name": "SessionEnd",
                "reason": "prompt_input_exit",
            }
        )
        spent.append(_run(argv, payload))
    return statistics.median(spent) * 1000


def _import_race(repo: Path, argv: list[str], base: dict[str, str], idle_ms: float) -> dict:
    """Lease checks during a 10,000-task import: their times, and the import's."""
    tasks = [
        {"id": f"T{i}", "description": f"imported task {i}", "priority": 1 + i % 10}
        for i in range(IMPORT_TASKS)
    ]
    source = repo.parent / "tasks.json"
    source.write_text(json.dumps({"tasks": tasks}))
    ctui = str(Path(sys.executable).parent / "ctui")
    start = time.perf_counter()
    importer = subprocess.Popen(
        [ctui, "task", "import", str(source)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    during: list[float] = []
    number = 0
    while importer.poll() is None:
        target = str(repo / "race" / f"f{number}.txt")
        payload = json.dumps(
            {
                **base,
                "hook_event_name": "PreToolUse",
                "tool_name": "Write",
                "tool_input": {"file_path": target, "content": "x"},
            }
        )
        t0 = time.perf_counter()
        proc = subprocess.run(argv, input=payload, capture_output=True, text=True, timeout=60)
        spent = time.perf_counter() - t0
        if proc.returncode != 0 or proc.stdout.strip():
            raise SystemExit(f"lease check during the import was not allowed: {proc.stdout}")
        if importer.poll() is None:
            during.append(spent * 1000)
        number += 1
    took = time.perf_counter() - start
    if importer.returncode != 0:
        raise SystemExit(f"import failed: {importer.stderr}")
    return {"import_s": took, "checks": during, "idle_ms": idle_ms}


REAL_WRITES = 24  # enough calls that the hooks, not the client's start, set the difference
REAL_ROUNDS = 5


def _real_client(claude: str, root: Path, store_url: str | None) -> dict[str, Any]:
    """Wall time of whole real Claude Code sessions (`claude -p`, a scripted fake API on
    127.0.0.1, REAL_WRITES Write calls each) without ctui's hooks, with them answered in the
    hook process, and through `ctui serve`; the difference spread over the hook calls a
    session makes is the latency a call adds, as a user feels it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.realclient.conftest import client_env
    from tests.realclient.fake_api import FakeAnthropic, Text, ToolUse

    ctui = str(Path(sys.executable).parent / "ctui")
    plain, trivial = _scratch_repo(root, "rc-plain"), _scratch_repo(root, "rc-trivial")
    direct = _scratch_repo(root, "rc-direct")
    for repo in (plain, trivial, direct):
        (repo / ".venv").symlink_to(sys.prefix)
    subprocess.run([ctui, "hooks", "install"], cwd=direct, check=True, capture_output=True)
    from ctui.hooks.settings import document

    (trivial / ".claude").mkdir()  # the same hooks, each a command that does nothing
    (trivial / ".claude" / "settings.json").write_text(json.dumps(document("true")))
    served = Served(root, store_url, "rc-served")
    repos = {"no hooks": plain, "trivial": trivial, "direct": direct, "served": served.repo}
    spent: dict[str, list[float]] = {name: [] for name in repos}
    try:
        for number in range(REAL_ROUNDS):
            for name, repo in repos.items():
                steps = [
                    ToolUse(
                        "Write",
                        {"file_path": str(repo / f"gen/r{number}_{k}.txt"), "content": "x\n"},
                    )
                    for k in range(REAL_WRITES)
                ]
                with FakeAnthropic() as api:
                    api.script(*steps, Text("done"))
                    env = client_env(
                        api,
                        **({"CTUI_STORE_URL": store_url} if store_url and name == "served" else {}),
                    )
                    argv = [claude, "-p", "write the files", "--output-format", "stream-json"]
                    argv += ["--verbose", "--permission-mode", "acceptEdits"]
                    start = time.perf_counter()
                    proc = subprocess.run(
                        argv,
                        cwd=repo,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=300,
                        stdin=subprocess.DEVNULL,
                    )
                    spent[name].append(time.perf_counter() - start)
                written = [repo / f"gen/r{number}_{k}.txt" for k in range(REAL_WRITES)]
                if proc.returncode != 0 or not all(path.exists() for path in written):
                    raise SystemExit(f"real client session in {name} failed: {proc.stderr[-2000:]}")
        for name in ("direct", "served"):
            held = subprocess.run(
                [ctui, "--json", "instance", "list", "--all"],
                cwd=repos[name],
                capture_output=True,
                text=True,
                env=served.env if name == "served" else None,
            )
            if held.returncode != 0 or "claude-" not in held.stdout:
                raise SystemExit(f"the {name} sessions never reached ctui: {held.stderr}")
    finally:
        served.stop()
    calls = 2 * REAL_WRITES + 4  # SessionStart, UserPromptSubmit, Stop, SessionEnd
    med = {name: statistics.median(values) * 1000 for name, values in spent.items()}
    return {"median_ms": med, "calls": calls}


def _real_bash(claude: str, root: Path) -> dict[str, float]:
    """Wall time of real sessions of REAL_WRITES Bash calls (`true`): ctui's hooks as
    installed (Bash's start recorded in the background), without that background group (as
    before it existed), with it made blocking, and without hooks. Medians in ms."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.realclient.conftest import client_env
    from tests.realclient.fake_api import FakeAnthropic, Text, ToolUse

    ctui = str(Path(sys.executable).parent / "ctui")
    names = ("no hooks", "without the async group", "installed (async)", "the group blocking")
    repos = {name: _scratch_repo(root, f"rb-{n}") for n, name in enumerate(names)}
    for name, repo in repos.items():
        (repo / ".venv").symlink_to(sys.prefix)
        if name == "no hooks":
            continue
        subprocess.run([ctui, "hooks", "install"], cwd=repo, check=True, capture_output=True)
        path = repo / ".claude" / "settings.json"
        doc = json.loads(path.read_text())
        pre = doc["hooks"]["PreToolUse"]
        if name == "without the async group":
            doc["hooks"]["PreToolUse"] = [g for g in pre if not g["hooks"][0].get("async")]
        elif name == "the group blocking":
            for group in pre:
                group["hooks"][0].pop("async", None)
        path.write_text(json.dumps(doc))
    spent: dict[str, list[float]] = {name: [] for name in repos}
    for _ in range(REAL_ROUNDS):
        for name, repo in repos.items():
            steps = [ToolUse("Bash", {"command": "true"}) for _ in range(REAL_WRITES)]
            with FakeAnthropic() as api:
                api.script(*steps, Text("done"))
                argv = [claude, "-p", "run them", "--output-format", "stream-json", "--verbose"]
                argv += ["--permission-mode", "acceptEdits", "--allowedTools", "Bash"]
                start = time.perf_counter()
                proc = subprocess.run(
                    argv,
                    cwd=repo,
                    env=client_env(api),
                    capture_output=True,
                    text=True,
                    timeout=300,
                    stdin=subprocess.DEVNULL,
                )
                spent[name].append(time.perf_counter() - start)
                if proc.returncode != 0 or len(api.main_requests()) != REAL_WRITES + 1:
                    raise SystemExit(f"real Bash session in {name} failed: {proc.stderr[-2000:]}")
    return {name: statistics.median(values) * 1000 for name, values in spent.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=40, help="interleaved rounds (median is reported)"
    )
    parser.add_argument(
        "--store-url",
        help="time the served pair on this PostgreSQL store (default: SQLite, via = serve)",
    )
    parser.add_argument(
        "--real-client",
        metavar="CLAUDE",
        help="also time whole sessions of this real Claude Code binary with and without hooks",
    )
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    ctui = str(bindir / "ctui")
    with tempfile.TemporaryDirectory() as tmp:
        repo = _scratch_repo(Path(tmp))
        os.environ["HOME"] = tmp
        (repo / ".venv").symlink_to(sys.prefix)  # the project's venv, as most users have it
        os.environ["CLAUDE_PROJECT_DIR"] = str(repo)
        subprocess.run(
            [ctui, "hooks", "install"], cwd=repo, check=True, capture_output=True, timeout=60
        )
        settings = json.loads((repo / ".claude" / "settings.json").read_text())
        command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
        target = str(repo / "src" / "app.py")
        base = {
            "session_id": "bench-0000-1111",
            "cwd": str(repo),
            "transcript_path": "/tmp/t.jsonl",
        }
        start = json.dumps({**base, "hook_event_name": "SessionStart", "source": "startup"})
        pre = json.dumps(
            {
                **base,
                "hook_event_name": "PreToolUse",
                "tool_name": "Edit",
                "tool_input": {"file_path": target, "old_string": "hello", "new_string": "hello"},
            }
        )
        post = json.dumps(
            {
                **base,
                "hook_event_name": "PostToolUse",
                "tool_name": "Edit",
                "tool_input": {"file_path": target, "old_string": "hello", "new_string": "hello"},
                "tool_response": {"filePath": target, "success": True},
            }
        )
        variants = {
            "installed": ["sh", "-c", command],
            "console script": ["sh", "-c", f"{shlex.quote(ctui)} hook"],
            "python -m": ["sh", "-c", f"{shlex.quote(sys.executable)} -m ctui.hook"],
        }
        _run(variants["installed"], start)
        times: dict[str, list[float]] = {
            "bare": [],
            "bare -I -S": [],
            **{k: [] for k in variants},
            "fast (absolute)": [],
        }
        session_end = _session_end(repo, variants["installed"], base, args.runs)
        from ctui.hooks.session import HOOK_BUSY_TIMEOUT_S
        from ctui.hooks.settings import fast_command

        _run(variants["installed"], pre)
        held = subprocess.run(
            [ctui, "--json", "lock", "list"], cwd=repo, capture_output=True, text=True
        ).stdout
        if "src/app.py" not in held:
            raise SystemExit("the installed command did not reach ctui (no lease taken)")
        variants["fast (absolute)"] = ["sh", "-c", fast_command()]
        served = Served(Path(tmp), args.store_url)
        try:
            s_pre, s_post = served.payloads(repo, pre, post)
            s_argv = ["sh", "-c", command]
            _run(s_argv, s_pre, served.env, served.repo)
            times["served"] = []
            cpu: dict[str, list[float]] = {name: [] for name in times}
            for _ in range(args.runs):
                rounds = {
                    "bare": _timed(([sys.executable, "-c", "pass"], None)),
                    "bare -I -S": _timed(([sys.executable, "-I", "-S", "-c", "pass"], None)),
                    **{name: _timed((argv, pre), (argv, post)) for name, argv in variants.items()},
                    "served": _timed((s_argv, s_pre), (s_argv, s_post), served=served),
                }
                for name, (wall, used) in rounds.items():
                    times[name].append(wall)
                    cpu[name].append(used)
        finally:
            served.stop()
        times = {name: values for name, values in times.items() if values}
        idle = statistics.median(_run(variants["installed"], pre) for _ in range(5)) * 1000
        race = _import_race(repo, variants["installed"], base, idle)
        real = (
            _real_client(args.real_client, Path(tmp), args.store_url) if args.real_client else None
        )
        bash = _real_bash(args.real_client, Path(tmp)) if args.real_client else None
    med = {name: statistics.median(values) * 1000 for name, values in times.items()}
    bare = med["bare"]
    print(f"command written by `ctui hooks install`:\n  {command}\n")
    print(f"bare `python -c pass`             {med['bare']:7.1f} ms   1.00x")
    fast = med["bare -I -S"]
    print(f"bare `python -I -S -c pass`       {fast:7.1f} ms   {fast / bare:.2f}x")
    for name in variants:
        print(f"Pre+PostToolUse pair, {name:12} {med[name]:7.1f} ms   {med[name] / bare:.2f}x")
    best = min(times["installed"]) / min(times["bare"])
    print(f"(fastest runs only: pair / bare = {best:.2f}x)")
    used = {name: statistics.median(values) * 1000 for name, values in cpu.items() if values}
    print(
        f"CPU time (load does not inflate it): bare {used['bare']:.1f} ms, installed pair "
        f"{used['installed']:.1f} ms = {used['installed'] / used['bare']:.2f}x, served pair "
        f"(hooks + server) {used['served']:.1f} ms = {used['served'] / used['bare']:.2f}x"
    )
    store = "PostgreSQL (--store-url)" if args.store_url else "SQLite, via = serve"
    served_ratio = med["served"] / med["installed"]
    print(
        f"Pre+PostToolUse pair through ctui serve ({store}): {med['served']:.1f} ms   "
        f"{med['served'] / bare:.2f}x bare, {served_ratio:.2f}x the direct pair "
        f"(target <= {SERVED_TARGET}x): {'ok' if served_ratio <= SERVED_TARGET else 'OVER'}"
    )
    print(
        f"SessionEnd releasing {END_LEASES} leases (Claude Code allows ~1500 ms): "
        f"{session_end:.1f} ms"
    )
    checks = race["checks"]
    longest = max(checks) if checks else 0.0
    wait = max(0.0, longest - race["idle_ms"])
    budget = HOOK_BUSY_TIMEOUT_S * 1000
    print(
        f"\n{IMPORT_TASKS} tasks imported in {race['import_s']:.2f} s; "
        f"{len(checks)} lease checks ran meanwhile"
    )
    if checks:
        print(
            f"lease check during the import: median {statistics.median(checks):.1f} ms, "
            f"longest {longest:.1f} ms (idle {race['idle_ms']:.1f} ms)"
        )
    wait_ok = bool(checks) and longest < budget
    print(
        f"longest wait behind the import = {wait:.1f} ms (budget {budget:.0f} ms): "
        f"{'ok' if wait_ok else 'OVER' if checks else 'not measured'}"
    )
    if real is not None:
        rc, calls = real["median_ms"], real["calls"]
        print(
            f"\nreal client ({REAL_WRITES} Writes a session, {calls} hook calls, median of "
            f"{REAL_ROUNDS}): no hooks {rc['no hooks']:.0f} ms, trivial hooks "
            f"{rc['trivial']:.0f} ms, direct {rc['direct']:.0f} ms, served {rc['served']:.0f} ms "
            "a session"
        )
        trivial = (rc["trivial"] - rc["no hooks"]) / calls
        print(
            "latency a call adds through the real client, a hook that runs `true`: "
            f"{trivial:.1f} ms"
        )
        for name in ("direct", "served"):
            added = (rc[name] - rc["no hooks"]) / calls
            print(
                f"latency a call adds through the real client, ctui's hook, {name}: {added:.1f} ms "
                f"({added - trivial:.1f} ms more than the hook that does nothing)"
            )
    if bash is not None:
        print(
            f"\nreal client, {REAL_WRITES} Bash calls a session (median of {REAL_ROUNDS}): "
            + ", ".join(f"{name} {ms:.0f} ms" for name, ms in bash.items())
        )
        base = bash["without the async group"]
        for name in ("installed (async)", "the group blocking"):
            added = (bash[name] - base) / REAL_WRITES
            print(f"a Bash call's start recorded, {name}: {added:+.1f} ms a call")
    ratio = med["installed"] / bare
    verdict = "ok" if ratio <= TARGET else "OVER"
    print(f"\npair / bare start-up = {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0 if ratio <= TARGET and wait_ok else 1


if __name__ == "__main__":
    sys.exit(main())
