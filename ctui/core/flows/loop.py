"""`ctui loop NAME`: a continuous development loop on one thread.

Each iteration runs the thread's agent (a normal supervised run, so it shows
in `ctui thread list` and can be stopped), then the test gate (`[gate]
commands` in `.ctui/config.toml`, run in the thread's worktree). The loop
ends when the agent printed the completion token *and* the gate passed; else
the failing output is fed into the next iteration's prompt, up to the limit.
Every iteration's gate result is kept on the thread (`threads.gate`, JSON).
A ready thread is blocked first, so `ctui serve` (which starts ready threads)
does not run it with the plain prompt while the loop is between iterations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctui.core import private
from ctui.core.errors import CtuiError, UsageError
from ctui.core.flows.orchestrate import answer_text
from ctui.core.merge.gate import run_gate

if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator


def iteration_prompt(base: str, iteration: int, feedback: str | None, token: str) -> str:
    parts = [base.strip(), f"## Loop iteration {iteration}"]
    if feedback:
        parts.append(
            f"The test gate failed after the previous iteration. Fix these failures:\n\n{feedback}"
        )
    parts.append(f"When the work is complete and the tests pass, print {token} on its own line.")
    return "\n\n".join(p for p in parts if p)


def feedback_from(gate: dict[str, Any], token_seen: bool, token: str) -> str:
    failing = [r for r in gate["results"] if r["exit_code"] != 0]
    if not failing and not token_seen:
        return f"The tests pass, but you did not print {token}: finish the work, then print it."
    return "\n\n".join(
        f"$ {r['command']}  (exit {r['exit_code']})\n{r['output'].strip()}" for r in failing
    )


def loop(
    c: Coordinator,
    name: str,
    *,
    max_iterations: int = 10,
    gate_timeout: float | None = None,
    run_timeout: float | None = None,
    report: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the loop on thread `name`; returns {name, done, iterations, gate}.

    `run_timeout` stops an agent run that takes longer; the iteration then
    counts as failed and its gate still runs, so the next prompt says why.
    """
    if max_iterations < 1:
        raise UsageError("--max-iterations must be 1 or more")
    say = report or (lambda _line: None)
    t = c.threads.get(name)
    if t.is_active:
        raise CtuiError(f"thread {name!r} is {t.status}: stop it or wait before looping")
    token = c.config.completion_token
    commands = c.config.gate_commands
    timeout = gate_timeout or c.config.gate_timeout
    if not commands:
        say("no [gate] commands in config.toml: the completion token alone ends the loop")
    if t.status == "ready":
        t = c.threads.set_blocked(name, True, reason="held by ctui loop")
    base_prompt = t.prompt or ""
    cwd = Path(t.worktree) if t.worktree else c.root
    history: list[dict[str, Any]] = []
    feedback: str | None = None
    for i in range(1, max_iterations + 1):
        log_path = Path(t.log_path or c.threads.log_path(name))
        offset = log_path.stat().st_size if log_path.exists() else 0
        t = c.threads.start(
            name, again=True, prompt=iteration_prompt(base_prompt, i, feedback, token)
        )
        say(f"iteration {i}: run {t.run_id} started")
        t = c.threads.wait(name, timeout=run_timeout)
        if t.is_active:
            say(f"iteration {i}: the agent ran past {run_timeout:g}s, stopping it")
            t = c.threads.stop(name, grace=min(c.config.stop_grace, 5.0), by="ctui loop")
        elif t.status in ("stopped", "budget_exceeded", "paused") or (
            t.status == "failed" and t.exit_code is None
        ):
            raise CtuiError(f"the loop ended at iteration {i}: thread {t.status} ({t.error})")
        with private.open_read(log_path) as fh:
            fh.seek(offset)
            output = fh.read().decode("utf-8", "replace")
        token_seen = token in answer_text(output)
        gate = run_gate(commands, cwd, timeout)
        history.append(
            {
                "iteration": i,
                "run": t.run_id,
                "agent_exit": t.exit_code,
                "token": token_seen,
                "at": c.now(),
                **gate,
            }
        )
        _save(c, name, history)
        say(
            f"iteration {i}: agent exit {t.exit_code}, "
            f"token {'seen' if token_seen else 'not seen'}, "
            + ("no gate" if not commands else f"gate {'passed' if gate['passed'] else 'failed'}")
        )
        if token_seen and gate["passed"]:
            return {"name": name, "done": True, "iterations": i, "gate": history}
        feedback = feedback_from(gate, token_seen, token)
    return {"name": name, "done": False, "iterations": max_iterations, "gate": history}


def _save(c: Coordinator, name: str, history: list[dict[str, Any]]) -> None:
    with c.store.write() as conn:
        conn.execute(
            "UPDATE threads SET gate = ?, updated_at = ? WHERE name = ?",
            (json.dumps(history), c.now(), name),
        )
        last = history[-1]
        c.log(
            conn,
            "thread.gate",
            subject=name,
            data={"iteration": last["iteration"], "passed": last["passed"], "token": last["token"]},
        )
