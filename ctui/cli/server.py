"""`ctui serve`, `ctui api start|status|stop` and `ctui orchestrator start|status|stop`.

`serve` runs the HTTP API and the orchestrator loop in the foreground, and
answers hook calls on `.ctui/hooks.sock` (`ctui.hooks.serve`); `start`
runs the same command detached (its output in `.ctui/logs/api.log`) and waits
until it answers. The server announces itself in `.ctui/api.json` (url and pid,
never the token); `stop` signals that pid and waits for the file to go.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ctui.cli.common import Ctx, Group, leaf, positive
from ctui.core.errors import NOTHING, CtuiError, UsageError
from ctui.core.instances import pid_alive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ctui.hooks.serve import HookServer

START_WAIT_S = 60.0  # announced once workers serve, which takes a while on a loaded machine
STOP_WAIT_S = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    p = leaf(
        sub,
        "serve",
        serve,
        "run the HTTP API and the orchestrator loop in the foreground",
        epilog="The token comes from --token-file, CT_API_TOKEN, N8N_API_TOKEN or [api] token in "
        ".ctui/config.toml; without one the server refuses to start. --no-auth serves on "
        "the Unix socket .ctui/api.sock instead of TCP, which only you can open. Hooks that go "
        'through the server (a PostgreSQL store, or [hooks] via = "serve") reach it on '
        ".ctui/hooks.sock, which only you can open either.",
    )
    _server_options(p)
    for name, what in (
        ("api", "the HTTP API server"),
        ("orchestrator", "the orchestrator (the same server)"),
    ):
        g = Group(sub, name, f"{what}: start detached, status, stop")
        _server_options(
            g.command(
                "start", start, "start `ctui serve` in the background and wait until it answers"
            )
        )
        g.command("status", status, "is a server running for this store, where, and is it healthy")
        p = g.command("stop", stop, "stop the running server (SIGTERM, then wait)")
        p.add_argument(
            "--timeout", type=positive(), default=STOP_WAIT_S, help="seconds to wait (default 15)"
        )


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 31337; 0 picks a free one)")
    p.add_argument("--token", help="refused: a token on the command line is visible in `ps`")
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the bearer token from PATH, a file only you can read (mode 0600)",
    )
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without a token, only on an owner-only Unix socket (.ctui/api.sock)",
    )
    p.add_argument(
        "--max-concurrent",
        type=positive(int),
        metavar="N",
        help="threads the orchestrator runs at once (default [threads] max_concurrent, 4)",
    )
    p.add_argument(
        "--workers",
        type=positive(int),
        metavar="N",
        help="server processes sharing the port (default: one per CPU, at most 4; "
        "1 keeps everything in one process)",
    )
    p.add_argument("--interval", type=positive(), default=2.0, help=argparse.SUPPRESS)


def _settings(ctx: Ctx) -> tuple[str | None, Any]:
    """The token and config, checked before anything starts."""
    from ctui.api.settings import (
        DEFAULT_BIND,
        DEFAULT_PORT,
        TOKEN_ON_ARGV,
        read_token_file,
        resolve_token,
    )
    from ctui.core.config import Config
    from ctui.core.paths import resolve_store_dir

    a = ctx.args
    if a.token is not None:
        raise UsageError(TOKEN_ON_ARGV)
    config = Config.load(resolve_store_dir(ctx.dir))
    if a.no_auth:
        if a.bind is not None or a.port is not None:
            raise UsageError(
                "--no-auth serves only on an owner-only Unix socket (.ctui/api.sock), never on "
                "TCP, where any local user could connect: drop --bind/--port or give a token"
            )
        return None, config
    a.bind = a.bind or DEFAULT_BIND
    a.port = DEFAULT_PORT if a.port is None else a.port
    token = resolve_token(read_token_file(a.token_file) if a.token_file else None, config)
    if token is None:
        raise UsageError(
            "no API token: pass --token-file PATH, set CT_API_TOKEN (or N8N_API_TOKEN), "
            "add `[api] token` to .ctui/config.toml, or use --no-auth (an owner-only socket)"
        )
    return token, config


def serve(ctx: Ctx) -> int:
    from ctui.api.settings import SOCKET_NAME, bind_socket, bind_unix
    from ctui.core import Coordinator

    a = ctx.args
    token, config = _settings(ctx)
    for name in ("CT_API_TOKEN", "N8N_API_TOKEN"):
        os.environ.pop(name, None)  # the agents this server starts must not inherit the token
    sock = None if a.no_auth else bind_socket(a.bind, a.port)
    try:
        coord = Coordinator.open(store_dir=ctx.dir)
        running = _running(coord.store.path)
        if running is not None and running.get("pid") != os.getpid():
            raise UsageError(
                f"a ctui server (pid {running.get('pid')}) already serves this store at "
                f"{running.get('url')}: stop it first (`ctui api stop`)"
            )
        if sock is None:
            sock = bind_unix(coord.store.path / SOCKET_NAME)
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    from ctui.api.serving import default_workers
    from ctui.api.serving import serve as run

    where = sock.getsockname()
    port = where[1] if isinstance(where, tuple) else 0
    shown = f"unix:{where}" if isinstance(where, str) else f"http://{a.bind}:{port}"
    ours = Path(where).lstat().st_ino if isinstance(where, str) else None
    workers = a.workers or default_workers()
    hooks = _hook_server(coord.store.path, sock)
    print(
        f"ctui: serving {coord.store.path} on {shown} "
        f"({'no auth' if token is None else 'token required'}, {workers} worker process"
        f"{'es' if workers > 1 else ''}), hooks on "
        f"{f'unix:{hooks.path}' if hooks is not None else 'no socket'}; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        run(
            coord,
            bind=a.bind or "",
            port=port,
            token=token,
            max_concurrent=a.max_concurrent or config.max_concurrent,
            interval=a.interval,
            workers=workers,
            sock=sock,
        )
    finally:
        if hooks is not None:
            hooks.stop()
        if ours is not None:
            _unlink_socket(Path(where), ours)
    return 0


def _hook_server(store: Path, sock: Any) -> HookServer | None:
    """Answer hooks on `.ctui/hooks.sock` (`ctui.hooks.serve`). When it cannot listen (a path
    too long for a socket), a store whose hooks go through this server refuses to start;
    another serves its API and warns."""
    from ctui.hooks.route import via_serve
    from ctui.hooks.serve import HookServer

    hooks = HookServer(store)
    try:
        hooks.start()
    except UsageError as exc:
        if via_serve(str(store)):
            sock.close()
            raise
        print(f"ctui: warning: no hooks socket ({exc.message})", file=sys.stderr)
        return None
    except BaseException:
        sock.close()
        raise
    return hooks


def _unlink_socket(path: Path, inode: int) -> None:
    """Remove our Unix socket file (not one a newer server bound there since)."""
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except OSError:
        pass


def start(ctx: Ctx) -> int:
    from ctui.api.settings import API_FILE, bind_socket, read_json
    from ctui.core import private
    from ctui.core.paths import resolve_store_dir

    a = ctx.args
    token, _ = _settings(ctx)
    store = resolve_store_dir(ctx.dir)
    running = _running(store)
    if running is not None:
        raise UsageError(
            f"a ctui server (pid {running.get('pid')}) already serves this store at "
            f"{running.get('url')}: `ctui api stop` first"
        )
    if a.port and not a.no_auth:
        bind_socket(a.bind, a.port).close()  # a busy port fails here, before anything starts
    argv = [
        sys.executable,
        "-m",
        "ctui",
        "serve",
        "--dir",
        str(store),
        "--interval",
        str(a.interval),
        *(["--workers", str(a.workers)] if a.workers else []),
    ]
    if a.no_auth:
        argv.append("--no-auth")
    else:
        argv += ["--bind", a.bind, "--port", str(a.port)]
    if a.max_concurrent:
        argv += ["--max-concurrent", str(a.max_concurrent)]
    env = {**os.environ, **({"CT_API_TOKEN": token} if token else {})}
    from ctui.core.paths import refuse_accidental_store

    refuse_accidental_store(store, ctx.dir)
    log_path = store / "logs" / "api.log"
    store.mkdir(mode=private.DIR_MODE, parents=True, exist_ok=True)  # private before the log
    with private.open_log(log_path) as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        info = read_json(store / API_FILE)
        if (
            info is not None
            and info.get("pid") == proc.pid
            and _get(info["url"], "/api/health") is not None
        ):
            ctx.emit(info, f"ctui server running at {info['url']} (pid {proc.pid}; log {log_path})")
            return 0
        if proc.poll() is not None:
            raise CtuiError(
                f"the server exited at start (code {proc.returncode}): {_last_line(log_path)}"
            )
        time.sleep(0.05)
    proc.terminate()
    raise CtuiError(f"the server did not come up within {START_WAIT_S:.0f}s: see {log_path}")


def status(ctx: Ctx) -> int:
    from ctui.api.settings import API_FILE, read_json, resolve_token
    from ctui.core.fmt import duration
    from ctui.core.paths import resolve_store_dir

    store = resolve_store_dir(ctx.dir)
    info = read_json(store / API_FILE)
    if info is None or not _alive(info.get("pid")):
        answer = _get(info["url"], "/api/health") if info and info.get("url") else None
        if answer is not None:  # the supervisor is gone, yet its port answers
            assert info is not None
            ctx.emit(
                {"running": False, "store": str(store), "orphaned": True, "url": info["url"]},
                f"no ctui server running for {store}, but {info['url']} still answers: "
                f"orphaned worker processes of pid {info.get('pid')} hold the port; "
                f"end them (`ss -ltnp` names them) before starting again",
            )
            return 1
        ctx.emit({"running": False, "store": str(store)}, f"no ctui server running for {store}")
        return NOTHING
    health = _get(info["url"], "/api/health")
    data: dict[str, Any] = {"running": True, **info, "healthy": health is not None}
    token = resolve_token(None, None)
    loop = _get(info["url"], "/api/orchestrator", token) if token or not info.get("auth") else None
    if loop is not None:
        data["orchestrator"] = loop
    up = time.time() - float(info.get("started_at", time.time()))
    text = [
        f"ctui server at {info['url']}  pid {info['pid']}  up {duration(up)}  "
        f"{'healthy' if health else 'NOT ANSWERING'}  auth {'on' if info.get('auth') else 'off'}  "
        f"{info.get('workers', 1)} worker process(es)"
    ]
    if loop is not None:
        text.append(
            f"orchestrator: {loop.get('ticks')} ticks, "
            f"max {loop.get('max_concurrent')} threads at once"
            + (f", last error: {loop['last_error']}" if loop.get("last_error") else "")
        )
    ctx.emit(data, "\n".join(text))
    return 0 if health is not None else 1


def stop(ctx: Ctx) -> int:
    from ctui.api.settings import API_FILE, read_json
    from ctui.core.paths import resolve_store_dir

    store = resolve_store_dir(ctx.dir)
    api_file = store / API_FILE
    info = read_json(api_file)
    pid = info.get("pid") if info else None
    if not isinstance(pid, int) or not _alive(pid):
        if info is not None:
            api_file.unlink(missing_ok=True)
        ctx.emit({"stopped": False, "running": False}, f"no ctui server running for {store}")
        return NOTHING
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + ctx.args.timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        raise CtuiError(
            f"the server (pid {pid}) did not stop within {ctx.args.timeout:g}s: "
            f"`kill -9 {pid}` if it is stuck"
        )
    api_file.unlink(missing_ok=True)
    ctx.emit({"stopped": True, "pid": pid}, f"stopped the ctui server (pid {pid})")
    return 0


def _running(store: Path) -> dict[str, Any] | None:
    from ctui.api.settings import API_FILE, read_json

    info = read_json(store / API_FILE)
    return info if info is not None and _alive(info.get("pid")) else None


def _alive(pid: Any) -> bool:
    return isinstance(pid, int) and pid > 0 and pid_alive(pid)


def _get(url: str, path: str, token: str | None = None) -> Any:
    """A small GET with the standard library (status should not pay for httpx)."""
    import http.client
    import json
    import socket
    from urllib.parse import urlsplit

    from ctui.api.settings import unix_path

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    socket_path = unix_path(url)
    try:
        if socket_path is not None:
            conn: http.client.HTTPConnection = http.client.HTTPConnection("ctui.local", timeout=3)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(3)
            sock.connect(socket_path)
            conn.sock = sock
        else:
            parts = urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=3)
        try:
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            if answer.status != 200:
                return None
            return json.loads(answer.read())
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return None


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1] if lines else "(empty log)"
