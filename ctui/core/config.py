"""Settings from `.ctui/config.toml`, with defaults for everything.

```toml
[instances]
ttl = 300            # seconds without a heartbeat before an instance is stale
[leases]
ttl = 300            # default lease lifetime, renewed by heartbeats and hook calls
release = "hold"     # or "release-after-edit"
[events]
keep = 20000         # events kept when pruning
[tasks]
claim_ttl = 1800
max_attempts = 3
[threads]
max_concurrent = 4
stop_grace = 5.0
limit_wait = 900     # seconds a usage-limited thread waits when its reset time is not given
[gate]
commands = ["pytest -q"]
completion_token = "<promise>DONE</promise>"
timeout = 900        # seconds one gate command may run
[api]
token = "..."        # the server's bearer token (CT_API_TOKEN wins)
[merge]
strategy = "merge"   # or "rebase" (see ctui.core.merge.settings)
batch = 1
on_failure = "operator"   # or "resume"
[budget]             # caps; none set means no cap (see ctui.core.threads.budget)
thread_usd = 2.0     # per thread (all its runs); also thread_tokens
run_usd = 10.0       # per `ctui run`; also run_tokens
day_usd = 50.0       # per UTC day for the repository; also day_tokens
warn_at = 0.8        # a budget.warning event at this share of a cap
[thread]
port_start = 20000   # CTUI_PORT_BASE blocks start here
port_block = 10      # ports per live thread
[thread.env]         # extra variables for every agent ({thread}, {port_base}, {worktree} filled)
DATABASE_URL = "postgresql://localhost/app_{thread}"
[hosts]
lapse_s = 60         # seconds without a host heartbeat before its work is freed
[hooks]
on_timeout = "deny"  # or "fail-open": what the edit-time lease check does when the
                     # store cannot answer in time (deny: the agent retries in a moment)
via = "serve"        # hooks ask `ctui serve` on this host over .ctui/hooks.sock instead of
                     # opening the store ("direct"); the default is "serve" on a PostgreSQL
                     # store, "direct" on SQLite
```

Every value is checked when the file is read (its type, and numbers above 0
and finite), so `[threads] max_concurrent = 0` is refused by the first command
that reads the config, naming the file and the key. A section or key not
listed here is warned about (once per process, on stderr, with the closest
known name): a typo must not be a setting silently ignored, and a config written
for a newer ctui must not stop an older one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ctui.core.errors import UsageError
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

CONFIG_NAME = "config.toml"
KINDS = {float: "a number", int: "a whole number", str: "a string", list: "a list"}


class Config(Record):
    """Typed settings; unknown keys are kept in `raw` for the parts that read them.

    The class attributes are the defaults (`from_dict` reads them); each
    instance keeps its own values, and its own `gate_commands` and `raw`.
    """

    FIELDS = (
        "instance_ttl",
        "lease_ttl",
        "release_policy",
        "events_keep",
        "task_claim_ttl",
        "task_max_attempts",
        "max_concurrent",
        "stop_grace",
        "gate_commands",
        "completion_token",
        "gate_timeout",
        "api_token",
        "hook_on_timeout",
        "hook_via",
        "raw",
        "budget",
        "port_start",
        "port_block",
        "limit_wait",
        "thread_env",
        "host_lapse",
    )
    instance_ttl: float = 300.0
    lease_ttl: float = 300.0
    release_policy: str = "hold"
    events_keep: int = 20000
    task_claim_ttl: float = 1800.0
    task_max_attempts: int = 3
    max_concurrent: int = 4
    stop_grace: float = 5.0
    completion_token: str = "<promise>DONE</promise>"
    gate_timeout: float = 900.0
    api_token: str | None = None
    hook_on_timeout: str = "deny"
    host_lapse: float = 60.0
    hook_via: str | None = None  # None: by the store (see ctui.hooks.route)

    def __init__(
        self,
        instance_ttl: float = 300.0,
        lease_ttl: float = 300.0,
        release_policy: str = "hold",
        events_keep: int = 20000,
        task_claim_ttl: float = 1800.0,
        task_max_attempts: int = 3,
        max_concurrent: int = 4,
        stop_grace: float = 5.0,
        gate_commands: list[str] | None = None,
        completion_token: str = "<promise>DONE</promise>",
        raw: dict[str, Any] | None = None,
        budget: dict[str, float] | None = None,
        port_start: int = 20000,
        port_block: int = 10,
        limit_wait: float = 900.0,
        thread_env: dict[str, str] | None = None,
        gate_timeout: float = 900.0,
        api_token: str | None = None,
        host_lapse: float = 60.0,
    ) -> None:
        self.instance_ttl = instance_ttl
        self.lease_ttl = lease_ttl
        self.release_policy = release_policy
        self.events_keep = events_keep
        self.task_claim_ttl = task_claim_ttl
        self.task_max_attempts = task_max_attempts
        self.max_concurrent = max_concurrent
        self.stop_grace = stop_grace
        self.gate_commands: list[str] = [] if gate_commands is None else gate_commands
        self.completion_token = completion_token
        self.gate_timeout = gate_timeout
        self.api_token = api_token
        self.raw: dict[str, Any] = {} if raw is None else raw
        self.budget: dict[str, float] = {} if budget is None else budget
        """The caps that are set (`day_usd`, ...) and `warn_at`; a cap not set is absent."""
        self.port_start = port_start
        self.port_block = port_block
        self.limit_wait = limit_wait
        self.thread_env: dict[str, str] = {} if thread_env is None else thread_env
        self.host_lapse = host_lapse
        """Seconds without a heartbeat before a host's work is freed (`[hosts] lapse_s`)."""

    @classmethod
    def load(cls, store_dir: Path) -> Config:
        """Read `config.toml` from the store folder; a missing file means defaults."""
        path = store_dir / CONFIG_NAME
        try:
            with open(path, "rb") as fh:
                data = fh.read()
                if os.fstat(fh.fileno()).st_mode & 0o077:
                    with contextlib.suppress(OSError):  # it may hold `[api] token`: owner only
                        os.fchmod(fh.fileno(), 0o600)
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text") from None
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
        import tomllib  # only when a config file exists: it costs start-up time

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path} is not valid TOML: {exc}") from exc
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], path: Path | str = "config") -> Config:
        _check_names(raw, path)

        def get(section: str, key: str, kind: type, default: Any) -> Any:
            value = raw.get(section, {}).get(key, default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise UsageError(
                    f"{path}: [{section}] {key} must be {KINDS.get(kind, kind.__name__)}"
                )
            if isinstance(value, int | float) and not 0 < value < float("inf"):
                raise UsageError(
                    f"{path}: [{section}] {key} must be a finite number above 0 (got {value})"
                )
            if isinstance(value, str) and not value.strip():
                raise UsageError(f"{path}: [{section}] {key} must not be empty")
            if isinstance(value, list) and not all(
                isinstance(item, str) and item.strip() for item in value
            ):
                raise UsageError(f"{path}: [{section}] {key} must be a list of non-empty strings")
            return value

        config = cls(
            instance_ttl=get("instances", "ttl", float, cls.instance_ttl),
            lease_ttl=get("leases", "ttl", float, cls.lease_ttl),
            release_policy=get("leases", "release", str, cls.release_policy),
            events_keep=get("events", "keep", int, cls.events_keep),
            task_claim_ttl=get("tasks", "claim_ttl", float, cls.task_claim_ttl),
            task_max_attempts=get("tasks", "max_attempts", int, cls.task_max_attempts),
            max_concurrent=get("threads", "max_concurrent", int, cls.max_concurrent),
            stop_grace=get("threads", "stop_grace", float, cls.stop_grace),
            gate_commands=list(get("gate", "commands", list, [])),
            completion_token=get("gate", "completion_token", str, cls.completion_token),
            gate_timeout=get("gate", "timeout", float, cls.gate_timeout),
            api_token=get("api", "token", str, "-") if "token" in raw.get("api", {}) else None,
            raw=raw,
            budget=_budget(raw.get("budget", {}), path),
            port_start=get("thread", "port_start", int, 20000),
            port_block=get("thread", "port_block", int, 10),
            limit_wait=get("threads", "limit_wait", float, 900.0),
            thread_env=_env(raw.get("thread", {}).get("env", {}), path),
            host_lapse=get("hosts", "lapse_s", float, cls.host_lapse),
        )
        if config.port_start + config.port_block > 65535:
            raise UsageError(f"{path}: [thread] port_start + port_block must stay below 65536")
        config.hook_on_timeout = get("hooks", "on_timeout", str, cls.hook_on_timeout)
        if config.hook_on_timeout not in ("deny", "fail-open"):
            raise UsageError(f"{path}: [hooks] on_timeout must be 'deny' or 'fail-open'")
        config.hook_via = raw.get("hooks", {}).get("via")
        if config.hook_via not in (None, "serve", "direct"):
            raise UsageError(f"{path}: [hooks] via must be 'serve' or 'direct'")
        if config.release_policy not in ("hold", "release-after-edit"):
            raise UsageError(f"{path}: [leases] release must be 'hold' or 'release-after-edit'")
        return config


KNOWN = {
    "instances": ("ttl",),
    "leases": ("ttl", "release"),
    "events": ("keep",),
    "tasks": ("claim_ttl", "max_attempts"),
    "threads": ("max_concurrent", "stop_grace", "limit_wait"),
    "gate": ("commands", "completion_token", "timeout"),
    "api": ("token",),
    "merge": ("strategy", "batch", "on_failure", "lease_ttl"),
    "budget": (
        "thread_usd",
        "thread_tokens",
        "run_usd",
        "run_tokens",
        "day_usd",
        "day_tokens",
        "warn_at",
    ),
    "thread": ("port_start", "port_block", "env"),
    "hooks": ("on_timeout", "via"),
    "hosts": ("lapse_s",),
    "store": ("url", "schema"),
    "permissions": ("wait", "sessions"),
    "notify": ("webhooks", "topic", "retries"),
}


def _budget(table: dict[str, Any], path: Path | str) -> dict[str, float]:
    """The caps that are set: each a number above 0 (`warn_at` a share between 0 and 1)."""
    caps: dict[str, float] = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{path}: [budget] {key} must be a number (got {value!r})")
        if not value > 0 or (key == "warn_at" and value > 1):
            limit = "between 0 and 1" if key == "warn_at" else "above 0"
            raise UsageError(f"{path}: [budget] {key} must be {limit} (got {value})")
        caps[key] = float(value)
    return caps


def _env(table: Any, path: Path | str) -> dict[str, str]:
    import re

    if not isinstance(table, dict):
        raise UsageError(f'{path}: [thread.env] must be a table of NAME = "value"')
    for key, value in table.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"{path}: [thread.env] {key!r} is not a variable name")
        if not isinstance(value, str):
            raise UsageError(f"{path}: [thread.env] {key} must be a string (got {value!r})")
    return dict(table)


_WARNED: set[str] = set()


STRICT = ("budget",)
"""Sections whose unknown keys are errors, not warnings: a misspelt cap must not mean no cap."""


def _check_names(raw: dict[str, Any], path: Path | str) -> None:
    """A misspelt section or key is warned about, never silently ignored."""
    for section, table in raw.items():
        if section not in KNOWN:
            warn(
                f"{path}: unknown section [{section}]{_did_you_mean(section, KNOWN)}, "
                f"ignored; known: {', '.join(KNOWN)}"
            )
            continue
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [{section}] must be a table of settings")
        for key in table:
            if key not in KNOWN[section]:
                if section in STRICT:
                    raise UsageError(
                        f"{path}: unknown setting [{section}] {key}"
                        f"{_did_you_mean(key, KNOWN[section])} (a misspelt cap would be no cap)"
                    )
                warn(
                    f"{path}: unknown setting [{section}] {key}"
                    f"{_did_you_mean(key, KNOWN[section])}, ignored; "
                    f"known: {', '.join(KNOWN[section])}"
                )


def warn(message: str) -> None:
    """One line on stderr, once per process: a config is read by many parts of one command."""
    if message in _WARNED:
        return
    _WARNED.add(message)
    print(f"ctui: warning: {message}", file=sys.stderr)


def _did_you_mean(word: str, choices: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
