"""The README's tour, run as written: a README edit that breaks a command breaks the suite.

The convention in README.md (keep it when you edit a block):

* A fenced block whose info string is exactly `sh` is part of the tour. Every such
  block runs, in README order, in ONE bash process (so `me=$(...)` and `cd` carry
  over), started in a fresh scratch repository (git, one commit, a passing
  `tests/test_ok.py`), with the test's venv first on PATH (what `. .venv/bin/activate`
  does) and the fake agent (tests/fakes/claude) as `claude` on PATH.
* ```` ```sh setup ```` marks the set-up blocks (make the venv, run the tests): they are
  exempt, because the test itself runs inside that venv and that suite. Other info
  strings (```` ```toml ````, ```` ```python ````, a bare fence) are not shell and not run.
* One command per line; blank lines and whole-line `#` comments are skipped. A
  trailing comment starts at a `#` after whitespace, outside quotes.
* A command exits 0 unless its trailing comment STARTS with `exit N` (`# exit 4: ...`):
  then it must exit N. Say conditional codes in other words ("12 if ...").
* A trailing comment starting with `runs until ctrl+c` marks a command that runs
  until interrupted (a foreground server, `--follow`): it runs in the background
  until it prints something, must still be running a second later, then gets SIGINT
  and must exit 0 or 130.
* A server the tour starts must be stopped by the tour (`ctui api stop`); the test
  fails (after killing it) if one is left running. The port `31337` is replaced by
  a free port, so two runs on one machine never collide; servers bind 127.0.0.1.
* `$TMPDIR` is the test's temporary folder, so `mktemp -d` stays inside it.

The fake agent gets `FAKE_DONE` (it prints the completion token, so `ctui loop`
ends after one green gate) and `FAKE_PLAN` (a leader's answer is a small plan),
so the tour's agent commands finish in seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ctui.core.instances import pid_alive
from tests.conftest import git

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FAKES = ROOT / "tests" / "fakes"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.S | re.M)
EXPECT = re.compile(r"^#\s*(?:exit\s+(\d+)|(runs until ctrl\+c))\b")
PLAN = {"tasks": [{"id": "t1", "description": "Write the CSV exporter", "priority": 1}]}

pytestmark = pytest.mark.slow


class Step:
    """One command of the tour: its README line number, text and documented outcome."""

    def __init__(self, line: int, command: str, comment: str) -> None:
        self.line = line
        self.command = command
        match = EXPECT.match(comment)
        self.interrupt = bool(match and match.group(2))
        self.exit = int(match.group(1)) if match and match.group(1) else 0


def split_comment(text: str) -> tuple[str, str]:
    """The command and its trailing comment (a `#` after whitespace, outside quotes)."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i:]
    return text.rstrip(), ""


def tour(readme: str) -> list[Step]:
    """Every command of the README's `sh` blocks, in order."""
    steps = []
    for match in FENCE.finditer(readme):
        if match.group(1).strip() != "sh":
            continue
        first = readme.count("\n", 0, match.start(2)) + 1
        pending = ""
        for offset, raw in enumerate(match.group(2).splitlines()):
            command, comment = split_comment(raw)
            if pending:
                command = pending + " " + command.lstrip()
            if command.endswith("\\"):
                pending = command[:-1].rstrip()
                continue
            pending = ""
            if command.strip():
                steps.append(Step(first + offset, command.strip(), comment))
    return steps


PRELUDE = r"""
set -m  # each background command gets its own process group, so ctrl+c reaches it
_fail() { echo "TOUR FAILED at README.md:$1: $2" >&2; exit 97; }
_check() { [ "$1" = "$2" ] || _fail "$3" "exited $1, the README documents $2"; }
_interrupt() {
    local pid=$1 line=$2 out=$3 i=0 rc
    while [ ! -s "$out" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -0 "$pid" 2>/dev/null && sleep 1
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"; rc=$?; cat "$out" >&2
        _fail "$line" "ended by itself (exit $rc) but is documented to run until ctrl+c"
    fi
    kill -INT -- "-$pid"
    wait "$pid"; rc=$?
    cat "$out"
    case $rc in 0|130) ;; *) _fail "$line" "exited $rc after ctrl+c";; esac
}
"""


def script(steps: list[Step], port: int) -> str:
    lines = [PRELUDE]
    for step in steps:
        command = step.command.replace("31337", str(port))
        lines.append(f"echo '--- README.md:{step.line}: '{_quote(command)} >&2")
        if step.interrupt:
            out = f'"$TMPDIR/tour-{step.line}.out"'
            lines.append(f"( {command} ) >{out} 2>&1 &")
            lines.append(f"_interrupt $! {step.line} {out}")
        else:
            lines.append(command)
            lines.append(f"_check $? {step.exit} {step.line}")
    lines.append("echo 'TOUR DONE' >&2")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def test_convention_parses_expected_codes_and_skips_setup() -> None:
    text = (
        "```sh setup\npip install x\n```\n"
        "```sh\nctui a            # exit 4: nothing\nctui b 'x # y'  # 12 if changed\n"
        "ctui c \\\n  --d    # runs until ctrl+c\n```\n```toml\n[a]\n```\n"
    )
    steps = tour(text)
    assert [(s.command, s.exit, s.interrupt) for s in steps] == [
        ("ctui a", 4, False),
        ("ctui b 'x # y'", 0, False),
        ("ctui c --d", 0, True),
    ]
    assert steps[0].line == 5


@pytest.mark.parametrize(
    ("block", "verdict"),
    [
        (
            "true\nsh -c 'exit 4'   # exit 4: nothing to do\n"
            "sh -c 'echo up; exec sleep 30'  # runs until ctrl+c\n",
            None,
        ),
        (
            "true\nfalse           # the README says nothing: 0 is expected\n",
            "README.md:3: exited 1",
        ),
        ("sh -c 'exit 4'   # exit 10: held\n", "README.md:2: exited 4, the README documents 10"),
        ("true   # runs until ctrl+c\n", "README.md:2: ended by itself"),
    ],
)
def test_a_command_that_breaks_its_documented_exit_breaks_the_tour(
    tmp_path: Path, block: str, verdict: str | None
) -> None:
    body = script(tour(f"```sh\n{block}```\n"), free_port())
    proc = subprocess.run(
        ["bash", "-c", body],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if verdict is None:
        assert proc.returncode == 0 and "TOUR DONE" in proc.stderr, proc.stderr
    else:
        assert proc.returncode == 97 and verdict in proc.stderr, proc.stderr
        assert "TOUR DONE" not in proc.stderr


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    steps = tour(README.read_text())
    assert len(steps) > 40, "the tour lost its commands: check the ```sh blocks"
    repo = scratch_repo(tmp_path)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    (tmp_path / "home").mkdir(exist_ok=True)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CTUI_", "CT_API", "N8N_", "FAKE_", "CLAUDE_", "TMUX"))
    }
    env.update(
        PATH=os.pathsep.join([str(FAKES), str(Path(sys.executable).parent), env["PATH"]]),
        FAKE_AGENT_PYTHON=sys.executable,
        FAKE_AGENT=f"FAKE_PLAN={plan} FAKE_DONE",
        TMPDIR=str(tmp_path),
        TMUX_TMPDIR=str(tmp_path),
        HOME=str(tmp_path / "home"),
    )
    body = script(steps, port)
    (tmp_path / "tour.sh").write_text(body)
    try:
        proc = subprocess.run(
            ["bash", str(tmp_path / "tour.sh")],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
    finally:
        leftovers = _stop_leftovers(repo / ".ctui")
    (tmp_path / "tour.out").write_text(proc.stdout)
    (tmp_path / "tour.err").write_text(proc.stderr)
    tail = (proc.stdout[-4000:], proc.stderr[-6000:])
    assert proc.returncode == 0, "\n".join(tail)
    assert "TOUR DONE" in proc.stderr
    assert not leftovers, f"the tour left these running (now killed): {leftovers}"


def _stop_leftovers(store: Path) -> list[str]:
    """Kill (by pid) a server or a thread supervisor the tour left running; name them."""
    left = []
    try:
        api = json.loads((store / "api.json").read_text())
    except (OSError, ValueError):
        api = {}
    pid = api.get("pid")
    if isinstance(pid, int) and pid_alive(pid):
        left.append(f"server pid {pid}")
        os.kill(pid, signal.SIGKILL)
    if (store / "ctui.db").exists():
        from ctui.core import Coordinator

        c = Coordinator.open(store_dir=store)
        try:
            for t in c.threads.list():
                if t.status in ("running", "waiting"):
                    left.append(f"thread {t.name}")
                    c.threads.stop(t.name, grace=1.0)
        finally:
            c.close()
    return left
