"""A stand-in for `claude -p PROMPT --output-format stream-json --verbose`.

It prints what Claude Code prints in that mode (a system init line with the
session id, assistant messages, a final `result` line with cost, usage and
turns), edits files in its working folder, and obeys directives found in the
prompt or in `FAKE_AGENT` (space-separated), so tests and the demo can
script it:

    FAKE_WRITE=path:text     write a file (through `ctui hook` when FAKE_AGENT_HOOKS=1)
    FAKE_FIX_ON_FEEDBACK=path  write `path` only when the prompt carries test-gate feedback
    FAKE_SLEEP=seconds       pause before finishing
    FAKE_FAIL                finish with an error result and exit 1
    FAKE_API_ERROR=status    finish as the client does when the API fails: a result line with
                             `subtype: success`, `is_error`, `api_error_status` and the message
    FAKE_CRASH               die mid-run with exit 3, no result line
    FAKE_HANG                never finish (until SIGTERM, which exits 143)
    FAKE_DONE                print the completion token (FAKE_AGENT_TOKEN or the default)
    FAKE_PLAN=path           answer with the contents of `path` (a leader's task plan)
    FAKE_COMMIT              commit everything in the working folder (`git add -A`)
    FAKE_SPEND=N:T           N more assistant messages of T input tokens each, 50 ms apart
                             (cost that grows while the run goes on)
    FAKE_LIMIT[=EPOCH]       end on a usage limit: "Claude AI usage limit reached|EPOCH", or
                             without EPOCH an API 429; FAKE_LIMIT_MESSAGE replaces the text
    FAKE_ENV=NAME            answer with the value of the environment variable NAME
    FAKE_TOOL=Name:target    start a tool call (`Bash:pytest` runs a command, `Read:x.py` reads
                             a file) and never report its result (with FAKE_HANG: a long tool)

`--resume SESSION` continues that session id (printed in the init line), as
Claude Code does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

DIRECTIVE = re.compile(r"\bFAKE_([A-Z_]+)(?:=(\S+))?")
FEEDBACK_WORDS = "test gate failed"


def emit(msg: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def directives(prompt: str) -> list[tuple[str, str]]:
    text = f"{prompt} {os.environ.get('FAKE_AGENT', '')}"
    return [(m.group(1), m.group(2) or "") for m in DIRECTIVE.finditer(text)]


def hook(event: str, session: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Call the real hook command the way Claude Code does (JSON on stdin)."""
    if os.environ.get("FAKE_AGENT_HOOKS") != "1":
        return {}
    payload = {"session_id": session, "cwd": os.getcwd(), "hook_event_name": event, **extra}
    command = os.environ.get("FAKE_AGENT_HOOK_CMD", "ctui hook")
    proc = subprocess.run(
        ["sh", "-c", command], input=json.dumps(payload), capture_output=True, text=True, timeout=30
    )
    try:
        return json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        return {}


def start_tool(session: str, name: str, target: str) -> None:
    """An assistant message that calls tool `name` on `target`; no result follows."""
    args = {"command": target} if name == "Bash" else {"file_path": target}
    use = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": name, "input": args}
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {
                "id": f"msg_{uuid.uuid4().hex[:12]}",
                "role": "assistant",
                "content": [use],
            },
        }
    )


def write(path: str, text: str, session: str) -> str:
    target = Path(path) if Path(path).is_absolute() else Path.cwd() / path
    tool = {"tool_name": "Write", "tool_input": {"file_path": str(target), "content": text}}
    tool_id = f"toolu_{uuid.uuid4().hex[:12]}"
    use = {"type": "tool_use", "id": tool_id, "name": "Write", "input": tool["tool_input"]}
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {
                "role": "assistant",
                "content": [use],
                "usage": {"input_tokens": 60, "output_tokens": 20},
            },
        }
    )
    result = _write(target, path, text, session, tool)
    emit(
        {
            "type": "user",
            "session_id": session,
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": result}],
            },
        }
    )
    return result


def _write(target: Path, path: str, text: str, session: str, tool: dict[str, Any]) -> str:
    answer = hook("PreToolUse", session, tool)
    decision = (answer.get("hookSpecificOutput") or {}).get("permissionDecision")
    if decision == "deny":
        return f"could not write {path}: " + answer["hookSpecificOutput"].get(
            "permissionDecisionReason", "denied"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace("\\n", "\n") + ("\n" if not text.endswith("\n") else ""))
    hook(
        "PostToolUse",
        session,
        {**tool, "tool_response": {"filePath": str(target), "success": True}},
    )
    return f"wrote {path}"


def assistant(session: str, text: str) -> None:
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": 120, "output_tokens": 40},
            },
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    prompt = args[args.index("-p") + 1] if "-p" in args else (args[-1] if args else "")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    resumed = args[args.index("--resume") + 1] if "--resume" in args else None
    session = resumed or str(uuid.uuid4())
    emit(
        {
            "type": "system",
            "subtype": "init",
            "session_id": session,
            "cwd": os.getcwd(),
            "model": "fake-agent",
            "tools": ["Write", "Edit", "Bash"],
            "permissionMode": _flag(args),
            **({"settings": args[args.index("--settings") + 1]} if "--settings" in args else {}),
        }
    )
    hook("SessionStart", session, {"source": "startup"})
    assistant(
        session,
        f"Working on: {prompt.strip().splitlines()[0] if prompt.strip() else '(no prompt)'}",
    )
    turns, answer, failed = 1, "done", False
    spent = 0
    if resumed:
        assistant(session, f"resumed session {resumed}")
    for name, value in directives(prompt):
        if name == "WRITE" and ":" in value:
            path, text = value.split(":", 1)
            answer = write(path, text, session)
        elif name == "FIX_ON_FEEDBACK" and FEEDBACK_WORDS in prompt.lower():
            answer = write(value, "fixed", session)
        elif name == "SLEEP":
            time.sleep(float(value or 1))
        elif name == "HANG":
            assistant(session, "thinking for a long time...")
            while True:
                time.sleep(3600)
        elif name == "CRASH":
            sys.stdout.write("fatal: the fake agent crashed\n")
            return 3
        elif name == "FAIL":
            failed = True
        elif name == "SPEND" and ":" in value:
            steps, tokens = (int(v) for v in value.split(":", 1))
            for step in range(steps):
                spend(session, step, tokens)
                spent += tokens
                time.sleep(0.05)
        elif name == "LIMIT":
            return limit(session, value, turns)
        elif name == "TOOL" and value:
            start_tool(session, *value.partition(":")[::2])
            continue
        elif name == "ENV":
            answer = f"{value}={os.environ.get(value, '')}"
        elif name == "API_ERROR":
            return api_error(session, int(value or 529))
        elif name == "PLAN":
            answer = Path(value).read_text()
        elif name == "COMMIT":
            subprocess.run(["git", "add", "-A"], capture_output=True)
            subprocess.run(["git", "commit", "-qm", "fake agent's work"], capture_output=True)
            answer = "committed"
        elif name == "DONE":
            answer += "\n" + os.environ.get("FAKE_AGENT_TOKEN", "<promise>DONE</promise>")
        else:
            continue
        turns += 1
        assistant(session, answer)
    hook("Stop", session, {})
    emit(
        {
            "type": "result",
            "subtype": "error_during_execution" if failed else "success",
            "is_error": failed,
            "duration_ms": 12,
            "num_turns": turns,
            "result": "it failed" if failed else answer,
            "session_id": session,
            "total_cost_usd": round(0.0125 * turns + spent * 3 / 1e6, 4),
            "usage": {"input_tokens": 120 * turns + spent, "output_tokens": 40 * turns},
        }
    )
    hook("SessionEnd", session, {"reason": "other"})
    return 1 if failed else 0


def spend(session: str, step: int, tokens: int) -> None:
    """One assistant message that used `tokens` input tokens (priced by ctui as it streams)."""
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {
                "id": f"msg_spend_{step}",
                "role": "assistant",
                "content": [{"type": "text", "text": f"step {step + 1}"}],
                "usage": {"input_tokens": tokens, "output_tokens": 0},
            },
        }
    )


def limit(session: str, epoch: str, turns: int) -> int:
    """End the way Claude Code does when the account is out of usage (exit 1)."""
    text = os.environ.get("FAKE_LIMIT_MESSAGE") or (
        f"Claude AI usage limit reached|{epoch}" if epoch else "API Error: 429 rate_limit_error"
    )
    emit(
        {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "duration_ms": 12,
            "num_turns": turns,
            "result": text,
            "session_id": session,
            "total_cost_usd": 0.0,
            "usage": {"input_tokens": 0, "output_tokens": 0},
            **({} if epoch else {"api_error_status": 429}),
        }
    )
    return 1


def api_error(session: str, status: int) -> int:
    """What Claude Code prints when the API keeps failing: still `subtype: success`."""
    said = f"API Error: {status} {'Overloaded' if status == 529 else 'Internal server error'}"
    emit(
        {
            "type": "system",
            "subtype": "api_retry",
            "attempt": 1,
            "max_retries": 1,
            "retry_delay_ms": 500,
            "error_status": status,
            "error": "overloaded" if status == 529 else "server_error",
            "session_id": session,
        }
    )
    emit(
        {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "api_error_status": status,
            "num_turns": 1,
            "result": said,
            "session_id": session,
            "total_cost_usd": 0,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
    )
    hook("SessionEnd", session, {"reason": "other"})
    return 1


def _flag(args: list[str]) -> str:
    return args[args.index("--permission-mode") + 1] if "--permission-mode" in args else "default"


if __name__ == "__main__":
    sys.exit(main())
