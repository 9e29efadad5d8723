"""tmux sessions for interactive threads: one session `ctui-<name>` per thread.

The agent's command starts only after `pipe-pane` is attached (it waits on a
tmux `wait-for` channel), so the log misses none of its output; its exit code
is written to a file next to the log, because tmux forgets it with the pane.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path


def session(name: str) -> str:
    return f"ctui-{name}"


def _tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check, timeout=15)


def available() -> bool:
    return shutil.which("tmux") is not None


def start(
    name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, exit_file: Path
) -> int:
    """Start the agent in a detached session; returns the pane's pid."""
    sess = session(name)
    exit_file.unlink(missing_ok=True)
    script = (
        f"tmux wait-for {shlex.quote(sess + '-go')}; {shlex.join(argv)}; "
        f"echo $? > {shlex.quote(str(exit_file))}"
    )
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    _tmux(
        "new-session", "-d", "-s", sess, "-x", "200", "-y", "50", "-c", str(cwd), *env_args, script
    )
    _tmux("pipe-pane", "-t", sess, "-o", f"cat >> {shlex.quote(str(log))}")
    _tmux("wait-for", "-S", sess + "-go")
    out = _tmux("display-message", "-p", "-t", sess, "#{pane_pid}", check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def alive(name: str) -> bool:
    return _tmux("has-session", "-t", session(name), check=False).returncode == 0


def kill(name: str) -> None:
    if available():
        _tmux("kill-session", "-t", session(name), check=False)


def exit_code(exit_file: Path) -> int | None:
    try:
        text = exit_file.read_text().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None
