"""The control room on a PostgreSQL store when the server goes away and comes back.

The server is reached through a small TCP proxy on 127.0.0.1 that the test cuts
and restores (the shared server itself is never stopped). Losing LISTEN must be
news: the app reads at once, shows the store's trouble, and recovers, listening
again, when the server is back.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ctui.core import Coordinator
from tests.support import drop_pg_schema, pg_schema_name, pg_url_or_skip

from .helpers import SIZE, control_room, loaded, until
from .test_live import CTUI, run

pytestmark = pytest.mark.postgres


class Proxy:
    """Forward 127.0.0.1:port to the server; `cut()` drops every connection and refuses
    new ones, `restore()` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
            except OSError:
                pass
            listener.close()
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass


async def test_a_lost_server_is_a_banner_then_the_room_listens_again(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_url_or_skip()
    where = urlsplit(url)
    proxy = Proxy(where.hostname or "127.0.0.1", where.port or 5432)
    schema = pg_schema_name()
    through = url.replace(f"{where.hostname}:{where.port}", f"127.0.0.1:{proxy.port}", 1)
    monkeypatch.setenv("CTUI_STORE_URL", through)
    monkeypatch.setenv("CTUI_STORE_SCHEMA", schema)
    c = Coordinator.open(repo)
    try:
        app = control_room(c)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            proxy.cut()
            await until(pilot, lambda: app.trouble, timeout=30)
            proxy.restore()
            await until(pilot, lambda: not app.trouble, timeout=30)
            monkeypatch.setenv("CTUI_STORE_URL", url)  # the other process goes direct
            code, out = await run(CTUI, "lock", "acquire", "src/app.py", cwd=repo)
            assert code == 0, out
            await until(pilot, lambda: "src/app.py" in app.pane("leases").records, timeout=30)
    finally:
        proxy.cut()
        c.close()
        drop_pg_schema(url, schema)
