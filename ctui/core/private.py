"""The store folder is private: `.ctui/` is 0700 and every file ctui writes there 0600.

The modes are set explicitly (`chmod` after `mkdir`, `fchmod` after `open`), so
no umask, however loose, widens them. SQLite creates `-wal` and `-shm` with the
database file's mode, so making the database 0600 before SQLite first opens it
covers those too. A store made by an older ctui is tightened on open
(`tighten`), once: the check that triggers it is one `stat` of the folder.

Files are opened with `O_NOFOLLOW` and folders are checked to be real folders,
so a symlink planted in the store (`.ctui/logs/x.log -> /home/u/.bashrc`) never
makes ctui write outside it: the open fails with a one-line `UsageError`.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

from ctui.core.errors import UsageError

TYPE_CHECKING = False  # not imported from typing: the hook's start-up (see ctui.core.record)
if TYPE_CHECKING:
    import socket
    from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600
TOKEN_ENVS = ("CT_API_TOKEN", "N8N_API_TOKEN")
SECRET_ENVS = (*TOKEN_ENVS, "CTUI_STORE_URL")
"""Never in an agent's environment: the API's tokens and the store's URL (it may hold a
password; agents find a PostgreSQL store through `.ctui/store.json`)."""
SKIP = ("worktrees",)  # whole checkouts: the folder itself is made 0700, its contents are git's


def make_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700 folders; refuse a symlink in its place."""
    if not path.is_symlink() and not path.is_dir():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
    real_dir(path)
    if stat.S_IMODE(path.lstat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def real_dir(path: Path) -> None:
    """Refuse `path` unless it is a real folder (not a symlink to one)."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise UsageError(f"cannot use {path}: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{path} is a symlink: ctui writes only into real folders in its store")
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is not a folder")


def check_target(path: Path) -> None:
    """Refuse now, before anything changes, what `open_log` would refuse later."""
    if path.parent.is_symlink() or path.parent.exists():
        real_dir(path.parent)
    if path.is_symlink():
        raise UsageError(
            f"{path} is a symlink: ctui does not follow it out of the store; remove it"
        )
    if path.exists() and not path.is_file():
        raise UsageError(f"{path} is not a regular file: remove it")


def open_fd(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open (creating 0600) a file in the store without following a symlink at its name."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if path.is_symlink():
            raise UsageError(
                f"{path} is a symlink: ctui does not follow it out of the store; remove it"
            ) from None
        raise UsageError(f"cannot open {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path} is not a regular file: remove it")
        if stat.S_IMODE(info.st_mode) & ~FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_read(path: Path) -> IO[bytes]:
    """A store file (a thread's log) for reading, never through a symlink at its name."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(
                f"{path} is a symlink: ctui does not follow it out of the store; remove it"
            ) from None
        raise
    return os.fdopen(fd, "rb")


def open_log(path: Path, mode: str = "ab") -> IO[Any]:
    """A log file under the store for appending: its folder made private and real, no symlink."""
    make_dir(path.parent)
    return os.fdopen(open_fd(path), mode)


def write_file(path: Path, text: str) -> None:
    """Write a whole private file into an existing folder (truncating it), never through a
    symlink at its name."""
    with os.fdopen(open_fd(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path: Path, data: Any) -> None:
    """Replace a JSON file atomically, 0600 from the first byte, never through a symlink
    (a leftover temporary file or a planted link at its name is removed, not written)."""
    import json

    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def precreate(db_path: Path) -> None:
    """Make the database file 0600 before SQLite creates it (its -wal and -shm copy the mode)."""
    try:
        fd = os.open(db_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return
    os.fchmod(fd, FILE_MODE)
    os.close(fd)


def loose(folder: Path) -> bool:
    """True when the store folder lets anyone but its owner in (one `stat`: the hot path)."""
    try:
        return bool(stat.S_IMODE(folder.stat().st_mode) & 0o077)
    except OSError:
        return False


def tighten(folder: Path, *, say: bool = True) -> int:
    """Make `folder` 0700 and everything ctui keeps in it 0700/0600; returns how many changed.

    Symlinks are left alone (never chmod through one); worktree checkouts keep their
    modes (the 0700 folder above them already shuts others out). With `say`, one line
    on stderr tells the user what happened, the first time only.
    """
    changed = 0
    for here, dirs, files in os.walk(folder):
        base = Path(here)
        for name in (*dirs, *files):
            changed += _tighten_one(base / name)
        if base == folder:
            dirs[:] = [d for d in dirs if d not in SKIP]
    changed += _tighten_one(folder.resolve())  # the store folder itself may be a symlink
    if changed and say:
        print(
            f"ctui: made the store {folder} private (folder 0700, files 0600; "
            f"{changed} entr{'y' if changed == 1 else 'ies'} tightened)",
            file=sys.stderr,
        )
    return changed


def _tighten_one(path: Path) -> int:
    """Take group and other bits off a folder, file or socket; never through a symlink."""
    try:
        info = path.lstat()
    except OSError:
        return 0
    kind = info.st_mode
    if not (stat.S_ISDIR(kind) or stat.S_ISREG(kind) or stat.S_ISSOCK(kind)):
        return 0  # symlinks, fifos, devices: left alone
    now = stat.S_IMODE(kind)
    want = now & 0o700  # only ever take bits away: a read-only store stays read-only
    if now == want:
        return 0
    try:
        if stat.S_ISSOCK(kind):
            os.chmod(path, want)
        else:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                os.fchmod(fd, want)
            finally:
                os.close(fd)
    except OSError:
        return 0
    return 1


def agent_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ctui's secrets, plus `extra`: what an agent gets."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENVS}
    env.update(extra or {})
    return env


MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the NUL


def bind_unix(path: Path) -> socket.socket:
    """Listen on a Unix socket only the owner can open (0600, in the store's 0700 folder).

    The API's `api.sock` (`ctui serve --no-auth`) and the hooks' `hooks.sock`.

    The caller has made sure no live server uses `path`; a stale socket left by a
    killed server is replaced, anything else there is refused.
    """
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise UsageError(
            f"the socket path {path} is longer than a Unix socket allows ({MAX_SOCKET_PATH} "
            "bytes): use a store with a shorter path (--dir or CTUI_DIR)"
        )
    import socket

    try:
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise UsageError(f"{path} exists and is not a socket: move it away and try again")
        path.unlink()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # born 0600: nobody else can connect even for an instant
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, FILE_MODE)
    sock.listen(128)
    sock.set_inheritable(True)  # `ctui serve --workers N` hands the API's socket to its workers
    return sock
