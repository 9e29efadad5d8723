"""The supervisor of one agent run: `python -m ctui.run THREAD --run-id N`.

Started detached in its own process group by `Threads.start`. It registers an
instance for the run (role = the thread's name), runs the agent in the
thread's worktree with `CTUI_DIR`, `CTUI_THREAD_ID` and `CTUI_INSTANCE_ID`
set, copies its output to `.ctui/logs/<name>.log`, reads stream-json lines
for the session id, turns, cost and tokens, and records the exit. SIGTERM
(sent to the whole group by `ctui thread stop`) reaches the agent directly;
the supervisor only waits for it to end and writes down what happened.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ctui.core import Coordinator
from ctui.core.instances import pid_start_time
from ctui.core.threads import ACTIVE, Thread, agents, runs, tmux

SAVE_EVERY_S = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctui.run", description=__doc__.splitlines()[0])
    parser.add_argument("thread")
    parser.add_argument("--run-id", type=int, required=True)
    parser.add_argument("--prompt-file", type=Path)
    args = parser.parse_args(argv)
    c = Coordinator.open(store_dir=os.environ.get("CTUI_DIR"))
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

    def say(self, text: str) -> None:
        with open(self.log_path, "a") as log:
            log.write(f"[ctui] {text}\n")

    def run(self) -> int:
        t = self.t
        signal.signal(signal.SIGTERM, self._on_term)
        argv = agents.argv(t.agent, t.mode, self.prompt, t.command)
        cwd = Path(t.worktree) if t.worktree else self.c.root
        if not argv or agents.find_binary(argv[0], cwd) is None:
            message = agents.missing_binary_message(t.agent, argv[0] if argv else "")
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
        env = {
            **os.environ,
            "CTUI_DIR": str(self.c.store.path),
            "CTUI_THREAD_ID": t.name,
            "CTUI_INSTANCE_ID": inst.id,
        }
        self.say(f"run {self.run_id}: {t.agent} in {cwd}")
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
            if code == 0 and self.stats.is_error:
                code, error = 1, "the agent reported an error result"
        runs.record_stats(self.c, t.name, self.run_id, self.stats, self.base)
        runs.finish(
            self.c, t.name, self.run_id, "completed" if code == 0 else "failed", code, error
        )
        self.say(f"run {self.run_id} ended: exit {code}")
        self.c.instances.unregister(inst.id, reason="run ended")
        return code

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
        self._started(proc.pid, proc.terminate)
        saved = time.monotonic()
        dirty = False
        assert proc.stdout is not None
        with open(self.log_path, "ab") as log:
            for raw in iter(proc.stdout.readline, b""):
                log.write(raw)
                log.flush()
                dirty |= self.stats.feed(raw.decode("utf-8", "replace"))
                if dirty and time.monotonic() - saved > SAVE_EVERY_S:
                    runs.record_stats(self.c, self.t.name, self.run_id, self.stats, self.base)
                    saved, dirty = time.monotonic(), False
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

    def _started(self, pid: int, terminate: Any) -> None:
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
            try:
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


if __name__ == "__main__":
    sys.exit(main())
