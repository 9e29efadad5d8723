"""The store's schema, as forward-only migrations.

`MIGRATIONS[i]` takes a database from `PRAGMA user_version` i to i + 1. Add a
new entry to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

CORE = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);

CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    session_id TEXT,
    agent_id TEXT,
    parent_id TEXT,
    role TEXT,
    task TEXT,
    cwd TEXT,
    worktree TEXT,
    branch TEXT,
    pid INTEGER,
    pid_start TEXT,
    host TEXT,
    agent TEXT,
    thread_id TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    ttl REAL NOT NULL,
    state TEXT NOT NULL,
    state_at REAL NOT NULL,
    ended_at REAL,
    last_seen_event INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX instances_session ON instances(session_id, agent_id);
CREATE INDEX instances_state ON instances(state);

CREATE TABLE leases (
    path TEXT PRIMARY KEY,
    is_glob INTEGER NOT NULL,
    prefix TEXT NOT NULL,
    holder TEXT NOT NULL REFERENCES instances(id),
    token INTEGER NOT NULL,
    intent TEXT,
    acquired_at REAL NOT NULL,
    renewed_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    ttl REAL NOT NULL,
    sha1 TEXT
);
CREATE INDEX leases_holder ON leases(holder);
CREATE INDEX leases_globs ON leases(is_glob, prefix);
CREATE INDEX leases_expiry ON leases(expires_at);

CREATE TABLE lease_waiters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    is_glob INTEGER NOT NULL,
    prefix TEXT NOT NULL,
    instance TEXT NOT NULL,
    since REAL NOT NULL,
    seen_at REAL NOT NULL
);

CREATE TABLE decisions (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    seq INTEGER NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at REAL NOT NULL,
    supersedes TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    UNIQUE (day, seq)
);
CREATE INDEX decisions_category ON decisions(category, created_at);
CREATE INDEX decisions_created ON decisions(created_at);
CREATE VIRTUAL TABLE decisions_fts USING fts5(
    title, description, category, content='decisions', content_rowid='rowid'
);
CREATE TRIGGER decisions_ai AFTER INSERT ON decisions BEGIN
    INSERT INTO decisions_fts(rowid, title, description, category)
    VALUES (new.rowid, new.title, new.description, new.category);
END;
CREATE TRIGGER decisions_ad AFTER DELETE ON decisions BEGIN
    INSERT INTO decisions_fts(decisions_fts, rowid, title, description, category)
    VALUES ('delete', old.rowid, old.title, old.description, old.category);
END;
CREATE TRIGGER decisions_au AFTER UPDATE ON decisions BEGIN
    INSERT INTO decisions_fts(decisions_fts, rowid, title, description, category)
    VALUES ('delete', old.rowid, old.title, old.description, old.category);
    INSERT INTO decisions_fts(rowid, title, description, category)
    VALUES (new.rowid, new.title, new.description, new.category);
END;

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    subject TEXT,
    data TEXT NOT NULL DEFAULT '{}'
);
"""

WORK = """
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    num INTEGER NOT NULL UNIQUE,
    description TEXT NOT NULL,
    priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 10),
    status TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '{}',
    claimed_by TEXT,
    claimed_at REAL,
    claim_expires_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    result TEXT,
    error TEXT,
    created_by TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    done_at REAL,
    thread_id TEXT
);
CREATE INDEX tasks_queue ON tasks(status, priority, num);
CREATE INDEX tasks_claimant ON tasks(claimed_by);
CREATE TABLE task_deps (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    depends_on TEXT NOT NULL REFERENCES tasks(id),
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_deps_reverse ON task_deps(depends_on);

CREATE TABLE discoveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance TEXT,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL
);

CREATE TABLE threads (
    name TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    agent TEXT NOT NULL,
    command TEXT,
    template TEXT,
    prompt TEXT,
    context TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    worktree TEXT,
    branch TEXT,
    base TEXT,
    supervisor_pid INTEGER,
    supervisor_start TEXT,
    host TEXT,
    agent_pid INTEGER,
    run_id INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    error TEXT,
    log_path TEXT,
    session_id TEXT,
    instance_id TEXT,
    task_id TEXT,
    turns INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    gate TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL
);
CREATE INDEX threads_status ON threads(status);
"""

MERGE_QUEUE = """
CREATE TABLE merge_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread TEXT NOT NULL,
    branch TEXT NOT NULL,
    base TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    head TEXT,
    candidate TEXT,
    tested_tip TEXT,
    landed TEXT,
    gate TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_by TEXT,
    queued_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX merge_queue_status ON merge_queue(status, id);
CREATE UNIQUE INDEX merge_queue_open ON merge_queue(thread) WHERE status IN ('queued', 'testing');
CREATE TABLE merge_runner (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT,
    pid INTEGER,
    pid_start TEXT,
    host TEXT,
    token INTEGER NOT NULL DEFAULT 0,
    expires_at REAL NOT NULL DEFAULT 0
);
INSERT INTO merge_runner(id) VALUES (1);
"""

RUNS = """
ALTER TABLE threads ADD COLUMN resume_at REAL;
ALTER TABLE threads ADD COLUMN port_base INTEGER;
ALTER TABLE threads ADD COLUMN budget TEXT;
ALTER TABLE threads ADD COLUMN run_group TEXT;
CREATE UNIQUE INDEX threads_live_ports ON threads(port_base)
    WHERE port_base IS NOT NULL AND status IN ('running', 'waiting');
CREATE INDEX threads_group ON threads(run_group);
CREATE TABLE runs (
    thread TEXT NOT NULL,
    run INTEGER NOT NULL,
    kind TEXT NOT NULL,
    resumes TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    session_id TEXT,
    cost_usd REAL NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    ended_at REAL,
    PRIMARY KEY (thread, run)
);
CREATE INDEX runs_started ON runs(started_at);
CREATE TABLE orchestrator_runs (
    id TEXT PRIMARY KEY,
    goal TEXT NOT NULL,
    tasks TEXT NOT NULL DEFAULT '[]',
    budget TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX orchestrator_runs_goal ON orchestrator_runs(goal);
"""

# Imports look tasks up by their source id: indexed, so an import is linear in its size.
TASK_SOURCE = """
CREATE INDEX IF NOT EXISTS tasks_source ON tasks(json_extract(context, '$.source.id'));
"""

# What the client reported (issue 17): the four token figures kept apart (input,
# output, cache creation, cache read) and the API's error status of a failed run.
THREAD_USAGE = """
ALTER TABLE threads ADD COLUMN tokens_cache_creation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN tokens_cache_read INTEGER NOT NULL DEFAULT 0;
ALTER TABLE threads ADD COLUMN api_error_status INTEGER;
"""

# Claims carry an attempt number (DESIGN §14): `attempt` counts every claim of the task and
# never resets (`attempts`, which `retry` resets, counts toward `max_attempts`), so a stale
# claimant's number never matches a later claim.
CLAIM_ATTEMPT = """
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET attempt = attempts;
"""

# Hosts (issue 18): each machine has a stable id and a heartbeat, and what runs somewhere says
# where. A pid is checked only on its own host; a host whose heartbeat lapses has its work
# freed. `clock_offset` is the host's clock minus the store's (0 where the store has no
# clock of its own). A thread's `host_id` is its home (where its supervisor runs), and a stop
# asked from another host is written on the thread's row for that supervisor to obey.
HOSTS = """
CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    first_seen REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    clock_offset REAL NOT NULL DEFAULT 0
);
ALTER TABLE instances ADD COLUMN host_id TEXT;
CREATE INDEX instances_host ON instances(host_id);
ALTER TABLE threads ADD COLUMN host_id TEXT;
ALTER TABLE threads ADD COLUMN stop_requested_at REAL;
ALTER TABLE threads ADD COLUMN stop_requested_by TEXT;
ALTER TABLE runs ADD COLUMN host_id TEXT;
ALTER TABLE merge_runner ADD COLUMN host_id TEXT;
"""

# What an agent is doing now (issue 12): the tool a PreToolUse hook saw start, and its target
# (a file, a command), cleared when the tool ends (PostToolUse) or the agent stops working.
# The control room's preview reads one agent's newest events on every selection: indexed.
INSTANCE_TOOL = """
ALTER TABLE instances ADD COLUMN tool TEXT;
ALTER TABLE instances ADD COLUMN tool_target TEXT;
CREATE INDEX IF NOT EXISTS events_actor ON events(actor, id);
"""

# Which call a running tool is (issue 12): `tool_call` is the running call's `tool_use_id` and
# `tools_ended` the ids of the last calls that ended (newest first, space-separated). The
# background PreToolUse hook may land after its call's PostToolUse; it then finds its id here
# and writes nothing, so a finished command is never shown as running.
TOOL_CALL = """
ALTER TABLE instances ADD COLUMN tool_call TEXT;
ALTER TABLE instances ADD COLUMN tools_ended TEXT;
"""

MIGRATIONS: list[str] = [
    CORE + WORK,
    MERGE_QUEUE,
    RUNS,
    TASK_SOURCE,
    THREAD_USAGE,
    CLAIM_ATTEMPT,
    HOSTS,
    INSTANCE_TOOL,
    TOOL_CALL,
]

VERSION = len(MIGRATIONS)
