"""The supervisor of one agent run: `python -m ctui.run THREAD --run-id N`.

Started detached in its own process group by `Threads.start`. It registers an
instance for the run (role = the thread's name), runs the agent in the
thread's worktree with `CTUI_DIR`, `CTUI_THREAD_ID` and `CTUI_INSTANCE_ID`
set, copies its output to `.ctui/logs/<name>.log`, reads stream-json lines
for the session id, turns, cost and tokens, and records the exit. SIGTERM
(sent to the whole group by `ctui thread stop`) reaches the agent directly;
the supervisor only waits for it to end and writes down what happened.

While the agent runs, the supervisor saves its figures twice a second (the
cost of a run still going is priced from its tokens, `budget.live_usd`) and
checks the budget caps after each save: a crossed cap marks the thread
`budget_exceeded` and ends the agent as `ctui thread stop` does (SIGTERM to
the group, SIGKILL after the grace period). A run that ends on a usage or
rate limit (`limits.Watch`) leaves the thread `paused` until the reset.
The agent gets `CTUI_PORT_BASE` (its block of ports) and `[thread.env]`.

The supervisor runs on its thread's home host and beats for that host
(`hosts.beat`, every few seconds). Once a second it reads its own row: a stop
asked from another host (which cannot signal this process) is written there,
and the supervisor ends its agent as `ctui thread stop` would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ctui.core import Coordinator, private
from ctui.core.hosts import beat as host_beat
from ctui.core.instances import pid_start_time
from ctui.core.threads import ACTIVE, Thread, agents, budget, limits, runs, tmux

SAVE_EVERY_S = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctui.run", description=__doc__.splitlines()[0])
    parser.add_argument("thread")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--prompt-file", type=Path)
    args = parser.parse_args(argv)
    c = Coordinator.open(store_dir=os.environ.get("CTUI_DIR"))
    for name in private.SECRET_ENVS:
        os.environ.pop(name, None)  # the agent and any tmux server started here inherit this
    status = runs.record_supervisor(
        c, args.thread, args.run_id, os.getpid(), pid_start_time(os.getpid())
    )
    if status not in ACTIVE:
        return 0
    sup = Supervisor(c, c.threads.get(args.thread), args.run_id, args.prompt_file)
    try:
        return sup.run()
    except Exception as exc:
        runs.finish(c, args.thread, args.run_id, "failed", None, f"the supervisor failed: {exc}")
        if sup.instance_id:
            c.instances.unregister(sup.instance_id, reason="supervisor failed")
        raise


class Supervisor:
    """Runs one agent process (or tmux session) to its end and keeps the store in step."""

    def __init__(
        self, c: Coordinator, thread: Thread, run_id: int, prompt_file: Path | None
    ) -> None:
        self.c = c
        self.t = thread
        self.run_id = run_id
        self.prompt = prompt_file.read_text() if prompt_file else (thread.prompt or "")
        self.log_path = Path(thread.log_path or c.threads.log_path(thread.name))
        self.stats = agents.RunStats()
        self.base = runs.base_counters(c, thread.name)
        self.done = threading.Event()
        self.instance_id: str | None = None
        self.limit = limits.Watch(c.now)
        self.model: str | None = None
        self.exceeded: budget.Crossing | None = None
        self.terminate: Any = None
        self.saving = threading.Lock()
        self.dirty = False
        self.saved = time.monotonic()
        self.stopping = False
        self._last_said = ""  # the agent's last line that was not stream-json

    def say(self, text: str) -> None:
        with private.open_log(self.log_path, "a") as log:
            log.write(f"[ctui] {text}\n")

    def run(self) -> int:
        t = self.t
        signal.signal(signal.SIGTERM, self._on_term)
        resume = runs.resumes(self.c, t.name, self.run_id)
        settings = self._hook_settings() if t.agent == "claude" else None
        argv = agents.argv(
            t.agent, t.mode, self.prompt, t.command, settings=settings, resume=resume
        )
        cwd = Path(t.worktree) if t.worktree else self.c.root
        over = budget.check(self.c, t.name)
        if over is not None:
            message = f"not started: {over} reached"
            runs.end_early(self.c, t.name, self.run_id, "budget_exceeded", message, over.to_dict())
            self.say(message)
            runs.finish(self.c, t.name, self.run_id, "budget_exceeded", None, message)
            return 1
        if not argv or agents.find_binary(argv[0], cwd) is None:
            message = agents.missing_binary_message(t.agent, argv[0] if argv else "")
            self.say(message)
            runs.finish(self.c, t.name, self.run_id, "failed", None, message)
            return 127
        if t.mode == "interactive" and agents.find_binary("tmux") is None:
            message = "interactive mode runs the agent in tmux, which is not on PATH: install it"
            self.say(message)
            runs.finish(self.c, t.name, self.run_id, "failed", None, message)
            return 127
        error: str | None
        inst = self.c.instances.register(
            instance_id=f"{t.name}.r{self.run_id}",
            role=t.name,
            task=(self.prompt.strip().splitlines() or [""])[0][:200],
            cwd=str(cwd),
            worktree=t.worktree,
            branch=t.branch,
            agent=t.agent,
            thread_id=t.name,
            pid=os.getpid(),
        )
        self.instance_id = inst.id
        env = private.agent_env(
            {
                "CTUI_DIR": str(self.c.store.path),
                "CTUI_THREAD_ID": t.name,
                "CTUI_INSTANCE_ID": inst.id,
                **self._thread_env(cwd),
            }
        )
        resuming = f", resuming {resume}" if resume else ""
        self.say(f"run {self.run_id}: {t.agent} in {cwd}{resuming}")
        if t.agent == "claude" and t.mode != "interactive":
            note = agents.permission_mode(t.mode)[1]
            if note:
                self.say(note)
        try:
            if t.mode == "interactive":
                code = self._run_tmux(argv, cwd, env)
            else:
                code = self._run_piped(argv, cwd, env)
        except OSError as exc:
            code, error = 126, f"could not start {argv[0]!r}: {exc.strerror or exc}"
            self.say(error)
        else:
            error = None if code == 0 else f"the agent exited with {code}"
            if error and self._last_said:  # its last words usually say why
                error += f": {self._last_said}"
            if self.stats.is_error:  # the client's own account beats a bare exit code
                code, error = code or 1, self.stats.error_text()
        self.dirty = True  # the final figures are saved whatever the timer says
        self._save()
        status, resume_at = "completed" if code == 0 else "failed", None
        if self.exceeded is not None:
            status, error = "budget_exceeded", f"{self.exceeded} reached"
        elif self.limit.hit and (code != 0 or self.stats.is_error):
            status, error = "paused", f"{self.limit.hit}: resumes at the reset"
            resume_at = self.limit.reset_at or self.c.now() + self.c.config.limit_wait
        runs.finish(self.c, t.name, self.run_id, status, code, error, resume_at)
        self.say(f"run {self.run_id} ended: exit {code}" + (f" ({error})" if error else ""))
        self.c.instances.unregister(inst.id, reason="run ended")
        return code

    def _hook_settings(self) -> str:
        """Write ctui's hook settings into the store; the path goes to `claude --settings`."""
        from ctui.hooks import settings

        path = self.c.store.path / "claude-settings.json"
        private.write_json(path, settings.thread_settings())
        return str(path)

    def _on_term(self, signum: int, frame: Any) -> None:
        """SIGTERM reaches the agent too (same group); an interactive session is closed here."""
        if self.t.mode == "interactive":
            tmux.kill(self.t.name)

    def _run_piped(self, argv: list[str], cwd: Path, env: dict[str, str]) -> int:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._started(proc.pid, lambda: self._end_agent(proc))
        assert proc.stdout is not None
        with private.open_log(self.log_path) as log:
            for raw in iter(proc.stdout.readline, b""):
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace")
                self.limit.feed(line)
                if self.model is None and '"init"' in line:
                    self.model = _model(line)
                with self.saving:
                    self.dirty |= self.stats.feed(line)
                if line.strip() and not line.lstrip().startswith("{"):
                    said = " ".join(line.split())
                    self._last_said = said if len(said) <= 300 else said[:299] + "…"
                if self.dirty and time.monotonic() - self.saved > SAVE_EVERY_S:
                    self._save()
        code = proc.wait()
        self.done.set()
        return code if code >= 0 else 128 - code

    def _run_tmux(self, argv: list[str], cwd: Path, env: dict[str, str]) -> int:
        exit_file = self.log_path.with_suffix(".exit")
        extra = {k: env[k] for k in ("CTUI_DIR", "CTUI_THREAD_ID", "CTUI_INSTANCE_ID")}
        pid = tmux.start(
            self.t.name, argv, cwd=cwd, env=extra, log=self.log_path, exit_file=exit_file
        )
        self._started(pid, lambda: tmux.kill(self.t.name))
        while tmux.alive(self.t.name):
            time.sleep(0.3)
        self.done.set()
        code = tmux.exit_code(exit_file)
        return 143 if code is None else code

    def _thread_env(self, cwd: Path) -> dict[str, str]:
        """`CTUI_PORT_BASE` and the `[thread.env]` variables, with {thread}, {port_base},
        {worktree} filled in."""
        port = self.c.threads.get(self.t.name).port_base
        slots = {"thread": self.t.name, "port_base": str(port or ""), "worktree": str(cwd)}
        env = {"CTUI_PORT_BASE": str(port)} if port is not None else {}
        for key, value in self.c.config.thread_env.items():
            for slot, text in slots.items():
                value = value.replace("{" + slot + "}", text)
            env[key] = value
        return env

    def _save(self) -> None:
        """Write the figures so far, then hold them against the budget caps."""
        with self.saving:
            usd = budget.live_usd(self.stats, self.model)
            runs.record_stats(self.c, self.t.name, self.run_id, self.stats, self.base, usd)
            self.saved, self.dirty = time.monotonic(), False
            if self.exceeded is not None:
                return
            over = budget.check(self.c, self.t.name)
            if over is None:
                return
            message = f"{over} reached"
            if not runs.end_early(
                self.c, self.t.name, self.run_id, "budget_exceeded", message, over.to_dict()
            ):
                return
            self.exceeded = over
        self.say(f"stopping the agent: {message}")
        if self.terminate is not None:
            self.terminate()

    def _end_agent(self, proc: subprocess.Popen[bytes]) -> None:
        """As `ctui thread stop`: SIGTERM to the group (this process ignores it), then SIGKILL."""
        try:
            if os.getpgid(0) != os.getpid():  # not started by ctui: signal only the agent
                raise OSError("not a process-group leader")
            os.killpg(os.getpid(), signal.SIGTERM)
        except OSError:
            proc.terminate()
        grace = self.c.config.stop_grace

        def kill_late() -> None:
            if not self.done.wait(grace) and proc.poll() is None:
                proc.kill()

        threading.Thread(target=kill_late, daemon=True).start()

    def _started(self, pid: int, terminate: Any) -> None:
        self.terminate = terminate
        status = runs.record_agent(self.c, self.t.name, self.run_id, pid, self.instance_id)
        if status not in ACTIVE:
            terminate()
            return
        threading.Thread(target=self._watch_state, daemon=True).start()

    def _watch_state(self) -> None:
        """Keep the run's instance alive and mirror its state (`needs_input` → `waiting`).

        The heartbeat matters for agents without ctui's hooks: nothing else
        would renew the instance, and the reaper would free its leases and
        claims while it still works.
        """
        was, beat = "running", time.monotonic()
        every = max(1.0, self.c.config.instance_ttl / 4)
        while not self.done.wait(1.0):
            with contextlib.suppress(Exception):  # a busy store: again in a second
                host_beat.beat(self.c)  # at most every few seconds
                self._obey_stop()
            try:
                if self.dirty and time.monotonic() - self.saved > SAVE_EVERY_S:
                    self._save()  # a quiet agent's last lines still count against the budget
                if time.monotonic() - beat >= every:
                    self.c.instances.heartbeat(self.instance_id or "")
                    beat = time.monotonic()
                state = self.c.instances.get(self.instance_id or "").state
            except Exception:
                return
            now = "waiting" if state == "needs_input" else "running"
            if now != was:
                runs.set_active(self.c, self.t.name, self.run_id, now)
                was = now

    def _obey_stop(self) -> None:
        """End the agent once its row says so: a stop asked (from this host or another), or
        the run ended by someone else (`runs.stop_reason`)."""
        with self.saving:  # a budget stop (`_save`) is its own, not news from the row
            if self.stopping or self.exceeded is not None:
                return
            why = runs.stop_reason(self.c, self.t.name, self.run_id)
            if why is None:
                return
            self.stopping = True
        self.say(f"stopping the agent: {why}")
        if self.terminate is not None:
            self.terminate()


def _model(line: str) -> str | None:
    import json

    try:
        msg = json.loads(line)
    except ValueError:
        return None
    model = msg.get("model") if isinstance(msg, dict) else None
    return model if isinstance(model, str) else None


if __name__ == "__main__":
    sys.exit(main())
