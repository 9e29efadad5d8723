"""How a thread's log reads in the control room: stream-json lines as one-line summaries.

A `claude -p --output-format stream-json` log is one JSON object a line; shown
raw it is unreadable in a narrow pane. `pretty()` turns each known shape into a
short styled line (session start, assistant text, tool calls, the final result
with cost and tokens) and leaves any other line as it is.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from ctui.core.fmt import money
from ctui.core.threads.agents import USAGE_KEYS, RunStats, describe, refusal


def _usage(data: dict[str, Any]) -> int:
    """All four token figures of a result line (input, output, cache creation, cache read)."""
    usage = data.get("usage") or {}
    return sum(int(usage.get(k) or 0) for k in USAGE_KEYS)


def _content(message: dict[str, Any]) -> list[Text]:
    out = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            out.append(Text.assemble(("● ", "cyan"), " ".join(str(part["text"]).split())))
        elif kind == "tool_use":
            args = part.get("input") or {}
            target = args.get("file_path") or args.get("command") or args.get("pattern") or ""
            out.append(
                Text.assemble(("⚙ ", "yellow"), (str(part.get("name")), "bold"), f" {target}")
            )
        elif kind == "tool_result" and refusal(part):
            out.append(Text(f"  ↳ refused: {refusal(part)}", style="yellow"))
        elif kind == "tool_result":
            out.append(Text("  ↳ tool result", style="dim"))
    return out


def pretty(line: str) -> list[Text]:
    """The display lines for one log line."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        style = "dim" if stripped.startswith("[ctui]") else ""
        return [Text(line, style=style)]
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return [Text(line)]
    if not isinstance(data, dict):
        return [Text(line)]
    kind = data.get("type")
    if kind == "system" and data.get("subtype") in ("init", None):
        session = str(data.get("session_id") or "?")[:8]
        return [
            Text(f"▶ session {session} started ({data.get('model') or 'agent'})", style="green")
        ]
    if kind == "system" and data.get("subtype") == "hook_started":
        return []
    if kind in ("system", "rate_limit_event"):
        sentence = describe(data)
        if sentence is not None:
            bad = "denied" in sentence or "failed" in sentence or "error" in sentence
            return [Text(sentence.removeprefix("── "), style="yellow" if bad else "dim")]
        return [Text(line, style="dim")]
    if kind in ("assistant", "user"):
        return _content(data.get("message") or {}) or [Text(f"{kind} message", style="dim")]
    if kind == "result":
        ok = not data.get("is_error") and data.get("subtype") == "success"
        cost = data.get("total_cost_usd")
        if data.get("is_error"):
            stats = RunStats()
            stats.feed(json.dumps(data))
            summary = (
                f"✗ {stats.error_text()} ({data.get('num_turns', '?')} turns, "
                f"{money(cost or 0)}, {_usage(data):,} tokens)"
            )
            return [Text(summary, style="bold red")]
        summary = (
            f"{'✓' if ok else '✗'} {data.get('subtype')}: {data.get('num_turns', '?')} turns, "
            f"{money(cost or 0)}, {_usage(data):,} tokens"
        )
        return [Text(summary, style="bold green" if ok else "bold red")]
    return [Text(line, style="dim")]
