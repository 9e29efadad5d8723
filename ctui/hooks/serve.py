"""The server side of served hooks: `ctui serve` answers hook calls on `.ctui/hooks.sock`.

A hook process on a store that goes through `ctui serve` (`ctui.hooks.route`)
sends its payload here instead of opening the store. Each call runs
`ctui.hooks.call.answer`, the function the hook process would have run, in a
thread of its own (a PermissionRequest held for the operator or a lease check
waiting on a busy store never holds up the others), with the caller's
environment variables and parent pid (`ctui.hooks.session.Caller`) and a store
opened with the busy timeout the handler asks for, so the answer and the exit
code are the ones the hook process would have printed.

The threads are kept between calls (a pool of up to `MAX_CALLS`), and each
keeps its store open for the next call it answers: opening a PostgreSQL store
(a connection, its settings, the schema check) costs more than answering a
lease check. A kept store is opened afresh when `.ctui/config.toml` or the
SQLite file changed since, or when its connection is broken (the server ended
it), inside a transaction, or was made before a fork (`Store.idle`).

The socket is born 0600 in the store's 0700 folder, and a connection from any
other user is closed unanswered (its peer's uid, `SO_PEERCRED`, must be ours).
A socket file left by a killed server is replaced; one a live server answers on
is refused.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import struct
import sys
import threading
from pathlib import Path

from ctui.core import private
from ctui.core.errors import UsageError
from ctui.hooks import route
from ctui.hooks.session import CALLER, Caller

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.coordinator import Coordinator
    from ctui.hooks.call import Outcome

MAX_CALLS = 64  # calls answered at once; more wait to be accepted
MAX_HEADER = 64 * 1024
READ_TIMEOUT_S = 5.0


class HookServer:
    """Answers hook calls for the store at `store` until `stop`."""

    def __init__(self, store: Path, *, max_calls: int = MAX_CALLS) -> None:
        self.store = store
        self.path = store / route.SOCKET_NAME
        self._slots = threading.BoundedSemaphore(max_calls)
        self._calls: queue.SimpleQueue[socket.socket | None] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a call (guarded by `_lock`)
        self._workers = 0
        self._lock = threading.Lock()
        self._kept = threading.local()  # each thread's open stores, by busy timeout
        self._sock: socket.socket | None = None
        self._inode: int | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen (refused when a live server answers there already) and accept in a thread."""
        if _answers(self.path):
            raise UsageError(
                f"another ctui serve answers hooks on {self.path}: stop it first (`ctui api stop`)"
            )
        self._sock = private.bind_unix(self.path)
        self._sock.set_inheritable(False)  # nothing the server starts may hold it
        self._sock.settimeout(0.5)  # so `stop` is noticed without closing under accept
        self._inode = self.path.lstat().st_ino
        self._thread = threading.Thread(target=self._accept, name="ctui-hooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and remove our socket file (not one a newer server bound there)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()
        with self._lock:
            for _ in range(self._workers):
                self._calls.put(None)  # each idle thread ends; a held call ends with the process
        try:
            if self._inode is not None and self.path.lstat().st_ino == self._inode:
                self.path.unlink()
        except OSError:
            pass

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            if not _same_user(conn):
                print(
                    f"ctui serve: refused a hook call from another user on {self.path}",
                    file=sys.stderr,
                    flush=True,
                )
                conn.close()
                continue
            self._slots.acquire()
            self._dispatch(conn)

    def _dispatch(self, conn: socket.socket) -> None:
        """Hand the call to an idle thread, or start one (at most `max_calls` are busy).

        Daemon threads, not a `ThreadPoolExecutor`: its threads are joined at exit,
        and a PermissionRequest held for the operator would keep a stopped server alive.
        """
        with self._lock:
            if self._idle:
                self._idle -= 1
                start = False
            else:
                self._workers += 1
                start = True
        self._calls.put(conn)
        if start:
            threading.Thread(target=self._work, name="ctui-hook-call", daemon=True).start()

    def _work(self) -> None:
        while True:
            conn = self._calls.get()
            if conn is None:
                return
            self._serve(conn)
            with self._lock:
                self._idle += 1

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(READ_TIMEOUT_S)
            header, raw = _read_request(conn)
            code, out, err = self.answer(header, raw)
            conn.settimeout(READ_TIMEOUT_S)
            conn.sendall(json.dumps({"code": code, "out": out, "err": err}).encode())
        except (OSError, ValueError) as exc:  # a caller gone or garbled: nothing to answer
            print(f"ctui serve: a hook call failed: {exc}", file=sys.stderr, flush=True)
        finally:
            conn.close()
            self._slots.release()

    def answer(self, header: dict[str, Any], raw: bytes) -> Outcome:
        """Run the call as the hook process would, for the caller the header describes."""
        from ctui.hooks import call

        argv = header.get("argv")
        env = header.get("env")
        ppid = header.get("ppid")
        if not (
            isinstance(argv, list)
            and all(isinstance(a, str) for a in argv)
            and isinstance(env, dict)
            and isinstance(ppid, int)
        ):
            return call.fail("a garbled request reached ctui serve: ignored")
        opened: list[Coordinator] = []

        def opener(timeout: float) -> Coordinator:
            coord = self._store_for(timeout)
            opened.append(coord)
            return coord

        passed = {k: v for k, v in env.items() if k in route.PASSED_ENV and isinstance(v, str)}
        token = CALLER.set(Caller(passed, ppid, self.store, opener))
        try:
            return call.answer(raw, argv[0] if argv else None)
        finally:
            CALLER.reset(token)
            for coord in opened:
                if not coord.store.idle():
                    self._drop(coord)

    def _store_for(self, timeout: float) -> Coordinator:
        """This thread's store for `timeout`, kept from an earlier call while still current."""
        from ctui.core.coordinator import Coordinator

        kept: dict[float, tuple[Coordinator, object]] = self._kept.__dict__.setdefault("by", {})
        stamp = self._stamp()
        found = kept.get(timeout)
        if found is not None and found[1] == stamp and found[0].store.idle():
            return found[0]
        if found is not None:
            self._drop(found[0])
        coord = Coordinator.open(store_dir=self.store, create=False, timeout=timeout)
        kept[timeout] = (coord, stamp)
        return coord

    def _drop(self, coord: Coordinator) -> None:
        kept: dict[float, tuple[Coordinator, object]] = self._kept.__dict__.setdefault("by", {})
        for timeout, (other, _) in list(kept.items()):
            if other is coord:
                del kept[timeout]
        try:
            coord.close()
        except Exception:  # a connection already broken: nothing left to close
            pass

    def _stamp(self) -> object:
        """What a kept store depends on: the config file and the SQLite file (when there)."""
        found: list[object] = []
        for name, whole in (("config.toml", True), ("ctui.db", False)):
            try:
                st = os.stat(self.store / name)
            except OSError:
                found.append(None)
                continue
            found.append((st.st_ino, st.st_mtime_ns, st.st_size) if whole else st.st_ino)
        return tuple(found)


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], bytes]:
    from ctui.hooks.call import MAX_INPUT

    data = bytearray()
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_INPUT + MAX_HEADER:
            raise ValueError("request larger than a hook payload may be")
    if len(data) < 4:
        raise ValueError("request without a header")
    size = int.from_bytes(data[:4], "big")
    if size > MAX_HEADER or len(data) < 4 + size:
        raise ValueError("request header cut short or too long")
    header = json.loads(bytes(data[4 : 4 + size]))
    if not isinstance(header, dict):
        raise ValueError("request header is not a JSON object")
    return header, bytes(data[4 + size :])


def _same_user(conn: socket.socket) -> bool:
    """Is the peer process ours? (Linux tells us its uid; elsewhere the 0600 file must do.)"""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _answers(path: Path) -> bool:
    """Does a live server accept connections on `path`? (A stale file refuses them.)"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def check(store: Path) -> dict[str, Any]:
    """Do hooks on this store go through `ctui serve`, and does it answer? (`hooks doctor`)"""
    via = route.via_serve(str(store))
    path = store / route.SOCKET_NAME
    report: dict[str, Any] = {"via_serve": via, "socket": str(path), "answers": None}
    if path.exists() or via:
        try:
            code, out, err = route.request(str(path), b"{}", [], budget=3.0)
        except route.NotServed as exc:
            report["answers"] = False
            report["error"] = str(exc)
        else:
            report["answers"] = code == 1 and "ctui hook:" in err and not out
    return report
