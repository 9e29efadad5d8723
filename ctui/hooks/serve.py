"""The server side of served hooks: `ctui serve` answers hook calls on `.ctui/hooks.sock`.

A hook process on a store that goes through `ctui serve` (`ctui.hooks.route`)
sends its payload here instead of opening the store. Each call runs
`ctui.hooks.call.answer`, the function the hook process would have run, in a
thread of its own (a PermissionRequest held for the operator or a lease check
waiting on a busy store never holds up the others), with the caller's
environment variables and parent pid (`ctui.hooks.session.Caller`) and a store
opened for that call alone with the busy timeout the handler asks for, so the
answer and the exit code are the ones the hook process would have printed.

The socket is born 0600 in the store's 0700 folder, and a connection from any
other user is closed unanswered (its peer's uid, `SO_PEERCRED`, must be ours).
A socket file left by a killed server is replaced; one a live server answers on
is refused.
"""

from __future__ import annotations

import json
import os
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
            threading.Thread(
                target=self._serve, args=(conn,), name="ctui-hook-call", daemon=True
            ).start()

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
            from ctui.core.coordinator import Coordinator

            coord = Coordinator.open(store_dir=self.store, create=False, timeout=timeout)
            opened.append(coord)
            return coord

        passed = {k: v for k, v in env.items() if k in route.PASSED_ENV and isinstance(v, str)}
        token = CALLER.set(Caller(passed, ppid, self.store, opener))
        try:
            return call.answer(raw, argv[0] if argv else None)
        finally:
            CALLER.reset(token)
            for coord in opened:
                coord.close()


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
