"""Another local user cannot act as you: tokens stay off command lines, `--no-auth` is an
owner-only Unix socket, and the user `nobody` cannot reach it (run for real as `nobody`)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, Server, clean_env, make_repo
from tests.conftest import CTUI, Cli
from tests.support import dump

pytestmark = pytest.mark.slow

# What user `nobody` runs: a raw HTTP POST that would start a thread running `id`.
ATTACK = r"""
import json, socket, sys
path, body = sys.argv[1], json.dumps({"name": "pwn", "agent": "command",
    "command": "touch " + sys.argv[2], "worktree": False, "start": True}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as exc:
    print("refused", exc.errno)
    sys.exit(3)
s.sendall(b"POST /api/threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
print(s.recv(200).decode(errors="replace").splitlines()[0])
"""


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A short folder every user may enter (pytest's own tmp folder is root's alone, which
    would shut `nobody` out before ctui's own modes were ever tested)."""
    folder = Path(tempfile.mkdtemp(prefix="ctui-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/usr/bin/python3", *argv],
        user="nobody",
        group="nogroup" if _has_group("nogroup") else "nobody",
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )


def _has_group(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to user nobody needs root")
@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no /usr/bin/python3 for nobody")
def test_nobody_cannot_start_a_thread_on_a_no_auth_server(open_folder: Path) -> None:
    repo = make_repo(open_folder / "r")
    repo.chmod(0o755)
    server = Server(repo, "--no-auth", "--workers", "1", token=None)
    sock = repo / ".ctui" / "api.sock"
    proof = open_folder / "pwned"
    try:
        assert server.url == f"unix:{sock}"
        with server.client(token=None) as http:  # the owner gets in without a token
            assert http.get("/api/status").status_code == 200
        before = dump(repo / ".ctui" / "ctui.db")
        seen = as_nobody("-c", "import os,sys; print(sorted(os.listdir(sys.argv[1])))", str(repo))
        assert seen.returncode == 0 and ".ctui" in seen.stdout, "nobody can see the repository"
        denied = as_nobody("-c", ATTACK, str(sock), str(proof))
        assert denied.returncode == 3 and denied.stdout.startswith("refused 13"), denied
        # The socket's own 0600 holds without the folder: a second name for it, outside .ctui.
        public = open_folder / "public.sock"
        os.link(sock, public)
        denied = as_nobody("-c", ATTACK, str(public), str(proof))
        assert denied.returncode == 3 and denied.stdout.startswith("refused 13"), denied
        time.sleep(0.5)
        assert not proof.exists()
        assert dump(repo / ".ctui" / "ctui.db") == before, "nobody changed nothing"
        # Control: with the socket opened up, the same script as nobody does get in.
        public.chmod(0o666)
        done = as_nobody("-c", ATTACK, str(public), str(proof))
        assert done.returncode == 0 and done.stdout.startswith("HTTP/1.1 201"), done
    finally:
        server.stop()
    assert not sock.exists(), "a stopped server removes its socket"


def test_no_auth_socket_serves_the_remote_cli(open_folder: Path) -> None:
    repo = make_repo(open_folder / "r")
    server = Server(repo, "--no-auth", "--workers", "1", token=None)
    client = Cli(open_folder)
    try:
        done = client("remote", "connect", server.url, env=clean_env())
        assert done.returncode == 0, done.stderr
        saved = json.loads((open_folder / ".ctui" / "remote.json").read_text())
        assert saved == {**saved, "url": server.url, "token": None}
        assert client.json("task", "add", "over the socket")["status"] == "available"  # type: ignore[index]
        with server.client(token=None) as http:
            assert [t["description"] for t in http.get("/api/tasks").json()] == ["over the socket"]
    finally:
        server.stop()


def test_token_never_on_a_command_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    cli = Cli(repo)
    for argv in (
        ["serve", "--token", "s3cret"],
        ["api", "start", "--token", "s3cret"],
        ["orchestrator", "start", "--token", "s3cret"],
        ["remote", "connect", "127.0.0.1:1", "--token", "s3cret"],
        ["remote", "discover", "--token", "s3cret"],
    ):
        done = cli(*argv, env=clean_env())
        assert done.returncode == 2, (argv, done.stderr)
        assert "`ps`" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "s3cret" not in done.stderr
    assert not (repo / ".ctui").exists(), "every refusal happened before anything was created"


def test_token_file_must_be_owner_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    cli = Cli(repo)
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    secret.chmod(0o644)
    done = cli("serve", "--token-file", str(secret), env=clean_env())
    assert done.returncode == 2 and "chmod 600" in done.stderr and "0644" in done.stderr
    assert TOKEN not in done.stderr and not (repo / ".ctui").exists()
    secret.chmod(0o600)
    started = cli("api", "start", "--port", "0", "--token-file", str(secret), env=clean_env())
    assert started.returncode == 0, started.stderr
    try:
        info = json.loads((repo / ".ctui" / "api.json").read_text())
        argv = Path(f"/proc/{info['pid']}/cmdline").read_bytes().split(b"\0")
        assert TOKEN.encode() not in b" ".join(argv), "the detached server's argv holds no token"
        import httpx

        with httpx.Client(base_url=info["url"], timeout=30, trust_env=False) as http:
            assert http.get("/api/status").status_code == 401
            ok = http.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200
        client = Cli(tmp_path)
        linked = client("remote", "connect", info["url"], "--token-file", str(secret))
        assert linked.returncode == 0, linked.stderr
    finally:
        assert cli("api", "stop").returncode == 0


def test_spawned_agents_never_see_the_token(tmp_path: Path) -> None:
    """A thread started by a server and one spawned from a shell holding the token: the
    agent prints its environment and neither has CT_API_TOKEN or N8N_API_TOKEN."""
    repo = make_repo(tmp_path / "r")
    cli = Cli(repo)
    env = clean_env(CT_API_TOKEN=TOKEN, N8N_API_TOKEN="n8n-" + TOKEN)
    command = f"{sys.executable} -c 'import os; print(sorted(os.environ))'"
    done = cli(
        "spawn", "envdump", "--agent", "command", "--command", command, "--no-worktree", env=env
    )
    assert done.returncode == 0, done.stderr
    server = Server(repo, "--workers", "1", env=env)
    try:
        with server.client() as http:
            made = http.post(
                "/api/threads",
                json={
                    "name": "envdump2",
                    "agent": "command",
                    "command": command,
                    "worktree": False,
                    "start": True,
                },
            )
            assert made.status_code == 201, made.text
        for name in ("envdump", "envdump2"):
            log = repo / ".ctui" / "logs" / f"{name}.log"
            deadline = time.monotonic() + 60
            while "CTUI_THREAD_ID" not in (log.read_text() if log.exists() else ""):
                assert time.monotonic() < deadline, f"no environment printed by {name}"
                time.sleep(0.1)
            text = log.read_text()
            assert "CTUI_DIR" in text and "CT_API_TOKEN" not in text and "N8N" not in text
            assert stat.S_IMODE(log.stat().st_mode) == 0o600
    finally:
        server.stop()


def test_remote_connect_asks_for_the_token_on_a_terminal(tmp_path: Path) -> None:
    """No token in the environment, a terminal on stdin: a prompt that does not echo."""
    server = Server(make_repo(tmp_path / "r"), "--workers", "1")
    try:
        with server.client() as http:
            assert http.get("/api/status").status_code == 200  # up and answering
        _connect_on_a_terminal(server, tmp_path / "tty")
    finally:
        server.stop()


def _connect_on_a_terminal(served: Server, folder: Path) -> None:
    import pty

    folder.mkdir()
    pid, fd = pty.fork()
    if pid == 0:  # the child: `ctui remote connect` with the pty as its terminal
        os.chdir(folder)
        os.execve(CTUI, [CTUI, "remote", "connect", served.url], clean_env())
    seen = b""
    deadline = time.monotonic() + 60
    while b"not echoed" not in seen:
        assert time.monotonic() < deadline, seen
        try:
            seen += os.read(fd, 1024)
        except OSError:  # EIO: the child ended without asking
            raise AssertionError(seen.decode(errors="replace")) from None
    os.write(fd, TOKEN.encode() + b"\n")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert TOKEN.encode() not in seen, "the typed token was not echoed"
    assert json.loads((folder / ".ctui" / "remote.json").read_text())["token"] == TOKEN
