"""Claims carry an attempt number: a claimant stopped past its claim TTL cannot finish the task
once it was claimed again, even under the same instance id (issue 11, DESIGN §14)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from ctui.core import Coordinator
from ctui.core.errors import Conflict, StaleAttempt
from tests.conftest import CTUI, Cli
from tests.support import FakeClock, dump

CLAIM_TTL = 1.0

# A worker as its own process: claim through the CLI, write the attempt down, wait for
# `go`, then complete with the attempt it was given, and write down how that went.
WORKER = """
import json, os, subprocess, sys, time
ctui, task, out = sys.argv[1], sys.argv[2], sys.argv[3]
claim = subprocess.run([ctui, "--json", "task", "claim", task], capture_output=True, text=True)
attempt = json.loads(claim.stdout)["attempt"]
open(out + ".attempt", "w").write(str(attempt))
while not os.path.exists(out + ".go"):
    time.sleep(0.02)
done = subprocess.run(
    [ctui, "task", "complete", task, "--attempt", str(attempt), "--result", "stale result"],
    capture_output=True, text=True,
)
open(out + ".done", "w").write(json.dumps([done.returncode, done.stderr]))
"""


def short_claims(repo: Path) -> None:
    store = repo / ".ctui"
    store.mkdir(exist_ok=True)
    (store / "config.toml").write_text(f"[tasks]\nclaim_ttl = {CLAIM_TTL}\n")


def wait_for(path: Path, limit: float = 60) -> str:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)
    time.sleep(0.05)  # written in one call, but give the writer a moment to close it
    return path.read_text()


@pytest.mark.timeout(180)
def test_a_stopped_claimant_is_refused_and_the_fresh_attempt_completes(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    short_claims(repo)
    assert cli("instance", "register", "--id", "w1", "--pid", str(os.getpid())).returncode == 0
    task = cli("task", "add", "build the thing").stdout.strip()
    out = tmp_path / "worker"
    env = {**os.environ, "CTUI_INSTANCE_ID": "w1"}
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, CTUI, task, str(out)], cwd=repo, env=env
    )
    try:
        assert wait_for(out.with_suffix(".attempt")) == "1"
        os.kill(worker.pid, signal.SIGSTOP)
        time.sleep(CLAIM_TTL + 0.5)  # the stopped worker's claim runs out
        fresh = cli.json("task", "claim", task, env={"CTUI_INSTANCE_ID": "w1"})
        assert (fresh["claimed_by"], fresh["attempt"]) == ("w1", 2)
        before = dump(repo / ".ctui" / "ctui.db")
        out.with_suffix(".go").write_text("")
        os.kill(worker.pid, signal.SIGCONT)
        code, err = json.loads(wait_for(out.with_suffix(".done")))
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.kill()
            worker.wait()
    assert code == 11, err
    assert err.count("\n") == 1 and "attempt 1" in err and "attempt 2 now holds it" in err, err
    assert dump(repo / ".ctui" / "ctui.db") == before, "a refused completion changes nothing"

    done = cli("task", "complete", task, "--attempt", "2", "--result", "fresh result", env=env)
    assert done.returncode == 0, done.stderr
    shown = cli.json("task", "show", task)
    assert (shown["status"], shown["result"], shown["attempt"]) == ("done", "fresh result", 2)


def test_attempts_never_repeat_across_retry_and_guard_fail_and_renew(
    tc: Coordinator, clock: FakeClock
) -> None:
    me = tc.instances.register(role="worker").id
    task = tc.tasks.add("flaky", max_attempts=1)
    first = tc.tasks.claim(me, task.id)
    tc.tasks.fail(task.id, me, "boom", attempt=first.attempt)
    assert tc.tasks.get(task.id).status == "failed"
    tc.tasks.retry(task.id)
    second = tc.tasks.claim(me, task.id)
    assert (second.attempts, second.attempt) == (1, 2), "retry resets tries, never the number"
    for stale in (
        lambda: tc.tasks.complete(task.id, me, "old", attempt=first.attempt),
        lambda: tc.tasks.fail(task.id, me, "old", attempt=first.attempt),
        lambda: tc.tasks.renew(me, task.id, attempt=first.attempt),
        lambda: tc.tasks.complete(task.id, me, "never claimed", attempt=7),
    ):
        with pytest.raises(StaleAttempt) as info:
            stale()
        assert info.value.exit_code == 11 and "\n" not in info.value.message
    assert tc.tasks.renew(me, task.id, attempt=second.attempt)[0].attempt == 2
    other = tc.instances.register(role="worker").id
    with pytest.raises(Conflict):  # the current number does not make another instance the owner
        tc.tasks.complete(task.id, other, "mine?", attempt=second.attempt)
    assert tc.tasks.complete(task.id, me, "ok", attempt=second.attempt).status == "done"
    with pytest.raises(StaleAttempt):  # done by attempt 2: attempt 1 is still refused as stale
        tc.tasks.complete(task.id, me, "again", attempt=first.attempt)
    with pytest.raises(Conflict):  # and attempt 2 hears it is already done
        tc.tasks.complete(task.id, me, "again", attempt=second.attempt)


async def open_session(stack: AsyncExitStack, repo: Path) -> ClientSession:
    params = StdioServerParameters(command=CTUI, args=["mcp"], cwd=repo, env=dict(os.environ))
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def tool(session: ClientSession, name: str, **args: Any) -> tuple[bool, Any]:
    result = await session.call_tool(name, args)
    if result.is_error:
        return True, " ".join(getattr(part, "text", "") for part in result.content)
    return False, result.structured_content


def server_pids(repo: Path) -> set[int]:
    found = subprocess.run(
        ["pgrep", "-f", f"{CTUI} mcp"], capture_output=True, text=True
    ).stdout.split()
    return {int(p) for p in found if Path(f"/proc/{p}/cwd").resolve() == repo.resolve()}


def unchanged_by_tools(repo: Path) -> dict[str, Any]:
    """The whole store but the instances and hosts tables: every MCP tool call heartbeats
    its caller (and so its host)."""
    rows = dict(dump(repo / ".ctui" / "ctui.db"))
    rows.pop("instances")
    rows.pop("hosts")
    return rows


@pytest.mark.timeout(180)
async def test_mcp_sessions_remember_their_attempt_so_a_stale_one_is_refused(
    cli: Cli, repo: Path
) -> None:
    short_claims(repo)
    assert cli("instance", "register", "--id", "w1", "--pid", str(os.getpid())).returncode == 0
    task = cli("task", "add", "shared job").stdout.strip()
    with anyio.fail_after(150):
        async with AsyncExitStack() as stack:
            old = await open_session(stack, repo)
            pids = server_pids(repo)
            error, claimed = await tool(old, "claim_task", task_id=task, instance_id="w1")
            assert not error and claimed["task"]["attempt"] == 1, claimed
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                await anyio.sleep(CLAIM_TTL + 0.5)
                new = await open_session(stack, repo)
                error, fresh = await tool(new, "claim_task", task_id=task, instance_id="w1")
                assert not error and fresh["task"]["attempt"] == 2, fresh
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
            before = unchanged_by_tools(repo)
            error, text = await tool(
                old, "complete_task", task_id=task, result="stale", instance_id="w1"
            )
            assert error and "attempt 2 now holds it" in text, text
            assert unchanged_by_tools(repo) == before, "a refused completion changes nothing"
            error, done = await tool(
                new, "complete_task", task_id=task, result="fresh", instance_id="w1"
            )
            assert not error and done["result"] == "fresh", done


RACER = """
import random, sys, time
from ctui.core import Coordinator
from ctui.core.errors import Conflict, StaleAttempt

repo, task, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = Coordinator.open(repo)
outcome = {"ok": 0, "stale": 0}
time.sleep(start)
while True:
    try:
        attempt = c.tasks.claim("w1", task).attempt
    except Conflict:
        break  # done (or failed for good): nothing left to claim
    time.sleep(random.uniform(0.1, 1.0))
    try:
        c.tasks.complete(task, "w1", f"attempt {attempt}", attempt=attempt)
        outcome["ok"] += 1
        break
    except StaleAttempt:
        outcome["stale"] += 1
    except Conflict:
        break
print(outcome["ok"], outcome["stale"])
"""


@pytest.mark.timeout(300)
def test_racing_claimants_under_one_id_record_exactly_the_current_attempt(
    cli: Cli, repo: Path
) -> None:
    """Processes under one instance id claim, dawdle past a 0.2 s TTL and complete with
    their attempt: each task is done once, by the attempt that was current when it was."""
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text("[tasks]\nclaim_ttl = 0.2\nmax_attempts = 100\n")
    assert cli("instance", "register", "--id", "w1", "--pid", str(os.getpid())).returncode == 0
    stale = 0
    for n in range(4):
        task = cli("task", "add", f"job {n}").stdout.strip()
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(repo), task, str(0.3 * i)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(4)
        ]
        counts = [tuple(map(int, r.communicate(timeout=240)[0].split())) for r in racers]
        assert sum(ok for ok, _ in counts) == 1, counts
        stale += sum(s for _, s in counts)
        shown = cli.json("task", "show", task)
        assert shown["status"] == "done" and shown["result"] == f"attempt {shown['attempt']}"
    print(f"stale completions refused: {stale}")
    assert stale > 0, "the race never produced a stale claimant: it tested nothing"
