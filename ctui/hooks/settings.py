"""Installing ctui's hook into Claude Code's settings files, and checking it.

`install` merges one group per event into `hooks` of the chosen settings file
and keeps every other hook; running it twice gives the same file as once.
`uninstall` removes only entries whose command is ctui's. Entries are
recognised by their command (`ctui.hook` or `... ctui hook`), so an older
install is replaced, not duplicated.

The command written (`portable_command`) is meant to be committed: it holds
no path of this machine. A short `sh` script finds a Python that has ctui, in
order: the project's `.venv` (`$CLAUDE_PROJECT_DIR/.venv`), the main
worktree's `.venv` (a linked worktree has none of its own), the Python of a
`ctui` on PATH (pipx and the like), then `python3`. It runs that Python with
`-I -S`, the fastest start measured (see `benchmarks/bench_hooks.py`): `site`
is skipped, so the code finds ctui in the venv's site-packages itself (reading
only ctui's own `.pth` for an editable install, and for a setuptools editable finder
only the folder it maps `ctui` to, without importing the finder and `importlib.util`)
and falls back to a full `site`
start only when that fails. Where no Python has ctui (a teammate without it,
CI), the hook exits 0 with no output: a silent no-op, not an error on every
tool call. `-I` also ignores the working folder and `PYTHON*` variables, so a
repository's own `json.py` can never shadow the standard library.

`fast_command` (this Python and ctui's folder, absolute) is for settings that
never leave this machine: threads ctui spawns (`claude --settings`) and
`--scope local`. `document` builds a whole settings document from either.

The lease check (PreToolUse) carries `"onFailure": "block"`: from Claude Code
2.1.295 a hook that crashes or times out blocks the edit instead of letting it
through unleased (older clients ignore the key).

Each event gets one group, and three get a second one the client runs in the
background (`"async": true`, as the pinned client 2.1.328 has it): PreToolUse of
Bash and the other long tools (`RUNNING`) records what runs without slowing the
call, and PostToolUse / PostToolUseFailure of the long tools but Bash clear it.
Bash's end stays a foreground group with the file tools (a failed command fires
PostToolUseFailure, not PostToolUse, as the real client shows).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from ctui.core.errors import UsageError
from ctui.hooks.call import LONG_TOOLS

SCOPES = ("project", "local", "user")
FILE_TOOLS = "Write|Edit|MultiEdit|NotebookEdit"
RUNNING = "^(" + "|".join(LONG_TOOLS) + ")$"
"""Bash, subagents, the web and MCP tools (`ctui.hooks.call.LONG_TOOLS`): started in the
background; as a regex, anchored, so `Task` is not `TaskCreate`."""
ENDED = "^(" + "|".join(t for t in LONG_TOOLS if t != "Bash") + ")$"


class Group:
    """One of ctui's hook groups in a settings file: an event, a tool matcher, and whether
    the client runs it in the background (`"async": true`: it waits for nothing)."""

    __slots__ = ("background", "event", "matcher")

    def __init__(self, event: str, matcher: str | None = None, background: bool = False) -> None:
        self.event = event
        self.matcher = matcher
        self.background = background

    @property
    def name(self) -> str:
        return f"{self.event} async" if self.background else self.event


GROUPS = (
    Group("SessionStart"),
    Group("UserPromptSubmit"),
    Group("PreToolUse", FILE_TOOLS),
    Group("PreToolUse", RUNNING, background=True),
    Group("PostToolUse", FILE_TOOLS + "|Bash"),
    Group("PostToolUse", ENDED, background=True),
    Group("PostToolUseFailure", FILE_TOOLS + "|Bash"),
    Group("PostToolUseFailure", ENDED, background=True),
    Group("Notification"),
    Group("Stop"),
    Group("SubagentStart"),
    Group("SubagentStop"),
    Group("SessionEnd"),
    Group("PermissionRequest"),
)
"""The lease check blocks (its PreToolUse group for the file tools); the long tools' start is
recorded in the background, so no Bash call waits for a hook (`ctui.hooks.running`). Bash's
end stays in the foreground: its answer can tell Claude about leased files it changed."""
EVENTS = tuple(dict.fromkeys(g.event for g in GROUPS))
HOOKS = tuple(g.name for g in GROUPS)
"""Every group by name (`PreToolUse`, `PreToolUse async`, ...): what `installed` reports."""
TIMEOUT_S = 10
BLOCKING = frozenset({"PreToolUse"})  # `"onFailure": "block"`: a failed lease check blocks


HOOK_CODE = """import os,sys
def found():
 try:
  import ctui.hook;return 1
 except ImportError:pass
 v=os.path.dirname(os.path.dirname(sys.executable))
 s=os.path.join(v,"lib","python%d.%d"%sys.version_info[:2],"site-packages")
 if os.path.isfile(os.path.join(v,"pyvenv.cfg")) and os.path.isdir(s):
  sys.path.append(s)
  for n in os.listdir(s):
   if n.endswith(".pth") and "ctui" in n:
    for l in open(os.path.join(s,n)):
     l=l.strip()
     if l.startswith("import "):
      try:
       t=open(os.path.join(s,l[7:].split(";")[0].strip()+".py")).read()
       t=t[t.index("{'ctui': ")+9:];d=t[1:t.index(t[0],1)]
      except (OSError,ValueError,IndexError):d=""
      if d and os.path.isfile(os.path.join(d,"hook.py")):sys.path.append(os.path.dirname(d))
      else:exec(l)
     elif l and l[0]!="#":sys.path.append(l)
  try:
   import ctui.hook;return 1
  except ImportError:pass
 import site;site.main()
 try:
  import ctui.hook;return 1
 except ImportError:return 0
found() and sys.modules["ctui.hook"].run()"""

FIND_PYTHON = (
    'd="${CLAUDE_PROJECT_DIR:-.}"; p="$d/.venv/bin/python"; '
    '[ -x "$p" ] || { g=$(cd "$d" && git rev-parse --path-format=absolute --git-common-dir '
    '2>/dev/null) && p="${g%/.git}/.venv/bin/python"; }; '
    '[ -x "$p" ] || { c=$(command -v ctui) && read -r p < "$c" && p="${p#\\#!}"; }; '
    '[ -x "$p" ] || p=$(command -v python3) || exit 0; '
)


def portable_command() -> str:
    """The hook command to commit: no path of this machine; a silent no-op without ctui."""
    return f'{FIND_PYTHON}exec "$p" -I -S -c {shlex.quote(HOOK_CODE)}'


TIMEOUTS = {"PermissionRequest": 600}
"""Longer for the events that wait on purpose (a request held for the operator)."""


def fast_command(python: str | None = None) -> str:
    """`<python> -I -S -c '<append ctui's folder to sys.path; run the hook>'`."""
    import ctui

    folder = str(Path(ctui.__file__).resolve().parent.parent)
    literal = json.dumps(folder) if folder.isascii() else repr(folder)
    code = f"import sys;sys.path.append({literal});from ctui.hook import run;run()"
    return f"{shlex.quote(python or sys.executable)} -I -S -c {shlex.quote(code)}"


def script_command() -> str:
    """The installed console script plus ` hook` (slower: `site` and the CLI package load)."""
    import shutil

    found = Path(sys.executable).parent / "ctui"
    path = str(found) if found.exists() else shutil.which("ctui") or "ctui"
    return f"{shlex.quote(path)} hook"


def is_ours(command: object) -> bool:
    if not isinstance(command, str):
        return False
    text = command.strip()
    return "ctui.hook" in text or text.endswith(("ctui hook", "ctui' hook", 'ctui" hook'))


def settings_path(scope: str, project: Path) -> Path:
    if scope not in SCOPES:
        raise UsageError(f"bad scope {scope!r}: one of {', '.join(SCOPES)}")
    if scope == "user":
        return Path.home() / ".claude" / "settings.json"
    return project / ".claude" / ("settings.json" if scope == "project" else "settings.local.json")


def project_root(start: Path) -> Path:
    """The worktree root around `start` (Claude Code reads `.claude/` there), else `start`."""
    from ctui.core.paths import find_git

    layout = find_git(start)
    return layout.worktree if layout is not None else start.resolve()


def load(path: Path) -> dict[str, Any]:
    """The settings document, `{}` when the file is absent; a malformed one is refused."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path} is not valid JSON (line {exc.lineno}): fix it first; it was left untouched"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("hooks", {}), dict):
        raise UsageError(f'{path} has no JSON object at the top or under "hooks": fix it first')
    for event, groups in doc.get("hooks", {}).items():
        if not isinstance(groups, list):
            raise UsageError(f"{path}: hooks.{event} is not a list: fix it first")
    return doc


def save(path: Path, doc: dict[str, Any]) -> None:
    """Write atomically (a temp file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.ctui-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def strip(doc: dict[str, Any]) -> int:
    """Remove ctui's hook entries (and groups left empty); returns how many went."""
    removed = 0
    hooks = doc.get("hooks", {})
    for event in list(hooks):
        kept_groups = []
        for group in hooks[event]:
            entries = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(entries, list):
                kept_groups.append(group)
                continue
            kept = [h for h in entries if not (isinstance(h, dict) and is_ours(h.get("command")))]
            removed += len(entries) - len(kept)
            if kept:
                kept_groups.append({**group, "hooks": kept})
            elif not entries:
                kept_groups.append(group)
        if kept_groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]
    if "hooks" in doc and not doc["hooks"]:
        del doc["hooks"]
    return removed


def merge(doc: dict[str, Any], command: str) -> dict[str, Any]:
    """The document with ctui's entries replaced by fresh ones for every event."""
    strip(doc)
    hooks = doc.setdefault("hooks", {})
    for g in GROUPS:
        group: dict[str, Any] = {"matcher": g.matcher} if g.matcher else {}
        entry: dict[str, Any] = {
            "type": "command",
            "command": command,
            "timeout": TIMEOUTS.get(g.event, TIMEOUT_S),
        }
        if g.background:
            entry["async"] = True
        elif g.event in BLOCKING:
            entry["onFailure"] = "block"
        group["hooks"] = [entry]
        hooks.setdefault(g.event, []).append(group)
    return doc


def document(command: str | None = None) -> dict[str, Any]:
    """A settings document with only ctui's hooks (for `claude --settings`).

    Without `command`, the portable one; a thread ctui spawns on this machine
    can pass `fast_command()`.
    """
    return merge({}, command or portable_command())


def installed(doc: dict[str, Any]) -> dict[str, list[str]]:
    """ctui's commands per group in a settings document, by the group's name (`HOOKS`): the
    event, with ` async` for an entry the client runs in the background."""
    found: dict[str, list[str]] = {}
    for event, groups in doc.get("hooks", {}).items():
        for group in groups:
            for entry in group.get("hooks", []) if isinstance(group, dict) else []:
                if isinstance(entry, dict) and is_ours(entry.get("command")):
                    name = f"{event} async" if entry.get("async") is True else event
                    found.setdefault(name, []).append(entry["command"])
    return found


def thread_settings() -> dict[str, Any]:
    """The settings a thread's `claude --settings FILE` gets: ctui's hooks for every event,
    so a worktree ctui creates is covered whatever its repository has committed. The
    command is this machine's absolute one: a thread never depends on finding ctui."""
    return document(fast_command())
