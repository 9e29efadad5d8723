"""tmux sessions for interactive threads: one session `ctui-<name>` per thread.

The agent's command starts only after `pipe-pane` is attached (it waits on a
tmux `wait-for` channel), so the log misses none of its output; its exit code
is written to a file next to the log, because tmux forgets it with the pane.

`CTUI_TMUX_SOCKET` (a socket path) puts ctui's sessions on that tmux server
instead of the default one (tests use a private server they start and kill).

`attach_argv` is how the operator gets to a thread's session: outside tmux,
`attach-session`; inside tmux on the same server, `switch-client` (a nested
attach is refused: "sessions should be nested with care"); inside a tmux whose
server is another one, a new window there that runs a client of ctui's server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ctui.core import private

SOCKET_ENV = "CTUI_TMUX_SOCKET"


def session(name: str) -> str:
    return f"ctui-{name}"


def base(env: Mapping[str, str] | None = None) -> list[str]:
    """`tmux`, plus `-S SOCKET` when `CTUI_TMUX_SOCKET` names ctui's own server."""
    socket = (os.environ if env is None else env).get(SOCKET_ENV)
    return ["tmux", "-S", socket] if socket else ["tmux"]


def _tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*base(), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=15,
        env=private.agent_env(),  # a tmux server started here must not hold ctui's token
    )


def attach_argv(name: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The command that shows thread `name`'s session to the operator, inside tmux or not."""
    env = os.environ if env is None else env
    ours = base(env)
    sess = session(name)
    inside = env.get("TMUX", "")
    if not inside:
        return [*ours, "attach-session", "-t", sess]
    theirs = inside.split(",")[0]
    socket = env.get(SOCKET_ENV)
    if not socket or _same_file(socket, theirs):
        return [*ours, "switch-client", "-t", sess]
    client = "env -u TMUX " + shlex.join([*ours, "attach-session", "-t", sess])
    return ["tmux", "new-window", "-n", sess, client]


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def available() -> bool:
    return shutil.which("tmux") is not None


def start(
    name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, exit_file: Path
) -> int:
    """Start the agent in a detached session; returns the pane's pid."""
    sess = session(name)
    exit_file.unlink(missing_ok=True)
    os.close(private.open_fd(exit_file))  # 0600 now; the shell's `>` keeps the mode
    script = (
        # a tmux server the user started earlier may hold the token in its global environment
        f"unset {' '.join(private.SECRET_ENVS)}; "
        f"{shlex.join(base())} wait-for {shlex.quote(sess + '-go')}; {shlex.join(argv)}; "
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


def send_keys(name: str, text: str) -> None:
    """Type `text` into the thread's terminal, literally, then press Enter."""
    sess = session(name)
    _tmux("send-keys", "-t", sess, "-l", text)
    _tmux("send-keys", "-t", sess, "Enter")
