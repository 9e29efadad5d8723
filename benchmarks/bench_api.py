"""Load on the orchestrator's HTTP API over loopback: latency percentiles and throughput.

    .venv/bin/python benchmarks/bench_api.py [--requests 1000] [--seconds 15] [--workers 0 1]

Starts a real `ctui serve` (as configured by default, then with one worker
process for contrast) on a scratch repository whose store holds 100
instances and 1,000 leases, then drives `GET /api/status` and
`POST /api/threads` (no worktree, an agent command that exits at once, not
started) with 1 and 16 concurrent keep-alive clients. Status is measured as
served (a copy shared for 100 ms unless the store changed) and with
`?fresh=1` (built after the request arrived; readers waiting at once share
one build). The clients are raw sockets in threads, so the load generator
costs little next to the server.
Figures are printed next to a baseline measured in the same run: `GET
/api/health`, the cheapest authenticated-free route, at concurrency 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "bench-token"


class Conn:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method: str, path: str, body: bytes = b"") -> int:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        header, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length"))
        while len(self.buf) < length:
            self._fill()
        self.buf = self.buf[length:]
        return status

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def load(
    port: int, method: str, path: str, body_of, clients: int, total: int, seconds: float
) -> dict:
    """`total` requests (or until `seconds` pass) spread over `clients` threads."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + seconds
    start = threading.Barrier(clients + 1)

    def worker() -> None:
        conn = Conn(port)
        start.wait()
        try:
            while time.monotonic() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t0 = time.perf_counter()
                status = conn.request(method, path, body_of(n))
                took = time.perf_counter() - t0
                with lock:
                    latencies.append(took)
                    if status >= 400:
                        errors.append(str(status))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "errors": len(errors),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "rps": len(ordered) / wall,
    }


def seed_store(repo: Path) -> None:
    from ctui.core import Coordinator

    c = Coordinator.open(repo)
    for i in range(100):
        inst = c.instances.register(role=f"bench{i}", task=f"benchmark load {i}")
        for j in range(10):
            c.leases.acquire(f"src/m{i}/f{j}.py", instance=inst.id, intent="bench", ttl=3600)
    c.close()


def start_server(
    repo: Path, env: dict[str, str], log_path: Path, workers: int
) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctui = str(Path(sys.executable).parent / "ctui")
    argv = [ctui, "serve", "--port", str(port), "--interval", "3600"]
    if workers:
        argv += ["--workers", str(workers)]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            argv, cwd=repo, env=env, stdout=log, stderr=log, start_new_session=True
        )
    api_file = repo / ".ctui" / "api.json"
    deadline = time.monotonic() + 30
    while not (
        api_file.exists() and json.loads(api_file.read_text() or "{}").get("pid") == server.pid
    ):
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the server did not start: " + log_path.read_text())
        time.sleep(0.05)
    time.sleep(0.5 * (workers or 4))  # let every worker finish its start-up
    return server, port


def measure(port: int, label: str, tag: str, args: argparse.Namespace) -> None:
    def none(n: int) -> bytes:
        return b""

    load(port, "GET", "/api/status", none, 4, 40, 10)  # warm up imports and caches
    print(f"\n{label}  ({args.requests} requests a row, {args.seconds:g}s cap)")
    cols = ("clients", 8), ("n", 6), ("p50 ms", 9), ("p99 ms", 9), ("req/s", 9), ("p50/base", 10)
    print(f"{'route':<26}" + "".join(f"{name:>{width}}" for name, width in cols))
    base = load(port, "GET", "/api/health", none, 1, args.requests, args.seconds)
    rows = [("GET /api/health", 1, base)]
    for path in ("/api/status", "/api/status?fresh=1"):
        for clients in (1, 16):
            result = load(port, "GET", path, none, clients, args.requests, args.seconds)
            rows.append((f"GET {path}", clients, result))
    for clients in (1, 16):

        def body(n: int, c: int = clients) -> bytes:
            return json.dumps(
                {
                    "name": f"bench-{tag}-c{c}-{n}",
                    "agent": "command",
                    "command": "true",
                    "worktree": False,
                }
            ).encode()

        rows.append(
            (
                "POST /api/threads",
                clients,
                load(port, "POST", "/api/threads", body, clients, args.requests, args.seconds),
            )
        )
    for route, clients, r in rows:
        errors = f"  ({r['errors']} errors)" if r["errors"] else ""
        print(
            f"{route:<26}{clients:>8}{r['n']:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['rps']:>9.0f}"
            f"{r['p50_ms'] / base['p50_ms']:>10.1f}{errors}"
        )
    status1, status16, fresh1, fresh16, create1, create16 = (row[2] for row in rows[1:])

    def gain(many: dict, one: dict) -> str:
        return f"{many['rps'] / one['rps']:.2f}x"

    print(
        f"status p50 at 1 client: {status1['p50_ms']:.2f} ms shared, {fresh1['p50_ms']:.2f} ms "
        f"fresh (target <= 10 ms); 16 vs 1 clients: status {gain(status16, status1)}, "
        f"fresh {gain(fresh16, fresh1)}, create {gain(create16, create1)} (target >= 1.5x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=1000, help="requests per row (default 1000)"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per row (default 15)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0, 1],
        help="server processes to try; 0 is `ctui serve`'s default (default: 0 1)",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@x",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@x",
        "CT_API_TOKEN": TOKEN,
    }
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; one store per server "
        "(100 instances and 1000 leases)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            repo = Path(tmp) / f"repo-{workers}"
            repo.mkdir()
            for argv in (
                ["init", "-q", "-b", "main"],
                ["commit", "-q", "--allow-empty", "-m", "init"],
            ):
                subprocess.run(["git", *argv], cwd=repo, check=True, env=env)
            seed_store(repo)
            server, port = start_server(repo, env, Path(tmp) / f"serve-{workers}.log", workers)
            used = json.loads((repo / ".ctui" / "api.json").read_text())["workers"]
            label = f"workers={used}" + ("  (the default)" if not workers else "")
            try:
                measure(port, label, f"w{workers}", args)
            finally:
                os.kill(server.pid, signal.SIGTERM)
                server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
