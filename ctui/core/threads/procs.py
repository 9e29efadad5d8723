"""Process groups: launching a detached supervisor and making sure a run is gone.

A supervisor starts in its own session, so its pid is also its process-group
id and the agent it runs joins that group. Stopping a run signals the whole
group; "gone" means no live (non-zombie) process is left in it, checked from
`/proc` so that a zombie child of the caller does not count as running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ctui.core import private
from ctui.core.instances import pid_alive, pid_start_time


def launch_supervisor(
    store_dir: Path,
    cwd: Path,
    name: str,
    run_id: int,
    log_path: Path,
    prompt_file: Path | None = None,
) -> tuple[int, str | None]:
    """Start `python -m ctui.run NAME` detached; returns its pid and kernel start time."""
    argv = [sys.executable, "-m", "ctui.run", name, "--run-id", str(run_id)]
    if prompt_file is not None:
        argv += ["--prompt-file", str(prompt_file)]
    env = private.agent_env({"CTUI_DIR": str(store_dir)})
    env.pop("CTUI_INSTANCE_ID", None)
    with private.open_log(log_path) as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid, pid_start_time(proc.pid)


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids in process group `pgid`."""
    _reap_child(pgid)
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = []
    if not entries:
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except (ProcessLookupError, PermissionError):
            return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _reap_child(pid: int) -> None:
    """Collect `pid` if it is our exited child, so it stops being a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_gone(pgid: int, timeout: float) -> bool:
    """Poll until the group has no live member; False when the timeout passes first."""
    deadline = time.monotonic() + timeout
    while True:
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def terminate_group(pgid: int, start: str | None, grace: float) -> bool:
    """SIGTERM the group, SIGKILL after `grace` seconds; True when something was signalled."""
    if not group_members(pgid):
        return False
    if start is not None and pid_alive(pgid) and not pid_alive(pgid, start):
        return False
    signal_group(pgid, signal.SIGTERM)
    if not wait_gone(pgid, grace):
        signal_group(pgid, signal.SIGKILL)
        wait_gone(pgid, 5.0)
    return True


def orphaned_agent_group(supervisor_pid: int, agent_pid: int | None) -> bool:
    """Whether the agent of a dead supervisor still runs in the supervisor's group."""
    if agent_pid is None or not pid_alive(agent_pid):
        return False
    try:
        return os.getpgid(agent_pid) == supervisor_pid
    except OSError:
        return False
