"""`serve()`: the app on uvicorn, `.ctui/api.json` while it is up, the orchestrator beside it.

    serve(coord, bind="127.0.0.1", port=31337, token="s3cret", max_concurrent=4)

With `workers > 1`, uvicorn's supervisor spawns that many server processes on
the one listening socket (each builds its app with `worker_app()`), so
CPU-bound requests use more than one core. The orchestrator loop then runs in
the supervising process only, and the workers keep `/metrics` latency in one
table in shared memory. `default_workers()` is what `ctui serve` uses.

A worker never outlives its supervisor: each asks the kernel for SIGTERM when
its parent dies (`PR_SET_PDEATHSIG`) and a watcher thread checks the parent
too (the fallback off Linux), ending the worker within a second or two when
the supervisor is killed with `kill -9`. Otherwise orphaned workers would keep
the port and answer requests with no orchestrator loop behind them.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

import ctui
from ctui.api.metrics import Latency, LatencyTable
from ctui.api.orchestrator import Orchestrator
from ctui.api.server import create_app
from ctui.api.settings import API_FILE, bind_socket, read_json, write_private
from ctui.core import Coordinator

MAX_DEFAULT_WORKERS = 4
WORKER_HEALTHCHECK_S = 30


def default_workers() -> int:
    """One server process per CPU this process may use, at most four.

    A request's CPU (HTTP parsing, validation, JSON) holds the GIL, so one
    process serves one request at a time however many threads it has; a
    second process is what lets a second core answer at the same time.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


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
    where = sock.getsockname()
    port = where[1] if isinstance(where, tuple) else 0
    host = f"[{bind}]" if ":" in bind else bind
    info = {
        "url": f"http://{host}:{port}" if isinstance(where, tuple) else f"unix:{where}",
        "pid": os.getpid(),
        "bind": bind,
        "port": port,
        "auth": token is not None,
        "workers": workers,
        "started_at": time.time(),
        "version": ctui.__version__,
    }
    api_file = coord.store.path / API_FILE
    board = LoopBoard.shared() if workers > 1 else None
    loop = Orchestrator(
        coord.store.path,
        max_concurrent=max_concurrent,
        interval=interval,
        publish=board.write if board is not None else None,
    )
    options: dict[str, Any] = {
        "log_level": "info",
        "timeout_graceful_shutdown": 3,
        "server_header": False,
        "proxy_headers": False,
        "lifespan": "on",
        # uvicorn kills a worker that does not answer its supervisor's ping within this
        # many seconds; on a loaded machine 5 s (its default) kills healthy workers.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_S,
    }
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _quiet)  # uvicorn re-raises the stop signal after its graceful shutdown
    try:
        if board is not None:
            board.write(loop.describe())
            config = WorkerConfig(
                "ctui.api.serving:worker_app", factory=True, workers=workers, **options
            )
            config.ctui_token = token
            config.ctui_latency = LatencyTable.shared()
            config.ctui_board = board
            config.ctui_supervisor = os.getpid()
            _run_workers(coord, config, sock, loop, lambda: write_private(api_file, info))
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
    coord: Coordinator, config: WorkerConfig, sock: Any, loop: Orchestrator, ready: Any
) -> None:
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):
        """Announces the server (`ready`) once its workers serve, not before."""

        def init_processes(self) -> None:
            super().init_processes()
            for process in self.processes:
                process.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit)
            ready()

    os.environ["CTUI_DIR"] = str(coord.store.path)
    loop.start()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        loop.stop()


class LoopBoard:
    """The supervisor's loop state (`Orchestrator.describe()`) in shared memory, so a
    worker's `/api/orchestrator` shows the real ticks and errors."""

    SIZE = 16384

    def __init__(self, lock: Any, data: Any) -> None:
        self.lock = lock
        self.data = data

    @classmethod
    def shared(cls) -> LoopBoard:
        ctx = multiprocessing.get_context("spawn")
        return cls(ctx.Lock(), ctx.RawArray("c", cls.SIZE))

    def write(self, description: dict[str, Any]) -> None:
        raw = json.dumps(description, default=str).encode()
        if len(raw) > self.SIZE:  # a huge error or result: keep the document whole
            short = {k: _cut(v) for k, v in description.items() if k != "last"}
            raw = json.dumps({**short, "last": "(too long to show)"}, default=str).encode()
        with self.lock:
            self.data[: self.SIZE] = raw.ljust(self.SIZE, b"\0")

    def read(self) -> dict[str, Any]:
        with self.lock:
            raw = bytes(self.data[: self.SIZE]).rstrip(b"\0")
        try:
            found = json.loads(raw or b"{}")
        except ValueError:
            found = {}
        return found if isinstance(found, dict) else {}


def _cut(value: Any, limit: int = 2000) -> Any:
    return value[:limit] + "…" if isinstance(value, str) and len(value) > limit else value


class WorkerConfig(uvicorn.Config):
    """Carries the token to each spawned worker inside the pickled config, not in the
    environment, where every agent the server starts would inherit it; and the shared
    latency table and loop board, which only pass to a process as it is spawned."""

    ctui_token: str | None = None
    ctui_latency: LatencyTable | None = None
    ctui_board: LoopBoard | None = None
    ctui_supervisor: int | None = None

    def load(self) -> None:
        global _worker_token, _worker_latency, _worker_board
        _worker_token = self.ctui_token
        _worker_latency = self.ctui_latency
        _worker_board = self.ctui_board
        if self.ctui_supervisor is not None and self.ctui_supervisor != os.getpid():
            die_with_parent(self.ctui_supervisor)
        super().load()


ORPHAN_CHECK_S = 0.25
ORPHAN_GRACE_S = 1.5
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """End this process soon after `parent` dies: SIGTERM from the kernel at once (Linux),
    and a watcher thread that sends it too, then exits hard if shutdown hangs."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)  # a graceful stop first
        time.sleep(ORPHAN_GRACE_S)
        os._exit(1)

    # Started after prctl, so a parent that died in between is still seen here.
    threading.Thread(target=watch, name="ctui-parent-watch", daemon=True).start()


_worker_token: str | None = None
_worker_latency: LatencyTable | None = None
_worker_board: LoopBoard | None = None


def worker_app() -> Any:
    """The app of one worker process (no orchestrator: the supervisor runs it)."""
    app = create_app(
        Coordinator.open(store_dir=os.environ["CTUI_DIR"]),
        token=_worker_token,
        latency=Latency(_worker_latency),
    )
    app.app.state.ctui.orchestrator = _ElsewhereLoop(os.getppid(), _worker_board)
    app.app.state.ctui.stopping = _stop_signal().is_set
    return app


def _stop_signal() -> threading.Event:
    """An event set when this worker is told to stop, so event streams end at once.

    uvicorn's server has installed its SIGTERM/SIGINT handlers by the time it
    builds the app (here, in the worker's main thread); each is wrapped to set
    the event first. Without it an open `/api/events/stream` would hold the
    worker's shutdown for the whole graceful timeout and end in a traceback.
    """
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            stopped.set()
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, handler)
    return stopped


class _ElsewhereLoop:
    """What a worker says about the loop, which runs in the supervising process."""

    def __init__(self, pid: int, board: LoopBoard | None) -> None:
        self.pid = pid
        self.board = board

    def describe(self) -> dict[str, Any]:
        seen = self.board.read() if self.board is not None else {}
        return {"running": True, **seen, "process": "supervisor", "pid": self.pid}


def _quiet(signum: int, frame: Any) -> None:
    """The stop signal, seen again once uvicorn is done: the shutdown already happened."""


def _remove_if_ours(api_file: Path) -> None:
    data = read_json(api_file)
    if data is not None and data.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            api_file.unlink()
