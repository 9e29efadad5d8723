"""The agents, as the operator thinks of them: one row per thread or live Claude session.

`agents()` folds the store's records (plain dicts: a core object's fields or
an API document) into one list: a thread and the instances its runs
registered are one agent; a hand-started Claude session is another; the
operator and subagents are not agents of their own (a subagent's leases count
for its parent). Each agent has a state the operator acts on:

    working   the agent is busy (its current activity in `doing`); while a tool
              runs, `tool` names it ("running Bash") and `doing` is its target
    waiting   it asks something (the Notification text in `question`)
    idle      it waits for a prompt, or a thread is ready but not started
    failed    it died or its run failed (`reason` says why)
    done      it finished, was stopped or ended

`sentence()` writes one event as the sentence the Activity view shows.
No I/O here: the caller reads the records (and log tails) and passes them in.
"""

from __future__ import annotations

from datetime import datetime

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    Rec = Mapping[str, Any]

OPERATOR = "operator"
STATES = ("working", "waiting", "idle", "failed", "done")
ENDED = frozenset({"done"})
"""States hidden unless the operator asks for ended agents (failed ones stay in view)."""
ASKED = "instance.asked"
"""The event a Notification hook records: `data.message` is what the agent asks."""
QUIET = frozenset({"instance.state", "lease.renewed"})
"""Events that say nothing about what an agent is doing (DOING skips them)."""
ORDER = {"waiting": 0, "failed": 1, "working": 2, "idle": 3, "done": 4}

THREAD_STATE = {
    "running": "working",
    "waiting": "waiting",
    "blocked": "waiting",
    "failed": "failed",
    "completed": "done",
    "merged": "done",
    "stopped": "done",
    "created": "idle",
    "ready": "idle",
}
INSTANCE_STATE = {
    "working": "working",
    "needs_input": "waiting",
    "idle": "idle",
    "stale": "failed",
    "ended": "done",
}


def when(value: Any) -> float | None:
    """Epoch seconds from a float or an ISO-8601 string (API documents)."""
    if value is None or isinstance(value, int | float):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def agents(
    instances: Iterable[Rec],
    threads: Iterable[Rec],
    leases: Iterable[Rec] = (),
    events: Iterable[Rec] = (),
    *,
    now: float,
    last_lines: Mapping[str, str] | None = None,
    tools: Mapping[str, tuple[str, str | None]] | None = None,
    ended: bool = False,
) -> list[dict[str, Any]]:
    """Every agent (the ended ones only with `ended`), those needing the operator first.

    `events` are recent events, any order; `last_lines` maps a thread's name to
    the last readable line of its log (what a headless run is doing now) and
    `tools` to the tool its log says runs now (name, target). A session's tool
    comes from its instance (`tool`, `tool_target`, which the hooks keep).
    """
    insts = [i for i in instances if i.get("id") and i["id"] != OPERATOR]
    by_id = {i["id"]: i for i in insts}
    top = {i["id"]: _top(i, by_id) for i in insts}
    files: dict[str, list[str]] = {}
    for lease in sorted(leases, key=lambda x: str(x.get("path"))):
        holder = top.get(str(lease.get("holder")), lease.get("holder"))
        if holder:
            files.setdefault(str(holder), []).append(str(lease.get("path")))
    latest: dict[str, Rec] = {}
    asked: dict[str, Rec] = {}
    for e in sorted(events, key=lambda e: int(e.get("id") or 0)):
        who = top.get(str(e.get("actor")), e.get("actor"))
        if not who:
            continue
        if e.get("kind") not in QUIET:
            latest[str(who)] = e
        if e.get("kind") == ASKED:
            asked[str(who)] = e
        elif e.get("kind") == "instance.state" and (e.get("data") or {}).get("to") != "needs_input":
            asked.pop(str(who), None)  # it stopped waiting: that question was answered
    lines = last_lines or {}
    found: list[dict[str, Any]] = []
    claimed: set[str] = set()
    runs: dict[str, list[Rec]] = {}
    for i in insts:
        if i.get("parent_id") is None and i.get("thread_id"):
            runs.setdefault(str(i["thread_id"]), []).append(i)
    for t in threads:
        own = list(runs.get(str(t.get("name")), []))
        named = by_id.get(str(t.get("instance_id")))
        if named is not None and named.get("parent_id") is None and named not in own:
            own.append(named)
        own.sort(key=lambda i: when(i.get("started_at")) or 0.0)
        claimed.update(i["id"] for i in own)
        inst = own[-1] if own else None
        agent = _thread_agent(t, inst, files, latest, asked, lines, now)
        _running(agent, (tools or {}).get(str(t.get("name"))) or _inst_tool(inst))
        found.append(agent)
    for i in insts:
        if i["id"] in claimed or i.get("parent_id") is not None:
            continue
        agent = _session_agent(i, files, latest, asked, now)
        _running(agent, _inst_tool(i))
        found.append(agent)
    if not ended:
        found = [a for a in found if a["state"] not in ENDED]
    found.sort(key=lambda a: (ORDER.get(a["state"], 9), -(a["started"] or 0.0), a["name"]))
    return found


def _inst_tool(inst: Rec | None) -> tuple[str, str | None] | None:
    if inst is None or not inst.get("tool"):
        return None
    return str(inst["tool"]), inst.get("tool_target")


def _running(agent: dict[str, Any], tool: tuple[str, str | None] | None) -> None:
    """A working agent running a tool: `tool` names it and `doing` says on what."""
    agent["tool"] = agent["tool_target"] = None
    if tool is None or agent["state"] != "working":
        return
    agent["tool"], agent["tool_target"] = tool
    if tool[1]:
        agent["doing"] = " ".join(str(tool[1]).split())


def _top(inst: Rec, by_id: Mapping[str, Rec]) -> str:
    """The top-level instance a subagent belongs to (itself when it has no parent)."""
    seen: set[str] = set()
    while inst.get("parent_id") in by_id and inst["id"] not in seen:
        seen.add(inst["id"])
        inst = by_id[inst["parent_id"]]
    return str(inst["id"])


def _question(inst: Rec | None, asked: Mapping[str, Rec]) -> str | None:
    if inst is None or inst.get("state") != "needs_input":
        return None
    e = asked.get(inst["id"])
    if e is None or (when(e.get("at")) or 0) < (when(inst.get("state_at")) or 0) - 1:
        return None
    message = (e.get("data") or {}).get("message")
    return str(message) if message else None


def _thread_agent(
    t: Rec,
    inst: Rec | None,
    files: Mapping[str, list[str]],
    latest: Mapping[str, Rec],
    asked: Mapping[str, Rec],
    lines: Mapping[str, str],
    now: float,
) -> dict[str, Any]:
    status = str(t.get("status") or "")
    state = THREAD_STATE.get(status, "idle")
    live = inst is not None and inst.get("state") not in ("ended", None)
    if state == "working" and live and inst is not None and inst.get("state") == "needs_input":
        state = "waiting"
    question = _question(inst, asked) if live else None
    reason = None
    if state == "failed":
        reason = t.get("error") or (
            f"exited with code {t['exit_code']}" if t.get("exit_code") not in (None, 0) else None
        )
        reason = str(reason or "the run failed")
    elif status == "stopped":
        reason = "stopped"
    name = str(t["name"])
    doing = question
    if doing is None and state == "working":
        e = latest.get(inst["id"]) if inst is not None else None
        doing = (sentence(e, subjectless=True) if e is not None else None) or lines.get(name)
    if doing is None and state == "idle":
        doing = "ready to start" if status in ("ready", "created") else "waiting for a prompt"
    if doing is None and state == "done":
        doing = lines.get(name)
    started, ended = when(t.get("started_at")), when(t.get("ended_at"))
    held = files.get(inst["id"], []) if inst is not None and live else []
    return {
        "key": f"thread:{name}",
        "name": name,
        "kind": "thread",
        "thread": name,
        "instance": inst["id"] if inst is not None else None,
        "state": state,
        "status": status,
        "doing": doing,
        "question": question,
        "reason": reason,
        "files": held,
        "task": t.get("task_id") or (inst.get("task") if inst is not None else None),
        "branch": t.get("branch"),
        "base": t.get("base"),
        "worktree": t.get("worktree"),
        "mode": t.get("mode"),
        "agent": t.get("agent"),
        "session_id": t.get("session_id"),
        "started": started,
        "runtime": None if started is None else max(0.0, (ended or now) - started),
        "cost": float(t.get("cost_usd") or 0.0),
        "merge": t.get("merge"),
    }


def _session_agent(
    i: Rec,
    files: Mapping[str, list[str]],
    latest: Mapping[str, Rec],
    asked: Mapping[str, Rec],
    now: float,
) -> dict[str, Any]:
    raw = str(i.get("state") or "")
    state = INSTANCE_STATE.get(raw, "idle")
    beat = when(i.get("heartbeat_at"))
    reason = None
    if raw == "stale":
        reason = "stopped answering" + (
            f" (last heard {int(now - beat)}s ago)" if beat is not None else ""
        )
    question = _question(i, asked)
    doing = question
    if doing is None and state == "working":
        e = latest.get(i["id"])
        doing = sentence(e, subjectless=True) if e is not None else None
    if doing is None and state == "idle":
        doing = "waiting for a prompt"
    started, ended = when(i.get("started_at")), when(i.get("ended_at"))
    return {
        "key": f"instance:{i['id']}",
        "name": str(i["id"]),
        "kind": "session",
        "thread": None,
        "instance": i["id"],
        "state": state,
        "status": raw,
        "doing": doing,
        "question": question,
        "reason": reason,
        "files": files.get(i["id"], []) if state != "done" else [],
        "task": i.get("task"),
        "branch": i.get("branch"),
        "base": None,
        "worktree": i.get("worktree") or i.get("cwd"),
        "mode": None,
        "agent": i.get("agent"),
        "session_id": i.get("session_id"),
        "started": started,
        "runtime": None if started is None else max(0.0, (ended or now) - started),
        "cost": 0.0,
        "merge": None,
    }


def counts(found: Iterable[Rec]) -> dict[str, int]:
    """How many agents are in each state (every state present, zeros included)."""
    out = dict.fromkeys(STATES, 0)
    for a in found:
        out[str(a["state"])] = out.get(str(a["state"]), 0) + 1
    return out


def _data(e: Rec) -> dict[str, Any]:
    data = e.get("data")
    return data if isinstance(data, dict) else {}


def _phrase(kind: str, subject: str, d: Mapping[str, Any]) -> str | None:
    """What happened, without who did it (None when the kind has no sentence)."""
    intent = f" to {d['intent']}" if d.get("intent") else ""
    phrases = {
        "lease.acquired": f"took {subject}{intent}",
        "lease.released": f"released {subject}",
        "lease.renewed": f"renewed {subject}",
        "lease.expired": f"let {subject} expire",
        "lease.forced": f"force-released {subject}"
        + (f" ({d['reason']})" if d.get("reason") else ""),
        "lease.conflict": f"found {subject} changed under its lease",
        "task.added": f"added task {subject}",
        "task.claimed": f"claimed task {subject}",
        "task.done": f"finished task {subject}",
        "task.failed": f"failed task {subject}" + (f": {d['reason']}" if d.get("reason") else ""),
        "task.requeued": f"put task {subject} back in the queue",
        "task.cancelled": f"cancelled task {subject}",
        "task.retried": f"retried task {subject}",
        "decision.logged": f"logged decision {subject}"
        + (f": {d['title']}" if d.get("title") else ""),
        "discovery.added": "noted a discovery",
        "instance.registered": "started" + (f" on {d['task']}" if d.get("task") else ""),
        "instance.ended": "ended" + (f" ({d['reason']})" if d.get("reason") else ""),
        "instance.stale": "stopped answering",
        "instance.task": f"now works on {d.get('task') or subject}",
        ASKED: f"asks: {d.get('message') or 'for input'}",
        "thread.created": f"created thread {subject}",
        "thread.started": f"started thread {subject}"
        + (f" (run {d['run']})" if d.get("run") else ""),
        "thread.stopped": f"stopped thread {subject}",
        "thread.failed": f"thread {subject} failed" + (f": {d['error']}" if d.get("error") else ""),
        "thread.removed": f"deleted thread {subject}",
        "thread.sent": f"sent {subject} a message"
        + (f": {d['message']}" if d.get("message") else ""),
        "thread.merged": f"merged thread {subject}",
        "merge.queued": f"queued {subject} to merge",
        "merge.removed": f"took {subject} out of the merge queue",
    }
    if kind == "instance.state":
        to = {"needs_input": "waits for input", "working": "is working", "idle": "is idle"}
        return to.get(str(d.get("to")), f"is {d.get('to')}")
    return phrases.get(kind)


def sentence(e: Rec, *, subjectless: bool = False) -> str:
    """One event as a sentence: "backend-0001 took src/auth.py to refactor login".

    With `subjectless`, the actor is left out (the row already names it).
    Unknown kinds fall back to the kind and its data, so nothing is hidden.
    """
    kind = str(e.get("kind") or "")
    subject = str(e.get("subject") or "")
    d = _data(e)
    phrase = _phrase(kind, subject, d)
    if phrase is None:
        detail = " ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))
        phrase = " ".join(p for p in (kind, subject, detail) if p)
    if subjectless:
        return phrase
    actor = e.get("actor")
    if kind.startswith("thread.") and not actor:
        return phrase[0].upper() + phrase[1:] if phrase.startswith("thread ") else phrase
    return f"{actor or 'ctui'} {phrase}"
