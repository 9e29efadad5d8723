"""What an edit costs the agent: one PreToolUse + PostToolUse pair, as whole processes.

Runs the exact command `ctui hooks install` writes (read back from the
settings file), through `sh -c` as Claude Code does, on a scratch repository,
and prints the median pair time as a ratio to one bare `python -c pass`
measured in the same run, interleaved so machine load hits both alike.
Target: the pair at most 3.5x one bare start-up.

    .venv/bin/python benchmarks/bench_hooks.py [--runs 40]

It also times the alternative commands (`ctui hook` through the console
script, `python -m ctui.hook`) so the choice in `ctui.hooks.settings` stays
measured, not assumed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 3.5


def _run(argv: list[str], payload: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, input=payload, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def _scratch_repo(root: Path) -> Path:
    repo = root / "repo"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=40, help="interleaved rounds (median is reported)"
    )
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    ctui = str(bindir / "ctui")
    with tempfile.TemporaryDirectory() as tmp:
        repo = _scratch_repo(Path(tmp))
        os.environ["HOME"] = tmp
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
        times: dict[str, list[float]] = {"bare": [], "bare -I -S": [], **{k: [] for k in variants}}
        session_end = _session_end(repo, variants["installed"], base, args.runs)
        for _ in range(args.runs):
            times["bare"].append(_run([sys.executable, "-c", "pass"]))
            times["bare -I -S"].append(_run([sys.executable, "-I", "-S", "-c", "pass"]))
            for name, argv in variants.items():
                times[name].append(_run(argv, pre) + _run(argv, post))
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
    print(
        f"SessionEnd releasing {END_LEASES} leases (Claude Code allows ~1500 ms): "
        f"{session_end:.1f} ms"
    )
    ratio = med["installed"] / bare
    verdict = "ok" if ratio <= TARGET else "OVER"
    print(f"\npair / bare start-up = {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
