"""Agent profiles (how to start an agent) and the reading of its stream-json output.

* `claude`: `claude -p PROMPT --output-format stream-json --verbose
  [--settings FILE] --permission-mode M`, the mode following the thread's
  (automatic runs unattended, semi-auto accepts edits but asks for the rest,
  interactive asks; as root, see `permission_mode`). An interactive thread
  runs `claude PROMPT` in a terminal instead.
* `codex`: `codex exec [--full-auto] PROMPT`.
* `command`: any argv, with `{prompt}` filled in each argument.

`CTUI_CLAUDE_BIN` / `CTUI_CODEX_BIN` replace the binary (and may carry
arguments, e.g. `python -m ctui.demo.fake_agent`).
"""

from __future__ import annotations

import json
import os

from ctui.core.errors import UsageError
from ctui.core.fmt import money
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


def permission_mode(mode: str, env: dict[str, str] | None = None) -> tuple[str, str | None]:
    """Claude Code's permission mode for a thread mode, and why it differs from the usual one.

    As root, Claude Code refuses `bypassPermissions` (it exits 1 at once) unless
    `IS_SANDBOX=1` says the machine is a sandbox; `acceptEdits` works, so an
    automatic thread run by root uses that (edits go through, other tools need
    an allow rule) rather than failing.
    """
    wanted = PERMISSION_MODE[mode]
    sandbox = (os.environ if env is None else env).get("IS_SANDBOX") == "1"
    if wanted == "bypassPermissions" and _is_root() and not sandbox:
        return "acceptEdits", (
            "running as root: Claude Code refuses bypassPermissions for root unless "
            "IS_SANDBOX=1, so this run uses acceptEdits (file edits are allowed, other "
            "tools need an allow rule); set IS_SANDBOX=1 on a sandboxed machine to run "
            "unattended"
        )
    return wanted, None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def argv(
    agent: str,
    mode: str,
    prompt: str,
    command: str | None = None,
    *,
    settings: str | None = None,
    resume: str | None = None,
) -> list[str]:
    """The argv that runs `agent` on `prompt` in `mode`.

    `resume` (claude only): a session to continue (`--resume SESSION`).

    `settings` (claude only): a settings file passed with `--settings`, how a
    thread gets ctui's hooks whatever its worktree has committed.
    """
    import shlex

    if agent == "command":
        return [part.replace("{prompt}", prompt) for part in shlex.split(command or "")]
    base = shlex.split(os.environ.get(BIN_ENV[agent]) or agent)
    if agent == "claude":
        if resume:
            base = [*base, "--resume", resume]
        extra = ["--settings", settings] if settings else []
        permission = permission_mode(mode)[0]
        if mode == "interactive":
            return [*base, *extra, "--permission-mode", permission, prompt]
        return [
            *base,
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            *extra,
            "--permission-mode",
            permission,
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


USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class RunStats(Record):
    """What a run's stream-json output has told us so far: the one place for live figures.

    Before the result line, figures are counted per message: each `assistant`
    line is one content block and repeats its message's usage, so a message
    (`message.id`) counts as one turn and its usage once (the largest figures
    seen for it). The result line then replaces them with the client's own
    totals. Tokens are four figures: input, output, cache creation, cache read.
    """

    FIELDS = (
        "session_id",
        "turns",
        "cost_usd",
        "tokens_in",
        "tokens_out",
        "tokens_cache_creation",
        "tokens_cache_read",
        "result",
        "is_error",
        "api_error_status",
    )
    __slots__ = (*FIELDS, "_messages")
    session_id: str | None
    turns: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    tokens_cache_creation: int
    tokens_cache_read: int
    result: str | None
    is_error: bool | None
    api_error_status: int | None

    def __init__(
        self,
        session_id: str | None = None,
        turns: int = 0,
        cost_usd: float = 0.0,
        tokens_in: int = 0,
        tokens_out: int = 0,
        tokens_cache_creation: int = 0,
        tokens_cache_read: int = 0,
        result: str | None = None,
        is_error: bool | None = None,
        api_error_status: int | None = None,
    ) -> None:
        self.session_id = session_id
        self.turns = turns
        self.cost_usd = cost_usd
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.tokens_cache_creation = tokens_cache_creation
        self.tokens_cache_read = tokens_cache_read
        self.result = result
        self.is_error = is_error
        self.api_error_status = api_error_status
        self._messages: dict[str, list[int]] = {}

    @property
    def tokens(self) -> int:
        return (
            self.tokens_in + self.tokens_out + self.tokens_cache_creation + self.tokens_cache_read
        )

    def error_text(self) -> str | None:
        """The client's own account of a failed run (None when it reported no error)."""
        if not self.is_error:
            return None
        said = " ".join((self.result or "").split())
        said = said if len(said) <= 500 else said[:499] + "…"
        if self.api_error_status:
            return f"API error {self.api_error_status}: {said or 'no message'}"
        return f"the agent reported an error: {said or 'no message'}"

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
            return self._assistant(msg.get("message")) or changed
        if kind == "result":
            self._final(msg)
            return True
        return changed

    def _assistant(self, message: Any) -> bool:
        if not isinstance(message, dict):
            return False
        key = message.get("id")
        key = key if isinstance(key, str) and key else f"#{len(self._messages)}"
        usage = _dict(message.get("usage"))
        figures = [_int(usage.get(k)) for k in USAGE_KEYS]
        seen = self._messages.get(key)
        if seen is not None:
            grown = [max(a, b) for a, b in zip(seen, figures, strict=True)]
            if grown == seen:
                return False
            figures = grown
        self._messages[key] = figures
        self.turns = len(self._messages)
        sums = [sum(col) for col in zip(*self._messages.values(), strict=True)]
        (
            self.tokens_in,
            self.tokens_out,
            self.tokens_cache_creation,
            self.tokens_cache_read,
        ) = sums
        return True

    def _final(self, msg: dict[str, Any]) -> None:
        usage = _dict(msg.get("usage"))
        self.turns = _int(msg.get("num_turns")) or self.turns
        self.cost_usd = float(msg.get("total_cost_usd") or 0.0)
        if any(k in usage for k in USAGE_KEYS):
            (
                self.tokens_in,
                self.tokens_out,
                self.tokens_cache_creation,
                self.tokens_cache_read,
            ) = (_int(usage.get(k)) for k in USAGE_KEYS)
        self.is_error = bool(msg.get("is_error"))
        status = msg.get("api_error_status")
        self.api_error_status = status if isinstance(status, int) and status > 0 else None
        result = msg.get("result")
        self.result = result if isinstance(result, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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
        refused = [refusal(c) for c in _dict(msg.get("message")).get("content") or []]
        return "\n".join(f"  ↳ refused: {r}" for r in refused if r) or None
    if kind == "system" and msg.get("subtype") == "hook_started":
        return None
    sentence = describe(msg)
    return text if sentence is None else sentence


def refusal(item: Any, width: int = 300) -> str | None:
    """The text of a tool result the client marked as an error (a denied edit), else None."""
    if not isinstance(item, dict) or item.get("type") != "tool_result" or not item.get("is_error"):
        return None
    content = item.get("content")
    if isinstance(content, list):
        content = " ".join(str(_dict(c).get("text", "")) for c in content)
    flat = " ".join(str(content or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def describe(msg: dict[str, Any]) -> str | None:
    """A sentence for the client's events (hooks, retries, rate limits, the result), else None."""
    kind, sub = msg.get("type"), msg.get("subtype")
    if kind == "system" and sub == "hook_response":
        return _hook_sentence(msg)
    if kind == "system" and sub == "api_retry":
        status = msg.get("error_status")
        what = f"API error {status}" if status else "API request failed"
        cause = f" ({msg['error']})" if isinstance(msg.get("error"), str) and msg["error"] else ""
        delay = _int(msg.get("retry_delay_ms")) / 1000
        return (
            f"── {what}{cause}: retry {msg.get('attempt', '?')} of "
            f"{msg.get('max_retries', '?')} in {delay:.1f} s"
        )
    if kind == "rate_limit_event":
        info = _dict(msg.get("rate_limit_info"))
        limit = info.get("rateLimitType") or "usage"
        sentence = f"── rate limit ({limit}): {info.get('status', 'unknown')}"
        resets = info.get("resetsAt")
        if isinstance(resets, int | float) and not isinstance(resets, bool):
            import time

            stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(resets))
            sentence += f", resets at {stamp}"
        return sentence
    if kind == "result":
        return _result_sentence(msg)
    return None


def _hook_sentence(msg: dict[str, Any]) -> str:
    name = msg.get("hook_name") or msg.get("hook_event") or "?"
    outcome = msg.get("outcome")
    code = msg.get("exit_code")
    output = msg.get("output") or msg.get("stdout") or ""
    said: dict[str, Any] = {}
    if isinstance(output, str) and output.strip().startswith("{"):
        try:
            doc = json.loads(output)
        except json.JSONDecodeError:
            doc = {}
        said = _dict(_dict(doc).get("hookSpecificOutput"))
    if said.get("permissionDecision") == "deny":
        return f"── hook {name} denied the tool call: {said.get('permissionDecisionReason', '')}"
    if outcome not in (None, "success") or (isinstance(code, int) and code != 0):
        err = " ".join(str(msg.get("stderr") or "").split())[:300]
        return f"── hook {name} failed (exit {code if code is not None else '?'})" + (
            f": {err}" if err else ""
        )
    context = said.get("additionalContext")
    if isinstance(context, str) and context:
        return f"── hook {name} added {len(context):,} characters of context"
    return f"── hook {name} ran"


def _result_sentence(msg: dict[str, Any]) -> str:
    usage = _dict(msg.get("usage"))
    tin, tout, cw, cr = (_int(usage.get(k)) for k in USAGE_KEYS)
    figures = (
        f"{msg.get('num_turns', 0)} turns, {money(float(msg.get('total_cost_usd') or 0))}, "
        f"tokens {tin} in / {tout} out / {cw} cache write / {cr} cache read"
    )
    if msg.get("is_error"):
        stats = RunStats()
        stats._final(msg)
        return f"── error: {stats.error_text()} ({figures})"
    return f"── {msg.get('subtype', 'result')}: {figures}"


def tool_now(lines: list[str]) -> tuple[str, str | None] | None:
    """The tool a stream-json log says is running now (its last `tool_use` with no
    `tool_result` yet), and its target (a file, a command, a pattern); None when none runs.

    Reads a log's tail: lines that are not stream-json are skipped, a `result` line
    (the run ended) clears everything before it."""
    running: dict[str, tuple[str, str | None]] = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict):
            continue
        if msg.get("type") == "result":
            running.clear()
            continue
        message = msg.get("message")
        parts = message.get("content") if isinstance(message, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "tool_use" and part.get("name"):
                args = _dict(part.get("input"))
                target = next(
                    (
                        str(args[k])
                        for k in ("file_path", "notebook_path", "command", "pattern", "url")
                        if args.get(k)
                    ),
                    None,
                )
                running.pop(str(part.get("id")), None)
                running[str(part.get("id"))] = (str(part["name"]), target)
            elif part.get("type") == "tool_result":
                running.pop(str(part.get("tool_use_id")), None)
    return list(running.values())[-1] if running else None


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
