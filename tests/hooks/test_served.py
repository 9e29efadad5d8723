"""Hooks answered by `ctui serve` over `.ctui/hooks.sock` (`[hooks] via = "serve"`, as a
PostgreSQL store does by default): a real server subprocess on a real SQLite store, the
installed hook command run as Claude Code runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Server, clean_env
from tests.conftest import CTUI, git
from tests.hooks.support import SESSION_A, SESSION_B, Answer, Hook, fixture, install, rows, snapshot

VIA_SERVE = '[hooks]\nvia = "serve"\n'


def _served(repo: Path) -> None:
    (repo / ".ctui" / "config.toml").write_text(VIA_SERVE)


def _start(repo: Path) -> Server:
    server = Server(repo, "--no-auth", "--workers", "1", token=None)
    sock = repo / ".ctui" / "hooks.sock"
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sock.exists(), server.output()
    return server


@pytest.fixture
def server(hook: Hook, repo: Path) -> Iterator[Server]:
    _served(repo)
    running = _start(repo)
    yield running
    running.stop()


def _one_line_error(answer: Answer, *words: str) -> None:
    assert answer.code == 1 and answer.out == "", answer
    lines = answer.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctui hook: "), answer
    for word in words:
        assert word in lines[0], answer


def test_socket_is_owner_only_and_removed_at_stop(server: Server, repo: Path) -> None:
    sock = repo / ".ctui" / "hooks.sock"
    mode = sock.lstat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert "hooks on unix:" in server.output()
    server.stop()
    assert not sock.exists()


def test_hooks_go_through_the_server(hook: Hook, server: Server, repo: Path) -> None:
    """The proof the server answered: with it stopped, the same call is refused."""
    app = repo / "src" / "app.py"
    assert hook.start().code == 0
    assert hook("PreToolUse-Edit", file=app).allowed
    assert rows(repo / ".ctui" / "ctui.db", "SELECT holder FROM leases") == [("claude-4f2c9a1e",)]
    server.stop()
    assert hook("PreToolUse-Edit", file=repo / "README.md").denied


def test_two_hooks_race_through_the_server(hook: Hook, server: Server, repo: Path) -> None:
    """Two real hook processes, two sessions, one file, at once: one grant, one deny."""
    db = repo / ".ctui" / "ctui.db"
    for number in range(6):
        target = repo / "src" / f"race_{number}.py"
        answers = hook.race(
            [
                fixture("PreToolUse-Edit", SESSION=session, CWD=str(repo), FILE=str(target))
                for session in (SESSION_A, SESSION_B)
            ]
        )
        assert sorted(a.allowed for a in answers) == [False, True], answers
        assert [a.denied for a in answers].count(True) == 1, answers
        held = rows(db, "SELECT holder FROM leases WHERE path = ?", f"src/race_{number}.py")
        assert len(held) == 1, held


def test_a_running_server_follows_a_config_edit(hook: Hook, server: Server, repo: Path) -> None:
    """The server keeps its stores open between calls, but not past an edit of
    `.ctui/config.toml`: the next call reads the new settings."""
    db = repo / ".ctui" / "ctui.db"
    app, readme = repo / "src" / "app.py", repo / "README.md"
    for _ in range(3):  # every kept store has read the first settings
        assert hook("PreToolUse-Edit", file=app).allowed
    assert hook("PostToolUse-Edit", file=app).code == 0
    assert rows(db, "SELECT path FROM leases") == [("src/app.py",)]  # held: the default
    (repo / ".ctui" / "config.toml").write_text(
        VIA_SERVE + '[leases]\nrelease = "release-after-edit"\n'
    )
    for file in (app, readme):
        assert hook("PreToolUse-Edit", file=file).allowed
        assert hook("PostToolUse-Edit", file=file).code == 0
        assert rows(db, "SELECT path FROM leases") == [], file


def test_a_held_call_does_not_hold_up_the_others(hook: Hook, repo: Path) -> None:
    """A PermissionRequest held for the operator keeps its thread in the server; a lease check
    that comes meanwhile is answered while the held one still waits, and the server still
    stops when told to."""
    (repo / ".ctui" / "config.toml").write_text(
        VIA_SERVE + "[permissions]\nwait = 120\nsessions = true\n"
    )
    server = _start(repo)
    payload = fixture("PermissionRequest", SESSION=SESSION_A, CWD=str(repo), FILE="")
    held = subprocess.Popen(
        ["sh", "-c", hook.command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=repo,
    )
    try:
        assert held.stdin is not None
        held.stdin.write(json.dumps(payload).encode())
        held.stdin.close()
        db = repo / ".ctui" / "ctui.db"
        deadline = time.monotonic() + 60
        while not rows(db, "SELECT id FROM events WHERE kind = 'permission.asked'"):
            assert time.monotonic() < deadline and held.poll() is None, held.poll()
            time.sleep(0.05)
        answer = hook("PreToolUse-Edit", session=SESSION_B, file=repo / "src" / "app.py")
        assert answer.allowed, answer
        assert held.poll() is None, "the held request was still waiting for the operator"
        code = server.stop()  # SIGTERM; SIGKILL only if it has not exited 15 s later
        assert code in (0, -signal.SIGTERM), f"a held call kept the stopped server alive ({code})"
    finally:
        held.kill()
        held.wait(10)
        server.stop()


def test_server_down_denies_the_edit_and_fails_the_rest(hook: Hook, repo: Path) -> None:
    """No server: the lease check denies with 'retry' (never allows); other events exit 1."""
    hook.start()
    hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    _served(repo)
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    answer = hook("PreToolUse-Edit", session=SESSION_B, file=repo / "README.md")
    assert answer.denied, answer
    assert "on purpose" in answer.reason and "ctui serve" in answer.reason
    assert "Retry this edit in a moment" in answer.reason and "\n" not in answer.reason
    _one_line_error(hook.start(SESSION_B), "ctui serve is not running on this host")
    _one_line_error(hook("Stop"), "start `ctui serve`")
    assert snapshot(db) == before


def test_killed_server_leaves_a_socket_that_denies_then_is_replaced(hook: Hook, repo: Path) -> None:
    _served(repo)
    first = _start(repo)
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    sock = repo / ".ctui" / "hooks.sock"
    assert sock.exists(), "a killed server cannot remove its socket"
    (repo / ".ctui" / "api.json").unlink(missing_ok=True)
    answer = hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    assert answer.denied and "ctui serve" in answer.reason, answer
    second = _start(repo)
    try:
        assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed
    finally:
        second.stop()


def test_fail_open_opt_out_applies_to_a_missing_server(hook: Hook, repo: Path) -> None:
    (repo / ".ctui" / "config.toml").write_text(
        VIA_SERVE + 'on_timeout = "fail-open"  # this repository prefers it\n'
    )
    answer = hook("PreToolUse-Edit", file=repo / "src" / "app.py")
    _one_line_error(answer, "ctui serve is not running")


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|\b\d+[smhd](\d+[sm])?\b")


def _normal(text: str, repo: Path) -> str:
    return STAMP.sub("T", text.replace(str(repo), "REPO"))


def _script(hook: Hook, repo: Path) -> list[tuple[int, str, str]]:
    """The standard payloads, two sessions and a refused edit, as (code, stdout, stderr)."""
    app, readme = repo / "src" / "app.py", repo / "README.md"
    calls: list[tuple[str, str, Path | str, dict[str, object]]] = [
        ("SessionStart", SESSION_A, "", {}),
        ("UserPromptSubmit", SESSION_A, "", {}),
        ("PreToolUse-Edit", SESSION_A, app, {}),
        ("PostToolUse-Edit", SESSION_A, app, {}),
        ("SessionStart", SESSION_B, "", {}),
        ("PreToolUse-Edit", SESSION_B, app, {}),
        ("PreToolUse-Edit", SESSION_B, readme, {"tool_input": {}}),
        ("PostToolUse-Bash", SESSION_B, "", {}),
        ("Notification", SESSION_A, "", {}),
        ("SubagentStart", SESSION_A, "", {}),
        ("SubagentStop", SESSION_A, "", {}),
        ("Stop", SESSION_A, "", {}),
        ("SessionEnd", SESSION_A, "", {}),
        ("PreToolUse-Edit", SESSION_B, app, {}),
    ]
    found = []
    for name, session, file, extra in calls:
        answer = hook(name, session=session, file=file, extra=extra)
        found.append((answer.code, _normal(answer.out, repo), _normal(answer.err, repo)))
    return found


def test_served_answers_equal_direct_answers(tmp_path: Path) -> None:
    """The same calls on two repositories, one direct, one through `ctui serve`: same bytes
    out (but for the folder and the clock), same exit codes, same rows in the store."""
    answers, instances = [], []
    for name in ("direct", "served"):
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "src").mkdir()
        (repo / "src" / "app.py").write_text("print('hello')\n")
        (repo / "README.md").write_text("# demo\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        assert install(repo).returncode == 0
        settings = json.loads((repo / ".claude" / "settings.json").read_text())
        hook = Hook(repo, settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"])
        server = None
        if name == "served":
            _served(repo)
            server = _start(repo)
        try:
            answers.append(_script(hook, repo))
        finally:
            if server is not None:
                server.stop()
        instances.append(
            rows(
                repo / ".ctui" / "ctui.db",
                "SELECT id, session_id, agent_id, parent_id, state, pid, task FROM instances "
                "ORDER BY id",
            )
        )
    direct, served = answers
    assert any(code == 0 and "deny" in out for code, out, _ in direct), direct
    assert any(code == 1 for code, _, _ in direct), direct
    for number, (one, other) in enumerate(zip(direct, served, strict=True)):
        assert one == other, (number, one, other)
    assert instances[0] == instances[1]


def test_doctor_says_whether_hooks_go_through_serve(hook: Hook, repo: Path) -> None:
    def doctor() -> dict[str, object]:
        done = subprocess.run(
            [CTUI, "--json", "hooks", "doctor"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(),
        )
        report = json.loads(done.stdout)
        assert isinstance(report, dict), done
        return report

    assert doctor()["served"] == {
        "via_serve": False,
        "socket": str(repo / ".ctui" / "hooks.sock"),
        "answers": None,
    }
    _served(repo)
    down = doctor()
    assert down["served"]["via_serve"] is True and down["served"]["answers"] is False  # type: ignore[index]
    assert any("ctui serve" in p for p in down["problems"])  # type: ignore[attr-defined]
    server = _start(repo)
    try:
        up = doctor()
        assert up["served"]["answers"] is True, up  # type: ignore[index]
        assert not any("ctui serve" in p for p in up["problems"])  # type: ignore[attr-defined]
    finally:
        server.stop()


# What user `nobody` sends: a well-formed served lease check, straight to the socket.
INTRUDER = r"""
import json, socket, sys
path, payload = sys.argv[1], sys.argv[2].encode()
header = json.dumps({"argv": [], "env": {}, "ppid": 1}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as exc:
    print("refused", exc.errno)
    sys.exit(3)
try:
    s.sendall(len(header).to_bytes(4, "big") + header + payload)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(20)
    print("answer", repr(s.recv(4096)))
except (BrokenPipeError, ConnectionResetError):
    print("answer b''")  # closed on us before we finished: no answer either
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to user nobody needs root")
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no /usr/bin/python3 for nobody")
def test_another_user_is_refused_even_past_the_file_mode() -> None:
    """The socket's 0600 keeps others out; opened up on purpose, the peer's uid still does."""
    folder = Path(tempfile.mkdtemp(prefix="ctui-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        repo = folder / "r"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "a.py").write_text("x\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        repo.chmod(0o755)
        assert install(repo).returncode == 0
        _served(repo)
        server = _start(repo)
        try:
            sock = repo / ".ctui" / "hooks.sock"
            payload = fixture("PreToolUse-Edit", SESSION=SESSION_A, CWD=str(repo), FILE="a.py")
            before = snapshot(repo / ".ctui" / "ctui.db")
            public = folder / "public.sock"
            os.link(sock, public)
            shut = _as_nobody(INTRUDER, str(public), json.dumps(payload))
            assert shut.returncode == 3 and shut.stdout.startswith("refused 13"), shut
            public.chmod(0o666)  # the same inode: now anyone may connect
            got = _as_nobody(INTRUDER, str(public), json.dumps(payload))
            assert got.returncode == 0 and got.stdout.strip() == "answer b''", got
            assert snapshot(repo / ".ctui" / "ctui.db") == before
            assert "refused a hook call from another user" in server.output()
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    import grp

    try:
        grp.getgrnam("nogroup")
        group = "nogroup"
    except KeyError:
        group = "nobody"
    return subprocess.run(
        ["/usr/bin/python3", "-c", *argv],
        user="nobody",
        group=group,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )


def test_route_finds_the_store_as_the_core_does(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook's `os.path` walk (no pathlib) and `resolve_store_dir` agree on every layout."""
    from ctui.core.paths import resolve_store_dir
    from ctui.hooks.route import store_dir

    monkeypatch.delenv("CTUI_DIR", raising=False)
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    loose = tmp_path / "loose" / "a" / "b"
    loose.mkdir(parents=True)
    (tmp_path / "loose" / ".ctui").mkdir()
    bare = tmp_path / "bare"
    bare.mkdir()
    (repo / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(repo / "sub")
    places = [repo, repo / "sub" / "deeper", linked, linked / "src", loose, bare]
    places.append(tmp_path / "alias")
    for place in places:
        assert store_dir(str(place)) == str(resolve_store_dir(None, place)), place
    assert store_dir(str(linked)) == str(repo.resolve() / ".ctui")
    monkeypatch.setenv("CTUI_DIR", str(tmp_path / "elsewhere"))
    assert store_dir(str(repo)) == str(resolve_store_dir(None, repo))


@pytest.mark.parametrize(
    ("env_url", "config", "served"),
    [
        (None, None, False),
        (None, VIA_SERVE, True),
        (None, '[hooks]\nvia = "direct"\n', False),
        (None, '[store]\nurl = "postgresql://u@db.example/ctui"\n', True),
        (None, '[store]\nurl = "postgresql://u@db/ctui"\n[hooks]\nvia = "direct"\n', False),
        (None, "[store]\nurl = 'postgres://u@db/ctui'  # single quotes\n", True),
        (None, 'store.url = "postgresql://u@db/ctui"\n', True),  # dotted: read by tomllib
        (None, '[thread.env]\nDATABASE_URL = "postgresql://localhost/app"\n', False),
        (None, "[hooks\nvia = serve\n", False),  # not TOML: the direct path reports it
        ("postgresql://u@db/ctui", None, True),
        ("postgresql://u@db/ctui", '[hooks]\nvia = "direct"\n', False),
        ("sqlite:///elsewhere.db", None, False),
    ],
)
def test_which_calls_go_through_serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env_url: str | None,
    config: str | None,
    served: bool,
) -> None:
    from ctui.hooks.route import via_serve

    if env_url is None:
        monkeypatch.delenv("CTUI_STORE_URL", raising=False)
    else:
        monkeypatch.setenv("CTUI_STORE_URL", env_url)
    if config is not None:
        (tmp_path / "config.toml").write_text(config)
    assert via_serve(str(tmp_path)) is served


def test_the_postgresql_marker_sends_an_agents_hook_to_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agents never get `CTUI_STORE_URL`: `.ctui/store.json` tells their hooks instead."""
    from ctui.hooks.route import via_serve

    monkeypatch.delenv("CTUI_STORE_URL", raising=False)
    (tmp_path / "store.json").write_text('{"backend": "postgresql", "url": "postgresql://u@db/c"}')
    assert via_serve(str(tmp_path)) is True
    (tmp_path / "config.toml").write_text('[hooks]\nvia = "direct"\n')
    assert via_serve(str(tmp_path)) is False


def test_a_postgresql_url_sends_the_hook_to_serve(hook: Hook, repo: Path) -> None:
    """`CTUI_STORE_URL` naming PostgreSQL: the hook process never opens a store itself; with
    no server on this host the lease check is refused, never let through."""
    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    env = {"CTUI_STORE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    answer = hook("PreToolUse-Edit", file=repo / "src" / "app.py", env=env)
    assert answer.denied and "ctui serve" in answer.reason, answer
    _one_line_error(hook("SessionStart", env=env), "ctui serve is not running")
    assert snapshot(db) == before


def test_a_served_hook_loads_no_store_code(hook: Hook, server: Server, repo: Path) -> None:
    """What makes the served path fit a PostgreSQL store: the hook process loads no store,
    no database driver, no `pathlib`, `json`, `re` or `tomllib`; only the socket's C half."""
    ending = 'found() and sys.modules["ctui.hook"].run()'
    command = hook.command.replace(
        ending,
        "found();import ctui.hook as h;h.defer_imports();code=h.main([]);"
        'sys.stderr.write("\\nLOADED "+" ".join(n for n,m in sys.modules.items() '
        'if type(m).__name__!="Deferred"))',
    )
    payload = fixture("PreToolUse-Edit", SESSION=SESSION_A, CWD=str(repo), FILE="src/app.py")
    proc = subprocess.run(
        ["sh", "-c", command], input=json.dumps(payload).encode(), capture_output=True, cwd=repo
    )
    assert proc.stdout == b"", proc  # an allow, answered by the server
    loaded = set(proc.stderr.decode().rsplit("LOADED ", 1)[1].split())
    assert "_socket" in loaded
    ours = {m for m in loaded if m.startswith("ctui")}
    assert ours == {
        "ctui",
        "ctui.core",
        "ctui.core.fastjson",
        "ctui.hook",
        "ctui.hooks",
        "ctui.hooks.call",
        "ctui.hooks.route",
    }, ours
    for module in ("sqlite3", "pathlib", "json", "re", "enum", "tomllib", "socket", "psycopg"):
        assert module not in loaded, module
    assert rows(repo / ".ctui" / "ctui.db", "SELECT holder FROM leases") == [("claude-4f2c9a1e",)]


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x00\x00",
        b"\xff\xff\xff\xff" + b"x" * 10,
        b"\x00\x00\x00\x05[1,2]",
        b"GET / HTTP/1.1\r\n\r\n",
    ],
)
def test_a_garbled_request_gets_no_answer_and_changes_nothing(
    hook: Hook, server: Server, repo: Path, junk: bytes
) -> None:
    import socket

    db = repo / ".ctui" / "ctui.db"
    before = snapshot(db)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(str(repo / ".ctui" / "hooks.sock"))
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        assert s.recv(4096) == b""
    assert snapshot(db) == before
    assert hook("PreToolUse-Edit", file=repo / "src" / "app.py").allowed, "it still serves"
