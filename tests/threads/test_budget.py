"""Budgets, usage limits and resume, with real supervisors running the fake agent."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.instances import pid_alive
from ctui.core.threads import runs
from ctui.core.threads.procs import group_members
from tests.conftest import Cli
from tests.threads.conftest import wait_for


def _config(repo: Path, text: str) -> None:
    (repo / ".ctui").mkdir(exist_ok=True)
    (repo / ".ctui" / "config.toml").write_text(text)


def _ended(c: Coordinator, name: str, timeout: float = 30.0) -> object:
    return wait_for(
        lambda: (t := c.threads.get(name)).status not in ("running", "waiting") and t,
        timeout=timeout,
        what=f"{name} to end",
    )


def test_a_thread_past_its_token_cap_is_stopped_from_the_live_stream(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    """The cap is crossed by assistant lines while the agent still runs (it would hang
    forever after them): only the live count can stop it, never the final result line."""
    proc = cli(
        "spawn",
        "spender",
        "--no-worktree",
        "--prompt",
        "FAKE_SPEND=6:10000 FAKE_HANG",
        "--budget-tokens",
        "35000",
    )
    assert proc.returncode == 0, proc.stderr
    t = _ended(coord, "spender")
    assert t.status == "budget_exceeded"  # type: ignore[attr-defined]
    assert "35,000 tokens" in (t.error or "")  # type: ignore[attr-defined]
    assert not t.agent_pid or not pid_alive(t.agent_pid)  # type: ignore[attr-defined]
    assert 35_000 <= t.tokens_in + t.tokens_out < 80_000  # type: ignore[attr-defined]
    kinds = [e.kind for e in coord.events.recent(50) if e.subject == "spender"]
    assert "budget.warning" in kinds and "thread.budget_exceeded" in kinds
    stopped = next(e for e in coord.events.recent(50) if e.kind == "thread.budget_exceeded")
    assert stopped.data["scope"] == "thread" and stopped.data["cap"] == 35000
    wait_for(lambda: not group_members(t.supervisor_pid), what="the run's processes to go")  # type: ignore[attr-defined]
    listed = runs.listed(coord, "spender")
    assert [r["status"] for r in listed] == ["budget_exceeded"]
    again = cli("thread", "resume", "spender", "--wait")
    assert again.returncode != 0 and "not started" in (coord.threads.get("spender").error or "")
    raised = cli("thread", "resume", "spender", "--budget-tokens", "500000", "--wait")
    assert raised.returncode == 0, raised.stderr
    t = coord.threads.get("spender")
    assert t.status == "completed" and t.run_id == 3 and t.budget == '{"tokens": 500000.0}'


def test_a_usd_cap_from_config_counts_the_live_estimate(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    _config(repo, "[budget]\nthread_usd = 0.05\n")
    assert (
        cli("spawn", "pricey", "--no-worktree", "-p", "FAKE_SPEND=20:5000 FAKE_HANG").returncode
        == 0
    )
    t = _ended(coord, "pricey")
    assert t.status == "budget_exceeded" and "$0.0500" in (t.error or "")  # type: ignore[attr-defined]
    status = cli.json("status")
    assert status["budget"]["caps"] == {"thread_usd": 0.05}  # type: ignore[index]
    assert status["budget"]["day"]["usd"] >= 0.05  # type: ignore[index]


def test_no_budget_means_no_change(repo: Path, cli: Cli, coord: Coordinator) -> None:
    proc = cli("spawn", "free", "--no-worktree", "-p", "FAKE_SPEND=5:100000", "--wait")
    assert proc.returncode == 0, proc.stderr
    t = coord.threads.get("free")
    assert t.status == "completed" and t.budget is None
    assert not [e for e in coord.events.recent(50) if e.kind.startswith("budget.")]
    assert cli.json("status")["budget"]["day"]["usd_cap"] is None  # type: ignore[index]


def test_a_thread_over_the_day_cap_does_not_start(repo: Path, cli: Cli, coord: Coordinator) -> None:
    assert (
        cli("spawn", "first", "--no-worktree", "-p", "FAKE_SPEND=3:10000", "--wait").returncode == 0
    )
    _config(repo, "[budget]\nday_tokens = 20000\n")
    proc = cli("spawn", "second", "--no-worktree", "-p", "FAKE_WRITE=x.txt:x", "--wait")
    assert proc.returncode != 0
    t = coord.threads.get("second")
    assert t.status == "budget_exceeded" and "day (UTC) budget" in (t.error or "")
    assert not (repo / "x.txt").exists()


def test_a_usage_limit_pauses_and_resume_continues_the_session(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    reset = 1_900_000_000
    proc = cli("spawn", "limited", "-p", f"FAKE_LIMIT={reset}", "--wait")
    assert proc.returncode != 0
    t = coord.threads.get("limited")
    assert t.status == "paused" and t.resume_at == reset and t.session_id
    assert "usage limit" in (t.error or "")
    session = t.session_id
    proc = cli("thread", "resume", "limited", "--wait", "--json")
    assert proc.returncode == 0, proc.stderr
    t = coord.threads.get("limited")
    assert t.status == "completed" and t.run_id == 2 and t.session_id == session
    assert f"resumed session {session}" in coord.threads.logs("limited", tail=0)
    listed = runs.listed(coord, "limited")
    assert [(r["status"], r["kind"], r["resumes"]) for r in listed] == [
        ("paused", "start", None),
        ("completed", "resume", session),
    ]
    shown = cli("thread", "status", "limited")
    assert "run #1" in shown.stdout and f"resumes {session}" in shown.stdout


def test_a_429_without_reset_waits_the_configured_time(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    _config(repo, "[threads]\nlimit_wait = 600\n")
    assert cli("spawn", "rated", "--no-worktree", "-p", "FAKE_LIMIT", "--wait").returncode != 0
    t = coord.threads.get("rated")
    assert t.status == "paused" and t.resume_at and t.ended_at
    assert 599 <= t.resume_at - t.ended_at <= 601
    assert "429" in (t.error or "")


def test_resume_after_the_supervisor_died(repo: Path, cli: Cli, coord: Coordinator) -> None:
    assert cli("spawn", "crashy", "-p", "FAKE_WRITE=a.txt:a FAKE_HANG").returncode == 0
    t = wait_for(
        lambda: (x := coord.threads.get("crashy")).session_id and x.agent_pid and x,
        what="the session id to be recorded",
    )
    os.killpg(t.supervisor_pid, signal.SIGKILL)  # type: ignore[attr-defined]
    wait_for(lambda: coord.threads.get("crashy").status == "failed", what="the reaper")
    proc = cli("thread", "resume", "crashy", "-p", "pick up where you left off", "--wait")
    assert proc.returncode == 0, proc.stderr
    after = coord.threads.get("crashy")
    assert after.status == "completed" and after.run_id == 2
    assert after.worktree == t.worktree and after.session_id == t.session_id  # type: ignore[attr-defined]
    assert [r["status"] for r in runs.listed(coord, "crashy")] == ["failed", "completed"]


def test_resume_refuses_what_it_cannot_continue(repo: Path, cli: Cli, coord: Coordinator) -> None:
    assert (
        cli("spawn", "cmd", "--no-worktree", "--agent", "command", "--command", "true").returncode
        == 0
    )
    _ended(coord, "cmd")
    proc = cli("thread", "resume", "cmd")
    assert proc.returncode == 2 and "only automatic and semi-auto claude" in proc.stderr
    assert cli("thread", "create", "fresh", "--no-worktree", "-p", "x").returncode == 0
    proc = cli("thread", "resume", "fresh")
    assert proc.returncode != 0 and "only a paused or ended thread" in proc.stderr
    assert cli("thread", "resume", "nope").returncode == 4


def test_each_thread_gets_a_port_block_and_the_config_env(
    repo: Path, cli: Cli, coord: Coordinator
) -> None:
    _config(
        repo,
        '[thread]\nport_start = 41000\nport_block = 5\n[thread.env]\nAPP_DB = "db_{thread}"\n',
    )
    assert cli("spawn", "hold", "--no-worktree", "-p", "FAKE_HANG").returncode == 0
    wait_for(lambda: coord.threads.get("hold").agent_pid, what="the first agent")
    for name, var in (("p2", "CTUI_PORT_BASE"), ("p3", "APP_DB")):
        proc = cli("spawn", name, "--no-worktree", "-p", f"FAKE_ENV={var}", "--wait")
        assert proc.returncode == 0, proc.stderr
    assert coord.threads.get("hold").port_base == 41000
    assert "CTUI_PORT_BASE=41005" in coord.threads.logs("p2", tail=0)
    assert "APP_DB=db_p3" in coord.threads.logs("p3", tail=0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[budget]\nday_usd = -1\n", "[budget] day_usd must be above 0"),
        ('[budget]\nthread_tokens = "lots"\n', "[budget] thread_tokens must be a number"),
        ("[budget]\nwarn_at = 2\n", "[budget] warn_at must be between 0 and 1"),
        ("[budget]\nday_dollars = 3\n", "unknown setting [budget] day_dollars"),
        ('[thread.env]\n"bad name" = "x"\n', "is not a variable name"),
    ],
)
def test_a_malformed_budget_is_one_line_naming_the_key(
    repo: Path, cli: Cli, text: str, message: str
) -> None:
    _config(repo, text)
    proc = cli("status")
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_budget_flags_are_checked(repo: Path, cli: Cli) -> None:
    proc = cli("spawn", "neg", "--no-worktree", "-p", "x", "--budget-usd", "-2")
    assert proc.returncode == 2 and "--budget-usd" in proc.stderr
    assert not (repo / ".ctui" / "logs" / "neg.log").exists()
    assert json.loads(cli("thread", "list", "--json").stdout) == []
