"""Agent profiles (how to start an agent) and the reading of its stream-json output.

* `claude`: `claude -p PROMPT --output-format stream-json --verbose
  --permission-mode M`, the mode following the thread's (automatic runs
  unattended, semi-auto accepts edits but asks for the rest, interactive asks).
  An interactive thread runs `claude PROMPT` in a terminal instead.
* `codex`: `codex exec [--full-auto] PROMPT`.
* `command`: any argv, with `{prompt}` filled in each argument.

`CTUI_CLAUDE_BIN` / `CTUI_CODEX_BIN` replace the binary (and may carry
arguments, e.g. `python -m ctui.demo.fake_agent`).
"""

from __future__ import annotations

import json
import os

from ctui.core.errors import UsageError
from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

PROFILES = ("claude", "codex", "command")
MODES = ("automatic", "semi-auto", "interactive")
PERMISSION_MODE = {
    "automatic": "bypassPermissions",
    "semi-auto": "acceptEdits",
    "interactive": "default",
}
BIN_ENV = {"claude": "CTUI_CLAUDE_BIN", "codex": "CTUI_CODEX_BIN"}


def check_profile(agent: str, mode: str, command: str | None) -> None:
    """Refuse a profile, mode or command that cannot run, before anything is stored."""
    if agent not in PROFILES:
        raise UsageError(f"unknown agent {agent!r}: one of {', '.join(PROFILES)}")
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    if agent == "command":
        import shlex

        if not command or not command.strip():
            raise UsageError('the command agent needs --command "ARGV with {prompt}"')
        try:
            shlex.split(command)
        except ValueError as exc:
            raise UsageError(f"cannot parse --command: {exc}") from None
    elif command:
        raise UsageError(f"--command is only for --agent command, not {agent}")


def argv(agent: str, mode: str, prompt: str, command: str | None = None) -> list[str]:
    """The argv that runs `agent` on `prompt` in `mode`."""
    import shlex

    if agent == "command":
        return [part.replace("{prompt}", prompt) for part in shlex.split(command or "")]
    base = shlex.split(os.environ.get(BIN_ENV[agent]) or agent)
    if agent == "claude":
        if mode == "interactive":
            return [*base, "--permission-mode", PERMISSION_MODE[mode], prompt]
        return [
            *base,
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            PERMISSION_MODE[mode],
        ]
    if mode == "interactive":
        return [*base, prompt]
    return [*base, "exec", *(["--full-auto"] if mode == "automatic" else []), prompt]


def find_binary(program: str, cwd: str | os.PathLike[str] | None = None) -> str | None:
    """The executable `program` resolves to (a relative path from `cwd`, as Popen does), or None."""
    if "/" in program:
        full = os.path.join(cwd or ".", program)
        return full if os.access(full, os.X_OK) and os.path.isfile(full) else None
    import shutil

    return shutil.which(program)


def missing_binary_message(agent: str, program: str) -> str:
    hint = f"install it or set {BIN_ENV[agent]}" if agent in BIN_ENV else "check --command"
    return f"agent binary {program!r} not found on PATH: {hint}"


class RunStats(Record):
    """What a run's stream-json output has told us so far."""

    FIELDS = ("session_id", "turns", "cost_usd", "tokens_in", "tokens_out", "result", "is_error")
    __slots__ = FIELDS
    session_id: str | None
    turns: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    result: str | None
    is_error: bool | None

    def __init__(
        self,
        session_id: str | None = None,
        turns: int = 0,
        cost_usd: float = 0.0,
        tokens_in: int = 0,
        tokens_out: int = 0,
        result: str | None = None,
        is_error: bool | None = None,
    ) -> None:
        self.session_id = session_id
        self.turns = turns
        self.cost_usd = cost_usd
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.result = result
        self.is_error = is_error

    def feed(self, line: str) -> bool:
        """Read one output line; True when it changed something worth saving."""
        line = line.strip()
        if not line.startswith("{"):
            return False
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            return False
        if not isinstance(msg, dict):
            return False
        kind = msg.get("type")
        if isinstance(msg.get("session_id"), str) and msg["session_id"] != self.session_id:
            self.session_id = msg["session_id"]
            changed = True
        else:
            changed = False
        if kind == "assistant":
            self.turns += 1
            usage = (msg.get("message") or {}).get("usage") or {}
            self.tokens_in += _int(usage.get("input_tokens"))
            self.tokens_out += _int(usage.get("output_tokens"))
            return True
        if kind == "result":
            self._final(msg)
            return True
        return changed

    def _final(self, msg: dict[str, Any]) -> None:
        usage = msg.get("usage") or {}
        self.turns = _int(msg.get("num_turns")) or self.turns
        self.cost_usd = float(msg.get("total_cost_usd") or 0.0)
        self.tokens_in = _int(usage.get("input_tokens")) or self.tokens_in
        self.tokens_out = _int(usage.get("output_tokens")) or self.tokens_out
        self.is_error = bool(msg.get("is_error"))
        result = msg.get("result")
        self.result = result if isinstance(result, str) else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def pretty(line: str) -> str | None:
    """A stream-json line as a person reads it (None: nothing worth showing); other lines as-is."""
    text = line.rstrip("\n")
    if not text.startswith("{"):
        return text
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        return text
    if not isinstance(msg, dict):
        return text
    kind = msg.get("type")
    if kind == "system" and msg.get("subtype") == "init":
        return (
            f"── session {msg.get('session_id')} ({msg.get('model', '?')}) in {msg.get('cwd', '?')}"
        )
    if kind == "assistant":
        parts = [_content(c) for c in (msg.get("message") or {}).get("content") or []]
        shown = "\n".join(p for p in parts if p)
        return shown or None
    if kind == "user":
        return None
    if kind == "result":
        usage = msg.get("usage") or {}
        return (
            f"── {msg.get('subtype', 'result')}: {msg.get('num_turns', 0)} turns, "
            f"${float(msg.get('total_cost_usd') or 0):.4f}, "
            f"{_int(usage.get('input_tokens'))} in / {_int(usage.get('output_tokens'))} out tokens"
        )
    return text


def _content(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    if item.get("type") == "text":
        return str(item.get("text", "")).strip()
    if item.get("type") == "tool_use":
        args = item.get("input") or {}
        target = args.get("file_path") or args.get("notebook_path") or args.get("command") or ""
        return f"→ {item.get('name', 'tool')} {str(target)[:200]}".rstrip()
    return ""
