"""`serve()`: the app on uvicorn, `.ctui/api.json` while it is up, the orchestrator beside it.

    serve(coord, bind="127.0.0.1", port=31337, token="s3cret", max_concurrent=4)

With `workers > 1`, uvicorn's supervisor spawns that many server processes on
the one listening socket (each builds its app with `worker_app()`), so
CPU-bound requests use more than one core; the orchestrator loop then runs in
the supervising process only, and `/metrics` latency is per worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import uvicorn

import ctui
from ctui.api.orchestrator import Orchestrator
from ctui.api.server import create_app
from ctui.api.settings import API_FILE, bind_socket, read_json, write_private
from ctui.core import Coordinator


def serve(
    coord: Coordinator,
    *,
    bind: str,
    port: int,
    token: str | None,
    max_concurrent: int,
    interval: float = 2.0,
    workers: int = 1,
    sock: Any = None,
) -> None:
    """Run until SIGTERM/SIGINT; writes `.ctui/api.json` (url, pid; never the token) while up."""
    sock = sock or bind_socket(bind, port)
    port = sock.getsockname()[1]
    host = f"[{bind}]" if ":" in bind else bind
    info = {
        "url": f"http://{host}:{port}",
        "pid": os.getpid(),
        "bind": bind,
        "port": port,
        "auth": token is not None,
        "workers": workers,
        "started_at": time.time(),
        "version": ctui.__version__,
    }
    api_file = coord.store.path / API_FILE
    loop = Orchestrator(coord.store.path, max_concurrent=max_concurrent, interval=interval)
    options: dict[str, Any] = {
        "log_level": "info",
        "timeout_graceful_shutdown": 3,
        "server_header": False,
        "proxy_headers": False,
        "lifespan": "on",
    }
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _quiet)  # uvicorn re-raises the stop signal after its graceful shutdown
    try:
        if workers > 1:
            _run_workers(
                coord, token, workers, options, sock, loop, lambda: write_private(api_file, info)
            )
        else:
            app = create_app(
                coord,
                token=token,
                orchestrator=loop,
                on_ready=lambda: write_private(api_file, info),
                on_stop=lambda: _remove_if_ours(api_file),
            )
            server = uvicorn.Server(uvicorn.Config(app, **options))
            app.app.state.ctui.stopping = lambda: server.should_exit
            server.run(sockets=[sock])
    finally:
        _remove_if_ours(api_file)
        sock.close()


def _run_workers(
    coord: Coordinator,
    token: str | None,
    workers: int,
    options: dict[str, Any],
    sock: Any,
    loop: Orchestrator,
    ready: Any,
) -> None:
    from uvicorn.supervisors import Multiprocess

    os.environ["CTUI_DIR"] = str(coord.store.path)
    config = WorkerConfig("ctui.api.serving:worker_app", factory=True, workers=workers, **options)
    config.ctui_token = token
    loop.start()
    try:
        supervisor = Multiprocess(config, sockets=[sock])
        ready()
        supervisor.run()
    finally:
        loop.stop()


class WorkerConfig(uvicorn.Config):
    """Carries the token to each spawned worker inside the pickled config, not in the
    environment, where every agent the server starts would inherit it."""

    ctui_token: str | None = None

    def load(self) -> None:
        global _worker_token
        _worker_token = self.ctui_token
        super().load()


_worker_token: str | None = None


def worker_app() -> Any:
    """The app of one worker process (no orchestrator: the supervisor runs it)."""
    app = create_app(Coordinator.open(store_dir=os.environ["CTUI_DIR"]), token=_worker_token)
    app.app.state.ctui.orchestrator = _ElsewhereLoop(os.getppid())
    return app


class _ElsewhereLoop:
    """What a worker says about the loop, which runs in the supervising process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def describe(self) -> dict[str, Any]:
        return {"running": True, "process": "supervisor", "pid": self.pid}


def _quiet(signum: int, frame: Any) -> None:
    """The stop signal, seen again once uvicorn is done: the shutdown already happened."""


def _remove_if_ours(api_file: Path) -> None:
    data = read_json(api_file)
    if data is not None and data.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            api_file.unlink()
