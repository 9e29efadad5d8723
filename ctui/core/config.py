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
```

A section or key not listed here is an error: a typo must not be a setting
silently ignored.
"""

from __future__ import annotations

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
        "raw",
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
        self.raw: dict[str, Any] = {} if raw is None else raw

    @classmethod
    def load(cls, store_dir: Path) -> Config:
        """Read `config.toml` from the store folder; a missing file means defaults."""
        path = store_dir / CONFIG_NAME
        try:
            text = path.read_text()
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
            if isinstance(value, int | float) and not value > 0:
                raise UsageError(f"{path}: [{section}] {key} must be above 0 (got {value})")
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
            raw=raw,
        )
        if config.release_policy not in ("hold", "release-after-edit"):
            raise UsageError(f"{path}: [leases] release must be 'hold' or 'release-after-edit'")
        return config


KNOWN = {
    "instances": ("ttl",),
    "leases": ("ttl", "release"),
    "events": ("keep",),
    "tasks": ("claim_ttl", "max_attempts"),
    "threads": ("max_concurrent", "stop_grace"),
    "gate": ("commands", "completion_token", "timeout"),
    "api": ("token",),
    "merge": ("strategy", "batch", "on_failure", "lease_ttl"),
    "permissions": ("wait", "sessions"),
    "notify": ("webhooks", "topic", "retries"),
}


def _check_names(raw: dict[str, Any], path: Path | str) -> None:
    """A misspelt section or key is an error, not a setting silently ignored."""
    for section, table in raw.items():
        if section not in KNOWN:
            raise UsageError(
                f"{path}: unknown section [{section}]{_did_you_mean(section, KNOWN)}; "
                f"known: {', '.join(KNOWN)}"
            )
        if not isinstance(table, dict):
            raise UsageError(f"{path}: [{section}] must be a table of settings")
        for key in table:
            if key not in KNOWN[section]:
                raise UsageError(
                    f"{path}: unknown setting [{section}] {key}"
                    f"{_did_you_mean(key, KNOWN[section])}; known: {', '.join(KNOWN[section])}"
                )


def _did_you_mean(word: str, choices: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
