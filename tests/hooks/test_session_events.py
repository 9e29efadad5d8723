"""Session events: states, subagents, SessionEnd, and the context Claude reads."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from ctui.core import Coordinator
from tests.hooks.support import SESSION_A, SESSION_B, Hook, rows, snapshot

AGENT = "a1b2c3d4e5f60718"
SUB = "claude-4f2c9a1e.a1b2c3d4"


def _state(repo: Path, instance: str = "claude-4f2c9a1e") -> str:
    return str(
        rows(repo / ".ctui" / "ctui.db", "SELECT state FROM instances WHERE id = ?", instance)[0][0]
    )


def test_states_follow_the_session(hook: Hook, repo: Path) -> None:
    assert hook.start().code == 0
    assert _state(repo) == "idle"
    assert hook("UserPromptSubmit").code == 0
    assert _state(repo) == "working"
    assert hook("Notification").allowed
    assert _state(repo) == "needs_input"
    assert hook("Stop").allowed
    assert _state(repo) == "idle"
    assert hook("Notification", extra={"notification_type": "auth_success"}).allowed
    assert _state(repo) == "idle"
    assert hook("SessionEnd").allowed
    assert _state(repo) == "ended"


def test_session_end_releases_all_and_requeues_claims(hook: Hook, repo: Path) -> None:
    hook.start()
    for name in ("README.md", "src/app.py"):
        hook("PreToolUse-Edit", file=repo / name)
    c = Coordinator.open(repo)
    try:
        task = c.tasks.add("write the docs")
        c.tasks.claim("claude-4f2c9a1e", task.id)
    finally:
        c.close()
    assert hook("SessionEnd", extra={"reason": "logout"}).allowed
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT COUNT(*) FROM leases") == [(0,)]
    assert rows(db, "SELECT status, claimed_by FROM tasks") == [("available", None)]
    assert (
        rows(db, "SELECT data FROM events WHERE kind = 'instance.ended'")[0][0].count("logout") == 1
    )


def test_session_end_of_an_unknown_session_is_a_no_op(hook: Hook, repo: Path) -> None:
    hook.start()
    before = snapshot(repo / ".ctui" / "ctui.db")
    assert hook("SessionEnd", session="never-seen-session-id").allowed
    assert snapshot(repo / ".ctui" / "ctui.db") == before


def test_subagent_is_its_own_instance(hook: Hook, repo: Path) -> None:
    hook.start()
    started = hook("SubagentStart")
    assert started.code == 0
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT parent_id, agent_id, role FROM instances WHERE id = ?", SUB) == [
        ("claude-4f2c9a1e", AGENT, "code-reviewer")
    ]
    target = repo / "src" / "app.py"
    sub_edit = {"agent_id": AGENT, "agent_type": "code-reviewer"}
    assert hook("PreToolUse-Edit", file=target, extra=sub_edit).allowed
    assert rows(db, "SELECT holder FROM leases") == [(SUB,)]

    denied = hook("PreToolUse-Edit", session=SESSION_B, file=target)
    assert denied.denied and SUB in denied.reason
    assert hook("PostToolUse-Edit", file=target, extra=sub_edit).allowed

    assert hook("SubagentStop").allowed
    assert _state(repo, SUB) == "ended"
    assert _state(repo) != "ended"
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).allowed


def test_subagent_may_edit_under_its_parents_lease(hook: Hook, repo: Path) -> None:
    hook.start()
    target = repo / "README.md"
    assert hook("PreToolUse-Edit", file=target).allowed
    sub_edit = {"agent_id": AGENT, "agent_type": "general-purpose"}
    assert hook("PreToolUse-Edit", file=target, extra=sub_edit).allowed
    target.write_text("# changed by the subagent\n")
    assert hook("PostToolUse-Edit", file=target, extra=sub_edit).allowed
    db = repo / ".ctui" / "ctui.db"
    import hashlib

    assert rows(db, "SELECT holder, sha1 FROM leases") == [
        ("claude-4f2c9a1e", hashlib.sha1(target.read_bytes()).hexdigest())
    ]
    sibling = {"agent_id": "ffffeeeeddddcccc", "agent_type": "general-purpose"}
    other = repo / "src" / "app.py"
    assert hook("PreToolUse-Edit", file=other, extra=sub_edit).allowed
    assert hook("PreToolUse-Edit", file=other, extra=sibling).denied


def test_session_end_ends_its_subagents(hook: Hook, repo: Path) -> None:
    hook.start()
    hook("SubagentStart")
    hook("PreToolUse-Edit", file=repo / "README.md", extra={"agent_id": AGENT})
    assert hook("SessionEnd").allowed
    assert _state(repo, SUB) == "ended"
    assert rows(repo / ".ctui" / "ctui.db", "SELECT COUNT(*) FROM leases") == [(0,)]


def test_session_start_context_names_agents_leases_tasks_decisions(hook: Hook, repo: Path) -> None:
    hook.start()
    hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    c = Coordinator.open(repo)
    try:
        c.decisions.add(category="api", title="Use REST for the public API", author="operator")
        c.tasks.add("write the migration guide")
    finally:
        c.close()
    answer = hook.start(SESSION_B)
    out = answer.json or {}
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    text = answer.context
    assert "claude-9b8e7d6c" in text  # who you are
    assert "claude-4f2c9a1e" in text and "src/app.py" in text
    assert "Use REST for the public API" in text
    assert "write the migration guide" in text


def test_prompt_context_shows_only_what_is_new(hook: Hook, repo: Path) -> None:
    hook.start()
    assert hook("UserPromptSubmit").json is None
    c = Coordinator.open(repo)
    try:
        c.decisions.add(category="db", title="Postgres for jobs", author="operator")
        c.discoveries.add("the auth tests need Redis", instance="operator")
    finally:
        c.close()
    first = hook("UserPromptSubmit")
    assert "Postgres for jobs" in first.context and "Redis" in first.context
    assert hook("UserPromptSubmit").json is None


def test_context_stays_under_10000_characters(hook: Hook, repo: Path) -> None:
    hook.start(SESSION_B)
    c = Coordinator.open(repo)
    try:
        holder = c.instances.register(instance_id="busy-agent", role="backend", task="x" * 400)
        for n in range(300):
            c.leases.acquire(
                f"src/module_{n:03d}_{'long' * 10}.py", instance=holder.id, intent="y" * 200
            )
        for n in range(150):
            c.decisions.add(
                category="arch",
                title=f"decision {n} " + "z" * 300,
                author="operator",
                description="d" * 2000,
            )
            c.discoveries.add(f"discovery {n} " + "w" * 500, instance="operator")
        for n in range(60):
            c.tasks.add(f"task {n} " + "t" * 800)
    finally:
        c.close()
    start = hook.start()
    assert 0 < len(start.context) < 10_000, len(start.context)
    assert "more" in start.context
    prompt = hook("UserPromptSubmit", session=SESSION_B)
    assert 0 < len(prompt.context) < 10_000, len(prompt.context)
    sub = hook("SubagentStart")
    assert len(sub.context) < 10_000


def test_bash_changes_to_files_others_lease_are_reported(hook: Hook, repo: Path) -> None:
    target = repo / "src" / "app.py"
    assert hook("PostToolUse-Bash").allowed  # nothing leased: silent, no git call needed
    assert hook("PreToolUse-Edit", session=SESSION_B, file=target).allowed
    hook.start()
    time.sleep(0.05)
    target.write_text("print('bye')\n")  # what `sed -i` in the Bash command did
    answer = hook("PostToolUse-Bash")
    assert answer.code == 0
    out = answer.json or {}
    assert out["hookSpecificOutput"]["hookEventName"] == "PostToolUse"
    assert "src/app.py" in answer.context and "claude-9b8e7d6c" in answer.context
    assert "systemMessage" in out


def test_bash_changes_under_a_glob_lease_are_reported(hook: Hook, repo: Path) -> None:
    c = Coordinator.open(repo)
    try:
        other = c.instances.register(instance_id="glob-holder")
        c.leases.acquire("src/**", instance=other.id)
    finally:
        c.close()
    hook.start()
    (repo / "src" / "new_module.py").write_text("x = 1\n")
    answer = hook("PostToolUse-Bash")
    assert "src/new_module.py" in answer.context and "src/**" in answer.context


def test_bash_leaves_the_holders_own_state_alone(hook: Hook, repo: Path) -> None:
    """Two sessions in one folder: the holder's own recorded edit is not reported to the other."""
    target = repo / "src" / "app.py"
    hook.start()
    hook("PreToolUse-Edit", session=SESSION_B, file=target)
    target.write_text("print('edited by B')\n")
    hook("PostToolUse-Edit", session=SESSION_B, file=target)
    assert hook("PostToolUse-Bash").json is None


def test_store_unchanged_after_read_only_failure(hook: Hook, repo: Path) -> None:
    """SessionEnd for a session that never started writes nothing."""
    db = repo / ".ctui" / "ctui.db"
    conn = sqlite3.connect(db)
    try:
        before = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    finally:
        conn.close()
    hook("SessionEnd", session=SESSION_A)
    assert rows(db, "SELECT COUNT(*) FROM events") == [before]


def test_agent_run_started_by_ctui_acts_as_its_instance(hook: Hook, repo: Path) -> None:
    """`CTUI_THREAD_ID` + `CTUI_INSTANCE_ID` (set by ctui's supervisor) name the instance."""
    env = {"CTUI_THREAD_ID": "fix-login", "CTUI_INSTANCE_ID": "fix-login-agent"}
    assert hook.start(env=env).code == 0
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py", env=env).allowed
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT session_id, thread_id FROM instances WHERE id = 'fix-login-agent'") == [
        (SESSION_A, "fix-login")
    ]
    assert rows(db, "SELECT holder FROM leases") == [("fix-login-agent",)]
    only_one = {"CTUI_INSTANCE_ID": "shared-by-mistake"}
    assert hook.start(SESSION_B, env=only_one).code == 0
    assert rows(db, "SELECT COUNT(*) FROM instances WHERE id = 'shared-by-mistake'") == [(0,)]


def test_first_prompt_becomes_the_task_others_see(hook: Hook, repo: Path) -> None:
    hook.start()
    hook("UserPromptSubmit", extra={"prompt": "\n  Fix the login redirect loop\nthen add a test"})
    hook("UserPromptSubmit", extra={"prompt": "yes, go on"})
    db = repo / ".ctui" / "ctui.db"
    assert rows(db, "SELECT task FROM instances WHERE id = 'claude-4f2c9a1e'") == [
        ("Fix the login redirect loop",)
    ]
    hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    denied = hook("PreToolUse-Edit", session=SESSION_B, file=repo / "src" / "app.py")
    assert "Fix the login redirect loop" in denied.reason


def test_notification_stores_what_the_agent_asks(hook: Hook, repo: Path) -> None:
    """The question is kept (the control room shows it); a non-waiting notice is not."""
    from ctui.core.flows import roster

    assert hook("SessionStart").code == 0
    assert hook("Notification").allowed
    assert hook(
        "Notification", extra={"notification_type": "auth_success", "message": "ok"}
    ).allowed
    asked = rows(
        repo / ".ctui" / "ctui.db", "SELECT actor, data FROM events WHERE kind = ?", roster.ASKED
    )
    assert [(a, json.loads(d)["message"]) for a, d in asked] == [
        ("claude-4f2c9a1e", "Claude needs your permission to use Bash")
    ]
    c = Coordinator.open(repo)
    try:
        found = roster.agents(
            [i.field_dict() for i in c.instances.list()],
            [],
            events=[e.to_dict() for e in c.events.recent(50)],
            now=c.now(),
        )
    finally:
        c.close()
    assert [(a["name"], a["state"], a["question"]) for a in found] == [
        ("claude-4f2c9a1e", "waiting", "Claude needs your permission to use Bash")
    ]
